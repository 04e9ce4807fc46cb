// Events as maximal runs of positive frames, and the event statistics the
// analytical model needs (package/mpackage.h EventStats). See docs/labels.md.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "mainstream/labels/label_file.h"
#include "mainstream/package/mpackage.h"

namespace mainstream {

// A closed interval of 1-based frames [start, end]; empty when end < start.
struct FrameInterval {
  int64_t start = 0;
  int64_t end = -1;

  int64_t length() const { return end >= start ? end - start + 1 : 0; }
  bool empty() const { return end < start; }
  bool Contains(int64_t frame) const { return frame >= start && frame <= end; }
  // True when both are non-empty and share at least one frame.
  bool Overlaps(const FrameInterval& o) const {
    return !empty() && !o.empty() && start <= o.end && o.start <= end;
  }
  std::string ToString() const;  // "[start, end]"

  friend bool operator==(const FrameInterval& a, const FrameInterval& b) {
    return a.start == b.start && a.end == b.end;
  }
  friend bool operator!=(const FrameInterval& a, const FrameInterval& b) { return !(a == b); }
};
std::ostream& operator<<(std::ostream& os, const FrameInterval& interval);

// Maximal runs of 1s, in order. Frames are 1-based (labels[0] is frame 1).
std::vector<FrameInterval> EventsFromLabels(const FrameLabels& labels);

// The inverse: `num_frames` labels, 1 inside any of `events`. Throws
// InputError if an event is empty or reaches outside 1..num_frames.
FrameLabels LabelsFromEvents(const std::vector<FrameInterval>& events, int64_t num_frames);

// Removes flicker from labels derived by a rule (e.g. a person's feet
// crossing a region's edge back and forth): first fills every gap of at most
// `max_gap` frames between two events, then clears every event shorter than
// `min_length` frames. Gaps before the first and after the last event are
// never filled. max_gap >= 0, min_length >= 1 (0 / 1 change nothing).
FrameLabels SmoothLabels(const FrameLabels& labels, int64_t max_gap, int64_t min_length);

// Event statistics of a labelled sequence: every event length, their mean and
// minimum, and frequency = fraction of frames inside events. `correlation` is
// left at 0 for the caller (see labels/correlation.h). Events cut by the start
// or end of the sequence are counted with their visible length. Throws
// InputError "<origin>: no events ..." when no frame is labelled 1.
EventStats EventStatsFromLabels(const FrameLabels& labels, const std::string& origin);
// Same from events already extracted from `num_frames` frames.
EventStats EventStatsFromEvents(const std::vector<FrameInterval>& events, int64_t num_frames,
                                const std::string& origin);

// One line for logs: "795 frames, 312 positive (39.2%), 14 events, length
// mean 22.3 / min 3 / max 80 frames".
std::string SummarizeLabels(const FrameLabels& labels);

}  // namespace mainstream
