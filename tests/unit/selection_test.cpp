// The correction for choosing among noisy predictions (schedule/selection.h)
// and its use by BuildAppChoices (schedule/problem.h).
#include "mainstream/schedule/selection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "mainstream/core/random.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/schedule/event_model.h"
#include "mainstream/schedule/problem.h"

namespace mainstream {
namespace {

// n cycles: each event detected with probability p (one run), its true
// report when detected, a false report with probability q.
std::vector<EventCycle> RandomCycles(Rng& rng, size_t n, double p, double q) {
  std::vector<EventCycle> c(n);
  for (EventCycle& e : c) {
    e.detected = rng.Bernoulli(p) ? 1 : 0;
    e.true_reports = e.detected;
    e.false_reports = rng.Bernoulli(q) ? 1 : 0;
  }
  return c;
}

double TraceF1(const std::vector<EventCycle>& cycles) {
  double d = 0, t = 0, f = 0;
  for (const EventCycle& e : cycles) {
    d += static_cast<double>(e.detected);
    t += static_cast<double>(e.true_reports);
    f += static_cast<double>(e.false_reports);
  }
  return F1Score(t + f > 0 ? t / (t + f) : 0, d / static_cast<double>(cycles.size()));
}

SelectionEntry Entry(int bp, double fps, const std::vector<EventCycle>* cycles) {
  SelectionEntry e;
  e.branchpoint = bp;
  e.fps = fps;
  e.trace_weight = 1;
  e.cycles = cycles;
  return e;
}

TEST(SelectionOptimism, AnOptionWithoutCompetitorsIsNotCorrected) {
  Rng rng(3);
  const auto a = RandomCycles(rng, 12, 0.6, 0.3), b = RandomCycles(rng, 12, 0.6, 0.3);
  // a: the most shared candidate at the lowest rate; b costs more in every
  // schedule (lower branchpoint, higher rate), so b is no rival of a.
  const std::vector<SelectionEntry> entries{Entry(7, 1, &a), Entry(0, 7, &b)};
  const std::vector<double> o = SelectionOptimism(entries, {0, 1}, 400, 1);
  EXPECT_EQ(o[0], 0.0);
  EXPECT_GT(o[1], 0.0);  // b competes with a
}

TEST(SelectionOptimism, IdenticalOptionsAreNotCorrected) {
  Rng rng(5);
  const auto a = RandomCycles(rng, 15, 0.5, 0.4);
  const std::vector<SelectionEntry> entries{Entry(3, 2, &a), Entry(3, 2, &a), Entry(5, 1, &a)};
  for (double v : SelectionOptimism(entries, {0, 1, 2}, 300, 2)) EXPECT_EQ(v, 0.0);
}

TEST(SelectionOptimism, NoResamplesOrOneEventGivesZeros) {
  Rng rng(7);
  const auto a = RandomCycles(rng, 10, 0.5, 0.4), b = RandomCycles(rng, 10, 0.5, 0.4);
  const std::vector<SelectionEntry> entries{Entry(3, 2, &a), Entry(3, 2, &b)};
  for (double v : SelectionOptimism(entries, {0, 1}, 0, 1)) EXPECT_EQ(v, 0.0);
  const auto one = RandomCycles(rng, 1, 0.5, 0.4), other = RandomCycles(rng, 1, 0.5, 0.4);
  for (double v : SelectionOptimism({Entry(3, 2, &one), Entry(3, 2, &other)}, {0, 1}, 100, 1))
    EXPECT_EQ(v, 0.0);
}

TEST(SelectionOptimism, EntriesOnOtherEventsAreRejected) {
  Rng rng(9);
  const auto a = RandomCycles(rng, 10, 0.5, 0.4), b = RandomCycles(rng, 11, 0.5, 0.4);
  EXPECT_ANY_THROW(SelectionOptimism({Entry(3, 2, &a), Entry(3, 2, &b)}, {0}, 10, 1));
  EXPECT_ANY_THROW(SelectionOptimism({Entry(3, 2, &a)}, {1}, 10, 1));
}

// Fold resampling: B leads A only because of fold 0 (all 5 of its events
// detected, none by A) and trails it in folds 1-3; the resamples without
// fold 0 flip the winner, so B's lead is charged. One fold: nothing to
// resample. Folds must be given per cycle.
TEST(SelectionOptimism, FoldResamplingChargesALeadFromOneStretch) {
  std::vector<EventCycle> a(20), b(20);
  std::vector<int> fold(20);
  for (size_t i = 0; i < 20; ++i) {
    fold[i] = static_cast<int>(i / 5);
    const size_t k = i % 5;
    a[i].detected = fold[i] > 0 && k < 3 ? 1 : 0;
    b[i].detected = fold[i] == 0 || k >= 3 ? 1 : 0;
    a[i].true_reports = a[i].detected;
    b[i].true_reports = b[i].detected;
  }
  // B: 11 of 20 detected, A: 9; B costs more (lower branchpoint).
  const std::vector<SelectionEntry> entries{Entry(7, 1, &a), Entry(5, 1, &b)};
  const std::vector<double> o =
      SelectionOptimism(entries, {0, 1}, 500, 3, ResampleUnit::kFold, fold);
  EXPECT_EQ(o[0], 0.0);
  EXPECT_GT(o[1], 0.01);
  const std::vector<int> one_fold(20, 2);
  for (double v : SelectionOptimism(entries, {0, 1}, 500, 3, ResampleUnit::kFold, one_fold))
    EXPECT_EQ(v, 0.0);
  EXPECT_ANY_THROW(SelectionOptimism(entries, {1}, 10, 1, ResampleUnit::kFold, {0, 1}));
}

// Ten options of equal worth, each estimated on the same 12 events with its
// own errors: the best-looking one is optimistic (the winner's curse); the
// corrected prediction of the chosen option lands much nearer its true
// expected F1, over many simulated data sets.
TEST(SelectionOptimism, TheBestOfManyEqualOptionsIsCorrectedTowardsTheTruth) {
  const size_t events = 12, options = 10;
  const double p = 0.6, q = 0.3;
  Rng truth_rng(100);
  double truth = 0;
  const int truth_draws = 20000;
  for (int i = 0; i < truth_draws; ++i) truth += TraceF1(RandomCycles(truth_rng, events, p, q));
  truth /= truth_draws;

  Rng rng(11);
  double raw_sum = 0, corrected_sum = 0;
  const int sets = 300;
  for (int s = 0; s < sets; ++s) {
    std::vector<std::vector<EventCycle>> cycles;
    for (size_t k = 0; k < options; ++k) cycles.push_back(RandomCycles(rng, events, p, q));
    std::vector<SelectionEntry> entries;
    std::vector<size_t> all;
    for (size_t k = 0; k < options; ++k) {
      entries.push_back(Entry(5, 3, &cycles[k]));
      all.push_back(k);
    }
    size_t best = 0;
    for (size_t k = 1; k < options; ++k)
      if (TraceF1(cycles[k]) > TraceF1(cycles[best])) best = k;
    const std::vector<double> o = SelectionOptimism(entries, all, 200, 1000 + s);
    raw_sum += TraceF1(cycles[best]);
    corrected_sum += TraceF1(cycles[best]) - o[best];
  }
  const double raw_bias = raw_sum / sets - truth, corrected_bias = corrected_sum / sets - truth;
  EXPECT_GT(raw_bias, 0.05) << "truth " << truth;
  EXPECT_LT(std::fabs(corrected_bias), 0.5 * raw_bias) << "truth " << truth;
}

// BuildAppChoices: the options the search sees are the raw predictions net
// of a non-negative optimism; the cheapest option has no rival but its
// other X values.
TEST(SelectionOptimism, BuildAppChoicesSubtractsItFromWhatTheSearchSees) {
  Rng rng(21);
  ScoreTrace t;
  t.columns = BranchKeys({3, 7});
  t.scores.resize(2);
  bool label = false;
  int64_t left = 10;
  for (int64_t f = 1; f <= 600; ++f) {
    if (--left == 0) {
      label = !label;
      left = label ? 5 + static_cast<int64_t>(rng.Index(15))
                   : 15 + static_cast<int64_t>(rng.Index(30));
    }
    t.frames.push_back(f);
    t.labels.push_back(label ? 1 : 0);
    t.folds.push_back(f <= 300 ? 0 : 1);
    t.scores[0].push_back(rng.Bernoulli(label ? 0.7 : 0.1) ? 0.9f : 0.1f);
    t.scores[1].push_back(rng.Bernoulli(label ? 0.6 : 0.15) ? 0.9f : 0.1f);
  }
  ASSERT_GE(t.Events().size(), 10u);
  EventStats stats;
  for (const FrameInterval& e : t.Events())
    stats.lengths.push_back(static_cast<double>(e.length()));
  stats.mean_length = 10;
  stats.min_length = 5;
  stats.frequency = 0.3;
  std::vector<Candidate> cands(2);
  cands[0].branchpoint = 3;
  cands[0].tpr = 0.7;
  cands[0].fpr = 0.1;
  cands[1].branchpoint = 7;
  cands[1].tpr = 0.6;
  cands[1].fpr = 0.15;
  for (Candidate& c : cands) c.threshold = 0.5;
  OptionSpace space;
  space.stream_fps = 7;
  space.fps_options = {1, 2, 3, 5, 7};
  space.x_options = {1, 2, 3};

  PredictionOptions raw;
  raw.selection_resamples = 0;
  const AppChoices plain = BuildAppChoices("app", cands, stats, space, &t, raw);
  PredictionOptions corrected;  // the default: 200 resamples
  const AppChoices net = BuildAppChoices("app", cands, stats, space, &t, corrected);
  const AppChoices again = BuildAppChoices("app", cands, stats, space, &t, corrected);
  ASSERT_EQ(plain.options.size(), net.options.size());
  double total = 0;
  for (size_t k = 0; k < net.options.size(); ++k) {
    const AppPrediction& a = plain.options[k].pred;
    const AppPrediction& b = net.options[k].pred;
    EXPECT_EQ(a.selection_bias, 0.0);
    EXPECT_GE(b.selection_bias, 0.0);
    EXPECT_NEAR(b.f1 + b.selection_bias, a.f1, 1e-12);
    EXPECT_EQ(b.f1, again.options[k].pred.f1);  // seeded: reproducible
    total += b.selection_bias;
  }
  EXPECT_GT(total, 0.0);
  // The options are ordered candidate-major, rate-minor: bp7 at 1 fps is
  // options[5]; its only rivals are its own X values.
  ASSERT_EQ(net.options[5].branchpoint, 7);
  ASSERT_EQ(net.options[5].fps, 1);
  space.x_options = {1};
  const AppChoices single = BuildAppChoices("app", cands, stats, space, &t, corrected);
  EXPECT_EQ(single.options[5].pred.selection_bias, 0.0);
  // Without a trace nothing is corrected.
  const AppChoices model = BuildAppChoices("app", cands, stats, space, nullptr, corrected);
  for (const AppOption& o : model.options) EXPECT_EQ(o.pred.selection_bias, 0.0);
}

}  // namespace
}  // namespace mainstream
