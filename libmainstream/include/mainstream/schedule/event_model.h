// The analytical event-detection model (docs/model.md): predicts an
// application's event recall, precision and F1 from per-frame TPR/FPR, event
// statistics, inter-frame correlation, sampling stride and X-voting.
#pragma once

#include <cstdint>
#include <vector>

#include "mainstream/package/mpackage.h"

namespace mainstream {

struct EventPrediction {
  double recall = 0;
  double precision = 0;
  double f1 = 0;
  double true_reports_per_event = 0;  // expected reported events inside one true event
  double false_reports_per_gap = 0;   // expected reported events inside one gap
  double gap_length = 0;              // mean gap between events (frames)
};

// Samples that land in an interval of `length` frames when sampling every
// `stride` frames with a uniformly random phase: floor(length/stride) or one
// more, the latter with probability frac(length/stride).
struct SampleCount {
  int64_t low = 0;
  double p_high = 0;  // probability of low + 1
};
SampleCount SamplesIn(double length, double stride);

// P(at least X consecutive positives among n correlated outcomes), for
// n = 0..max_n. Outcomes: the first is positive with probability p; each later
// one repeats the previous with probability c, otherwise is drawn afresh.
std::vector<double> DetectionByCount(double p, double c, int x, int64_t max_n);

// Expected number of maximal runs of >= X positives among n such outcomes.
double ExpectedRuns(int64_t n, double p, double c, int x);

// The full prediction. stride >= 1 (stream frames per sample), x >= 1.
EventPrediction PredictEvents(double tpr, double fpr, const EventStats& events, double stride,
                              int x);

// F1 from precision and recall (0 when both are 0).
double F1Score(double precision, double recall);

struct MonteCarloResult {
  double recall = 0;
  double precision = 0;
  double f1 = 0;
  int64_t events = 0;
  int64_t detected = 0;
  int64_t true_reports = 0;
  int64_t false_reports = 0;
};

// Simulates the process the model describes: an alternating stream of events
// (lengths drawn from events.lengths, or the mean) and gaps of the mean gap
// length, sampled every `stride` frames from a random phase (redrawn every 64
// cycles), correlated outcomes restarted at each event/gap boundary, X-voting.
MonteCarloResult SimulateEvents(double tpr, double fpr, const EventStats& events, double stride,
                                int x, int64_t num_events, uint64_t seed);

}  // namespace mainstream
