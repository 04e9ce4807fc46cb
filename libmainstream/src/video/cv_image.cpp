#include "mainstream/video/cv_image.h"

#include <opencv2/imgproc.hpp>

#include "mainstream/core/error.h"

namespace mainstream {

void MatToImage(const cv::Mat& mat, Image* out, const char* what) {
  MS_CHECK_RT(!mat.empty(), "{}: empty image", what);
  MS_CHECK_RT(mat.dims == 2 && mat.depth() == CV_8U,
              "{}: expected an 8-bit image, got OpenCV type {}", what,
              cv::typeToString(mat.type()));
  if (out->width != mat.cols || out->height != mat.rows || out->bgr.size() != out->num_bytes()) {
    out->width = mat.cols;
    out->height = mat.rows;
    out->bgr.resize(out->num_bytes());
  }
  cv::Mat dst = AsMat(*out);
  switch (mat.channels()) {
    case 3:
      mat.copyTo(dst);
      break;
    case 1:
      cv::cvtColor(mat, dst, cv::COLOR_GRAY2BGR);
      break;
    case 4:
      cv::cvtColor(mat, dst, cv::COLOR_BGRA2BGR);
      break;
    default:
      ThrowRuntime("{}: expected 1, 3 or 4 channels, got {}", what, mat.channels());
  }
  MS_ASSERT(dst.data == out->bgr.data(), "{} was reallocated during conversion", what);
}

}  // namespace mainstream
