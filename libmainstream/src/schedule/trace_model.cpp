#include "mainstream/schedule/trace_model.h"

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/detector.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/event_model.h"

namespace mainstream {

std::vector<double> ReplayPhases(double stride) {
  MS_CHECK(stride >= 1 - 1e-9 && std::isfinite(stride), "stride must be >= 1 stream frame, got {}",
           stride);
  std::vector<double> phases;
  for (int q = 1; q <= 64; ++q) {
    const double p = std::round(stride * q);
    if (std::fabs(p / q - stride) <= 1e-9 * std::max(1.0, stride) && p <= 4096) {
      for (int m = 0; m < static_cast<int>(p); ++m) phases.push_back(static_cast<double>(m) / q);
      return phases;
    }
  }
  for (int m = 0; m < 64; ++m) phases.push_back((m + 0.5) * stride / 64);
  return phases;
}

namespace {

struct Totals {
  double detected = 0, true_reports = 0, false_reports = 0;
  void Add(const EventCycle& c, double sign = 1) {
    detected += sign * static_cast<double>(c.detected);
    true_reports += sign * static_cast<double>(c.true_reports);
    false_reports += sign * static_cast<double>(c.false_reports);
  }
  CycleScore Score(double events, double runs) const {
    CycleScore s;
    s.recall = events > 0 ? detected / (events * runs) : 0;
    const double reports = true_reports + false_reports;
    s.precision = reports > 0 ? true_reports / reports : 0;
    s.f1 = F1Score(s.precision, s.recall);
    return s;
  }
};

// The sample variance (n - 1 in the denominator) of at least two values.
double SampleVariance(const std::vector<double>& values) {
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  return ss / static_cast<double>(values.size() - 1);
}

}  // namespace

CycleScore ScoreCycles(const std::vector<EventCycle>& cycles, int64_t runs) {
  MS_CHECK(runs >= 1, "scoring cycles needs at least one run, got {}", runs);
  Totals t;
  for (const EventCycle& c : cycles) t.Add(c);
  return t.Score(static_cast<double>(cycles.size()), static_cast<double>(runs));
}

double JackknifeF1Se(const std::vector<EventCycle>& cycles, int64_t runs) {
  const size_t n = cycles.size();
  if (n < 2) return 0;
  Totals all;
  for (const EventCycle& c : cycles) all.Add(c);
  std::vector<double> loo(n);
  double mean = 0;
  for (size_t i = 0; i < n; ++i) {
    Totals t = all;
    t.Add(cycles[i], -1);
    loo[i] = t.Score(static_cast<double>(n - 1), static_cast<double>(runs)).f1;
    mean += loo[i];
  }
  mean /= static_cast<double>(n);
  double ss = 0;
  for (double v : loo) ss += (v - mean) * (v - mean);
  return std::sqrt(ss * static_cast<double>(n - 1) / static_cast<double>(n));
}

TraceReplay ReplayTrace(const ScoreTrace& trace, int column, double threshold, double stride,
                        int x) {
  MS_CHECK(column >= 0 && column < static_cast<int>(trace.scores.size()),
           "score trace has no column {}", column);
  MS_CHECK(x >= 1, "X-voting needs X >= 1, got {}", x);
  const std::vector<float>& scores = trace.scores[static_cast<size_t>(column)];
  const auto segments = trace.Segments();
  const std::vector<double> phases = ReplayPhases(stride);
  std::vector<std::vector<FrameInterval>> runs;
  runs.reserve(phases.size());
  for (double phase : phases) {
    std::vector<FrameInterval>& reports = runs.emplace_back();
    for (const auto& [begin, end] : segments) {
      Sampler sampler(stride, phase);
      XVotingDetector detector(x);
      for (size_t i = begin; i < end; ++i) {
        if (!sampler.Offer()) continue;
        DetectorStep step = detector.Add(trace.frames[i], scores[i] >= threshold);
        if (step.ended) reports.push_back(step.ended->interval());
      }
      if (auto last = detector.Flush()) reports.push_back(last->interval());
    }
  }
  TraceReplay r;
  const std::vector<FrameInterval> truth = trace.Events();
  r.events = static_cast<int64_t>(truth.size());
  r.phases = static_cast<int>(phases.size());
  r.cycles = EventCycles(truth, runs);
  r.score = ScoreCycles(r.cycles, r.phases);
  r.f1_se = JackknifeF1Se(r.cycles, r.phases);

  // Per fold: the cycles whose event starts in that fold.
  std::vector<Totals> per_fold(static_cast<size_t>(std::max(1, trace.num_folds())));
  std::vector<double> fold_events(per_fold.size(), 0);
  for (const EventCycle& c : r.cycles) {
    auto it = std::lower_bound(trace.frames.begin(), trace.frames.end(), c.event.start);
    const size_t row = static_cast<size_t>(it - trace.frames.begin());
    const auto fold = static_cast<size_t>(trace.folds[std::min(row, trace.rows() - 1)]);
    r.cycle_fold.push_back(static_cast<int>(fold));
    per_fold[fold].Add(c);
    fold_events[fold] += 1;
  }
  for (size_t k = 0; k < per_fold.size(); ++k) {
    if (fold_events[k] == 0) continue;
    const CycleScore fs = per_fold[k].Score(fold_events[k], r.phases);
    r.fold_f1.push_back(fs.f1);
    r.fold_id.push_back(static_cast<int>(k));
    r.fold_score.push_back(fs);
    r.fold_events.push_back(static_cast<int64_t>(fold_events[k]));
  }
  if (r.fold_f1.size() >= 2) r.fold_sd = std::sqrt(SampleVariance(r.fold_f1));
  return r;
}

double FoldNullVariance(const std::vector<EventCycle>& cycles,
                        const std::vector<int64_t>& fold_events, int64_t runs, int permutations,
                        uint64_t seed) {
  MS_CHECK(runs >= 1, "scoring cycles needs at least one run, got {}", runs);
  MS_CHECK(permutations >= 1, "the folds' null variance needs >= 1 permutation, got {}",
           permutations);
  int64_t dealt = 0;
  for (int64_t k : fold_events) {
    MS_CHECK(k >= 1, "a fold in the null variance needs >= 1 event, got {}", k);
    dealt += k;
  }
  MS_CHECK(dealt == static_cast<int64_t>(cycles.size()),
           "the folds hold {} events but there are {} cycles", dealt, cycles.size());
  const size_t folds = fold_events.size();
  if (folds < 2) return 0;
  Rng rng(seed);
  std::vector<size_t> order(cycles.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<double> f1(folds);
  double total = 0;
  for (int p = 0; p < permutations; ++p) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Index(i)]);
    size_t next = 0;
    for (size_t k = 0; k < folds; ++k) {
      Totals t;
      for (int64_t e = 0; e < fold_events[k]; ++e) t.Add(cycles[order[next++]]);
      f1[k] = t.Score(static_cast<double>(fold_events[k]), static_cast<double>(runs)).f1;
    }
    total += SampleVariance(f1);
  }
  return total / permutations;
}

}  // namespace mainstream
