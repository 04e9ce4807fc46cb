// The embedded default base, "msnet-s": a MobileNetV2-style chain sized for a
// small CPU, built in C++ (no Python, no download) with random weights. The
// mstrain issue pretrains it; apps then fine-tune its last stages.
//
// Architecture (docs/models.md): MobileNetV2 with width multiplier 0.5 at a
// 160x120 (4:3) input; inverted-residual blocks grouped into 8 stages at the
// points where the resolution or width changes, so each stage is a natural
// branchpoint:
//
//   stage  name    blocks                                  output (C x H x W)
//   0      stem    conv3x3/2 (16) + block t1 (8)             8 x 60 x 80
//   1      block2  2 x t6 (16), first /2                    16 x 30 x 40
//   2      block3  3 x t6 (16), first /2                    16 x 15 x 20
//   3      block4  4 x t6 (32), first /2                    32 x  8 x 10
//   4      block5  3 x t6 (48)                              48 x  8 x 10
//   5      block6  3 x t6 (80), first /2                    80 x  4 x  5
//   6      block7  1 x t6 (160) + conv1x1 (1280)          1280 x  4 x  5
//   7      head    global average pool + dropout + linear  num_classes
//
// Activations are ReLU6 as in MobileNetV2; BatchNorm after every conv.
// Every module is TorchScript compiled from source (jit::Module + define()),
// so it trains in C++ (backward through the scripted module) and freezes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/base_info.h"
#include "mainstream/model/torch_fwd.h"

namespace mainstream {

struct DefaultBaseOptions {
  std::string name = "msnet-s";
  int width = 160;          // input width
  int height = 120;         // input height
  double width_mult = 0.5;  // channel multiplier (MobileNetV2's alpha)
  int last_channel =
      1280;  // channels of the final 1x1 conv (not scaled below alpha 1, as torchvision)
  int num_classes = 10;
  std::vector<std::string> class_names;  // empty or num_classes names
  double dropout = 0.2;
  uint64_t seed = 1;  // weight initialization

  // Throws InputError naming the option.
  void Validate() const;
  Json ToJson() const;
  std::string ToString() const;
};

// Builds the default base in memory (train mode, random weights): the chain
// goes to *out; the manifest is returned without sha256 and output shapes
// (SaveBase fills them in).
BaseInfo BuildDefaultBase(const DefaultBaseOptions& options, torch::jit::Module* out);

// Builds it and saves it as a base directory (SaveBase). Returns the manifest.
BaseInfo CreateDefaultBase(const std::filesystem::path& dir,
                           const DefaultBaseOptions& options = {});

}  // namespace mainstream
