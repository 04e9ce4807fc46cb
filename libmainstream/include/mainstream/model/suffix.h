// An app's own part of the base: stages [b, n) copied out of the base, with
// the classifier head replaced by a fresh one for the app's classes. This is
// what mstrain fine-tunes (with the stem's activations at b cached) and what
// msrun executes after the shared stem.
//
//   torch::jit::Module suffix = BuildSuffix(base, 5, {});  // stages 5..n-2 + new head
//   suffix.train();  ... optimizer over suffix.parameters() ...
//   SaveModule(suffix, "pkg/ped/bp5.pt");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/torch_fwd.h"

namespace mainstream {

struct SuffixOptions {
  int num_outputs = 2;   // logits of the new head (2: event / no event)
  double dropout = 0.2;  // before the head's linear layer, in train mode
  uint64_t seed = 1;     // initialization of the new head

  void Validate() const;
  Json ToJson() const;
};

// Stages branchpoint..n-2 of `base` (deep copies: training them does not
// touch the base) followed by a new head: global average pooling when its
// input is a feature map, dropout, and a linear layer to num_outputs, with
// input features taken from base.json. Input: the activation at
// `branchpoint` ([batch] + base.info().ShapeAt(branchpoint)); output:
// [batch, num_outputs]. Returned in eval mode with every parameter requiring
// gradients; 0 <= branchpoint < num_stages (n-1: only the new head).
torch::jit::Module BuildSuffix(const BaseModel& base, int branchpoint,
                               const SuffixOptions& options = {});

// What an app's head says per frame: the probability of the event class,
// column 1 of the softmax over its logits ([batch, num_outputs] ->
// [batch], contiguous). mstrain scores frames with it, msrun reads every
// branch's output through it, and msprofile times it with an app's head.
at::Tensor EventScores(const at::Tensor& logits);

// A fresh head alone: pooling (for rank-3 per-frame inputs) + dropout +
// linear(in_features, num_outputs). in_shape is the per-frame input shape.
torch::jit::Module BuildHead(const std::vector<int64_t>& in_shape, const SuffixOptions& options);

}  // namespace mainstream
