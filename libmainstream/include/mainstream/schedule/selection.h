// Choosing among noisy predictions (docs/model.md, "Choosing among noisy
// options"). An app's options (candidate, frame rate, X) are predicted from
// the same few events of its score trace; the search then takes, per app,
// the best-looking option it can afford, and the best-looking of many noisy
// estimates is on average one that erred upwards (the winner's curse). The
// bootstrap below estimates that optimism for every option and the search
// sees each option's prediction net of it.
#pragma once

#include <cstdint>
#include <vector>

#include "mainstream/labels/scoring.h"
#include "mainstream/package/mpackage.h"

namespace mainstream {

// One predicted (candidate, rate, X) of an app: how its F1 is made from the
// trace's event cycles and the analytical model (schedule/prediction.h,
// "Combining trace and model").
struct SelectionEntry {
  int branchpoint = 0;
  double fps = 0;
  CandidateKind kind = CandidateKind::kBranch;
  double micro_ms = 0;      // a microclassifier's own latency (MicroSpec::cost_ms)
  double trace_weight = 0;  // 0: the model alone (no events in the trace)
  double model_recall = 0, model_precision = 0;
  const std::vector<EventCycle>* cycles = nullptr;  // one per true event, same events for all
  int64_t runs = 1;                                 // report sets (phases) summed in the cycles
};

// What a bootstrap resample draws: true events one by one, or whole folds
// of the trace (contiguous stretches of time, each with all its events), so
// that an option whose lead comes from one stretch of the video loses it in
// the resamples without that stretch.
enum class ResampleUnit { kEvent, kFold };

// For each entry in `options`, the selection optimism of choosing it as the
// best of its competitors: the entries no more costly than it in any schedule
// (NoCostlier candidates, e.g. branchpoint >= its own; fps <= its own; any X).
// For each of `resamples` bootstrap draws of the events (the same draw for
// every entry, seeded by `seed`), ô = the competitor with the best resampled
// F1; the optimism is the mean of [F1*(ô) - F1(ô)] - [F1*(o) - F1(o)], where
// F1* is the resampled and F1 the original prediction. The second term
// removes the bootstrap's own bias of F1, so an option without competitors
// gets exactly 0. Results are clamped at 0 (an option some cheaper option
// beats is never the search's choice anyway). Entries must share one set of
// cycles (the same true events, in the same order); empty cycles give 0s.
// With ResampleUnit::kFold, `cycle_fold[i]` is the fold of cycle i and a
// resample draws as many folds as there are (folds with events), with
// replacement; fewer than two such folds gives 0s.
std::vector<double> SelectionOptimism(const std::vector<SelectionEntry>& entries,
                                      const std::vector<size_t>& options, int resamples,
                                      uint64_t seed, ResampleUnit unit = ResampleUnit::kEvent,
                                      const std::vector<int>& cycle_fold = {});

}  // namespace mainstream
