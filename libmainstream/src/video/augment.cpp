#include "mainstream/video/augment.h"

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/video/cv_image.h"

namespace mainstream {

AugmentConfig AugmentConfig::None() {
  AugmentConfig c;
  c.max_translate = 0;
  c.min_crop = 1;
  c.brightness = 0;
  c.contrast = 0;
  c.hflip = false;
  return c;
}

bool AugmentConfig::enabled() const {
  return max_translate > 0 || min_crop < 1 || brightness > 0 || contrast > 0 || hflip;
}

void AugmentConfig::Validate() const {
  MS_CHECK(std::isfinite(max_translate) && max_translate >= 0 && max_translate <= 0.5,
           "augment max_translate must be in [0, 0.5] (a fraction of the frame), got {}",
           max_translate);
  MS_CHECK(std::isfinite(min_crop) && min_crop >= 0.5 && min_crop <= 1,
           "augment min_crop must be in [0.5, 1] (a fraction of the frame side), got {}", min_crop);
  MS_CHECK(std::isfinite(brightness) && brightness >= 0 && brightness <= 1,
           "augment brightness must be in [0, 1], got {}", brightness);
  MS_CHECK(std::isfinite(contrast) && contrast >= 0 && contrast < 1,
           "augment contrast must be in [0, 1), got {}", contrast);
}

std::string AugmentConfig::ToString() const {
  return fmt::format("max_translate={} min_crop={} brightness={} contrast={} hflip={}",
                     max_translate, min_crop, brightness, contrast, hflip);
}

Json AugmentConfig::ToJson() const {
  return Json{{"max_translate", max_translate},
              {"min_crop", min_crop},
              {"brightness", brightness},
              {"contrast", contrast},
              {"hflip", hflip}};
}

AugmentConfig AugmentConfig::FromJson(const JsonView& v) {
  AugmentConfig c;
  if (auto f = v.OptionalField("max_translate")) c.max_translate = f->AsNumberIn(0, 0.5);
  if (auto f = v.OptionalField("min_crop")) c.min_crop = f->AsNumberIn(0.5, 1);
  if (auto f = v.OptionalField("brightness")) c.brightness = f->AsNumberIn(0, 1);
  if (auto f = v.OptionalField("contrast")) {
    c.contrast = f->AsNumberIn(0, 1);
    if (c.contrast >= 1) f->Fail("expected a number in [0, 1), got {}", c.contrast);
  }
  if (auto f = v.OptionalField("hflip")) c.hflip = f->AsBool();
  return c;
}

bool AugmentParams::identity() const {
  return zoom == 1 && dx == 0 && dy == 0 && !flip && brightness == 0 && contrast == 1;
}

AugmentParams SampleAugment(const AugmentConfig& cfg, int width, int height, uint64_t seed) {
  // Always draw every value, in a fixed order, so enabling one augmentation
  // does not change the others' draws for the same seed.
  Rng rng(seed);
  AugmentParams p;
  double crop = rng.Uniform(cfg.min_crop, 1.0);
  double tx = rng.Uniform(-cfg.max_translate, cfg.max_translate);
  double ty = rng.Uniform(-cfg.max_translate, cfg.max_translate);
  bool flip = rng.Bernoulli(0.5);
  double b = rng.Uniform(-cfg.brightness, cfg.brightness);
  double c = rng.Uniform(1 - cfg.contrast, 1 + cfg.contrast);
  p.zoom = cfg.min_crop < 1 ? 1.0 / crop : 1.0;
  p.dx = cfg.max_translate > 0 ? tx * width : 0.0;
  p.dy = cfg.max_translate > 0 ? ty * height : 0.0;
  p.flip = cfg.hflip && flip;
  p.brightness = cfg.brightness > 0 ? b * 255.0 : 0.0;
  p.contrast = cfg.contrast > 0 ? c : 1.0;
  return p;
}

Image ApplyAugment(const Image& image, const AugmentParams& p) {
  MS_CHECK(!image.empty() && image.bgr.size() == image.num_bytes(),
           "augment: input image is empty or malformed");
  MS_CHECK(std::isfinite(p.zoom) && p.zoom > 0 && std::isfinite(p.dx) && std::isfinite(p.dy) &&
               std::isfinite(p.brightness) && std::isfinite(p.contrast) && p.contrast >= 0,
           "augment: invalid parameters zoom={} dx={} dy={} brightness={} contrast={}", p.zoom,
           p.dx, p.dy, p.brightness, p.contrast);
  Image out(image.width, image.height);
  cv::Mat src = AsMat(image);
  cv::Mat dst = AsMat(out);
  const bool geometric = p.zoom != 1 || p.dx != 0 || p.dy != 0;
  if (geometric) {
    // Zoom about the center, shift, then (optionally) mirror: one warp.
    const double cx = (image.width - 1) * 0.5, cy = (image.height - 1) * 0.5;
    double ax = p.zoom, bx = cx - p.zoom * cx + p.dx;
    if (p.flip) {
      ax = -ax;
      bx = (image.width - 1) - bx;
    }
    cv::Matx23d m(ax, 0, bx, 0, p.zoom, cy - p.zoom * cy + p.dy);
    cv::warpAffine(src, dst, m, dst.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT_101);
  } else if (p.flip) {
    cv::flip(src, dst, 1);
  } else {
    src.copyTo(dst);
  }
  if (p.brightness != 0 || p.contrast != 1) {
    cv::Scalar m = cv::mean(dst);
    double gray = (m[0] + m[1] + m[2]) / 3.0;
    // out = contrast * (in - gray) + gray + brightness, saturated to [0, 255].
    dst.convertTo(dst, CV_8U, p.contrast, (1 - p.contrast) * gray + p.brightness);
  }
  MS_ASSERT(dst.data == out.bgr.data(), "augment output was reallocated");
  return out;
}

Image Augment(const Image& image, const AugmentConfig& cfg, uint64_t seed) {
  return ApplyAugment(image, SampleAugment(cfg, image.width, image.height, seed));
}

}  // namespace mainstream
