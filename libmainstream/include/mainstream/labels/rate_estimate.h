// Per-frame TPR/FPR of a candidate from its out-of-fold scores (a column of
// a ScoreTrace), with an uncertainty that respects how frames cluster: the
// frames of one event (or one gap between events) are near-duplicates, so
// the units of evidence are events and gaps, not frames. Small evidence is
// shrunk (a Jeffreys prior on the effective number of independent frames) so
// that a rate of 0 measured on a few events is never taken as 0, and a
// candidate whose TPR does not exceed its FPR beyond noise is flagged as no
// better than chance. docs/training.md, "Estimates".
#pragma once

#include <cstdint>
#include <string>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/score_trace.h"

namespace mainstream {

struct RateEstimate {
  int64_t positives = 0, negatives = 0;  // frames by label
  int64_t true_positives = 0, false_positives = 0;
  int64_t events = 0, gaps = 0;     // clusters (runs of one label inside a segment)
  double tpr_raw = 0, fpr_raw = 0;  // frame counts
  double tpr_se = 0, fpr_se = 0;    // cluster-robust standard errors (ratio estimators)
  double tpr_effective_n = 0, fpr_effective_n = 0;  // p(1-p)/se^2, at least the clusters
  double tpr = 0, fpr = 0;                          // shrunk: (p n_eff + 0.5) / (n_eff + 1)
  double accuracy = 0;                              // raw, over all frames
  double skill = 0;                                 // tpr_raw - fpr_raw (Youden's J)
  double skill_lower = 0;                           // its one-sided 95% lower bound
  bool no_skill = false;                            // skill_lower <= 0

  Json ToJson() const;
};

// A frame is positive when its score is >= threshold. Throws InputError when
// the trace has no positive or no negative frames (nothing to estimate a
// rate on).
RateEstimate EstimateRates(const ScoreTrace& trace, int column, double threshold,
                           const std::string& origin);

}  // namespace mainstream
