// The frame type shared by every module: an 8-bit BGR image in one contiguous
// buffer, without OpenCV types, so LibTorch code and tools can include it
// cheaply. mainstream/video/cv_image.h converts to and from cv::Mat.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mainstream {

// height rows of width pixels, each pixel three bytes B, G, R (OpenCV's
// order), rows contiguous with no padding: byte (y * width + x) * 3 + c.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> bgr;

  Image() = default;
  // A black image (all zeros); negative sizes are clamped to 0.
  Image(int w, int h)
      : width(w > 0 ? w : 0),
        height(h > 0 ? h : 0),
        bgr(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 0) {}

  bool empty() const { return width <= 0 || height <= 0 || bgr.empty(); }
  size_t num_bytes() const { return static_cast<size_t>(width) * static_cast<size_t>(height) * 3; }
  uint8_t* pixel(int x, int y) { return bgr.data() + (static_cast<size_t>(y) * width + x) * 3; }
  const uint8_t* pixel(int x, int y) const {
    return bgr.data() + (static_cast<size_t>(y) * width + x) * 3;
  }
};

// One decoded frame of a VideoSource.
struct Frame {
  int64_t index = -1;      // 0-based position in the whole stream (not in the range read)
  double timestamp_s = 0;  // index / fps (the source's fps, after any override)
  Image image;
};

}  // namespace mainstream
