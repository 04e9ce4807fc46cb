// Inter-frame correlation c of the analytical model (schedule/event_model.h)
// from observed per-frame outcomes. Under the model a sampled frame repeats
// the previous sampled frame's outcome with probability c, otherwise it is
// drawn afresh (positive with probability p), so the rate of repeats between
// consecutive samples is r = c + (1 - c) s with s = p^2 + (1 - p)^2, hence
// c = (r - s) / (1 - s). See docs/labels.md for the derivation.
#pragma once

#include <cstdint>
#include <vector>

#include "mainstream/labels/label_file.h"

namespace mainstream {

// EventStats requires c < 1; estimates are clamped to [0, kMaxCorrelation].
inline constexpr double kMaxCorrelation = 0.99;

struct CorrelationEstimate {
  double correlation = 0;    // clamped to [0, kMaxCorrelation]; 0 when !defined
  double unclamped = 0;      // (r - s) / (1 - s) before clamping
  double repeat_rate = 0;    // r: fraction of consecutive pairs with equal outcomes
  double chance_repeat = 0;  // s: repeat rate expected without correlation
  double positive_rate = 0;  // p: fraction of positive outcomes (all strata)
  int64_t pairs = 0;         // consecutive pairs inside groups
  int64_t outcomes = 0;
  bool defined = false;  // false without pairs or when every stratum is constant
};

// Outcome sequences (0/1, e.g. correct/incorrect or positive/negative; the
// estimate is the same either way), one per group of consecutive samples
// such as one event. Pairs never cross groups.
CorrelationEstimate EstimateCorrelation(const std::vector<std::vector<uint8_t>>& groups);

// Strata with different marginal rates (e.g. frames inside events, positive
// with p = TPR, and frames between events, positive with p = FPR), one shared
// c: c = sum_j n_j (r_j - s_j) / sum_j n_j (1 - s_j) over strata j with n_j pairs.
CorrelationEstimate EstimateCorrelationStratified(
    const std::vector<std::vector<std::vector<uint8_t>>>& strata);

// A model's per-frame outputs, sampled every `stride` frames from frame
// 1 + phase, cut into groups at event boundaries of `labels`.
struct SegmentOutcomes {
  std::vector<std::vector<uint8_t>> events;  // predictions inside each true event
  std::vector<std::vector<uint8_t>> gaps;    // predictions inside each gap
};
SegmentOutcomes SampledOutcomes(const FrameLabels& labels, const FrameLabels& predictions,
                                int64_t stride = 1, int64_t phase = 0);

// EstimateCorrelationStratified({events, gaps}) of SampledOutcomes.
CorrelationEstimate EstimatePredictionCorrelation(const FrameLabels& labels,
                                                  const FrameLabels& predictions,
                                                  int64_t stride = 1, int64_t phase = 0);

}  // namespace mainstream
