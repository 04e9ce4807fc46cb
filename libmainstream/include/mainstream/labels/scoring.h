// Event-level scoring (paper Sec. 3): a true event is detected when some
// reported event overlaps it; a report is true when it overlaps some true
// event. Plus a seeded bootstrap over true events for confidence intervals.
// See docs/labels.md.
#pragma once

#include <cstdint>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/events.h"

namespace mainstream {

struct EventScore {
  int64_t true_events = 0;
  int64_t detected = 0;  // true events overlapped by at least one report
  int64_t reports = 0;
  int64_t true_reports = 0;   // reports overlapping at least one true event
  int64_t false_reports = 0;  // reports overlapping none
  double recall = 0;          // detected / true_events (0 when there are no true events)
  double precision = 0;       // true_reports / reports (0 when there are no reports)
  double f1 = 0;              // harmonic mean (0 when both are 0)

  Json ToJson() const;
};

// Intervals may be in any order and may overlap each other; empty intervals
// are an InputError. O((n + m) log n).
EventScore ScoreEvents(const std::vector<FrameInterval>& truth,
                       const std::vector<FrameInterval>& reports);

struct ConfidenceInterval {
  double lower = 0;
  double upper = 0;
};

struct BootstrapOptions {
  int resamples = 2000;  // >= 0; 0: point estimates only
  double level = 0.95;   // central interval, in (0, 1)
  uint64_t seed = 0;
};

struct EventScoreCI {
  int64_t true_events = 0;                   // the number of events behind the figures
  int64_t runs = 1;                          // report sets pooled (e.g. sampling phases)
  int64_t detected = 0;                      // summed over runs
  int64_t reports = 0;                       // summed over runs
  int64_t true_reports = 0;                  // summed over runs
  double recall = 0, precision = 0, f1 = 0;  // point estimates, pooled over runs
  ConfidenceInterval recall_ci, precision_ci, f1_ci;
  int resamples = 0;  // 0 when no interval could be drawn (no true events)
  double level = 0;

  Json ToJson() const;
};

// The unit the bootstrap resamples: one true event and its stretch of the
// timeline, from its start to the next true event's start (the first cycle
// also covers the frames before it). Counts are summed over report sets.
struct EventCycle {
  FrameInterval event;
  FrameInterval span;         // its frames: the first from frame 1 (or the earliest report),
                              // the last to the end of the last event or report
  int64_t detected = 0;       // report sets in which some report overlaps the event
  int64_t true_reports = 0;   // reports whose earliest overlapped true event is this one
  int64_t false_reports = 0;  // reports overlapping no true event that start inside `span`
};
// Cycles in event start order. Every report is counted in exactly one cycle
// (when there is at least one true event).
std::vector<EventCycle> EventCycles(const std::vector<FrameInterval>& truth,
                                    const std::vector<std::vector<FrameInterval>>& runs);

// Percentile bootstrap over true events. The timeline is cut into cycles, one
// per true event: from its start to the next true event's start (the first
// cycle also covers the frames before it). Each cycle carries whether its
// event was detected, the true reports assigned to it (a report overlapping
// several true events goes to the earliest) and the false reports starting in
// it. A resample draws as many cycles with replacement as there are true
// events; recall = detected / events, precision = true / (true + false)
// reports of the drawn cycles.
EventScoreCI BootstrapEventScore(const std::vector<FrameInterval>& truth,
                                 const std::vector<FrameInterval>& reports,
                                 const BootstrapOptions& options = {});
// Several report sets on the same truth (e.g. runs at different sampling
// phases): each cycle carries its per-run counts summed over runs; recall is
// the mean over runs and precision pools all runs' reports.
EventScoreCI BootstrapEventScoreRuns(const std::vector<FrameInterval>& truth,
                                     const std::vector<std::vector<FrameInterval>>& runs,
                                     const BootstrapOptions& options = {});

}  // namespace mainstream
