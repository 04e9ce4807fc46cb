// What one frame costs before the DNN sees it: decode + preprocess, in ms per
// frame, measured on a real source (msprofile's `decode_ms`, the t_dec of
// the cost model) or, without a video, preprocessing alone at a resolution.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"

namespace mainstream {

struct TimingStats {
  double mean_ms = 0;
  double p50_ms = 0;
  double p95_ms = 0;
};
// Mean and linearly interpolated percentiles; zeros for no samples.
TimingStats SummarizeMs(std::vector<double> samples_ms);

struct DecodeCost {
  std::string input;  // "video:PATH" or "size:WxH"
  int source_width = 0;
  int source_height = 0;
  std::string preprocess;       // PreprocessConfig::ToString()
  int frames = 0;               // frames measured (after warmup)
  int warmup = 0;               // frames decoded first and not measured
  int threads = 1;              // OpenCV threads (FFmpeg's decoder threads are its own)
  TimingStats decode;           // wall ms per frame to decode (zero for "size:")
  TimingStats preprocess_ms;    // wall ms per frame to preprocess
  TimingStats total;            // decode + preprocess, per frame
  double cpu_ms_per_frame = 0;  // process CPU time per frame, all threads (decoder included)

  Json ToJson() const;
  std::string ToString() const;  // one line for logs
};

// Reads up to warmup + frames frames from `source` (from where it is) and
// times Read() and Preprocess() of each. A shorter source measures what it
// has (at least one frame; warmup shrinks first). On a fresh source the first
// frame (decoded when the source was opened) always counts as warmup.
DecodeCost MeasureDecodeCost(VideoSource& source, const PreprocessConfig& cfg, int frames = 100,
                             int warmup = 3);
// Opens `input` (a path, URL or camera:N) and measures as above.
DecodeCost MeasureDecodeCost(const std::string& input, const PreprocessConfig& cfg,
                             int frames = 100, int warmup = 3,
                             const VideoSourceOptions& options = {});
// No video at hand: preprocess a synthetic width x height frame `frames` times.
DecodeCost MeasurePreprocessCost(int width, int height, const PreprocessConfig& cfg,
                                 int frames = 100, int warmup = 3, uint64_t seed = 1);

}  // namespace mainstream
