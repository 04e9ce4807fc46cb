#include "mainstream/video/frame_cache.h"

#include <algorithm>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/video/cv_image.h"
#include "preprocess_internal.h"

namespace mainstream {

using video_internal::ResizeInto;

FrameCache FrameCache::Decode(VideoSource& source, int width, int height,
                              Interpolation interpolation, const FrameCacheOptions& options) {
  MS_CHECK(width >= 1 && height >= 1, "frame cache: size must be positive, got {}x{}", width,
           height);
  MS_CHECK(options.stride >= 1, "frame cache: stride must be >= 1, got {}", options.stride);
  FrameCache cache;
  cache.width_ = width;
  cache.height_ = height;
  cache.interpolation_ = interpolation;
  cache.fps_ = source.fps();
  cache.frame_bytes_ = static_cast<size_t>(width) * static_cast<size_t>(height) * 3;

  const int64_t first = source.next_index();
  int64_t expected = -1;
  if (source.end_frame() >= 0) {
    int64_t left = std::max<int64_t>(0, source.end_frame() - first);
    expected = (left + options.stride - 1) / options.stride;
    size_t need = static_cast<size_t>(expected) * cache.frame_bytes_;
    MS_CHECK(need <= options.max_bytes,
             "frame cache for '{}': {} frames of {}x{} need {:.1f} MiB, more than the {:.1f} MiB "
             "allowed; use a stride, a shorter range or a smaller size",
             source.input(), expected, width, height, need / 1048576.0,
             options.max_bytes / 1048576.0);
    cache.data_.reserve(need);
    cache.indices_.reserve(static_cast<size_t>(expected));
  }

  std::optional<Progress> progress;
  if (options.progress && expected > 0)
    progress.emplace("decoding frames", static_cast<long>(expected));
  Frame frame;
  while (source.Read(&frame)) {
    if ((frame.index - first) % options.stride != 0) continue;
    size_t offset = cache.data_.size();
    MS_CHECK(offset + cache.frame_bytes_ <= options.max_bytes,
             "frame cache for '{}': more than the {:.1f} MiB allowed after {} frames; use a "
             "stride, a shorter range or a smaller size",
             source.input(), options.max_bytes / 1048576.0, cache.indices_.size());
    cache.data_.resize(offset + cache.frame_bytes_);
    cv::Mat dst(height, width, CV_8UC3, cache.data_.data() + offset);
    cv::Mat src = AsMat(frame.image);
    if (src.cols == width && src.rows == height) {
      src.copyTo(dst);
    } else {
      ResizeInto(src, dst, dst.size(), interpolation);
    }
    cache.indices_.push_back(frame.index);
    if (progress) progress->Update(static_cast<long>(cache.indices_.size()));
  }
  if (progress) progress->Finish(fmt::format("{:.1f} MiB", cache.bytes() / 1048576.0));
  LogDebug("frame cache: {} frames of {}x{} from '{}' ({:.1f} MiB)", cache.size(), width, height,
           source.input(), cache.bytes() / 1048576.0);
  return cache;
}

FrameCache FrameCache::Decode(VideoSource& source, const PreprocessConfig& cfg,
                              const FrameCacheOptions& options) {
  cfg.Validate();
  return Decode(source, cfg.width, cfg.height, cfg.interpolation, options);
}

void FrameCache::CheckEntry(size_t entry) const {
  MS_CHECK(entry < indices_.size(),
           "frame cache: entry {} out of range (the cache holds {} frames)", entry,
           indices_.size());
}

void FrameCache::CheckConfig(const PreprocessConfig& cfg) const {
  MS_CHECK(cfg.width == width_ && cfg.height == height_,
           "frame cache holds {}x{} frames but the preprocessing expects {}x{}", width_, height_,
           cfg.width, cfg.height);
}

int64_t FrameCache::frame_index(size_t entry) const {
  CheckEntry(entry);
  return indices_[entry];
}

double FrameCache::timestamp_s(size_t entry) const {
  return fps_ > 0 ? static_cast<double>(frame_index(entry)) / fps_ : 0.0;
}

int64_t FrameCache::Find(int64_t frame_index) const {
  auto it = std::lower_bound(indices_.begin(), indices_.end(), frame_index);
  if (it == indices_.end() || *it != frame_index) return -1;
  return it - indices_.begin();
}

const uint8_t* FrameCache::bgr(size_t entry) const {
  CheckEntry(entry);
  return data_.data() + entry * frame_bytes_;
}

Image FrameCache::image(size_t entry) const {
  const uint8_t* p = bgr(entry);
  Image out(width_, height_);
  std::memcpy(out.bgr.data(), p, frame_bytes_);
  return out;
}

void FrameCache::Normalized(size_t entry, const PreprocessConfig& cfg, float* out) const {
  CheckConfig(cfg);
  MS_CHECK(out != nullptr, "frame cache: output buffer is null");
  cv::Mat src(height_, width_, CV_8UC3, const_cast<uint8_t*>(bgr(entry)));
  video_internal::NormalizeMat(src, cfg, out);
}

void FrameCache::Normalized(size_t entry, const PreprocessConfig& cfg, const AugmentConfig& augment,
                            uint64_t seed, float* out) const {
  CheckConfig(cfg);
  MS_CHECK(out != nullptr, "frame cache: output buffer is null");
  if (!augment.enabled()) {
    Normalized(entry, cfg, out);
    return;
  }
  Image augmented = Augment(image(entry), augment, seed);
  video_internal::NormalizeMat(AsMat(augmented), cfg, out);
}

void FrameCache::NormalizedBatch(const std::vector<size_t>& entries, const PreprocessConfig& cfg,
                                 float* out) const {
  CheckConfig(cfg);
  MS_CHECK(out != nullptr, "frame cache: output buffer is null");
  for (size_t e : entries) CheckEntry(e);
  const size_t per = cfg.floats_per_frame();
  cv::parallel_for_(cv::Range(0, static_cast<int>(entries.size())), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      size_t e = entries[static_cast<size_t>(i)];
      cv::Mat src(height_, width_, CV_8UC3, const_cast<uint8_t*>(data_.data() + e * frame_bytes_));
      video_internal::NormalizeMat(src, cfg, out + static_cast<size_t>(i) * per);
    }
  });
}

}  // namespace mainstream
