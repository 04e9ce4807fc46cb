// Out-of-fold estimates and what the scheduler predicts from them: per-frame
// rates (labels/rate_estimate.h), k-fold over training blocks
// (labels/splits.h KFoldOverBlocks), the combined prediction
// (schedule/prediction.h) and the score trace inside an M-Package
// (package/mpackage.h schema_version 2, labels/score_trace.h LoadPackageTrace).
#include "mainstream/schedule/prediction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/random.h"
#include "mainstream/core/sha256.h"
#include "mainstream/labels/rate_estimate.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/labels/splits.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/schedule/event_model.h"
#include "mainstream/schedule/trace_model.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

namespace fs = std::filesystem;
using testing::InputErrorOf;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One segment: a gap of `gap` frames, then `events` x (event of `event_len`
// frames, gap of `gap` frames). score(event index or -1, offset in the run,
// label) gives each frame's score; the gap after event e has index e.
ScoreTrace EventGapTrace(int events, int64_t event_len, int64_t gap,
                         const std::function<float(int, int64_t, bool)>& score) {
  ScoreTrace t;
  t.columns = BranchKeys({0});
  t.scores.resize(1);
  int64_t frame = 0;
  auto add = [&](int index, int64_t n, bool label) {
    for (int64_t k = 0; k < n; ++k) {
      t.frames.push_back(++frame);
      t.labels.push_back(label ? 1 : 0);
      t.folds.push_back(0);
      t.scores[0].push_back(score(index, k, label));
    }
  };
  add(-1, gap, false);
  for (int e = 0; e < events; ++e) {
    add(e, event_len, true);
    add(e, gap, false);
  }
  return t;
}

// --------------------------------------------------------------- EstimateRates

TEST(RateEstimate, NeverFiringClassifierIsNoSkillButNotZero) {
  ScoreTrace t = EventGapTrace(10, 8, 20, [](int, int64_t, bool) { return 0.0f; });
  const RateEstimate e = EstimateRates(t, 0, 0.5, "pk/trace.csv");
  EXPECT_EQ(e.positives, 80);
  EXPECT_EQ(e.negatives, 220);
  EXPECT_EQ(e.true_positives, 0);
  EXPECT_EQ(e.false_positives, 0);
  EXPECT_EQ(e.events, 10);
  EXPECT_EQ(e.gaps, 11);
  EXPECT_EQ(e.tpr_raw, 0);
  EXPECT_EQ(e.fpr_raw, 0);
  // No variance: the effective number of frames is the number of clusters.
  EXPECT_DOUBLE_EQ(e.tpr_effective_n, 10);
  EXPECT_GT(e.tpr, 0);
  EXPECT_NEAR(e.tpr, 0.5 / 11, 1e-12);
  EXPECT_NEAR(e.fpr, 0.5 / 12, 1e-12);
  EXPECT_EQ(e.skill, 0);
  EXPECT_LT(e.skill_lower, 0);
  EXPECT_TRUE(e.no_skill);
  EXPECT_NEAR(e.accuracy, 220.0 / 300.0, 1e-12);
  EXPECT_EQ(e.ToJson().at("no_skill"), true);
}

TEST(RateEstimate, PerfectClassifierHasSkillAndShrunkTprBelowOne) {
  ScoreTrace t =
      EventGapTrace(10, 8, 20, [](int, int64_t, bool label) { return label ? 0.9f : 0.1f; });
  const RateEstimate e = EstimateRates(t, 0, 0.5, "pk/trace.csv");
  EXPECT_EQ(e.tpr_raw, 1);
  EXPECT_EQ(e.fpr_raw, 0);
  EXPECT_EQ(e.tpr_se, 0);
  EXPECT_LT(e.tpr, 1);
  EXPECT_NEAR(e.tpr, 10.5 / 11, 1e-12);
  EXPECT_GT(e.fpr, 0);
  EXPECT_EQ(e.accuracy, 1);
  EXPECT_EQ(e.skill, 1);
  EXPECT_GT(e.skill_lower, 0.5);
  EXPECT_LT(e.skill_lower, 1);
  EXPECT_FALSE(e.no_skill);
  // The threshold is inclusive: at 0.9 the event frames still count.
  EXPECT_EQ(EstimateRates(t, 0, 0.9f, "t").tpr_raw, 1);
  EXPECT_EQ(EstimateRates(t, 0, 0.91, "t").tpr_raw, 0);
}

TEST(RateEstimate, ErrorsClusteredInWholeEventsWidenTheStandardError) {
  // Every other event is missed entirely: TPR 1/2 on 80 frames, but the
  // evidence is 10 events, not 80 independent frames.
  ScoreTrace clustered = EventGapTrace(
      10, 8, 20, [](int e, int64_t, bool label) { return label && e % 2 == 0 ? 0.9f : 0.1f; });
  const RateEstimate c = EstimateRates(clustered, 0, 0.5, "t");
  const double iid_se = std::sqrt(0.5 * 0.5 / 80);
  EXPECT_DOUBLE_EQ(c.tpr_raw, 0.5);
  EXPECT_GT(c.tpr_se, 2 * iid_se);
  // Ratio estimator over clusters: every event deviates by 4 frames from 0.5 x 8.
  EXPECT_NEAR(c.tpr_se, std::sqrt(10.0 / 9.0 * 10 * 16) / 80, 1e-12);
  // p(1-p)/se^2 = 9, but never below the 10 clusters.
  EXPECT_DOUBLE_EQ(c.tpr_effective_n, 10);
  EXPECT_NEAR(c.tpr, (0.5 * 10 + 0.5) / 11, 1e-12);

  // The same TPR with the misses spread inside every event: each event is
  // like every other, and the clusters show no spread at all.
  ScoreTrace spread = EventGapTrace(
      10, 8, 20, [](int, int64_t k, bool label) { return label && k % 2 == 0 ? 0.9f : 0.1f; });
  const RateEstimate s = EstimateRates(spread, 0, 0.5, "t");
  EXPECT_DOUBLE_EQ(s.tpr_raw, 0.5);
  EXPECT_LT(s.tpr_se, iid_se);
  EXPECT_LT(s.tpr_se, c.tpr_se);
}

TEST(RateEstimate, ChanceLevelClassifierIsNoSkill) {
  // Fires on 30% of frames whatever the label.
  Rng rng(5);
  ScoreTrace t = EventGapTrace(
      8, 10, 25, [&](int, int64_t, bool) { return rng.Bernoulli(0.3) ? 0.8f : 0.2f; });
  const RateEstimate e = EstimateRates(t, 0, 0.5, "t");
  EXPECT_GT(e.tpr_raw, 0.1);
  EXPECT_GT(e.fpr_raw, 0.1);
  EXPECT_LT(std::fabs(e.skill), 0.2);
  EXPECT_TRUE(e.no_skill);
  EXPECT_GE(e.tpr_effective_n, 8);
  EXPECT_LE(e.tpr_effective_n, 80);
}

TEST(RateEstimate, PositiveSkillWithinNoiseIsNoSkill) {
  // 4 events of 10 frames, only the first one caught (TPR 1/4); 15 false
  // positives in one gap of 30 (FPR 15/150). Youden's J is 0.15 > 0, but on
  // 4 events the TPR's cluster SE is 1/4: not distinguishable from chance.
  ScoreTrace t = EventGapTrace(4, 10, 30, [](int e, int64_t k, bool label) {
    if (label) return e == 0 ? 0.9f : 0.1f;
    return e == 2 && k < 15 ? 0.9f : 0.1f;
  });
  const RateEstimate e = EstimateRates(t, 0, 0.5, "t");
  EXPECT_DOUBLE_EQ(e.tpr_raw, 0.25);
  EXPECT_DOUBLE_EQ(e.fpr_raw, 0.1);
  EXPECT_NEAR(e.tpr_se, 0.25, 1e-12);  // sqrt(4/3 * (7.5^2 + 3 * 2.5^2)) / 40
  EXPECT_NEAR(e.skill, 0.15, 1e-12);
  EXPECT_LT(e.skill_lower, 0);
  EXPECT_TRUE(e.no_skill);
}

TEST(RateEstimate, AHoleCutsClusters) {
  // An event of frames 5-8 and 12-13 around a hole: two event clusters.
  ScoreTrace t;
  t.frames = {1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15};
  t.labels = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0};
  t.folds = std::vector<int>(12, 0);
  t.columns = BranchKeys({0});
  t.scores = {{0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1}};
  const RateEstimate e = EstimateRates(t, 0, 0.5, "t");
  EXPECT_EQ(e.events, 2);
  EXPECT_EQ(e.gaps, 2);
  EXPECT_DOUBLE_EQ(e.tpr_raw, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(e.fpr_raw, 1.0 / 6.0);
}

TEST(RateEstimate, OneClassOnlyIsAnInputErrorNamingTheOrigin) {
  ScoreTrace no_events = EventGapTrace(0, 8, 20, [](int, int64_t, bool) { return 0.7f; });
  const std::string msg = InputErrorOf([&] { EstimateRates(no_events, 0, 0.5, "pk/trace.csv"); });
  EXPECT_EQ(msg.rfind("pk/trace.csv:", 0), 0u) << msg;
  EXPECT_TRUE(Contains(msg, "0 positive")) << msg;
  ScoreTrace no_gaps = EventGapTrace(1, 8, 0, [](int, int64_t, bool) { return 0.7f; });
  const std::string msg2 = InputErrorOf([&] { EstimateRates(no_gaps, 0, 0.5, "pk/trace.csv"); });
  EXPECT_TRUE(Contains(msg2, "pk/trace.csv")) << msg2;
  EXPECT_TRUE(Contains(msg2, "0 negative")) << msg2;
  ScoreTrace ok = EventGapTrace(2, 3, 3, [](int, int64_t, bool) { return 0.7f; });
  EXPECT_TRUE(
      Contains(InputErrorOf([&] { EstimateRates(ok, 1, 0.5, "pk/trace.csv"); }), "pk/trace.csv"));
}

// ------------------------------------------------------------ KFoldOverBlocks

TEST(KFoldOverBlocks, PartsPartitionTheFramesAndTrainingKeepsTheGap) {
  // Frames 1-37 and 50-94 (82 frames; the blocks are given out of order).
  const std::vector<FrameInterval> blocks = {{50, 94}, {1, 37}};
  const int k = 4;
  const int64_t gap = 5;
  const std::vector<BlockFold> folds = KFoldOverBlocks(blocks, k, gap);
  ASSERT_EQ(folds.size(), static_cast<size_t>(k));
  std::vector<int64_t> all;
  for (int64_t f = 1; f <= 37; ++f) all.push_back(f);
  for (int64_t f = 50; f <= 94; ++f) all.push_back(f);

  std::vector<int64_t> concatenated;
  std::vector<int64_t> sizes;
  for (int i = 0; i < k; ++i) {
    const BlockFold& fold = folds[static_cast<size_t>(i)];
    SCOPED_TRACE(::testing::Message() << "fold " << i);
    EXPECT_EQ(fold.index, i);
    ASSERT_FALSE(fold.held_out.empty());
    int64_t size = 0;
    std::set<int64_t> held;
    for (const FrameInterval& iv : fold.held_out) {
      for (int64_t f = iv.start; f <= iv.end; ++f) {
        concatenated.push_back(f);
        held.insert(f);
      }
      size += iv.length();
    }
    sizes.push_back(size);
    std::set<int64_t> train;
    for (size_t j = 0; j < fold.train.size(); ++j) {
      const FrameInterval& iv = fold.train[j];
      ASSERT_FALSE(iv.empty());
      // In time order and merged (no two touching intervals).
      if (j > 0) {
        EXPECT_GT(iv.start, fold.train[j - 1].end + 1);
      }
      for (int64_t f = iv.start; f <= iv.end; ++f) train.insert(f);
    }
    for (int64_t f : train) {
      EXPECT_TRUE(std::binary_search(all.begin(), all.end(), f))
          << "training frame " << f << " outside the blocks";
      EXPECT_EQ(held.count(f), 0u) << f;
      for (int64_t h : held)
        ASSERT_GT(std::llabs(f - h), gap) << "training frame " << f << " near held-out " << h;
    }
    // Every block frame neither held out nor within the gap of the part trains.
    const int64_t first = *held.begin(), last = *held.rbegin();
    for (int64_t f : all) {
      if (held.count(f) || (f >= first - gap && f <= last + gap)) continue;
      EXPECT_EQ(train.count(f), 1u)
          << "frame " << f << " is neither held out, in the gap nor training";
    }
  }
  EXPECT_EQ(concatenated, all);  // a partition, in time order
  EXPECT_LE(
      *std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()),
      1);

  // Fold 1 spans the hole: frames 22-37 and 50-54 (21 frames: 82 = 21 + 21 +
  // 20 + 20), training on 1-16 and 60-94.
  EXPECT_EQ(folds[1].held_out, (std::vector<FrameInterval>{{22, 37}, {50, 54}}));
  EXPECT_EQ(folds[1].train, (std::vector<FrameInterval>{{1, 16}, {60, 94}}));
}

TEST(KFoldOverBlocks, RandomBlocksKeepThePartition) {
  Rng rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<FrameInterval> blocks;
    int64_t next = 1 + static_cast<int64_t>(rng.Index(10));
    const int nblocks = 1 + static_cast<int>(rng.Index(4));
    int64_t n = 0;
    for (int b = 0; b < nblocks; ++b) {
      const int64_t len = 1 + static_cast<int64_t>(rng.Index(60));
      blocks.push_back({next, next + len - 1});
      n += len;
      next += len + static_cast<int64_t>(rng.Index(20));  // 0: touching blocks
    }
    const int k = 2 + static_cast<int>(rng.Index(6));
    const int64_t gap = static_cast<int64_t>(rng.Index(8));
    std::vector<BlockFold> folds;
    try {
      folds = KFoldOverBlocks(blocks, k, gap);
    } catch (const InputError&) {
      EXPECT_TRUE(n < k || n <= 2 * gap + 2 * (n / k + 1))
          << "rejected " << n << " frames, k " << k;
      continue;
    }
    int64_t total = 0, lo = n, hi = 0, prev_end = 0;
    for (const BlockFold& f : folds) {
      int64_t size = 0;
      for (const FrameInterval& iv : f.held_out) {
        EXPECT_GT(iv.start, prev_end);
        prev_end = iv.end;
        size += iv.length();
      }
      total += size;
      lo = std::min(lo, size);
      hi = std::max(hi, size);
      EXPECT_FALSE(f.train.empty());
    }
    EXPECT_EQ(total, n);
    EXPECT_LE(hi - lo, 1);
  }
}

// As TemporalKFold: the first n % k parts are one frame longer.
TEST(KFoldOverBlocks, EarlierPartsAreTheLongerOnes) {
  const std::vector<BlockFold> folds = KFoldOverBlocks({{1, 37}, {50, 94}}, 4, 5);
  std::vector<int64_t> sizes;
  for (const BlockFold& f : folds) {
    int64_t size = 0;
    for (const FrameInterval& iv : f.held_out) size += iv.length();
    sizes.push_back(size);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{21, 21, 20, 20}));
}

TEST(KFoldOverBlocks, BadArgumentsAreInputErrors) {
  const std::vector<FrameInterval> blocks = {{1, 37}, {50, 94}};
  EXPECT_TRUE(Contains(InputErrorOf([&] { KFoldOverBlocks(blocks, 1, 5); }), "--folds"));
  EXPECT_TRUE(Contains(InputErrorOf([&] { KFoldOverBlocks(blocks, 0, 5); }), "got 0"));
  const std::string few = InputErrorOf([] { KFoldOverBlocks({{10, 11}, {20, 20}}, 4, 0); });
  EXPECT_TRUE(Contains(few, "only 3 training frames")) << few;
  EXPECT_TRUE(Contains(InputErrorOf([&] { KFoldOverBlocks(blocks, 2, -1); }), "--gap"));
  const std::string wide = InputErrorOf([&] { KFoldOverBlocks(blocks, 2, 100); });
  EXPECT_TRUE(Contains(wide, "no training frames")) << wide;
  EXPECT_TRUE(Contains(InputErrorOf([] { KFoldOverBlocks({{1, 10}, {5, 20}}, 2, 0); }), "overlap"));
  EXPECT_TRUE(Contains(InputErrorOf([] { KFoldOverBlocks({{1, 10}, {9, 3}}, 2, 0); }), "empty"));
}

// ----------------------------------------------------------- PredictCandidate

// A trace with holes, events of 4-14 frames and a decent classifier in
// column bp3 (bp0 is noise), and the event statistics the package would hold.
struct TraceCase {
  ScoreTrace trace;
  EventStats stats;
};
TraceCase RandomTraceCase(uint64_t seed) {
  Rng rng(seed);
  TraceCase tc;
  ScoreTrace& t = tc.trace;
  t.columns = BranchKeys({0, 3});
  t.scores.resize(2);
  int64_t frame = 1;
  for (int s = 0; s < 3; ++s) {
    bool label = false;
    int64_t left = 5 + static_cast<int64_t>(rng.Index(20));
    for (int64_t k = 0; k < 200; ++k) {
      if (left == 0) {
        label = !label;
        left = label ? 4 + static_cast<int64_t>(rng.Index(11))
                     : 10 + static_cast<int64_t>(rng.Index(30));
      }
      --left;
      t.frames.push_back(frame + k);
      t.labels.push_back(label ? 1 : 0);
      t.folds.push_back(s);
      t.scores[0].push_back(static_cast<float>(rng.Uniform()));
      t.scores[1].push_back(rng.Bernoulli(label ? 0.8 : 0.05) ? 0.9f : 0.1f);
    }
    frame += 200 + 10;
  }
  int64_t positives = 0;
  for (uint8_t l : t.labels) positives += l;
  for (const FrameInterval& e : t.Events())
    tc.stats.lengths.push_back(static_cast<double>(e.length()));
  tc.stats.min_length = *std::min_element(tc.stats.lengths.begin(), tc.stats.lengths.end());
  double sum = 0;
  for (double l : tc.stats.lengths) sum += l;
  tc.stats.mean_length = sum / static_cast<double>(tc.stats.lengths.size());
  tc.stats.frequency = static_cast<double>(positives) / static_cast<double>(t.rows());
  tc.stats.correlation = 0.3;
  return tc;
}

Candidate Bp3Candidate() {
  Candidate c;
  c.branchpoint = 3;
  c.tpr = 0.8;
  c.fpr = 0.05;
  c.threshold = 0.5;
  c.accuracy = 0.9;
  return c;
}

TEST(Prediction, WithoutATraceIsTheAnalyticalModel) {
  const TraceCase tc = RandomTraceCase(1);
  const Candidate c = Bp3Candidate();
  for (double stride : {1.0, 2.5, 4.0}) {
    for (int x : {1, 2, 3}) {
      const AppPrediction p = PredictCandidate(c, tc.stats, nullptr, stride, x);
      const EventPrediction m = PredictEvents(c.tpr, c.fpr, tc.stats, stride, x);
      EXPECT_DOUBLE_EQ(p.recall, m.recall);
      EXPECT_DOUBLE_EQ(p.precision, m.precision);
      EXPECT_DOUBLE_EQ(p.f1, m.f1);
      EXPECT_DOUBLE_EQ(p.model.f1, m.f1);
      EXPECT_FALSE(p.trace.has_value());
      EXPECT_EQ(p.source(), "model");
      EXPECT_EQ(p.trace_weight, 0);
      EXPECT_FALSE(p.no_skill);
      EXPECT_GT(p.f1_se, 0);
      EXPECT_GT(p.f1_event_sd, 0);
    }
  }
}

// A trace on which every event is caught and nothing else reported: the
// jackknife says 0, so the per-event spread is the floor, the binomial spread
// of the shrunk recall carried to F1 by the delta method (dF1/dR = 2P^2/(P+R)^2,
// about half of recall's spread here), not recall's spread itself.
TEST(Prediction, PerfectTraceSpreadIsTheDeltaMethodFloor) {
  TraceCase tc = RandomTraceCase(7);
  for (size_t i = 0; i < tc.trace.rows(); ++i)
    tc.trace.scores[1][i] = tc.trace.labels[i] ? 0.9f : 0.1f;
  const Candidate c = Bp3Candidate();
  PredictionOptions o;
  o.prior_events = 0;  // the trace alone: P = R = 1
  const AppPrediction p = PredictCandidate(c, tc.stats, &tc.trace, 1.0, 1, o);
  ASSERT_TRUE(p.trace.has_value());
  ASSERT_DOUBLE_EQ(p.trace->recall, 1.0);
  ASSERT_DOUBLE_EQ(p.trace->precision, 1.0);
  const double n = p.events;
  const double r = (n + 0.5) / (n + 1);
  const double recall_sd = std::sqrt(r * (1 - r));
  EXPECT_NEAR(p.f1_event_sd, 2.0 / ((1 + r) * (1 + r)) * recall_sd, 1e-12);
  EXPECT_LT(p.f1_event_sd, 0.6 * recall_sd);
  EXPECT_GT(p.f1_se, 0);
}

TEST(Prediction, WithATraceAndNoPriorIsTheReplay) {
  const TraceCase tc = RandomTraceCase(2);
  const Candidate c = Bp3Candidate();
  PredictionOptions o;
  o.prior_events = 0;
  for (double stride : {1.0, 7.0 / 3.0, 3.0}) {
    for (int x : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "stride " << stride << " x " << x);
      const AppPrediction p = PredictCandidate(c, tc.stats, &tc.trace, stride, x, o);
      const TraceReplay r = ReplayTrace(tc.trace, 1, c.threshold, stride, x);
      ASSERT_TRUE(p.trace.has_value());
      EXPECT_EQ(p.source(), "trace+model");
      EXPECT_GT(r.events, 10);
      EXPECT_EQ(p.events, r.events);
      EXPECT_DOUBLE_EQ(p.trace_weight, 1);
      EXPECT_NEAR(p.recall, r.score.recall, 1e-12);
      EXPECT_NEAR(p.precision, r.score.precision, 1e-12);
      EXPECT_NEAR(p.f1, r.score.f1, 1e-12);
      EXPECT_DOUBLE_EQ(p.trace->recall, r.score.recall);
      EXPECT_DOUBLE_EQ(p.trace->f1, r.score.f1);
      EXPECT_DOUBLE_EQ(p.trace->f1_se, r.f1_se);
      EXPECT_DOUBLE_EQ(p.trace->fold_sd, r.fold_sd);
      EXPECT_EQ(p.trace->folds, static_cast<int>(r.fold_f1.size()));
      EXPECT_EQ(p.trace->events, r.events);
      EXPECT_EQ(p.trace->phases, r.phases);
      // The model's figures are still reported beside the trace's.
      EXPECT_DOUBLE_EQ(p.model.f1, PredictEvents(c.tpr, c.fpr, tc.stats, stride, x).f1);
      EXPECT_GT(p.f1_se, 0);
    }
  }
}

// Folds that disagree beyond what their few events explain widen the
// interval by that heterogeneity (random effects): a fold that catches
// nothing beside two that catch most events.
TEST(Prediction, FoldsThatDisagreeWidenTheIntervalByTheirHeterogeneity) {
  const TraceCase tc = RandomTraceCase(5);
  ScoreTrace split = tc.trace;
  for (size_t i = 0; i < split.rows(); ++i)
    if (split.folds[i] == 0) split.scores[1][i] = 0.1f;  // fold 0 misses everything
  const Candidate c = Bp3Candidate();
  PredictionOptions o;
  o.prior_events = 0;               // the trace alone: f1_se is the trace's
  EXPECT_TRUE(o.permutation_null);  // the default since the six tasks' cross-validation
  o.permutation_null = false;
  const AppPrediction agree = PredictCandidate(c, tc.stats, &tc.trace, 2, 1, o);
  const AppPrediction differ = PredictCandidate(c, tc.stats, &split, 2, 1, o);
  ASSERT_TRUE(differ.trace.has_value());
  ASSERT_EQ(differ.trace->folds, 3);
  const double n = static_cast<double>(differ.events);
  // What the folds' events explain: the normal approximation.
  EXPECT_EQ(differ.trace->fold_null_sd, 0);
  const double tau2 = differ.trace->fold_sd * differ.trace->fold_sd -
                      differ.f1_event_sd * differ.f1_event_sd * 3 / n;
  ASSERT_GT(tau2, 0.04) << "fold SD " << differ.trace->fold_sd;
  EXPECT_NEAR(differ.f1_heterogeneity, std::sqrt(tau2), 1e-12);
  // Or the permutation null (the default): the folds' variance with the
  // events dealt at random.
  PredictionOptions perm = o;
  perm.permutation_null = true;
  TraceReplay replay;
  const AppPrediction dealt = PredictCandidate(c, tc.stats, &split, 2, 1, perm, &replay);
  const double null_var = FoldNullVariance(replay.cycles, replay.fold_events, replay.phases);
  ASSERT_GT(null_var, 0);
  EXPECT_NEAR(dealt.trace->fold_null_sd, std::sqrt(null_var), 1e-12);
  const double tau2_dealt = dealt.trace->fold_sd * dealt.trace->fold_sd - null_var;
  ASSERT_GT(tau2_dealt, 0.04) << "a fold that misses everything is heterogeneity either way";
  EXPECT_NEAR(dealt.f1_heterogeneity, std::sqrt(tau2_dealt), 1e-12);
  EXPECT_DOUBLE_EQ(AppPrediction::FromJson(JsonView(dealt.ToJson(), "p.json")).trace->fold_null_sd,
                   dealt.trace->fold_null_sd);
  const double trace_se =
      std::max(differ.f1_event_sd / std::sqrt(n), differ.trace->fold_sd / std::sqrt(3.0));
  EXPECT_NEAR(differ.f1_se, std::sqrt(trace_se * trace_se + tau2), 1e-12);
  EXPECT_LT(agree.f1_heterogeneity, differ.f1_heterogeneity / 2);
  const ConfidenceInterval wide = differ.Interval(n), narrow = agree.Interval(n);
  EXPECT_GT(wide.upper - wide.lower, narrow.upper - narrow.lower);
  // Round trip through the schedule's JSON.
  EXPECT_DOUBLE_EQ(AppPrediction::FromJson(JsonView(differ.ToJson(), "p.json")).f1_heterogeneity,
                   differ.f1_heterogeneity);
  EXPECT_DOUBLE_EQ(AppPrediction::FromJson(JsonView(differ.ToJson(), "p.json")).trace->fold_null_sd,
                   differ.trace->fold_null_sd);
}

// mstrain --deploy fold ships fold k's model: when the folds disagree, that
// fold's own held-out figures move the prediction (BLUP, half of tau2 taken
// as the models'), by (tau2 / 2) / (tau2 + v).
TEST(Prediction, TheDeployedFoldsOwnFiguresMoveThePredictionWhenFoldsDisagree) {
  const TraceCase tc = RandomTraceCase(5);
  ScoreTrace split = tc.trace;
  for (size_t i = 0; i < split.rows(); ++i)
    if (split.folds[i] == 0) split.scores[1][i] = 0.1f;  // fold 0 misses everything
  PredictionOptions o;
  o.prior_events = 0;
  const Candidate pooled = Bp3Candidate();
  auto deployed = [&](int fold, const char* model = "fold") {
    Candidate c = Bp3Candidate();
    c.extra["deployed"] = Json{{"model", model}, {"fold", fold}};
    return c;
  };
  const AppPrediction base = PredictCandidate(pooled, tc.stats, &split, 2, 1, o);
  const AppPrediction bad = PredictCandidate(deployed(0), tc.stats, &split, 2, 1, o);
  const AppPrediction good = PredictCandidate(deployed(1), tc.stats, &split, 2, 1, o);
  ASSERT_TRUE(bad.trace.has_value());
  EXPECT_EQ(base.trace->deployed_fold, -1);
  EXPECT_EQ(bad.trace->deployed_fold, 0);
  EXPECT_EQ(bad.trace->deployed_f1, 0);
  ASSERT_GT(bad.trace->deployed_events, 0);
  const double tau2 = bad.f1_heterogeneity * bad.f1_heterogeneity;
  ASSERT_GT(tau2, 0.04);
  const double v =
      bad.f1_event_sd * bad.f1_event_sd / static_cast<double>(bad.trace->deployed_events);
  EXPECT_NEAR(bad.trace->deployed_weight, 0.5 * tau2 / (tau2 + v), 1e-12);
  // Recall moves towards the deployed fold's (0) by that weight.
  EXPECT_NEAR(bad.recall, (1 - bad.trace->deployed_weight) * base.trace->recall, 1e-12);
  EXPECT_LT(bad.f1, base.f1 - 0.1);
  EXPECT_GT(good.f1, base.f1);
  EXPECT_GT(good.trace->deployed_f1, base.trace->f1);
  // The interval: the pooled estimate's uncertainty at weight (1 - b)^2 and
  // the heterogeneity its fold does not pin down, (1 - b / 2) tau2.
  const double n = static_cast<double>(bad.events);
  const double trace_se =
      std::max(bad.f1_event_sd / std::sqrt(n), bad.trace->fold_sd / std::sqrt(3.0));
  const double b = bad.trace->deployed_weight;
  EXPECT_NEAR(bad.f1_se, std::sqrt((1 - b) * (1 - b) * trace_se * trace_se + (1 - b / 2) * tau2),
              1e-12);
  EXPECT_LT(bad.f1_se, base.f1_se);
  // Folds that agree (no heterogeneity), a retrained model or a fold the
  // trace does not have: the pooled figures.
  const AppPrediction agree = PredictCandidate(deployed(0), tc.stats, &tc.trace, 2, 1, o);
  const AppPrediction agree_pooled = PredictCandidate(pooled, tc.stats, &tc.trace, 2, 1, o);
  if (agree.f1_heterogeneity == 0) {
    EXPECT_DOUBLE_EQ(agree.f1, agree_pooled.f1);
  }
  EXPECT_DOUBLE_EQ(PredictCandidate(deployed(0, "retrain"), tc.stats, &split, 2, 1, o).f1, base.f1);
  EXPECT_DOUBLE_EQ(PredictCandidate(deployed(7), tc.stats, &split, 2, 1, o).f1, base.f1);
  // Round trip through the schedule's JSON.
  const AppPrediction back = AppPrediction::FromJson(JsonView(bad.ToJson(), "p.json"));
  EXPECT_EQ(back.trace->deployed_fold, 0);
  EXPECT_DOUBLE_EQ(back.trace->deployed_weight, bad.trace->deployed_weight);
}

TEST(Prediction, TraceWeightIsEventsOverEventsPlusPrior) {
  const TraceCase tc = RandomTraceCase(3);
  const Candidate c = Bp3Candidate();
  const double stride = 2;
  const int x = 2;
  const TraceReplay r = ReplayTrace(tc.trace, 1, c.threshold, stride, x);
  const EventPrediction m = PredictEvents(c.tpr, c.fpr, tc.stats, stride, x);
  ASSERT_GT(std::fabs(r.score.recall - m.recall) + std::fabs(r.score.precision - m.precision), 0.02)
      << "trace and model must differ for the weights to show";
  const double n = static_cast<double>(r.events);
  for (double prior : {1.0, 4.0, 25.0, 1e6}) {
    SCOPED_TRACE(::testing::Message() << "prior " << prior);
    PredictionOptions o;
    o.prior_events = prior;
    const AppPrediction p = PredictCandidate(c, tc.stats, &tc.trace, stride, x, o);
    const double w = n / (n + prior);
    EXPECT_NEAR(p.trace_weight, w, 1e-12);
    EXPECT_NEAR(p.recall, w * r.score.recall + (1 - w) * m.recall, 1e-12);
    EXPECT_NEAR(p.precision, w * r.score.precision + (1 - w) * m.precision, 1e-12);
    EXPECT_NEAR(p.f1, F1Score(p.precision, p.recall), 1e-12);
  }
  EXPECT_NO_THROW(PredictionOptions{}.Validate());
  PredictionOptions bad;
  bad.prior_events = -1;
  EXPECT_TRUE(Contains(InputErrorOf([&] { bad.Validate(); }), "--trace-prior"));
}

TEST(Prediction, UseTraceFalseIgnoresTheTrace) {
  const TraceCase tc = RandomTraceCase(4);
  const Candidate c = Bp3Candidate();
  PredictionOptions o;
  o.use_trace = false;
  const AppPrediction with = PredictCandidate(c, tc.stats, &tc.trace, 2.5, 2, o);
  const AppPrediction without = PredictCandidate(c, tc.stats, nullptr, 2.5, 2);
  EXPECT_FALSE(with.trace.has_value());
  EXPECT_EQ(with.trace_weight, 0);
  EXPECT_EQ(with.events, 0);
  EXPECT_EQ(with.recall, without.recall);
  EXPECT_EQ(with.precision, without.precision);
  EXPECT_EQ(with.f1, without.f1);
  EXPECT_EQ(with.f1_se, without.f1_se);
  EXPECT_EQ(with.f1_event_sd, without.f1_event_sd);
  // ... while with the trace the figures move.
  const AppPrediction used = PredictCandidate(c, tc.stats, &tc.trace, 2.5, 2);
  EXPECT_NE(used.f1, without.f1);
}

TEST(Prediction, NoSkillCandidateUsesOnePositiveRate) {
  const TraceCase tc = RandomTraceCase(5);
  Candidate c = Bp3Candidate();
  c.no_skill = true;
  const double rate = c.tpr * tc.stats.frequency + c.fpr * (1 - tc.stats.frequency);
  for (int x : {1, 2}) {
    const AppPrediction p = PredictCandidate(c, tc.stats, nullptr, 2, x);
    const EventPrediction chance = PredictEvents(rate, rate, tc.stats, 2, x);
    const EventPrediction skilled = PredictEvents(c.tpr, c.fpr, tc.stats, 2, x);
    EXPECT_TRUE(p.no_skill);
    EXPECT_DOUBLE_EQ(p.model.recall, chance.recall);
    EXPECT_DOUBLE_EQ(p.model.precision, chance.precision);
    EXPECT_DOUBLE_EQ(p.model.f1, chance.f1);
    EXPECT_DOUBLE_EQ(p.f1, chance.f1);
    EXPECT_LT(p.f1, skilled.f1 - 0.05);
    EXPECT_EQ(p.ToJson().at("no_skill"), true);
  }
  // With a trace, the trace is replayed as it is; only the model's share changes.
  PredictionOptions o;
  o.prior_events = 0;
  const AppPrediction t = PredictCandidate(c, tc.stats, &tc.trace, 2, 1, o);
  EXPECT_NEAR(t.f1, ReplayTrace(tc.trace, 1, 0.5, 2, 1).score.f1, 1e-12);
  EXPECT_DOUBLE_EQ(t.model.f1, PredictEvents(rate, rate, tc.stats, 2, 1).f1);
}

TEST(Prediction, TraceWithoutTheCandidatesColumnIsAnInputError) {
  const TraceCase tc = RandomTraceCase(6);
  Candidate c = Bp3Candidate();
  c.branchpoint = 7;
  EXPECT_TRUE(Contains(InputErrorOf([&] { PredictCandidate(c, tc.stats, &tc.trace, 2, 1); }),
                       "no column bp7"));
}

TEST(Prediction, TraceWithoutEventsLeavesTheModel) {
  TraceCase tc = RandomTraceCase(7);
  std::fill(tc.trace.labels.begin(), tc.trace.labels.end(), 0);
  const Candidate c = Bp3Candidate();
  const AppPrediction p = PredictCandidate(c, tc.stats, &tc.trace, 2, 1);
  const EventPrediction m = PredictEvents(c.tpr, c.fpr, tc.stats, 2, 1);
  ASSERT_TRUE(p.trace.has_value());
  EXPECT_EQ(p.trace->events, 0);
  EXPECT_EQ(p.trace_weight, 0);
  EXPECT_DOUBLE_EQ(p.f1, m.f1);
}

TEST(Prediction, IntervalContainsF1AndNarrowsWithEvents) {
  AppPrediction p;
  p.f1 = 0.6;
  p.f1_se = 0.05;
  p.f1_event_sd = 0.4;
  double previous = 2;
  for (double n : {1.0, 5.0, 50.0, 500.0, 1e6}) {
    const ConfidenceInterval ci = p.Interval(n);
    EXPECT_LE(ci.lower, p.f1);
    EXPECT_GE(ci.upper, p.f1);
    EXPECT_GE(ci.lower, 0);
    EXPECT_LE(ci.upper, 1);
    const double width = ci.upper - ci.lower;
    EXPECT_LT(width, previous) << n;
    previous = width;
    // f1 +- z sd with z = 1.6449 for 90%.
    const double sd = std::sqrt(0.05 * 0.05 + 0.16 / n);
    if (ci.lower > 0 && ci.upper < 1) {
      EXPECT_NEAR((ci.upper - p.f1) / sd, 1.644854, 1e-4) << n;
    }
  }
  // Never narrower than the prediction's own uncertainty.
  EXPECT_NEAR(p.Interval(1e12).upper - p.f1, 1.644854 * 0.05, 1e-4);
  // A lower level is narrower; fewer than one event counts as one.
  EXPECT_LT(p.Interval(5, 0.5).upper, p.Interval(5, 0.9).upper);
  EXPECT_EQ(p.Interval(0).upper, p.Interval(1).upper);
  // Clipped to [0, 1].
  p.f1 = 0.97;
  EXPECT_EQ(p.Interval(1).upper, 1);
  p.f1 = 0.02;
  EXPECT_EQ(p.Interval(1).lower, 0);
  EXPECT_TRUE(Contains(InputErrorOf([&] { p.Interval(5, 1.0); }), "level"));

  // Real predictions, with and without a trace.
  const TraceCase tc = RandomTraceCase(8);
  for (const ScoreTrace* trace : {static_cast<const ScoreTrace*>(nullptr), &tc.trace}) {
    const AppPrediction q = PredictCandidate(Bp3Candidate(), tc.stats, trace, 3, 2);
    const ConfidenceInterval a = q.Interval(3), b = q.Interval(30);
    EXPECT_LE(a.lower, q.f1);
    EXPECT_GE(a.upper, q.f1);
    EXPECT_GE(a.lower, 0);
    EXPECT_LE(a.upper, 1);
    EXPECT_LT(b.upper - b.lower, a.upper - a.lower);
  }
}

void ExpectSamePrediction(const AppPrediction& a, const AppPrediction& b) {
  EXPECT_EQ(a.recall, b.recall);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.f1, b.f1);
  EXPECT_EQ(a.f1_se, b.f1_se);
  EXPECT_EQ(a.f1_event_sd, b.f1_event_sd);
  EXPECT_EQ(a.f1_heterogeneity, b.f1_heterogeneity);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.trace_weight, b.trace_weight);
  EXPECT_EQ(a.no_skill, b.no_skill);
  EXPECT_EQ(a.model.recall, b.model.recall);
  EXPECT_EQ(a.model.precision, b.model.precision);
  EXPECT_EQ(a.model.f1, b.model.f1);
  ASSERT_EQ(a.trace.has_value(), b.trace.has_value());
  if (a.trace) {
    EXPECT_EQ(a.trace->recall, b.trace->recall);
    EXPECT_EQ(a.trace->precision, b.trace->precision);
    EXPECT_EQ(a.trace->f1, b.trace->f1);
    EXPECT_EQ(a.trace->f1_se, b.trace->f1_se);
    EXPECT_EQ(a.trace->fold_sd, b.trace->fold_sd);
    EXPECT_EQ(a.trace->folds, b.trace->folds);
    EXPECT_EQ(a.trace->events, b.trace->events);
    EXPECT_EQ(a.trace->phases, b.trace->phases);
  }
}

TEST(Prediction, JsonRoundTrip) {
  const TraceCase tc = RandomTraceCase(9);
  Candidate c = Bp3Candidate();
  for (bool no_skill : {false, true}) {
    c.no_skill = no_skill;
    for (const ScoreTrace* trace : {static_cast<const ScoreTrace*>(nullptr), &tc.trace}) {
      const AppPrediction p = PredictCandidate(c, tc.stats, trace, 7.0 / 3.0, 2);
      const Json j = Json::parse(p.ToJson().dump());  // through text
      EXPECT_EQ(j.at("source"), p.source());
      EXPECT_EQ(j.at("trace").is_null(), trace == nullptr);
      const ConfidenceInterval ci = p.Interval(static_cast<double>(std::max<int64_t>(p.events, 1)));
      EXPECT_EQ(j.at("interval90"), (Json{ci.lower, ci.upper}));
      const AppPrediction back =
          AppPrediction::FromJson(JsonView(j, "schedule.json", "$.predicted"));
      ExpectSamePrediction(p, back);
      EXPECT_EQ(back.ToJson().at("interval90"), j.at("interval90"));
    }
  }
  // Schedules written before the new fields: only recall, precision, f1.
  const Json old = {{"recall", 0.5}, {"precision", 0.25}, {"f1", 1.0 / 3.0}};
  const AppPrediction o = AppPrediction::FromJson(JsonView(old, "old.json"));
  EXPECT_EQ(o.f1, 1.0 / 3.0);
  EXPECT_FALSE(o.trace.has_value());
  EXPECT_EQ(o.f1_se, 0);
  const std::string msg = InputErrorOf([] {
    AppPrediction::FromJson(
        JsonView(Json{{"recall", 1.5}, {"precision", 0}, {"f1", 0}}, "x.json", "$.predicted"));
  });
  EXPECT_TRUE(Contains(msg, "x.json: $.predicted.recall")) << msg;
}

// ---------------------------------------------- the trace inside a package

// A package with candidates at branchpoints 0, 3 and 7 (the last no better
// than chance), its score trace written as `trace.csv` and referenced from
// the manifest.
struct PackageCase {
  testing::TempDir dir;
  MPackage pkg;
  ScoreTrace trace;
  std::string text;

  PackageCase() {
    pkg.app = "door";
    pkg.base.id = "msnet-s";
    pkg.base.sha256 = std::string(64, 'a');
    pkg.base.num_stages = 8;
    pkg.stream_fps = 7;
    pkg.events.mean_length = 12;
    pkg.events.min_length = 5;
    pkg.events.lengths = {5, 12, 19};
    pkg.events.frequency = 0.3;
    pkg.events.correlation = 0.4;
    const double rates[3][2] = {{0.9, 0.05}, {0.85, 0.1}, {0.5, 0.45}};
    const int bps[3] = {0, 3, 7};
    for (int i = 0; i < 3; ++i) {
      Candidate c;
      c.branchpoint = bps[i];
      c.tpr = rates[i][0];
      c.fpr = rates[i][1];
      c.accuracy = 0.5 * (c.tpr + 1 - c.fpr);
      c.no_skill = i == 2;
      pkg.candidates.push_back(c);
    }
    pkg.estimation = Json{{"method", "out-of-fold"}, {"folds", 3}};

    Rng rng(23);
    trace.columns = BranchKeys({0, 3, 7});
    trace.scores.resize(3);
    for (int64_t f = 1; f <= 60; ++f) {
      trace.frames.push_back(f < 30 ? f : f + 10);
      trace.labels.push_back((f / 7) % 2 == 1 ? 1 : 0);
      trace.folds.push_back(static_cast<int>((f - 1) / 20));
      for (auto& col : trace.scores)
        col.push_back(static_cast<float>(std::round(rng.Uniform() * 1000) / 1000));
    }
    text = FormatScoreTrace(trace);
    testing::WriteText(dir / kScoreTraceFile, text);
    TraceRef ref;
    ref.file = kScoreTraceFile;
    ref.sha256 = Sha256Hex(text);
    ref.rows = static_cast<int64_t>(trace.rows());
    ref.events = static_cast<int64_t>(trace.Events().size());
    ref.folds = trace.num_folds();
    pkg.trace = ref;
  }
  std::string manifest() const { return (dir / kMPackageManifest).string(); }
  MPackage WriteAndRead() const {
    WriteMPackageManifest(pkg, dir.path());
    return ReadMPackage(dir.path());
  }
};

TEST(ScoreTracePackage, ManifestWithTraceRoundTrips) {
  PackageCase pc;
  const MPackage back = pc.WriteAndRead();
  EXPECT_EQ(ReadJsonFile(pc.manifest()).at("schema_version"), kMPackageSchemaVersion);
  EXPECT_EQ(back.ToJson(), pc.pkg.ToJson());
  ASSERT_TRUE(back.trace.has_value());
  EXPECT_EQ(back.trace->file, "trace.csv");
  EXPECT_EQ(back.trace->sha256, pc.pkg.trace->sha256);
  EXPECT_EQ(back.trace->rows, 60);
  EXPECT_EQ(back.trace->events, pc.pkg.trace->events);
  EXPECT_EQ(back.trace->folds, 3);
  ASSERT_EQ(back.candidates.size(), 3u);
  EXPECT_FALSE(back.candidates[0].no_skill);
  EXPECT_TRUE(back.candidates[2].no_skill);
  EXPECT_EQ(back.dir, pc.dir.path());

  const ScoreTrace loaded = LoadPackageTrace(back);
  EXPECT_EQ(loaded.frames, pc.trace.frames);
  EXPECT_EQ(loaded.labels, pc.trace.labels);
  EXPECT_EQ(loaded.folds, pc.trace.folds);
  EXPECT_EQ(loaded.scores, pc.trace.scores);
}

TEST(ScoreTracePackage, V1ManifestWithoutTraceStillReads) {
  PackageCase pc;
  Json j = pc.pkg.ToJson();
  j["schema_version"] = 1;
  j.erase("trace");
  for (Json& c : j["candidates"]) c.erase("no_skill");
  testing::WriteText(pc.dir / kMPackageManifest, j.dump(2));
  const MPackage v1 = ReadMPackage(pc.dir.path());
  EXPECT_FALSE(v1.trace.has_value());
  ASSERT_EQ(v1.candidates.size(), 3u);
  for (const Candidate& c : v1.candidates) EXPECT_FALSE(c.no_skill);
  EXPECT_EQ(v1.candidates[1].tpr, 0.85);
  EXPECT_TRUE(Contains(InputErrorOf([&] { LoadPackageTrace(v1); }), "no score trace"));
  // Written back, it becomes a current manifest.
  EXPECT_EQ(v1.ToJson().at("schema_version"), kMPackageSchemaVersion);
  EXPECT_TRUE(v1.ToJson().at("trace").is_null());

  j["schema_version"] = kMPackageSchemaVersion + 1;
  testing::WriteText(pc.dir / kMPackageManifest, j.dump(2));
  const std::string msg = InputErrorOf([&] { ReadMPackage(pc.dir.path()); });
  EXPECT_TRUE(Contains(msg, "schema_version")) << msg;
}

TEST(ScoreTracePackage, LoadErrorsNameTheManifestAndField) {
  {
    SCOPED_TRACE("missing file");
    PackageCase pc;
    pc.pkg.trace->file = "gone.csv";
    const MPackage p = pc.WriteAndRead();
    const std::string msg = InputErrorOf([&] { LoadPackageTrace(p); });
    EXPECT_EQ(msg.rfind(pc.manifest() + ": $.trace.file", 0), 0u) << msg;
    EXPECT_TRUE(Contains(msg, "gone.csv")) << msg;
  }
  {
    SCOPED_TRACE("hash mismatch");
    PackageCase pc;
    const MPackage p = pc.WriteAndRead();
    std::string changed = pc.text;
    changed[changed.size() - 2] =
        changed[changed.size() - 2] == '1' ? '2' : '1';  // last digit of a score
    testing::WriteText(pc.dir / kScoreTraceFile, changed);
    const std::string msg = InputErrorOf([&] { LoadPackageTrace(p); });
    EXPECT_EQ(msg.rfind(pc.manifest() + ": $.trace.sha256", 0), 0u) << msg;
  }
  {
    SCOPED_TRACE("rows mismatch");
    PackageCase pc;
    pc.pkg.trace->rows = 61;
    const MPackage p = pc.WriteAndRead();
    const std::string msg = InputErrorOf([&] { LoadPackageTrace(p); });
    EXPECT_EQ(msg.rfind(pc.manifest() + ": $.trace.rows", 0), 0u) << msg;
    EXPECT_TRUE(Contains(msg, "61")) << msg;
    EXPECT_TRUE(Contains(msg, "60")) << msg;
  }
  {
    SCOPED_TRACE("missing column");
    PackageCase pc;
    pc.trace.columns = BranchKeys({0, 3});
    pc.trace.scores.pop_back();
    pc.text = FormatScoreTrace(pc.trace);
    testing::WriteText(pc.dir / kScoreTraceFile, pc.text);
    pc.pkg.trace->sha256 = Sha256Hex(pc.text);
    const MPackage p = pc.WriteAndRead();
    const std::string msg = InputErrorOf([&] { LoadPackageTrace(p); });
    EXPECT_EQ(msg.rfind(pc.manifest() + ": $.candidates[2]", 0), 0u) << msg;
    EXPECT_TRUE(Contains(msg, "bp7")) << msg;
  }
  {
    SCOPED_TRACE("malformed trace");
    PackageCase pc;
    const std::string bad = "frame,label,fold,bp0,bp3,bp7\n1,0,0,0.1,0.2,7\n";
    testing::WriteText(pc.dir / kScoreTraceFile, bad);
    pc.pkg.trace->sha256 = Sha256Hex(bad);
    const MPackage p = pc.WriteAndRead();
    const std::string msg = InputErrorOf([&] { LoadPackageTrace(p); });
    EXPECT_TRUE(Contains(msg, (pc.dir / kScoreTraceFile).string() + ":2:")) << msg;
  }
}

TEST(ScoreTracePackage, TraceFileMustStayInsideThePackage) {
  for (const std::string file : {"../x.csv", "/tmp/x.csv", "sub/../../x.csv"}) {
    SCOPED_TRACE(file);
    PackageCase pc;
    pc.pkg.trace->file = file;
    WriteMPackageManifest(pc.pkg, pc.dir.path());
    const std::string msg = InputErrorOf([&] { ReadMPackage(pc.dir.path()); });
    EXPECT_EQ(msg.rfind(pc.manifest() + ": $.trace.file", 0), 0u) << msg;
    EXPECT_TRUE(Contains(msg, "inside the package")) << msg;
  }
  // A file in a subdirectory of the package is fine.
  PackageCase pc;
  testing::WriteText(pc.dir / "oof/trace.csv", pc.text);
  pc.pkg.trace->file = "oof/trace.csv";
  const MPackage p = pc.WriteAndRead();
  EXPECT_EQ(LoadPackageTrace(p).rows(), 60u);
}

}  // namespace
}  // namespace mainstream
