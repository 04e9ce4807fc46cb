#include "mainstream/labels/correlation.h"

#include <algorithm>

#include "mainstream/core/error.h"

namespace mainstream {

CorrelationEstimate EstimateCorrelationStratified(
    const std::vector<std::vector<std::vector<uint8_t>>>& strata) {
  CorrelationEstimate e;
  int64_t positives = 0, repeats = 0;
  double numerator = 0, denominator = 0, chance_pairs = 0;
  for (const std::vector<std::vector<uint8_t>>& groups : strata) {
    int64_t n_out = 0, n_pos = 0, n_pairs = 0, n_rep = 0;
    for (const std::vector<uint8_t>& g : groups) {
      for (size_t k = 0; k < g.size(); ++k) {
        ++n_out;
        n_pos += g[k] != 0;
        if (k > 0) {
          ++n_pairs;
          n_rep += (g[k] != 0) == (g[k - 1] != 0);
        }
      }
    }
    e.outcomes += n_out;
    e.pairs += n_pairs;
    positives += n_pos;
    repeats += n_rep;
    if (n_pairs == 0) continue;
    const double p = static_cast<double>(n_pos) / static_cast<double>(n_out);
    const double s = p * p + (1 - p) * (1 - p);
    numerator += static_cast<double>(n_rep) - static_cast<double>(n_pairs) * s;
    denominator += static_cast<double>(n_pairs) * (1 - s);
    chance_pairs += static_cast<double>(n_pairs) * s;
  }
  if (e.outcomes > 0)
    e.positive_rate = static_cast<double>(positives) / static_cast<double>(e.outcomes);
  if (e.pairs == 0) return e;
  e.repeat_rate = static_cast<double>(repeats) / static_cast<double>(e.pairs);
  e.chance_repeat = chance_pairs / static_cast<double>(e.pairs);
  // Every stratum constant (s = 1): any c explains the data; report 0.
  if (denominator <= 1e-12) return e;
  e.defined = true;
  e.unclamped = numerator / denominator;
  e.correlation = std::clamp(e.unclamped, 0.0, kMaxCorrelation);
  return e;
}

CorrelationEstimate EstimateCorrelation(const std::vector<std::vector<uint8_t>>& groups) {
  return EstimateCorrelationStratified({groups});
}

SegmentOutcomes SampledOutcomes(const FrameLabels& labels, const FrameLabels& predictions,
                                int64_t stride, int64_t phase) {
  MS_CHECK(labels.size() == predictions.size(),
           "correlation: labels have {} frames but predictions have {}", labels.size(),
           predictions.size());
  MS_CHECK(stride >= 1, "correlation: stride must be >= 1, got {}", stride);
  MS_CHECK(phase >= 0 && phase < stride, "correlation: phase must be in [0, {}), got {}", stride,
           phase);
  SegmentOutcomes out;
  const int64_t n = static_cast<int64_t>(labels.size());
  int64_t segment = 0, last_segment = -1;
  int64_t next_sample = phase;
  for (int64_t i = 0; i < n; ++i) {
    const bool label = labels[static_cast<size_t>(i)] != 0;
    if (i > 0 && label != (labels[static_cast<size_t>(i - 1)] != 0)) ++segment;
    if (i != next_sample) continue;
    next_sample += stride;
    std::vector<std::vector<uint8_t>>& groups = label ? out.events : out.gaps;
    if (segment != last_segment) {
      groups.emplace_back();
      last_segment = segment;
    }
    groups.back().push_back(predictions[static_cast<size_t>(i)] != 0 ? 1 : 0);
  }
  return out;
}

CorrelationEstimate EstimatePredictionCorrelation(const FrameLabels& labels,
                                                  const FrameLabels& predictions, int64_t stride,
                                                  int64_t phase) {
  SegmentOutcomes o = SampledOutcomes(labels, predictions, stride, phase);
  return EstimateCorrelationStratified({o.events, o.gaps});
}

}  // namespace mainstream
