// What the scheduler predicts for one app option (candidate, frame rate, X):
// the trace-driven replay (schedule/trace_model.h) combined with the
// analytical model (schedule/event_model.h), shrunk towards the model where
// the trace holds few events, with the uncertainty of the prediction. One
// function serves msschedule, mstrain's Pareto pruning and the reports.
// docs/model.md, "Combining trace and model" and "Prediction intervals".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/schedule/event_model.h"

namespace mainstream {

struct ScoreTrace;

struct TracePrediction {
  double recall = 0, precision = 0, f1 = 0;
  double f1_se = 0;    // jackknife over the trace's events
  double fold_sd = 0;  // SD of the per-fold F1s
  // What fold_sd would be with no difference between the folds but the
  // events each drew (FoldNullVariance; 0 when not computed: the normal
  // approximation, or older schedules).
  double fold_null_sd = 0;
  int folds = 0;       // folds with events
  int64_t events = 0;  // true events in the trace
  int phases = 0;      // sampling phases replayed
  // The deployed model's own held-out part (mstrain --deploy fold): its
  // fold in the trace (-1: none), that fold's F1 and events, and the weight
  // its own figures got over the pooled ones (docs/model.md, "The deployed
  // fold").
  int deployed_fold = -1;
  double deployed_f1 = 0;
  int64_t deployed_events = 0;
  double deployed_weight = 0;
};

struct AppPrediction {
  double recall = 0, precision = 0, f1 = 0;  // what the scheduler optimizes
  // Uncertainty of f1 as an estimate of the expected F1, and the SD of F1
  // that one event contributes to a measurement (a measurement over n events
  // has sampling SD f1_event_sd / sqrt(n)). See Interval().
  double f1_se = 0;
  double f1_event_sd = 0;
  // Part of f1_se: the SD between the trace's folds beyond their events'
  // sampling (docs/model.md, "Prediction intervals").
  double f1_heterogeneity = 0;
  int64_t events = 0;       // true events behind the prediction
  double trace_weight = 0;  // weight of the trace in recall and precision (0: model only)
  bool no_skill = false;    // the candidate was flagged no better than chance
  // Already subtracted from f1: the expected optimism of this option's
  // prediction when it is the best of the options no more costly than it
  // (schedule/selection.h); 0 when not corrected.
  double selection_bias = 0;
  EventPrediction model;  // the analytical model's figures
  std::optional<TracePrediction> trace;

  std::string source() const { return trace ? "trace+model" : "model"; }
  // Central interval at `level` for F1 measured over `n_events` true events:
  // f1 +- z * sqrt(f1_se^2 + f1_event_sd^2 / n_events), clipped to [0, 1].
  ConfidenceInterval Interval(double n_events, double level = 0.9) const;
  Json ToJson() const;
  // recall, precision and f1 are required; the rest is optional (schedules
  // written before these fields existed).
  static AppPrediction FromJson(const JsonView& v);
};

struct PredictionOptions {
  // Shrinkage of the trace towards the model: the trace's weight is
  // events / (events + prior_events). Chosen by cross-validation
  // (docs/pipeline.md).
  double prior_events = 4;
  bool use_trace = true;  // false: the analytical model only
  // Correction for choosing among noisy predictions (schedule/selection.h):
  // bootstrap resamples of the trace's events (0: no correction) and their
  // seed. Applied by BuildAppChoices to the options the search sees.
  int selection_resamples = 200;
  uint64_t selection_seed = 1;
  bool selection_by_fold = false;  // resample the trace's folds instead of its events
  // The folds' spread that sampling explains, subtracted from theirs to give
  // the heterogeneity (docs/model.md, "Prediction intervals"): true, the
  // permutation null (FoldNullVariance); false, the normal approximation
  // f1_event_sd^2 x folds / events (--heterogeneity-null normal).
  bool permutation_null = true;
  // false: BuildAppChoices leaves microclassifier candidates out (branches
  // only, as the paper's Mainstream; --no-micro).
  bool use_micro = true;
  void Validate() const;
};

// Prediction for candidate `c` of an app with these event statistics at
// `stride` stream frames per sample and X-voting `x`. `trace` may be null
// (model only); when given it must have a column for c.key(). A
// no_skill candidate's model figures use its overall positive rate for both
// TPR and FPR (detections independent of events).
// When `replay` is given and the trace was replayed, it receives the replay
// (its event cycles feed the selection correction).
struct TraceReplay;
AppPrediction PredictCandidate(const Candidate& c, const EventStats& events,
                               const ScoreTrace* trace, double stride, int x,
                               const PredictionOptions& options = {},
                               TraceReplay* replay = nullptr);

}  // namespace mainstream
