// Training augmentations for fixed cameras: the scene stays put, so only
// small geometric changes (a few pixels of shift, a slight zoom) and lighting
// changes (brightness, contrast) are realistic. Horizontal flips are optional:
// they change the layout a fixed camera always sees.
//
// Applied to the 8-bit image before normalization (e.g. to a FrameCache
// frame); fully determined by the caller's seed, e.g.
//   Augment(image, cfg, SubSeed(run_seed, epoch * num_frames + i)).
#pragma once

#include <cstdint>
#include <string>

#include "mainstream/core/json_io.h"
#include "mainstream/video/image.h"

namespace mainstream {

struct AugmentConfig {
  double max_translate = 0.05;  // shift up to this fraction of width / height
  double min_crop = 0.9;  // crop a centered window of side in [min_crop, 1] (then shift), zoom back
  double brightness = 0.1;  // add a uniform offset in [-b, b] (on the [0, 1] pixel scale)
  double contrast = 0.1;    // scale around the image mean by a gain in [1 - c, 1 + c]
  bool hflip = false;       // mirror with probability 0.5

  // No-op configuration.
  static AugmentConfig None();
  bool enabled() const;
  // Throws InputError naming the field: max_translate in [0, 0.5], min_crop in
  // [0.5, 1], brightness in [0, 1], contrast in [0, 1).
  void Validate() const;
  std::string ToString() const;
  Json ToJson() const;
  static AugmentConfig FromJson(const JsonView& v);  // missing fields keep defaults
};

// One draw of the random parameters.
struct AugmentParams {
  double zoom = 1;        // >= 1: 1 / crop side fraction
  double dx = 0, dy = 0;  // shift in output pixels
  bool flip = false;
  double brightness = 0;  // added, in 0..255 pixel units
  double contrast = 1;    // gain around the image mean

  bool identity() const;
};

AugmentParams SampleAugment(const AugmentConfig& cfg, int width, int height, uint64_t seed);
// Same size as the input; borders revealed by a shift are filled by reflection.
Image ApplyAugment(const Image& image, const AugmentParams& params);
Image Augment(const Image& image, const AugmentConfig& cfg, uint64_t seed);

}  // namespace mainstream
