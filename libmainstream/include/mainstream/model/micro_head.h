// A microclassifier computed directly on the feature map (docs/runtime.md,
// "Microclassifiers"): mstrain's microclassifier module (src/train/micro.cpp:
// crop of a [C, H, W] map, 1x1 convolution to K channels + ReLU, flatten,
// linear to two logits) is a few thousand multiply-adds per frame, far less
// than what a TorchScript call costs in dispatch and oneDNN set-up. MicroHead
// reads the module's four parameters and runs the same arithmetic in plain
// loops over the crop, without copying it. LibTorch stays out of this header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/model/torch_fwd.h"

namespace mainstream {

// Cells [x0, x1) x [y0, y1) of a feature map.
struct MicroCrop {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

// mstrain's microclassifier module for `crop` of a map of shape `map_shape`
// = {C, H, W}: forward(x [batch, C, H, W]) crops x (a view), then a 1x1
// convolution to `channels` + ReLU, flatten, dropout, linear to two logits;
// its parameters are random (seeded), eval mode.
torch::jit::Module BuildMicroModule(const std::vector<int64_t>& map_shape, const MicroCrop& crop,
                                    int channels, double dropout, uint64_t seed);

class MicroHead {
 public:
  // The parameters app_head.{reduce_weight [K, C, 1, 1], reduce_bias [K],
  // weight [2, K * crop area], bias [2]} of `module` (copied), for `crop` of
  // a map of shape `map_shape` = {C, H, W}. InputError naming `origin` and
  // the parameter when one is missing or its shape disagrees, or when the
  // crop does not lie inside the map. It does not read the module's code:
  // compare Forward with the module on a probe before trusting it.
  static MicroHead FromModule(const torch::jit::Module& module, const MicroCrop& crop,
                              const std::vector<int64_t>& map_shape, const std::string& origin);

  // Logits [batch, 2] (float) of x: [batch, C, H, W] float, dense (any
  // strides: made contiguous) or in oneDNN's blocked layout (converted).
  at::Tensor Forward(const at::Tensor& x) const;
  // One frame: `map` points at a contiguous [C, H, W] float map; writes the
  // two logits. Thread-safe.
  void Run(const float* map, float* logits) const;

  const MicroCrop& crop() const { return crop_; }
  int channels() const { return k_; }
  // Multiply-adds per frame.
  int64_t macs() const;

 private:
  MicroCrop crop_;
  int64_t c_ = 0, h_ = 0, w_ = 0;  // the map
  int k_ = 0;
  std::vector<float> reduce_w_;  // [K][C]
  std::vector<float> reduce_b_;  // [K]
  std::vector<float> linear_w_;  // [2][K * area], flattened as [K][y][x]
  float linear_b_[2] = {0, 0};
};

}  // namespace mainstream
