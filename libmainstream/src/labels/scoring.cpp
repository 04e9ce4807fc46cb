#include "mainstream/labels/scoring.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"

namespace mainstream {

namespace {

// Intervals sorted by start with the running maximum of their ends, to answer
// "does any interval overlap q?" and "which is the first that does?" in O(log n).
class IntervalIndex {
 public:
  explicit IntervalIndex(std::vector<FrameInterval> intervals) : sorted_(std::move(intervals)) {
    std::sort(sorted_.begin(), sorted_.end(), [](const FrameInterval& a, const FrameInterval& b) {
      return a.start != b.start ? a.start < b.start : a.end < b.end;
    });
    max_end_.reserve(sorted_.size());
    for (const FrameInterval& iv : sorted_) {
      max_end_.push_back(max_end_.empty() ? iv.end : std::max(max_end_.back(), iv.end));
    }
  }
  size_t size() const { return sorted_.size(); }
  const FrameInterval& at(size_t i) const { return sorted_[i]; }

  // Index (in start order) of the first interval overlapping q, or -1.
  int64_t FirstOverlap(const FrameInterval& q) const {
    // Candidates start at or before q.end ...
    const size_t limit = StartingAtOrBefore(q.end);
    // ... and the first whose running max end reaches q.start is itself overlapping.
    auto it = std::lower_bound(max_end_.begin(),
                               max_end_.begin() + static_cast<std::ptrdiff_t>(limit), q.start);
    const size_t i = static_cast<size_t>(it - max_end_.begin());
    return i < limit ? static_cast<int64_t>(i) : -1;
  }
  bool AnyOverlap(const FrameInterval& q) const { return FirstOverlap(q) >= 0; }
  // Number of intervals with start <= frame.
  size_t StartingAtOrBefore(int64_t frame) const {
    return static_cast<size_t>(
        std::upper_bound(sorted_.begin(), sorted_.end(), frame,
                         [](int64_t f, const FrameInterval& iv) { return f < iv.start; }) -
        sorted_.begin());
  }

 private:
  std::vector<FrameInterval> sorted_;
  std::vector<int64_t> max_end_;
};

void CheckIntervals(const std::vector<FrameInterval>& intervals, const char* what) {
  for (const FrameInterval& iv : intervals) {
    MS_CHECK(!iv.empty(), "event scoring: {} event {} is empty (end before start)", what,
             iv.ToString());
  }
}

double Ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

// Same as schedule/event_model.h F1Score; the labels module does not depend on schedule.
double F1(double precision, double recall) {
  const double s = precision + recall;
  return s > 0 ? 2 * precision * recall / s : 0.0;
}

// Type-7 quantile of sorted values.
double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double h = (static_cast<double>(sorted.size()) - 1) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

ConfidenceInterval Percentiles(std::vector<double> values, double level) {
  std::sort(values.begin(), values.end());
  const double tail = (1 - level) / 2;
  return {Quantile(values, tail), Quantile(values, 1 - tail)};
}

}  // namespace

Json EventScore::ToJson() const {
  return Json{{"true_events", true_events},
              {"detected", detected},
              {"reports", reports},
              {"true_reports", true_reports},
              {"false_reports", false_reports},
              {"recall", recall},
              {"precision", precision},
              {"f1", f1}};
}

EventScore ScoreEvents(const std::vector<FrameInterval>& truth,
                       const std::vector<FrameInterval>& reports) {
  CheckIntervals(truth, "true");
  CheckIntervals(reports, "reported");
  IntervalIndex truth_index(truth), report_index(reports);
  EventScore s;
  s.true_events = static_cast<int64_t>(truth.size());
  s.reports = static_cast<int64_t>(reports.size());
  for (const FrameInterval& t : truth) s.detected += report_index.AnyOverlap(t) ? 1 : 0;
  for (const FrameInterval& r : reports) s.true_reports += truth_index.AnyOverlap(r) ? 1 : 0;
  s.false_reports = s.reports - s.true_reports;
  s.recall = Ratio(static_cast<double>(s.detected), static_cast<double>(s.true_events));
  s.precision = Ratio(static_cast<double>(s.true_reports), static_cast<double>(s.reports));
  s.f1 = F1(s.precision, s.recall);
  return s;
}

Json EventScoreCI::ToJson() const {
  return Json{{"true_events", true_events},
              {"runs", runs},
              {"detected", detected},
              {"reports", reports},
              {"true_reports", true_reports},
              {"recall", recall},
              {"precision", precision},
              {"f1", f1},
              {"recall_ci", {recall_ci.lower, recall_ci.upper}},
              {"precision_ci", {precision_ci.lower, precision_ci.upper}},
              {"f1_ci", {f1_ci.lower, f1_ci.upper}},
              {"level", level},
              {"resamples", resamples}};
}

std::vector<EventCycle> EventCycles(const std::vector<FrameInterval>& truth,
                                    const std::vector<std::vector<FrameInterval>>& runs) {
  CheckIntervals(truth, "true");
  IntervalIndex truth_index(truth);
  const size_t n = truth_index.size();
  std::vector<EventCycle> cycles(n);
  int64_t first_frame = 1, last_frame = 0;
  for (const FrameInterval& t : truth) last_frame = std::max(last_frame, t.end);
  for (const std::vector<FrameInterval>& reports : runs) {
    CheckIntervals(reports, "reported");
    for (const FrameInterval& r : reports) {
      first_frame = std::min(first_frame, r.start);
      last_frame = std::max(last_frame, r.end);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    cycles[i].event = truth_index.at(i);
    cycles[i].span = {
        i == 0 ? std::min(first_frame, truth_index.at(0).start) : truth_index.at(i).start,
        i + 1 < n ? truth_index.at(i + 1).start - 1 : last_frame};
  }
  for (const std::vector<FrameInterval>& reports : runs) {
    IntervalIndex report_index(reports);
    for (size_t i = 0; i < n; ++i)
      cycles[i].detected += report_index.AnyOverlap(truth_index.at(i)) ? 1 : 0;
    if (n == 0) continue;
    for (const FrameInterval& r : reports) {
      const int64_t first = truth_index.FirstOverlap(r);
      if (first >= 0) {
        ++cycles[static_cast<size_t>(first)].true_reports;
      } else {  // the cycle it starts in; before the first event: the first cycle
        const size_t before = truth_index.StartingAtOrBefore(r.start);
        ++cycles[before > 0 ? before - 1 : 0].false_reports;
      }
    }
  }
  return cycles;
}

EventScoreCI BootstrapEventScoreRuns(const std::vector<FrameInterval>& truth,
                                     const std::vector<std::vector<FrameInterval>>& runs,
                                     const BootstrapOptions& options) {
  MS_CHECK(options.resamples >= 0 && options.resamples <= 10000000,
           "bootstrap: resamples must be in [0, 10^7], got {}", options.resamples);
  MS_CHECK(options.level > 0 && options.level < 1, "bootstrap: level must be in (0, 1), got {}",
           options.level);
  MS_CHECK(!runs.empty(), "bootstrap: no report sets to score");
  const std::vector<EventCycle> cycles = EventCycles(truth, runs);
  const size_t n = cycles.size();

  EventScoreCI out;
  out.true_events = static_cast<int64_t>(n);
  out.runs = static_cast<int64_t>(runs.size());
  out.level = options.level;
  for (const std::vector<FrameInterval>& reports : runs)
    out.reports += static_cast<int64_t>(reports.size());
  for (const EventCycle& c : cycles) {
    out.detected += c.detected;
    out.true_reports += c.true_reports;
  }
  const double num_runs = static_cast<double>(runs.size());
  out.recall = Ratio(static_cast<double>(out.detected), static_cast<double>(n) * num_runs);
  out.precision = Ratio(static_cast<double>(out.true_reports), static_cast<double>(out.reports));
  out.f1 = F1(out.precision, out.recall);
  out.recall_ci = {out.recall, out.recall};
  out.precision_ci = {out.precision, out.precision};
  out.f1_ci = {out.f1, out.f1};
  if (n == 0 || options.resamples == 0) return out;

  Rng rng(options.seed);
  std::vector<double> recalls, precisions, f1s;
  recalls.reserve(static_cast<size_t>(options.resamples));
  precisions.reserve(static_cast<size_t>(options.resamples));
  f1s.reserve(static_cast<size_t>(options.resamples));
  for (int b = 0; b < options.resamples; ++b) {
    int64_t det = 0, tr = 0, fr = 0;
    for (size_t k = 0; k < n; ++k) {
      const EventCycle& c = cycles[static_cast<size_t>(rng.Index(n))];
      det += c.detected;
      tr += c.true_reports;
      fr += c.false_reports;
    }
    const double recall = Ratio(static_cast<double>(det), static_cast<double>(n) * num_runs);
    const double precision = Ratio(static_cast<double>(tr), static_cast<double>(tr + fr));
    recalls.push_back(recall);
    precisions.push_back(precision);
    f1s.push_back(F1(precision, recall));
  }
  out.resamples = options.resamples;
  out.recall_ci = Percentiles(std::move(recalls), options.level);
  out.precision_ci = Percentiles(std::move(precisions), options.level);
  out.f1_ci = Percentiles(std::move(f1s), options.level);
  return out;
}

EventScoreCI BootstrapEventScore(const std::vector<FrameInterval>& truth,
                                 const std::vector<FrameInterval>& reports,
                                 const BootstrapOptions& options) {
  return BootstrapEventScoreRuns(truth, std::vector<std::vector<FrameInterval>>{reports}, options);
}

}  // namespace mainstream
