// Streaming event detection with X-voting, as the runtime runs it per
// application: fed each sampled frame's outcome in order, reports an event
// once X consecutive samples are positive and ends it at the first negative
// sample. Deterministic, O(1) time and memory per sample. See docs/labels.md.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "mainstream/labels/events.h"

namespace mainstream {

struct DetectedEvent {
  int64_t start = 0;                 // first frame of the X positive samples that opened it
  int64_t end = 0;                   // last positive sampled frame so far (final once ended)
  int64_t samples = 0;               // positive samples in the event (>= X)
  std::optional<double> peak_score;  // highest score among its samples, if scores were given
  int64_t peak_frame = 0;            // frame of peak_score, the earliest on ties (0 without scores)

  FrameInterval interval() const { return {start, end}; }
};

struct DetectorStep {
  std::optional<DetectedEvent> started;  // this sample completed X positives
  std::optional<DetectedEvent> ended;    // this (negative) sample ended an event
};

class XVotingDetector {
 public:
  // x >= 1; throws InputError otherwise.
  explicit XVotingDetector(int x);

  // Feeds one sampled frame. Frames must strictly increase across calls
  // (RuntimeError otherwise). `score` (finite) is only used for peak_score.
  DetectorStep Add(int64_t frame, bool positive);
  DetectorStep Add(int64_t frame, bool positive, double score);

  // End of stream: returns the open event, if any, ending at its last
  // positive frame, and forgets any shorter run. Further frames may follow
  // (still increasing) and start afresh.
  std::optional<DetectedEvent> Flush();

  // Changes X from the next frame on (an app re-planned with another X, msrun
  // --deployment): an open event stays open; a run of positives becomes an
  // event once it reaches the new X. x >= 1; InputError otherwise.
  void set_x(int x);
  int x() const { return x_; }
  bool in_event() const { return in_event_; }
  // The open event (valid while in_event()).
  const DetectedEvent& current() const { return run_; }
  int64_t run_length() const { return run_.samples; }  // consecutive positives so far
  int64_t samples_seen() const { return seen_; }

 private:
  DetectorStep Step(int64_t frame, bool positive, const double* score);

  int x_;
  bool in_event_ = false;
  DetectedEvent run_;  // the current run of positives (an event once samples >= x)
  int64_t last_frame_ = 0;
  int64_t seen_ = 0;
};

// All events of one sampled stream (frames increasing, positives[i] for
// frames[i]), flushed at the end.
std::vector<DetectedEvent> DetectEvents(const std::vector<int64_t>& frames,
                                        const std::vector<uint8_t>& positives, int x);

// Intervals of detected events, e.g. to score them.
std::vector<FrameInterval> EventIntervals(const std::vector<DetectedEvent>& events);

}  // namespace mainstream
