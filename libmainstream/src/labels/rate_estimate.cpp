#include "mainstream/labels/rate_estimate.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "mainstream/core/error.h"

namespace mainstream {

namespace {

struct Cluster {
  double frames = 0, positives = 0;
};

struct Rate {
  double raw = 0, se = 0, effective_n = 0, shrunk = 0, posterior_sd = 0;
};

// Ratio estimator sum(y) / sum(m) over clusters, its cluster-robust SE, and
// the Jeffreys posterior mean on the effective number of frames.
Rate EstimateRate(const std::vector<Cluster>& clusters) {
  Rate r;
  double y = 0, m = 0;
  for (const Cluster& c : clusters) {
    y += c.positives;
    m += c.frames;
  }
  if (m <= 0) return r;
  r.raw = y / m;
  const auto n = static_cast<double>(clusters.size());
  if (clusters.size() >= 2) {
    double ss = 0;
    for (const Cluster& c : clusters)
      ss += (c.positives - r.raw * c.frames) * (c.positives - r.raw * c.frames);
    r.se = std::sqrt(n / (n - 1) * ss) / m;
  }
  const double var = r.raw * (1 - r.raw);
  r.effective_n = r.se > 0 && var > 0 ? std::clamp(var / (r.se * r.se), n, m) : n;
  r.shrunk = (r.raw * r.effective_n + 0.5) / (r.effective_n + 1);
  r.posterior_sd = std::sqrt(r.shrunk * (1 - r.shrunk) / (r.effective_n + 2));
  return r;
}

}  // namespace

Json RateEstimate::ToJson() const {
  return Json{{"positives", positives},
              {"negatives", negatives},
              {"true_positives", true_positives},
              {"false_positives", false_positives},
              {"events", events},
              {"gaps", gaps},
              {"tpr_raw", tpr_raw},
              {"fpr_raw", fpr_raw},
              {"tpr_se", tpr_se},
              {"fpr_se", fpr_se},
              {"tpr_effective_n", tpr_effective_n},
              {"fpr_effective_n", fpr_effective_n},
              {"tpr", tpr},
              {"fpr", fpr},
              {"accuracy", accuracy},
              {"skill", skill},
              {"skill_lower", skill_lower},
              {"no_skill", no_skill}};
}

RateEstimate EstimateRates(const ScoreTrace& trace, int column, double threshold,
                           const std::string& origin) {
  MS_CHECK(column >= 0 && column < static_cast<int>(trace.scores.size()),
           "{}: score trace has no column {}", origin, column);
  const std::vector<float>& scores = trace.scores[static_cast<size_t>(column)];
  std::vector<Cluster> events, gaps;
  RateEstimate e;
  for (const auto& [begin, end] : trace.Segments()) {
    for (size_t i = begin; i < end; ++i) {
      const bool label = trace.labels[i] != 0;
      const bool pos = scores[i] >= threshold;
      std::vector<Cluster>& side = label ? events : gaps;
      if (i == begin || trace.labels[i] != trace.labels[i - 1]) side.emplace_back();
      side.back().frames += 1;
      side.back().positives += pos ? 1 : 0;
      (label ? e.positives : e.negatives) += 1;
      if (pos) (label ? e.true_positives : e.false_positives) += 1;
    }
  }
  MS_CHECK(e.positives > 0 && e.negatives > 0,
           "{}: the out-of-fold frames have {} positive and {} negative frames; both classes are "
           "needed to estimate "
           "TPR and FPR (choose training frames that contain events and gaps)",
           origin, e.positives, e.negatives);
  e.events = static_cast<int64_t>(events.size());
  e.gaps = static_cast<int64_t>(gaps.size());
  const Rate tpr = EstimateRate(events), fpr = EstimateRate(gaps);
  e.tpr_raw = tpr.raw;
  e.fpr_raw = fpr.raw;
  e.tpr_se = tpr.se;
  e.fpr_se = fpr.se;
  e.tpr_effective_n = tpr.effective_n;
  e.fpr_effective_n = fpr.effective_n;
  e.tpr = tpr.shrunk;
  e.fpr = fpr.shrunk;
  e.accuracy = static_cast<double>(e.true_positives + e.negatives - e.false_positives) /
               static_cast<double>(e.positives + e.negatives);
  e.skill = tpr.raw - fpr.raw;
  // Each SE at least the posterior SD, so that all-zero clusters (SE 0) do not
  // make a difference look certain.
  const double se =
      std::hypot(std::max(tpr.se, tpr.posterior_sd), std::max(fpr.se, fpr.posterior_sd));
  e.skill_lower = e.skill - 1.6449 * se;
  e.no_skill = e.skill_lower <= 0;
  return e;
}

}  // namespace mainstream
