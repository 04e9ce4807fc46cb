// Segments: stages [begin, end) of a base, frozen and optimized for
// inference on this CPU.
//
// Build() wraps the stages in a module whose forward() chains them, freezes it
// (weights become constants, BatchNorm folds into the convolutions, dropout
// disappears) and runs the passes of torch.jit.optimize_for_inference (convs
// and their elementwise neighbours move to oneDNN's blocked layout, with one
// layout conversion at each end of the segment). FusionReport says what
// happened; Build() checks the result against the plain stages on a probe
// batch and falls back to the frozen graph without oneDNN if they disagree.
//
// Known LibTorch 1.13 bug worked around here: on tensors whose channel count
// is not a multiple of 16, the oneDNN versions of hardtanh/ReLU6 and clamp
// leave the values unclamped. Such activations are kept in the dense layout.
//
// Segments take any batch size; a batch of B frames costs less than B calls.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/torch_fwd.h"

namespace mainstream {

struct SegmentOptions {
  bool optimize = true;  // false: plain stages (no freezing), e.g. as a reference
  bool mkldnn = true;    // false: freeze only, keep the dense layout
  bool clamp_workaround =
      true;              // keep narrow hardtanh/clamp dense (see above); false only to show the bug
  bool verify = true;    // compare with the plain stages on a probe batch
  int verify_batch = 2;  // frames in the probe batch
  double tolerance = 1e-4;  // max |optimized - plain| / max(1, max |plain|)
  uint64_t seed = 7;        // of the probe batch
};

// What optimization did to a segment's graph.
struct FusionReport {
  bool frozen = false;
  int convs = 0;               // convolutions in the frozen graph
  int batch_norms_folded = 0;  // batch_norm ops before freezing minus after
  int batch_norms_left = 0;
  int mkldnn_convs = 0;         // convolutions running on oneDNN blocked tensors
  int mkldnn_ops = 0;           // all ops on oneDNN blocked tensors (convs, activations, adds)
  int layout_conversions = 0;   // to_mkldnn / to_dense nodes
  int dense_activations = 0;    // activations kept dense by the hardtanh workaround
  bool fell_back = false;       // oneDNN result disagreed: using the frozen graph
  double verify_max_diff = -1;  // max abs difference to the plain stages (-1: not verified)
  std::string note;

  Json ToJson() const;
  std::string ToString() const;
};

class Segment {
 public:
  // Stages [begin, end) of `base`, 0 <= begin < end <= num_stages.
  static Segment Build(const BaseModel& base, int begin, int end,
                       const SegmentOptions& options = {});
  // Any module whose forward maps one tensor to one tensor (an app's suffix,
  // a head); `probe` is an input batch for the verification.
  static Segment FromModule(const torch::jit::Module& module, const at::Tensor& probe,
                            const SegmentOptions& options = {}, const std::string& name = "module");

  // Runs the segment without autograd. x: [batch, ...], dense or in oneDNN's
  // blocked layout (as returned by ForwardKeepLayout); the result is dense.
  at::Tensor Forward(const at::Tensor& x) const;
  // Same, but leaves the result in the layout the segment computes it in
  // (oneDNN's blocked layout when its last op runs there), skipping the
  // conversion back to dense. Feeding that to the next segment's Forward or
  // ForwardKeepLayout also skips its conversion in: a chain of segments then
  // costs what one segment of all their stages costs (the shared stem feeding
  // several apps' branches, for instance). x.to_dense() gives a plain tensor.
  at::Tensor ForwardKeepLayout(const at::Tensor& x) const;
  bool TakesBlockedInput() const;     // a blocked input skips a conversion
  bool ReturnsBlockedOutput() const;  // ForwardKeepLayout returns a blocked tensor
  // Runs several dense inputs (frames, or several apps' activations at the
  // same branchpoint) as one batch and splits the result.
  std::vector<at::Tensor> ForwardBatch(const std::vector<at::Tensor>& inputs) const;

  int begin() const;
  int end() const;
  const std::string& name() const;
  const FusionReport& fusion() const;
  torch::jit::Module module() const;  // the optimized module
  std::string GraphString() const;    // its forward graph, for debugging

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Wraps stages [begin, end) of `base` in a new module (sharing the stages'
// parameters) whose forward chains them; eval mode. Not optimized.
torch::jit::Module ChainStages(const BaseModel& base, int begin, int end);

// Wall-clock latency of repeated calls.
struct LatencyStats {
  double p50_ms = 0;
  double p95_ms = 0;
  double mean_ms = 0;
  // The mean with the samples above the 95th percentile counted at it
  // (winsorized): what a call costs on average, without letting one
  // preemption among a few dozen samples move it.
  double mean_w95_ms = 0;
  double min_ms = 0;
  int samples = 0;
  Json ToJson() const;
};
// Interpolated percentiles of `samples_ms` (any order).
LatencyStats SummarizeLatency(std::vector<double> samples_ms);
// Times segment.Forward(x) (or ForwardKeepLayout): `warmup` untimed calls,
// then `repeats` timed ones.
LatencyStats TimeForward(const Segment& segment, const at::Tensor& x, int warmup, int repeats,
                         bool keep_layout = false);
// Times any call the same way.
LatencyStats TimeCalls(const std::function<void()>& call, int warmup, int repeats);

}  // namespace mainstream
