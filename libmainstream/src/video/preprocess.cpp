#include "mainstream/video/preprocess.h"

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "mainstream/core/error.h"
#include "mainstream/video/cv_image.h"
#include "preprocess_internal.h"

namespace mainstream {

namespace video_internal {

void ResizeInto(const cv::Mat& src, cv::Mat& dst, cv::Size size, Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kArea:
      cv::resize(src, dst, size, 0, 0, cv::INTER_AREA);
      return;
    case Interpolation::kLinear:
      cv::resize(src, dst, size, 0, 0, cv::INTER_LINEAR);
      return;
    case Interpolation::kNearest:
      cv::resize(src, dst, size, 0, 0, cv::INTER_NEAREST);
      return;
    case Interpolation::kPyramid: {
      // Halve with exact 2x2 means (OpenCV's fast path needs even sizes, so an
      // odd last row or column is dropped) while the image is at least twice
      // the target in both directions, then bilinear for the rest.
      thread_local cv::Mat level[2];
      cv::Mat cur = src;
      int k = 0;
      while (cur.cols >= 2 * size.width && cur.rows >= 2 * size.height) {
        cv::Mat even = cur(cv::Rect(0, 0, cur.cols & ~1, cur.rows & ~1));
        cv::resize(even, level[k], cv::Size(even.cols / 2, even.rows / 2), 0, 0, cv::INTER_AREA);
        cur = level[k];
        k ^= 1;
      }
      if (cur.cols == size.width && cur.rows == size.height) {
        cur.copyTo(dst);
      } else {
        cv::resize(cur, dst, size, 0, 0, cv::INTER_LINEAR);
      }
      return;
    }
  }
  ThrowInternal(__FILE__, __LINE__, "unknown interpolation {}", static_cast<int>(interpolation));
}

void NormalizeMat(const cv::Mat& src, const PreprocessConfig& cfg, float* out) {
  const size_t plane = static_cast<size_t>(cfg.width) * static_cast<size_t>(cfg.height);
  // out = pixel * scale + bias, with scale = 1 / (255 std) and bias = -mean / std.
  float scale[3], bias[3];
  int from[3];  // source byte of each output channel
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * cfg.stddev[c]);
    bias[c] = -cfg.mean[c] / cfg.stddev[c];
    from[c] = cfg.to_rgb ? 2 - c : c;
  }
  float* o0 = out;
  float* o1 = out + plane;
  float* o2 = out + 2 * plane;
  const float s0 = scale[0], s1 = scale[1], s2 = scale[2];
  const float b0 = bias[0], b1 = bias[1], b2 = bias[2];
  const int f0 = from[0], f1 = from[1], f2 = from[2];
  for (int y = 0; y < src.rows; ++y) {
    const uint8_t* p = src.ptr<uint8_t>(y);
    const size_t row = static_cast<size_t>(y) * static_cast<size_t>(cfg.width);
    float* __restrict r0 = o0 + row;
    float* __restrict r1 = o1 + row;
    float* __restrict r2 = o2 + row;
    for (int x = 0; x < src.cols; ++x) {
      const uint8_t* px = p + 3 * x;
      r0[x] = static_cast<float>(px[f0]) * s0 + b0;
      r1[x] = static_cast<float>(px[f1]) * s1 + b1;
      r2[x] = static_cast<float>(px[f2]) * s2 + b2;
    }
  }
}

}  // namespace video_internal

namespace {

using video_internal::NormalizeMat;
using video_internal::ResizeInto;

constexpr int kMaxSide = 8192;

// Cheap per-call checks; Validate() is the thorough one.
void CheckArgs(const Image& image, const PreprocessConfig& cfg, const float* out) {
  MS_CHECK(!image.empty() && image.bgr.size() == image.num_bytes(),
           "preprocess: input image is empty or its buffer ({} bytes) does not match {}x{}x3",
           image.bgr.size(), image.width, image.height);
  MS_CHECK(cfg.width > 0 && cfg.height > 0, "preprocess: output size must be positive, got {}x{}",
           cfg.width, cfg.height);
  MS_CHECK(out != nullptr, "preprocess: output buffer is null");
}

// Resizes into a per-thread scratch Mat (or returns a view when no resize is needed).
cv::Mat Resized(const Image& image, int width, int height, Interpolation interpolation) {
  cv::Mat src = AsMat(image);
  if (image.width == width && image.height == height) return src;
  thread_local cv::Mat scratch;
  ResizeInto(src, scratch, cv::Size(width, height), interpolation);
  return scratch;
}

}  // namespace

std::string InterpolationName(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kArea:
      return "area";
    case Interpolation::kLinear:
      return "linear";
    case Interpolation::kNearest:
      return "nearest";
    case Interpolation::kPyramid:
      return "pyramid";
  }
  return "area";
}

Interpolation ParseInterpolation(const std::string& name, const std::string& what) {
  if (name == "area") return Interpolation::kArea;
  if (name == "linear" || name == "bilinear") return Interpolation::kLinear;
  if (name == "nearest") return Interpolation::kNearest;
  if (name == "pyramid") return Interpolation::kPyramid;
  ThrowInput("{}: unknown interpolation '{}' (expected pyramid, area, linear or nearest)", what,
             name);
}

void PreprocessConfig::Validate() const {
  MS_CHECK(width >= 1 && width <= kMaxSide && height >= 1 && height <= kMaxSide,
           "preprocess size must be in [1, {}] on each side, got {}x{}", kMaxSide, width, height);
  for (int c = 0; c < 3; ++c) {
    MS_CHECK(std::isfinite(mean[c]), "preprocess mean[{}] must be finite, got {}", c, mean[c]);
    MS_CHECK(std::isfinite(stddev[c]) && stddev[c] > 0, "preprocess std[{}] must be > 0, got {}", c,
             stddev[c]);
  }
}

std::string PreprocessConfig::ToString() const {
  return fmt::format("{}x{} {} mean=[{}, {}, {}] std=[{}, {}, {}] interpolation={}", width, height,
                     to_rgb ? "rgb" : "bgr", mean[0], mean[1], mean[2], stddev[0], stddev[1],
                     stddev[2], InterpolationName(interpolation));
}

Json PreprocessConfig::ToJson() const {
  return Json{{"width", width},
              {"height", height},
              {"channels", to_rgb ? "rgb" : "bgr"},
              {"mean", {mean[0], mean[1], mean[2]}},
              {"std", {stddev[0], stddev[1], stddev[2]}},
              {"interpolation", InterpolationName(interpolation)}};
}

PreprocessConfig PreprocessConfig::FromJson(const JsonView& v) {
  PreprocessConfig cfg;
  cfg.width = static_cast<int>(v.IntIn("width", 1, kMaxSide));
  cfg.height = static_cast<int>(v.IntIn("height", 1, kMaxSide));
  if (auto ch = v.OptionalField("channels")) {
    std::string s = ch->AsString();
    if (s != "rgb" && s != "bgr") ch->Fail("expected \"rgb\" or \"bgr\", got \"{}\"", s);
    cfg.to_rgb = s == "rgb";
  }
  auto triple = [&](const char* key, std::array<float, 3>* dst, bool positive) {
    auto f = v.OptionalField(key);
    if (!f) return;
    if (!f->IsArray() || f->Size() != 3) f->Fail("expected an array of 3 numbers");
    for (size_t c = 0; c < 3; ++c) {
      double x = f->At(c).AsNumber();
      if (positive && !(x > 0)) f->At(c).Fail("expected a number > 0, got {}", x);
      (*dst)[c] = static_cast<float>(x);
    }
  };
  triple("mean", &cfg.mean, false);
  triple("std", &cfg.stddev, true);
  if (auto in = v.OptionalField("interpolation")) {
    cfg.interpolation = ParseInterpolation(in->AsString(), v.origin() + ": " + in->path());
  }
  return cfg;
}

void Preprocess(const Image& image, const PreprocessConfig& cfg, float* out) {
  CheckArgs(image, cfg, out);
  NormalizeMat(Resized(image, cfg.width, cfg.height, cfg.interpolation), cfg, out);
}

void PreprocessBatch(const std::vector<const Image*>& images, const PreprocessConfig& cfg,
                     float* out) {
  for (const Image* im : images) {
    MS_CHECK(im != nullptr, "preprocess batch: null image");
    CheckArgs(*im, cfg, out);
  }
  const size_t per = cfg.floats_per_frame();
  if (images.size() <= 1 || cv::getNumThreads() <= 1) {
    for (size_t i = 0; i < images.size(); ++i) Preprocess(*images[i], cfg, out + i * per);
    return;
  }
  cv::parallel_for_(cv::Range(0, static_cast<int>(images.size())), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      const Image& im = *images[static_cast<size_t>(i)];
      NormalizeMat(Resized(im, cfg.width, cfg.height, cfg.interpolation), cfg,
                   out + static_cast<size_t>(i) * per);
    }
  });
}

void PreprocessBatch(const std::vector<Image>& images, const PreprocessConfig& cfg, float* out) {
  std::vector<const Image*> ptrs;
  ptrs.reserve(images.size());
  for (const Image& im : images) ptrs.push_back(&im);
  PreprocessBatch(ptrs, cfg, out);
}

void ResizeImage(const Image& image, int width, int height, Interpolation interpolation,
                 Image* out) {
  MS_CHECK(!image.empty() && image.bgr.size() == image.num_bytes(),
           "resize: input image is empty or malformed");
  MS_CHECK(width > 0 && height > 0, "resize: output size must be positive, got {}x{}", width,
           height);
  if (out == &image) {
    Image tmp;
    ResizeImage(image, width, height, interpolation, &tmp);
    *out = std::move(tmp);
    return;
  }
  if (out->width != width || out->height != height || out->bgr.size() != out->num_bytes()) {
    *out = Image(width, height);
  }
  cv::Mat dst = AsMat(*out);
  if (image.width == width && image.height == height) {
    AsMat(image).copyTo(dst);
  } else {
    ResizeInto(AsMat(image), dst, dst.size(), interpolation);
  }
}

Image ResizeImage(const Image& image, int width, int height, Interpolation interpolation) {
  Image out;
  ResizeImage(image, width, height, interpolation, &out);
  return out;
}

void NormalizeToChw(const Image& image, const PreprocessConfig& cfg, float* out) {
  CheckArgs(image, cfg, out);
  MS_CHECK(image.width == cfg.width && image.height == cfg.height,
           "normalize: image is {}x{} but the preprocessing expects {}x{}", image.width,
           image.height, cfg.width, cfg.height);
  NormalizeMat(AsMat(image), cfg, out);
}

void SetVideoThreads(int threads) {
  MS_CHECK(threads >= 1, "video threads must be >= 1, got {}", threads);
  cv::setNumThreads(threads);
}

int GetVideoThreads() { return cv::getNumThreads(); }

}  // namespace mainstream
