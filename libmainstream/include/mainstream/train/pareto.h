// Pareto pruning of an application's candidates (paper Sec. 5): keep only
// models on the frontier of (specialized stages, accuracy). A candidate with
// more specialized stages (a lower branchpoint) is worth keeping only if it is
// more accurate than every candidate that shares more of the base.
#pragma once

#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/schedule/prediction.h"

namespace mainstream {

struct ParetoResult {
  std::vector<Candidate> kept;    // sorted by branchpoint
  std::vector<Candidate> pruned;  // sorted by branchpoint
  Json log =
      Json::array();  // one entry per pruned candidate: branchpoint, accuracy, dominated_by, reason
};

// Candidate i is dominated by j when j.branchpoint > i.branchpoint (fewer
// specialized stages) and j.accuracy >= i.accuracy - tolerance. The entry
// names the dominating candidate with the highest accuracy (ties: the most
// sharing). `num_stages` is used to state specialized stages in the reason.
// Branchpoints must be unique (InputError otherwise); tolerance >= 0.
ParetoResult ParetoPrune(std::vector<Candidate> candidates, int num_stages, double tolerance = 0);

// The same frontier on what the scheduler will predict (schedule/prediction.h):
// candidate i is dominated by j when j shares more of the base (j costs no
// more than i at any rate) and j's best predicted F1 over `x_options` is >=
// i's - tolerance at every frame rate in `fps_options`. Log entries give the
// predicted F1s.
ParetoResult ParetoPruneByPrediction(std::vector<Candidate> candidates, int num_stages,
                                     const EventStats& events, const ScoreTrace* trace,
                                     double stream_fps, const std::vector<double>& fps_options,
                                     const std::vector<int>& x_options,
                                     const PredictionOptions& prediction, double tolerance = 0);

}  // namespace mainstream
