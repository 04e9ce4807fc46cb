// Trace-driven event prediction (docs/model.md, "Trace-driven prediction"):
// replays a candidate's out-of-fold score trace (labels/score_trace.h)
// through the runtime's own sampling (Sampler) and X-voting
// (XVotingDetector) at every sampling phase, and scores the reports against
// the trace's true events with the runtime's scoring (EventCycles): what
// msrun would measure on those frames, had it run that candidate at that rate
// and X. False positives next to events, stride-dependent correlation and the
// real event lengths are in it by construction.
#pragma once

#include <cstdint>
#include <vector>

#include "mainstream/labels/score_trace.h"
#include "mainstream/labels/scoring.h"

namespace mainstream {

// The sampling phases (in stream frames) over which a stride is replayed,
// each equally likely: for a rational stride p/q (q <= 64) the p phases m/q,
// m = 0..p-1, which give every distinct sample pattern exactly once;
// otherwise 64 evenly spaced phases.
std::vector<double> ReplayPhases(double stride);

// Figures from event cycles (labels/scoring.h) of `runs` report sets:
// recall = detected / (events x runs), precision = true / all reports.
struct CycleScore {
  double recall = 0, precision = 0, f1 = 0;
};
CycleScore ScoreCycles(const std::vector<EventCycle>& cycles, int64_t runs);
// Jackknife standard error of F1 over cycles (leave one event's cycle out);
// 0 with fewer than two cycles.
double JackknifeF1Se(const std::vector<EventCycle>& cycles, int64_t runs);

struct TraceReplay {
  CycleScore score;
  int64_t events = 0;  // true events in the trace
  int phases = 0;
  std::vector<EventCycle> cycles;  // counts summed over phases
  double f1_se = 0;                // JackknifeF1Se
  std::vector<int> cycle_fold;     // the trace fold each cycle's event starts in
  std::vector<double> fold_f1;  // F1 of the cycles whose event starts in each fold that has events
  std::vector<int> fold_id;     // the trace fold of each fold_f1 entry
  std::vector<CycleScore> fold_score;  // each such fold's recall, precision and F1
  std::vector<int64_t> fold_events;    // each such fold's true events
  double fold_sd = 0;                  // SD of fold_f1 (0 with fewer than two)
};

// The folds' F1 variance when the folds differ only by which events they
// drew: the mean, over `permutations` seeded random deals of the cycles to
// the folds (each fold keeping its number of events; folds of 0 events are
// left out, as in TraceReplay::fold_f1), of the sample variance of the
// folds' F1s. With one or two events per fold a fold's F1 is nearly all or
// nothing, which the per-event spread scaled by the fold's events (a normal
// approximation) understates (docs/model.md, "Prediction intervals").
// 0 with fewer than two folds of events.
double FoldNullVariance(const std::vector<EventCycle>& cycles,
                        const std::vector<int64_t>& fold_events, int64_t runs,
                        int permutations = 400, uint64_t seed = 1);

// Replays column `column` of `trace`: a sample is positive when its score is
// >= threshold; each contiguous segment of the trace is sampled with
// Sampler(stride, phase) and run through XVotingDetector(x) (flushed at the
// segment's end), for every ReplayPhases(stride) phase.
TraceReplay ReplayTrace(const ScoreTrace& trace, int column, double threshold, double stride,
                        int x);

}  // namespace mainstream
