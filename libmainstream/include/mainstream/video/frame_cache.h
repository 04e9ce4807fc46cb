// Decoded, resized frames kept in memory for training, which makes several
// passes over the same frames: decode once, keep 8-bit BGR at the network's
// input size (3 bytes per pixel instead of 12 as floats), normalize on demand.
//
//   VideoSourceOptions range;  range.start_frame = 0;  range.end_frame = 600;
//   VideoSource src("pets.avi", range);
//   FrameCache cache = FrameCache::Decode(src, cfg);
//   cache.Normalized(i, cfg, out);                    // or with augmentation:
//   cache.Normalized(i, cfg, augment, SubSeed(seed, epoch * cache.size() + i), out);
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mainstream/video/augment.h"
#include "mainstream/video/image.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"

namespace mainstream {

struct FrameCacheOptions {
  int64_t stride = 1;  // keep every stride-th frame of the range
  size_t max_bytes =
      size_t{4} << 30;   // refuse to hold more (checked up front when the count is known)
  bool progress = true;  // report progress on stderr (info level)
};

class FrameCache {
 public:
  FrameCache() = default;

  // Reads the rest of `source`'s range once and keeps every stride-th frame,
  // resized to width x height. Errors of the source propagate.
  static FrameCache Decode(VideoSource& source, int width, int height, Interpolation interpolation,
                           const FrameCacheOptions& options = {});
  // Sized as cfg (width, height, interpolation).
  static FrameCache Decode(VideoSource& source, const PreprocessConfig& cfg,
                           const FrameCacheOptions& options = {});

  size_t size() const { return indices_.size(); }
  bool empty() const { return indices_.empty(); }
  int width() const { return width_; }
  int height() const { return height_; }
  Interpolation interpolation() const { return interpolation_; }
  double fps() const { return fps_; }
  size_t bytes() const { return data_.size(); }

  // Entries are numbered 0..size()-1 in stream order.
  int64_t frame_index(size_t entry) const;  // the source frame index of an entry
  double timestamp_s(size_t entry) const;   // frame_index / fps
  // The entry holding source frame `frame_index`, or -1 if it was not kept.
  int64_t Find(int64_t frame_index) const;

  const uint8_t* bgr(size_t entry) const;  // width * height * 3 bytes
  Image image(size_t entry) const;         // a copy

  // Normalized float CHW (cfg.floats_per_frame() floats). cfg's size must
  // equal the cache's; its interpolation is not used (frames are resized).
  void Normalized(size_t entry, const PreprocessConfig& cfg, float* out) const;
  // Augmented with `augment` seeded by `seed`, then normalized.
  void Normalized(size_t entry, const PreprocessConfig& cfg, const AugmentConfig& augment,
                  uint64_t seed, float* out) const;
  // Several entries into one NCHW buffer, in parallel on OpenCV's threads.
  void NormalizedBatch(const std::vector<size_t>& entries, const PreprocessConfig& cfg,
                       float* out) const;

 private:
  void CheckEntry(size_t entry) const;
  void CheckConfig(const PreprocessConfig& cfg) const;

  int width_ = 0;
  int height_ = 0;
  Interpolation interpolation_ = Interpolation::kPyramid;
  double fps_ = 0;
  size_t frame_bytes_ = 0;
  std::vector<uint8_t> data_;
  std::vector<int64_t> indices_;
};

}  // namespace mainstream
