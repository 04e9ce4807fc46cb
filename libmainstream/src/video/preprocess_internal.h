// Shared by the video module's sources; not part of the public API.
#pragma once

#include <opencv2/core.hpp>

#include "mainstream/video/preprocess.h"

namespace mainstream::video_internal {

// Resizes 8-bit BGR `src` to `size` into `dst`. When dst already has that
// size and type (e.g. a header over a caller's buffer) it is written in place.
void ResizeInto(const cv::Mat& src, cv::Mat& dst, cv::Size size, Interpolation interpolation);

// Interleaved 8-bit BGR of exactly cfg.width x cfg.height (rows may be
// padded) -> planar normalized floats (3 * height * width).
void NormalizeMat(const cv::Mat& src, const PreprocessConfig& cfg, float* out);

}  // namespace mainstream::video_internal
