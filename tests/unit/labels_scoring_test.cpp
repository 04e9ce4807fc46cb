#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/schedule/event_model.h"

namespace mainstream {
namespace {

using Intervals = std::vector<FrameInterval>;

EventScore BruteForce(const Intervals& truth, const Intervals& reports) {
  EventScore s;
  s.true_events = static_cast<int64_t>(truth.size());
  s.reports = static_cast<int64_t>(reports.size());
  for (const FrameInterval& t : truth) {
    bool hit = false;
    for (const FrameInterval& r : reports) hit |= t.start <= r.end && r.start <= t.end;
    s.detected += hit;
  }
  for (const FrameInterval& r : reports) {
    bool hit = false;
    for (const FrameInterval& t : truth) hit |= t.start <= r.end && r.start <= t.end;
    s.true_reports += hit;
  }
  s.false_reports = s.reports - s.true_reports;
  s.recall =
      s.true_events ? static_cast<double>(s.detected) / static_cast<double>(s.true_events) : 0;
  s.precision =
      s.reports ? static_cast<double>(s.true_reports) / static_cast<double>(s.reports) : 0;
  s.f1 = F1Score(s.precision, s.recall);
  return s;
}

Intervals RandomIntervals(Rng& rng, size_t n, int64_t horizon, int64_t max_len) {
  Intervals out;
  for (size_t i = 0; i < n; ++i) {
    int64_t start = 1 + static_cast<int64_t>(rng.Index(static_cast<uint64_t>(horizon)));
    out.push_back({start, start + static_cast<int64_t>(rng.Index(static_cast<uint64_t>(max_len)))});
  }
  return out;
}

TEST(EventScoring, HandChecked) {
  Intervals truth{{10, 20}, {40, 50}, {70, 80}};
  Intervals reports{{15, 16}, {18, 25}, {30, 35}, {79, 90}};
  EventScore s = ScoreEvents(truth, reports);
  EXPECT_EQ(s.true_events, 3);
  EXPECT_EQ(s.detected, 2);  // [10,20] twice, [70,80] once; [40,50] missed
  EXPECT_EQ(s.reports, 4);
  EXPECT_EQ(s.true_reports, 3);
  EXPECT_EQ(s.false_reports, 1);  // [30,35]
  EXPECT_DOUBLE_EQ(s.recall, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.precision, 0.75);
  EXPECT_DOUBLE_EQ(s.f1, 2 * 0.75 * (2.0 / 3) / (0.75 + 2.0 / 3));
  Json j = s.ToJson();
  EXPECT_EQ(j["detected"], 2);
  EXPECT_EQ(j["false_reports"], 1);
}

TEST(EventScoring, OverlapNeedsOneSharedFrame) {
  Intervals truth{{10, 20}};
  EXPECT_EQ(ScoreEvents(truth, {{20, 30}}).detected, 1);
  EXPECT_EQ(ScoreEvents(truth, {{1, 10}}).detected, 1);
  EXPECT_EQ(ScoreEvents(truth, {{21, 30}}).detected, 0);
  EXPECT_EQ(ScoreEvents(truth, {{1, 9}}).true_reports, 0);
  // One report spanning two events detects both and counts once.
  EventScore span = ScoreEvents({{10, 20}, {30, 40}}, {{15, 35}});
  EXPECT_EQ(span.detected, 2);
  EXPECT_EQ(span.true_reports, 1);
  EXPECT_DOUBLE_EQ(span.f1, 1);
}

TEST(EventScoring, EmptySidesScoreZero) {
  EventScore none = ScoreEvents({}, {});
  EXPECT_EQ(none.recall, 0);
  EXPECT_EQ(none.precision, 0);
  EXPECT_EQ(none.f1, 0);
  EventScore silent = ScoreEvents({{1, 5}}, {});
  EXPECT_EQ(silent.recall, 0);
  EXPECT_EQ(silent.precision, 0);
  EventScore noisy = ScoreEvents({}, {{1, 5}});
  EXPECT_EQ(noisy.false_reports, 1);
  EXPECT_EQ(noisy.precision, 0);
  EXPECT_THROW(ScoreEvents({{5, 4}}, {}), InputError);
  EXPECT_THROW(ScoreEvents({}, {{5, 4}}), InputError);
}

TEST(EventScoring, RandomCasesMatchBruteForce) {
  Rng rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    // Unsorted, possibly overlapping intervals on both sides.
    Intervals truth =
        RandomIntervals(rng, rng.Index(25), 500, 1 + static_cast<int64_t>(rng.Index(40)));
    Intervals reports =
        RandomIntervals(rng, rng.Index(25), 500, 1 + static_cast<int64_t>(rng.Index(40)));
    EventScore got = ScoreEvents(truth, reports), want = BruteForce(truth, reports);
    ASSERT_EQ(got.detected, want.detected) << trial;
    ASSERT_EQ(got.true_reports, want.true_reports) << trial;
    ASSERT_EQ(got.false_reports, want.false_reports);
    ASSERT_DOUBLE_EQ(got.f1, want.f1);
    // The bootstrap's point estimates agree with the plain score.
    EventScoreCI ci = BootstrapEventScore(truth, reports, {50, 0.9, 1});
    ASSERT_DOUBLE_EQ(ci.recall, want.recall);
    ASSERT_DOUBLE_EQ(ci.precision, want.precision);
    ASSERT_DOUBLE_EQ(ci.f1, want.f1);
    ASSERT_EQ(ci.true_reports, want.true_reports);
  }
}

TEST(EventBootstrap, SeededDeterministicAndContainsThePoint) {
  Intervals truth, reports;
  Rng rng(4);
  for (int i = 0; i < 30; ++i) {
    const int64_t s = 1 + 100 * i;
    truth.push_back({s, s + 20});
    if (rng.Bernoulli(0.7)) reports.push_back({s + 5, s + 9});
    if (rng.Bernoulli(0.3)) reports.push_back({s + 50, s + 55});  // false, in the gap
  }
  EventScoreCI a = BootstrapEventScore(truth, reports, {2000, 0.95, 42});
  EventScoreCI b = BootstrapEventScore(truth, reports, {2000, 0.95, 42});
  EventScoreCI c = BootstrapEventScore(truth, reports, {2000, 0.95, 43});
  EXPECT_EQ(a.recall_ci.lower, b.recall_ci.lower);
  EXPECT_EQ(a.f1_ci.upper, b.f1_ci.upper);
  EXPECT_TRUE(a.recall_ci.lower != c.recall_ci.lower || a.f1_ci.lower != c.f1_ci.lower ||
              a.precision_ci.upper != c.precision_ci.upper);
  EXPECT_EQ(a.true_events, 30);
  EXPECT_EQ(a.resamples, 2000);
  for (auto [point, ci] :
       {std::pair{a.recall, a.recall_ci}, {a.precision, a.precision_ci}, {a.f1, a.f1_ci}}) {
    EXPECT_LE(ci.lower, point);
    EXPECT_GE(ci.upper, point);
    EXPECT_LT(ci.lower, ci.upper);
    EXPECT_GE(ci.lower, 0);
    EXPECT_LE(ci.upper, 1);
  }
  // Recall's interval is close to the binomial one: +-1.96 sqrt(r(1-r)/n).
  const double half = 1.96 * std::sqrt(a.recall * (1 - a.recall) / 30);
  EXPECT_NEAR(a.recall_ci.upper - a.recall_ci.lower, 2 * half, 0.06);
  Json j = a.ToJson();
  EXPECT_EQ(j["true_events"], 30);
  EXPECT_EQ(j["recall_ci"].size(), 2u);
}

TEST(EventBootstrap, DegenerateCases) {
  // Perfect detection: no spread.
  EventScoreCI perfect =
      BootstrapEventScore({{1, 5}, {20, 30}, {50, 51}}, {{2, 3}, {25, 40}, {51, 51}});
  EXPECT_EQ(perfect.f1, 1);
  EXPECT_EQ(perfect.f1_ci.lower, 1);
  EXPECT_EQ(perfect.f1_ci.upper, 1);
  // No true events: point figures only.
  EventScoreCI empty = BootstrapEventScore({}, {{1, 2}});
  EXPECT_EQ(empty.resamples, 0);
  EXPECT_EQ(empty.precision, 0);
  EXPECT_EQ(empty.reports, 1);
  EXPECT_EQ(empty.recall_ci.lower, empty.recall_ci.upper);
  EXPECT_THROW(BootstrapEventScore({{1, 2}}, {}, {100, 1.5, 0}), InputError);
  EXPECT_THROW(BootstrapEventScore({{1, 2}}, {}, {-1, 0.9, 0}), InputError);
}

TEST(EventBootstrap, FalseReportsTravelWithTheirCycle) {
  // Every false report sits in the cycle of event 0 (before it and after it),
  // so resamples without event 0 have precision 1, with it precision < 1.
  Intervals truth{{100, 110}, {200, 210}, {300, 310}, {400, 410}};
  Intervals reports{{5, 6}, {101, 101}, {150, 151}, {201, 201}, {301, 301}, {401, 401}};
  EventScoreCI ci = BootstrapEventScore(truth, reports, {4000, 0.9, 3});
  EXPECT_DOUBLE_EQ(ci.precision, 4.0 / 6);
  EXPECT_DOUBLE_EQ(ci.recall, 1);
  // P(event 0 drawn at least once in 4 draws) = 1 - (3/4)^4 = 0.68 < 0.95: the upper end is 1.
  EXPECT_DOUBLE_EQ(ci.precision_ci.upper, 1);
  EXPECT_LT(ci.precision_ci.lower, 4.0 / 6);
}

TEST(EventBootstrap, CyclesAssignEveryReportOnce) {
  Intervals truth{{200, 210}, {10, 20}, {100, 110}, {105, 130}};  // unsorted, two overlap
  Intervals run1{{1, 2}, {12, 13}, {50, 51}, {108, 109}, {150, 151}, {205, 300}};
  Intervals run2{{125, 126}, {400, 401}};
  std::vector<EventCycle> c = EventCycles(truth, {run1, run2});
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].event, (FrameInterval{10, 20}));
  EXPECT_EQ(c[0].span, (FrameInterval{1, 99}));
  EXPECT_EQ(c[0].detected, 1);
  EXPECT_EQ(c[0].true_reports, 1);
  EXPECT_EQ(c[0].false_reports, 2);  // [1, 2] before the first event, [50, 51] after it
  EXPECT_EQ(c[1].event, (FrameInterval{100, 110}));
  EXPECT_EQ(c[1].span, (FrameInterval{100, 104}));
  EXPECT_EQ(c[1].detected, 1);      // run1's [108, 109]
  EXPECT_EQ(c[1].true_reports, 1);  // [108, 109] overlaps both, goes to the earlier
  EXPECT_EQ(c[1].false_reports, 0);
  EXPECT_EQ(c[2].event, (FrameInterval{105, 130}));
  EXPECT_EQ(c[2].span, (FrameInterval{105, 199}));
  EXPECT_EQ(c[2].detected, 2);  // [108, 109] in run1, [125, 126] in run2
  EXPECT_EQ(c[2].true_reports, 1);
  EXPECT_EQ(c[2].false_reports, 1);  // [150, 151]
  EXPECT_EQ(c[3].span, (FrameInterval{200, 401}));
  EXPECT_EQ(c[3].detected, 1);
  EXPECT_EQ(c[3].true_reports, 1);
  EXPECT_EQ(c[3].false_reports, 1);  // [400, 401]
  int64_t total = 0;
  for (const EventCycle& e : c) total += e.true_reports + e.false_reports;
  EXPECT_EQ(total, 8);
  EXPECT_TRUE(EventCycles({}, {run1}).empty());
}

TEST(EventBootstrap, FalseReportsAfterAnEventStayWithThatEvent) {
  // A is detected, B is missed and followed by two false reports. Resamples:
  // AA (P = 1), AB/BA (P = 1/3), BB (P = 0). Were the false reports assigned
  // to A's cycle, no resample would reach P = 1.
  Intervals truth{{10, 20}, {100, 110}};
  Intervals reports{{12, 13}, {150, 151}, {170, 171}};
  EventScoreCI ci = BootstrapEventScore(truth, reports, {4000, 0.95, 5});
  EXPECT_DOUBLE_EQ(ci.precision, 1.0 / 3);
  EXPECT_DOUBLE_EQ(ci.precision_ci.upper, 1);
  EXPECT_DOUBLE_EQ(ci.precision_ci.lower, 0);
  EXPECT_DOUBLE_EQ(ci.recall_ci.lower, 0);
  EXPECT_DOUBLE_EQ(ci.recall_ci.upper, 1);
  // False reports before the first event belong to the first cycle (A's):
  // then AA has P = 1/3 and BB has no reports at all (P = 0).
  EventScoreCI early = BootstrapEventScore(truth, {{1, 2}, {3, 4}, {12, 13}}, {4000, 0.95, 5});
  EXPECT_DOUBLE_EQ(early.precision_ci.upper, 1.0 / 3);
}

TEST(EventBootstrap, IdenticalRunsPoolToTheSingleRun) {
  Intervals truth{{10, 20}, {40, 50}, {70, 80}, {100, 130}, {150, 160}};
  Intervals reports{{15, 16}, {30, 35}, {79, 90}, {140, 141}, {155, 155}};
  EventScoreCI one = BootstrapEventScore(truth, reports, {1000, 0.95, 8});
  EventScoreCI three = BootstrapEventScoreRuns(
      truth, std::vector<Intervals>{reports, reports, reports}, {1000, 0.95, 8});
  EXPECT_EQ(three.runs, 3);
  EXPECT_EQ(three.reports, 15);
  EXPECT_DOUBLE_EQ(three.recall, one.recall);
  EXPECT_DOUBLE_EQ(three.precision, one.precision);
  EXPECT_DOUBLE_EQ(three.f1_ci.lower, one.f1_ci.lower);
  EXPECT_DOUBLE_EQ(three.precision_ci.upper, one.precision_ci.upper);
  // Runs that differ: recall is their mean, precision pools their reports.
  EventScoreCI mixed =
      BootstrapEventScoreRuns(truth, std::vector<Intervals>{reports, {{11, 12}, {60, 61}}});
  EXPECT_DOUBLE_EQ(mixed.recall, (3.0 / 5 + 1.0 / 5) / 2);
  EXPECT_DOUBLE_EQ(mixed.precision, (3.0 + 1.0) / (5 + 2));
}

TEST(EventBootstrap, RecallIntervalCoversTheTruthAboutAsOftenAsClaimed) {
  // 300 data sets of 40 events, each detected with probability 0.7.
  Rng rng(12);
  int covered = 0;
  const int kSets = 300;
  for (int set = 0; set < kSets; ++set) {
    Intervals truth, reports;
    for (int i = 0; i < 40; ++i) {
      const int64_t s = 1 + 50 * i;
      truth.push_back({s, s + 10});
      if (rng.Bernoulli(0.7)) reports.push_back({s + 2, s + 3});
    }
    EventScoreCI ci = BootstrapEventScore(truth, reports, {600, 0.95, rng.Next()});
    covered += ci.recall_ci.lower <= 0.7 && 0.7 <= ci.recall_ci.upper;
  }
  const double coverage = static_cast<double>(covered) / kSets;
  EXPECT_GT(coverage, 0.88);
  EXPECT_LT(coverage, 0.99);
}

}  // namespace
}  // namespace mainstream
