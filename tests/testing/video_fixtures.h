// A synthetic fixed-camera video written at test time: a static textured
// scene, a bright square that appears for known runs of frames (the events)
// and moves while present, and optionally each frame's index drawn as a
// binary strip along the bottom so tests can check which frame they got.
// Unit tests check decoding with it; e2e tests train and run apps on it with
// the labels it returns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mainstream/video/image.h"

namespace mainstream::testing {

struct SyntheticVideoSpec {
  int width = 160;  // multiples of 8 keep the frame-code blocks on JPEG blocks
  int height = 120;
  int frames = 60;
  double fps = 10;
  int square = 16;                    // side of the bright square in pixels
  int min_event = 4, max_event = 10;  // frames with the square, per event
  int min_gap = 3, max_gap = 8;       // frames without it between events (and before the first)
  bool frame_code = true;             // draw the frame index in the bottom 8 rows
  uint64_t seed = 1;
};

struct SquareBox {
  int x = 0, y = 0, size = 0;  // top-left corner and side; size 0 when absent
};

struct SyntheticVideo {
  std::filesystem::path path;  // empty until written
  SyntheticVideoSpec spec;
  std::vector<int> labels;                  // per frame (0-based): 1 when the square is visible
  std::vector<SquareBox> boxes;             // per frame
  std::vector<std::pair<int, int>> events;  // [start, end) frame ranges where labels are 1

  int positives() const;
};

// The small video the training e2e tests use: 96x72, a 20-pixel square in
// events of 5-12 frames with gaps of 4-10, no frame code.
SyntheticVideoSpec TrainingVideoSpec(int frames, uint64_t seed);

// The ground truth of `spec`, without writing anything (deterministic in spec).
SyntheticVideo PlanSyntheticVideo(const SyntheticVideoSpec& spec);
// Frame `index` as written, before compression.
Image RenderSyntheticFrame(const SyntheticVideo& plan, int index);
// Writes `file` (MJPG in .avi, OpenCV's built-in writer, FFmpeg as fallback)
// and returns its ground truth. Throws std::runtime_error if nothing can write it.
SyntheticVideo WriteSyntheticVideo(const std::filesystem::path& file,
                                   const SyntheticVideoSpec& spec = {});

// The per-frame label file of mstrain: "frame,label" header, frames 1-based.
void WriteLabelsCsv(const SyntheticVideo& video, const std::filesystem::path& file);
// The square's boxes as MOT ground truth (frame,id,x,y,w,h,1,-1,-1,-1; one
// "person" with id 1), for 'mstrain labels' and 'mstrain pretrain'.
void WriteMotBoxes(const SyntheticVideo& video, const std::filesystem::path& file);

// Reads the frame-index strip of a decoded frame; -1 if it is not legible.
int ReadFrameCode(const Image& image);
// Mean brightness (0..255, all channels) inside the frame's true square, or
// of the scene where it would be; for checking labels against pixels.
double MeanBrightness(const Image& image, const SquareBox& box);

// Damaged copies of a file for error tests.
// Keeps the first `fraction` of the bytes.
void WriteTruncatedCopy(const std::filesystem::path& src, const std::filesystem::path& dst,
                        double fraction);
// Overwrites bytes [begin_fraction, end_fraction) of the copy with seeded noise.
void WriteCorruptedCopy(const std::filesystem::path& src, const std::filesystem::path& dst,
                        double begin_fraction, double end_fraction, uint64_t seed = 7);

// Debian's sample video (opencv-doc), or "" when it is not installed.
std::string VtestPath();

}  // namespace mainstream::testing
