#include "mainstream/labels/events.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "mainstream/core/error.h"

namespace mainstream {

std::string FrameInterval::ToString() const { return fmt::format("[{}, {}]", start, end); }

std::ostream& operator<<(std::ostream& os, const FrameInterval& interval) {
  return os << interval.ToString();
}

std::vector<FrameInterval> EventsFromLabels(const FrameLabels& labels) {
  std::vector<FrameInterval> events;
  const int64_t n = static_cast<int64_t>(labels.size());
  for (int64_t i = 0; i < n; ++i) {
    if (!labels[static_cast<size_t>(i)]) continue;
    if (events.empty() || events.back().end != i) {  // previous frame (i) was not positive
      events.push_back({i + 1, i + 1});
    } else {
      events.back().end = i + 1;
    }
  }
  return events;
}

FrameLabels LabelsFromEvents(const std::vector<FrameInterval>& events, int64_t num_frames) {
  MS_CHECK(num_frames >= 0, "frame count must be >= 0, got {}", num_frames);
  FrameLabels labels(static_cast<size_t>(num_frames), 0);
  for (const FrameInterval& e : events) {
    MS_CHECK(!e.empty() && e.start >= 1 && e.end <= num_frames,
             "event {} must be non-empty and inside frames 1..{}", e.ToString(), num_frames);
    std::fill(labels.begin() + (e.start - 1), labels.begin() + e.end, 1);
  }
  return labels;
}

FrameLabels SmoothLabels(const FrameLabels& labels, int64_t max_gap, int64_t min_length) {
  MS_CHECK(max_gap >= 0, "smoothing: the longest gap to fill must be >= 0 frames, got {}", max_gap);
  MS_CHECK(min_length >= 1, "smoothing: the minimum event length must be >= 1 frame, got {}",
           min_length);
  const int64_t n = static_cast<int64_t>(labels.size());
  std::vector<FrameInterval> events = EventsFromLabels(labels);
  std::vector<FrameInterval> merged;
  for (const FrameInterval& e : events) {
    if (!merged.empty() && e.start - merged.back().end - 1 <= max_gap) {
      merged.back().end = e.end;
    } else {
      merged.push_back(e);
    }
  }
  std::vector<FrameInterval> kept;
  for (const FrameInterval& e : merged) {
    if (e.length() >= min_length) kept.push_back(e);
  }
  return LabelsFromEvents(kept, n);
}

EventStats EventStatsFromEvents(const std::vector<FrameInterval>& events, int64_t num_frames,
                                const std::string& origin) {
  MS_CHECK(!events.empty(),
           "{}: no events: no frame is labelled 1, so event length and frequency are undefined",
           origin);
  MS_CHECK(num_frames > 0, "{}: the sequence has no frames", origin);
  EventStats stats;
  int64_t inside = 0, min_len = events.front().length(), prev_end = 0;
  for (const FrameInterval& e : events) {
    MS_CHECK(!e.empty() && e.start >= 1 && e.end <= num_frames,
             "{}: event {} must be non-empty and inside frames 1..{}", origin, e.ToString(),
             num_frames);
    MS_CHECK(e.start > prev_end,
             "{}: events must be sorted and disjoint, but {} starts by frame {}", origin,
             e.ToString(), prev_end);
    prev_end = e.end;
    stats.lengths.push_back(static_cast<double>(e.length()));
    inside += e.length();
    min_len = std::min(min_len, e.length());
  }
  stats.mean_length = static_cast<double>(inside) / static_cast<double>(events.size());
  stats.min_length = static_cast<double>(min_len);
  stats.frequency = static_cast<double>(inside) / static_cast<double>(num_frames);
  stats.correlation = 0;
  return stats;
}

EventStats EventStatsFromLabels(const FrameLabels& labels, const std::string& origin) {
  return EventStatsFromEvents(EventsFromLabels(labels), static_cast<int64_t>(labels.size()),
                              origin);
}

std::string SummarizeLabels(const FrameLabels& labels) {
  const int64_t n = static_cast<int64_t>(labels.size());
  const int64_t pos = CountPositives(labels);
  std::vector<FrameInterval> events = EventsFromLabels(labels);
  std::string out = fmt::format(
      "{} frames, {} positive ({:.1f}%), {} events", n, pos,
      n > 0 ? 100.0 * static_cast<double>(pos) / static_cast<double>(n) : 0.0, events.size());
  if (!events.empty()) {
    int64_t lo = events.front().length(), hi = lo;
    for (const FrameInterval& e : events) {
      lo = std::min(lo, e.length());
      hi = std::max(hi, e.length());
    }
    out += fmt::format(", length mean {:.1f} / min {} / max {} frames",
                       static_cast<double>(pos) / static_cast<double>(events.size()), lo, hi);
  }
  return out;
}

}  // namespace mainstream
