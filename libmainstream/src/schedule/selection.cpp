#include "mainstream/schedule/selection.h"

#include <algorithm>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/schedule/event_model.h"

namespace mainstream {

namespace {

// F1 of entry `e` with event i counted weight[i] times (1 each: the original).
double WeightedF1(const SelectionEntry& e, const std::vector<double>& weight) {
  double events = 0, detected = 0, true_reports = 0, false_reports = 0;
  const std::vector<EventCycle>& cycles = *e.cycles;
  for (size_t i = 0; i < cycles.size(); ++i) {
    const double m = weight[i];
    if (m == 0) continue;
    events += m;
    detected += m * static_cast<double>(cycles[i].detected);
    true_reports += m * static_cast<double>(cycles[i].true_reports);
    false_reports += m * static_cast<double>(cycles[i].false_reports);
  }
  const double recall_t = events > 0 ? detected / (events * static_cast<double>(e.runs)) : 0;
  const double reports = true_reports + false_reports;
  const double precision_t = reports > 0 ? true_reports / reports : 0;
  const double w = e.trace_weight;
  return F1Score(w * precision_t + (1 - w) * e.model_precision,
                 w * recall_t + (1 - w) * e.model_recall);
}

}  // namespace

std::vector<double> SelectionOptimism(const std::vector<SelectionEntry>& entries,
                                      const std::vector<size_t>& options, int resamples,
                                      uint64_t seed, ResampleUnit unit,
                                      const std::vector<int>& cycle_fold) {
  std::vector<double> out(options.size(), 0);
  if (entries.empty() || resamples <= 0) return out;
  MS_ASSERT(entries[0].cycles != nullptr, "selection entry 0 has no cycles");
  const size_t n = entries[0].cycles->size();
  for (const SelectionEntry& e : entries) {
    MS_ASSERT(e.cycles != nullptr && e.cycles->size() == n,
              "selection entries must share their events ({} vs {})",
              e.cycles ? e.cycles->size() : 0, n);
    MS_ASSERT(e.runs >= 1, "selection entry with {} runs", e.runs);
  }
  for (size_t o : options) MS_ASSERT(o < entries.size(), "option {} of {}", o, entries.size());
  if (n < 2) return out;
  // The units a resample draws: each a list of cycles.
  std::vector<std::vector<size_t>> units;
  if (unit == ResampleUnit::kEvent) {
    for (size_t i = 0; i < n; ++i) units.push_back({i});
  } else {
    MS_ASSERT(cycle_fold.size() == n, "{} cycle folds for {} cycles", cycle_fold.size(), n);
    std::vector<int> folds(cycle_fold);
    std::sort(folds.begin(), folds.end());
    folds.erase(std::unique(folds.begin(), folds.end()), folds.end());
    for (int f : folds) {
      std::vector<size_t>& u = units.emplace_back();
      for (size_t i = 0; i < n; ++i)
        if (cycle_fold[i] == f) u.push_back(i);
    }
    if (units.size() < 2) return out;
  }

  // Competitors of each option: no more costly in any schedule.
  std::vector<std::vector<size_t>> rivals(options.size());
  for (size_t k = 0; k < options.size(); ++k) {
    const SelectionEntry& o = entries[options[k]];
    for (size_t e = 0; e < entries.size(); ++e) {
      const SelectionEntry& r = entries[e];
      if (NoCostlier(r.kind, r.branchpoint, r.micro_ms, o.kind, o.branchpoint, o.micro_ms) &&
          r.fps <= o.fps + 1e-9)
        rivals[k].push_back(e);
    }
  }
  std::vector<double> ones(n, 1), base(entries.size()), boot(entries.size()), weight(n);
  for (size_t e = 0; e < entries.size(); ++e) base[e] = WeightedF1(entries[e], ones);

  Rng rng(seed);
  std::vector<double> sum(options.size(), 0);
  for (int b = 0; b < resamples; ++b) {
    std::fill(weight.begin(), weight.end(), 0.0);
    for (size_t d = 0; d < units.size(); ++d) {
      for (size_t i : units[rng.Index(units.size())]) weight[i] += 1;
    }
    for (size_t e = 0; e < entries.size(); ++e) boot[e] = WeightedF1(entries[e], weight);
    for (size_t k = 0; k < options.size(); ++k) {
      size_t best = options[k];
      for (size_t e : rivals[k]) {
        if (boot[e] > boot[best] + 1e-12) best = e;
      }
      sum[k] += (boot[best] - base[best]) - (boot[options[k]] - base[options[k]]);
    }
  }
  for (size_t k = 0; k < options.size(); ++k)
    out[k] = std::max(0.0, sum[k] / static_cast<double>(resamples));
  return out;
}

}  // namespace mainstream
