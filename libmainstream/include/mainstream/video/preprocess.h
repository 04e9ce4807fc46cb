// Frame preprocessing for a DNN: resize, channel order, per-channel
// normalization, written as float CHW (planar) into a buffer the caller owns,
// so LibTorch code can wrap it without a copy:
//
//   std::vector<float> buf(cfg.floats_per_frame());
//   Preprocess(frame.image, cfg, buf.data());
//   auto x = torch::from_blob(buf.data(), {1, 3, cfg.height, cfg.width});
//
// out[c][y][x] = (pixel_c(x, y) / 255 - mean[c]) / stddev[c], where pixel_c is
// the resized image's channel c in the output order (R, G, B when to_rgb).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/video/image.h"

namespace mainstream {

// How frames are resized. Training and inference must use the same choice:
// it is part of a base's preprocessing (base.json).
//   kPyramid (default): halve with exact 2x2 means while the frame is at least
//     twice the target in both directions, then bilinear. Antialiased like
//     kArea (mean difference ~1-2 gray levels from it) at a quarter to a fifth
//     of its cost: 768x576 -> 224x224 in ~0.2 ms instead of ~1 ms. An odd last
//     row or column is dropped before a halving (at most one source pixel).
//   kArea: OpenCV's INTER_AREA, the exact mean over each output pixel's
//     footprint. The reference antialiased filter; slow at non-integer ratios.
//   kLinear: bilinear. Cheapest, but aliases on large downscales (it reads
//     only 2x2 source pixels per output pixel); fine for ratios below 2.
//   kNearest: for label masks and tests.
// Measured numbers: docs/video.md.
enum class Interpolation { kPyramid, kArea, kLinear, kNearest };
std::string InterpolationName(
    Interpolation interpolation);  // "pyramid", "area", "linear", "nearest"
// Throws InputError naming `what` (e.g. a file and field) for unknown names.
Interpolation ParseInterpolation(const std::string& name,
                                 const std::string& what = "interpolation");

struct PreprocessConfig {
  int width = 224;
  int height = 224;
  // true: output channels R, G, B (torchvision); false: B, G, R as decoded.
  bool to_rgb = true;
  // Per output channel, on the [0, 1] pixel scale (defaults: ImageNet).
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
  std::array<float, 3> stddev{0.229f, 0.224f, 0.225f};
  Interpolation interpolation = Interpolation::kPyramid;

  size_t floats_per_frame() const {
    return static_cast<size_t>(width) * static_cast<size_t>(height) * 3;
  }

  // Throws InputError: sizes in [1, 8192], stddev > 0, all finite.
  void Validate() const;
  std::string ToString() const;
  // {"width", "height", "channels": "rgb"|"bgr", "mean": [3], "std": [3],
  //  "interpolation": "pyramid"|"area"|"linear"|"nearest"}
  Json ToJson() const;
  // width and height required; the rest default as above.
  static PreprocessConfig FromJson(const JsonView& v);
};

// Resizes `image` to cfg.width x cfg.height and writes 3 * height * width
// floats (CHW) to `out`. One resize (skipped when the size already matches)
// and one pass that converts, reorders and normalizes.
void Preprocess(const Image& image, const PreprocessConfig& cfg, float* out);

// Frames one after another: out holds images.size() * cfg.floats_per_frame()
// floats (NCHW). Frames are processed in parallel on OpenCV's thread pool
// (see SetVideoThreads); the result equals calling Preprocess on each.
void PreprocessBatch(const std::vector<const Image*>& images, const PreprocessConfig& cfg,
                     float* out);
void PreprocessBatch(const std::vector<Image>& images, const PreprocessConfig& cfg, float* out);

// The two halves of Preprocess, for callers that keep resized uint8 frames
// (FrameCache) or augment between the steps.
Image ResizeImage(const Image& image, int width, int height, Interpolation interpolation);
void ResizeImage(const Image& image, int width, int height, Interpolation interpolation,
                 Image* out);
// `image` must already be cfg.width x cfg.height (InputError otherwise).
void NormalizeToChw(const Image& image, const PreprocessConfig& cfg, float* out);

// Threads OpenCV may use for resizing, batches and augmentation (>= 1;
// process-wide, like torch::set_num_threads). FFmpeg's decoder threads are
// not affected: OpenCV 4.6 gives the decoder one thread per CPU.
void SetVideoThreads(int threads);
int GetVideoThreads();

}  // namespace mainstream
