// The memory model (docs/model.md, "Memory model"): how many bytes a
// schedule's merged tree holds, from per-stage parameter and activation bytes
// measured by msprofile.
//
//   memory = overhead             what every run adds once (fitted by calibration; 0)
//          + base                 the plain base model msrun loads (its parameters)
//          + stem copies          stages [0, max b) of the shared base, once
//          + branch copies        stages [b, n) of every app, one copy each
//          + segments             a calibrated per-node cost x the tree's nodes
//                                 (one stem segment per distinct cut, one
//                                 branch per app; 0 until calibrated)
//          + activations          the largest stage's input + output (the
//                                 working set of one forward pass) plus the
//                                 activation at each distinct branchpoint
//                                 b > 0, held while that cut's branches run
//
// A copy of a stage costs what msprofile measured one optimized copy of it
// to hold resident (resident_bytes: the frozen, folded and prepacked weights
// and the runtime's per-segment state), or its parameter bytes when the
// profile does not record that.
//
// It does not depend on frame rates. No LibTorch.
#pragma once

#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/profile/profile.h"
#include "mainstream/schedule/cost_model.h"

namespace mainstream {

struct StageMemory {
  std::vector<double> param_bytes;       // per stage: parameters and buffers
  std::vector<double> activation_bytes;  // per stage: its output, one frame
  std::vector<double> resident_bytes;    // per stage: one optimized copy, resident (or empty)
  double input_bytes = 0;                // the preprocessed frame (activation at branchpoint 0)
  double overhead_bytes = 0;             // calibrated: what every run adds once
  double segment_bytes = 0;              // calibrated: what each node of the tree adds

  bool empty() const { return param_bytes.empty(); }
  int num_stages() const { return static_cast<int>(param_bytes.size()); }
  // Bytes one copy of stages [begin, end) holds (resident_bytes, else param_bytes).
  double CopyBytes(int begin, int end) const;
  // The plain base msrun keeps loaded: every stage's parameters.
  double BaseBytes() const;
  // Bytes of the activation at branchpoint b (the input of stage b).
  double ActivationAt(int b) const;
  // Largest input + output of one stage: the working set of a forward pass.
  double WorkingSet() const;
  // What every schedule holds: overhead + BaseBytes() + WorkingSet().
  double FixedBytes() const { return overhead_bytes + BaseBytes() + WorkingSet(); }
};

// The profile's per-stage bytes (empty when it records none).
StageMemory ProfileMemory(const Profile& profile);

struct MemoryBreakdown {
  double overhead = 0;       // calibrated per-run overhead
  double base = 0;           // the plain base model
  double stem_params = 0;    // the stem's optimized copies
  double branch_params = 0;  // the apps' own optimized copies
  double activations = 0;
  double segments = 0;  // calibrated per-node bytes x the tree's nodes
  double total() const {
    return overhead + base + stem_params + branch_params + activations + segments;
  }
  // bytes: overhead, base, stem_params, branch_params, activations, segments, total
  Json ToJson() const;
};

// Memory of the merged tree of `apps` (fps ignored). Requires memory of
// `apps`' base (every branchpoint < num_stages).
MemoryBreakdown ScheduleMemory(const StageMemory& memory, const std::vector<AppRequest>& apps);

// "12.3 MB" (10^6 bytes) for messages.
std::string FormatMegabytes(double bytes);

}  // namespace mainstream
