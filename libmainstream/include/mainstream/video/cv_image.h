// OpenCV interop for Image. The only public video header that includes
// OpenCV: include it from code that already uses cv::Mat (the video module
// itself, tests, tools that draw); everything else uses mainstream/video/image.h.
#pragma once

#include <opencv2/core.hpp>

#include "mainstream/video/image.h"

namespace mainstream {

// A cv::Mat header over the image's buffer (no copy). Writes through the Mat
// change the image; the Mat must not outlive the image or its reallocation.
inline cv::Mat AsMat(Image& image) {
  return cv::Mat(image.height, image.width, CV_8UC3, image.bgr.data());
}
// Read-only by contract: OpenCV has no const Mat view.
inline cv::Mat AsMat(const Image& image) { return AsMat(const_cast<Image&>(image)); }

// Copies `mat` into `out`, reusing out's buffer when the size matches.
// Accepts CV_8UC3 (BGR), CV_8UC1 (gray) and CV_8UC4 (BGRA); `what` names the
// source in the RuntimeError thrown for any other type or an empty Mat.
void MatToImage(const cv::Mat& mat, Image* out, const char* what = "image");
inline Image MatToImage(const cv::Mat& mat, const char* what = "image") {
  Image out;
  MatToImage(mat, &out, what);
  return out;
}

}  // namespace mainstream
