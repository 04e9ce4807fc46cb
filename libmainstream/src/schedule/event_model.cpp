#include "mainstream/schedule/event_model.h"

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"

namespace mainstream {

SampleCount SamplesIn(double length, double stride) {
  SampleCount s;
  if (length <= 0) return s;
  double ratio = length / stride;
  double fl = std::floor(ratio);
  double frac = ratio - fl;
  if (frac < 1e-12) frac = 0;
  if (frac > 1 - 1e-12) {
    fl += 1;
    frac = 0;
  }
  s.low = static_cast<int64_t>(fl);
  s.p_high = frac;
  return s;
}

std::vector<double> DetectionByCount(double p, double c, int x, int64_t max_n) {
  std::vector<double> out(static_cast<size_t>(max_n + 1), 0.0);
  if (max_n <= 0) return out;
  const double pos_after_pos = c + (1 - c) * p;
  const double pos_after_neg = (1 - c) * p;
  // state[j]: probability that the current run of positives has length j (< x)
  // and no run of length x has occurred yet; j = 0 means the last was negative.
  std::vector<double> state(static_cast<size_t>(x), 0.0), next(static_cast<size_t>(x), 0.0);
  double absorbed = 0;
  // First outcome: drawn fresh.
  if (x == 1) {
    absorbed = p;
    state[0] = 1 - p;
  } else {
    state[0] = 1 - p;
    state[1] = p;
  }
  out[1] = absorbed;
  for (int64_t n = 2; n <= max_n; ++n) {
    std::fill(next.begin(), next.end(), 0.0);
    // from last-negative
    double s0 = state[0];
    next[0] += s0 * (1 - pos_after_neg);
    if (x == 1) {
      absorbed += s0 * pos_after_neg;
    } else {
      next[1] += s0 * pos_after_neg;
    }
    for (int j = 1; j < x; ++j) {
      double sj = state[static_cast<size_t>(j)];
      if (sj == 0) continue;
      next[0] += sj * (1 - pos_after_pos);
      if (j + 1 == x) {
        absorbed += sj * pos_after_pos;
      } else {
        next[static_cast<size_t>(j + 1)] += sj * pos_after_pos;
      }
    }
    std::swap(state, next);
    out[static_cast<size_t>(n)] = absorbed;
    if (1 - absorbed < 1e-15) {
      std::fill(out.begin() + n, out.end(), absorbed);
      break;
    }
  }
  return out;
}

double ExpectedRuns(int64_t n, double p, double c, int x) {
  if (n < x || p <= 0) return 0.0;
  const double pos_after_pos = c + (1 - c) * p;
  const double tail = std::pow(pos_after_pos, x - 1);
  // A run of >= x positives is counted at the position where it reaches
  // length x: either at the very start, or after a negative.
  return p * tail * (1.0 + static_cast<double>(n - x) * (1 - p) * (1 - c));
}

double F1Score(double precision, double recall) {
  double s = precision + recall;
  return s > 0 ? 2 * precision * recall / s : 0.0;
}

EventPrediction PredictEvents(double tpr, double fpr, const EventStats& events, double stride,
                              int x) {
  MS_CHECK(stride >= 1 - 1e-9 && std::isfinite(stride), "stride must be >= 1 stream frame, got {}",
           stride);
  MS_CHECK(x >= 1, "X-voting needs X >= 1, got {}", x);
  MS_CHECK(tpr >= 0 && tpr <= 1 && fpr >= 0 && fpr <= 1, "TPR/FPR must be in [0, 1], got {}/{}",
           tpr, fpr);
  events.Validate("event statistics");
  const double c = events.correlation;
  EventPrediction out;

  std::vector<double> single{events.mean_length};
  const std::vector<double>& lengths = events.lengths.empty() ? single : events.lengths;
  int64_t max_n = 0;
  for (double d : lengths) max_n = std::max(max_n, SamplesIn(d, stride).low + 1);
  std::vector<double> detect = DetectionByCount(tpr, c, x, max_n);

  double recall_sum = 0, true_runs_sum = 0;
  for (double d : lengths) {
    SampleCount n = SamplesIn(d, stride);
    auto at = [&](int64_t k) { return detect[static_cast<size_t>(std::min(k, max_n))]; };
    recall_sum += (1 - n.p_high) * at(n.low) + n.p_high * at(n.low + 1);
    true_runs_sum += (1 - n.p_high) * ExpectedRuns(n.low, tpr, c, x) +
                     n.p_high * ExpectedRuns(n.low + 1, tpr, c, x);
  }
  out.recall = recall_sum / static_cast<double>(lengths.size());
  out.true_reports_per_event = true_runs_sum / static_cast<double>(lengths.size());

  out.gap_length = events.mean_length * (1 - events.frequency) / events.frequency;
  SampleCount m = SamplesIn(out.gap_length, stride);
  out.false_reports_per_gap = (1 - m.p_high) * ExpectedRuns(m.low, fpr, c, x) +
                              m.p_high * ExpectedRuns(m.low + 1, fpr, c, x);
  double reported = out.true_reports_per_event + out.false_reports_per_gap;
  out.precision = reported > 0 ? out.true_reports_per_event / reported : 0.0;
  out.f1 = F1Score(out.precision, out.recall);
  return out;
}

namespace {
// Outcomes of the samples inside one segment (event or gap): counts reported
// runs of >= x positives; returns whether at least one occurred.
struct SegmentOutcome {
  int64_t runs = 0;
};

SegmentOutcome SimulateSegment(int64_t samples, double p, double c, int x, Rng& rng) {
  SegmentOutcome o;
  bool prev = false;
  int run = 0;
  for (int64_t k = 0; k < samples; ++k) {
    bool cur;
    if (k > 0 && rng.Bernoulli(c)) {
      cur = prev;
    } else {
      cur = rng.Bernoulli(p);
    }
    run = cur ? run + 1 : 0;
    if (run == x) ++o.runs;
    prev = cur;
  }
  return o;
}
}  // namespace

MonteCarloResult SimulateEvents(double tpr, double fpr, const EventStats& events, double stride,
                                int x, int64_t num_events, uint64_t seed) {
  MS_CHECK(num_events > 0, "--monte-carlo needs a positive number of events, got {}", num_events);
  MS_CHECK(stride >= 1 - 1e-9, "stride must be >= 1, got {}", stride);
  MS_CHECK(x >= 1, "X must be >= 1, got {}", x);
  events.Validate("event statistics");
  Rng rng(seed);
  const double gap = events.mean_length * (1 - events.frequency) / events.frequency;
  MonteCarloResult r;
  double next_sample = 0;  // absolute time of the next sample
  double t = 0;            // start of the current event
  // Counts samples of the lattice next_sample + k*stride inside [t0, t1).
  auto count_in = [&](double t0, double t1) {
    int64_t n = 0;
    while (next_sample < t0) next_sample += stride;
    while (next_sample < t1) {
      ++n;
      next_sample += stride;
    }
    return n;
  };
  for (int64_t i = 0; i < num_events; ++i) {
    if (i % 64 == 0) next_sample = t + rng.Uniform() * stride;  // fresh random phase
    double d = events.lengths.empty() ? events.mean_length
                                      : events.lengths[rng.Index(events.lengths.size())];
    int64_t n_event = count_in(t, t + d);
    int64_t n_gap = count_in(t + d, t + d + gap);
    SegmentOutcome e = SimulateSegment(n_event, tpr, events.correlation, x, rng);
    SegmentOutcome g = SimulateSegment(n_gap, fpr, events.correlation, x, rng);
    r.events += 1;
    r.detected += e.runs > 0 ? 1 : 0;
    r.true_reports += e.runs;
    r.false_reports += g.runs;
    t += d + gap;
  }
  r.recall = static_cast<double>(r.detected) / static_cast<double>(r.events);
  int64_t reported = r.true_reports + r.false_reports;
  r.precision =
      reported > 0 ? static_cast<double>(r.true_reports) / static_cast<double>(reported) : 0.0;
  r.f1 = F1Score(r.precision, r.recall);
  return r;
}

}  // namespace mainstream
