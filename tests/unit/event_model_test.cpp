#include "mainstream/schedule/event_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"

namespace mainstream {
namespace {

// Brute force over all 2^n outcome sequences of the correlated process.
struct Brute {
  double detect = 0;  // P(some run of >= x)
  double runs = 0;    // E[# maximal runs of >= x]
};
Brute Enumerate(int n, double p, double c, int x) {
  Brute b;
  for (int mask = 0; mask < (1 << n); ++mask) {
    double prob = 1;
    for (int k = 0; k < n; ++k) {
      bool cur = (mask >> k) & 1;
      if (k == 0) {
        prob *= cur ? p : 1 - p;
      } else {
        bool prev = (mask >> (k - 1)) & 1;
        double p_pos = prev ? c + (1 - c) * p : (1 - c) * p;
        prob *= cur ? p_pos : 1 - p_pos;
      }
    }
    int run = 0, runs = 0;
    for (int k = 0; k < n; ++k) {
      run = ((mask >> k) & 1) ? run + 1 : 0;
      if (run == x) ++runs;
    }
    if (runs > 0) b.detect += prob;
    b.runs += prob * runs;
  }
  return b;
}

TEST(EventModel, SamplesInFollowsTheRandomPhase) {
  SampleCount a = SamplesIn(10, 4);  // 2.5 -> 2 or 3, half each
  EXPECT_EQ(a.low, 2);
  EXPECT_NEAR(a.p_high, 0.5, 1e-12);
  SampleCount b = SamplesIn(3, 4);  // shorter than the stride: 1 w.p. 3/4
  EXPECT_EQ(b.low, 0);
  EXPECT_NEAR(b.p_high, 0.75, 1e-12);
  SampleCount c = SamplesIn(12, 4);  // exact multiple
  EXPECT_EQ(c.low, 3);
  EXPECT_EQ(c.p_high, 0);
  EXPECT_EQ(SamplesIn(0, 3).low, 0);
}

TEST(EventModel, DetectionAndRunsMatchBruteForce) {
  for (double p : {0.1, 0.5, 0.93}) {
    for (double c : {0.0, 0.3, 0.8}) {
      for (int x : {1, 2, 3}) {
        std::vector<double> dp = DetectionByCount(p, c, x, 9);
        for (int n = 0; n <= 9; ++n) {
          Brute b = Enumerate(n, p, c, x);
          EXPECT_NEAR(dp[static_cast<size_t>(n)], b.detect, 1e-12)
              << "p=" << p << " c=" << c << " x=" << x << " n=" << n;
          EXPECT_NEAR(ExpectedRuns(n, p, c, x), b.runs, 1e-12)
              << "p=" << p << " c=" << c << " x=" << x << " n=" << n;
        }
      }
    }
  }
}

TEST(EventModel, XEqualsOneHasTheClosedForm) {
  // P(miss all of n) = (1-p) * (1 - (1-c) p)^(n-1): the paper's Eq. 3 with the
  // correlation defined as "repeat the previous outcome".
  const double p = 0.7, c = 0.4;
  std::vector<double> dp = DetectionByCount(p, c, 1, 12);
  for (int n = 1; n <= 12; ++n) {
    double miss = (1 - p) * std::pow(1 - (1 - c) * p, n - 1);
    EXPECT_NEAR(dp[static_cast<size_t>(n)], 1 - miss, 1e-12);
  }
}

TEST(EventModel, RecallGrowsWithRateAndPrecisionWithVoting) {
  EventStats ev;
  ev.mean_length = ev.min_length = 20;
  ev.frequency = 0.1;
  ev.correlation = 0.3;
  double prev = -1;
  for (double stride : {30.0, 15.0, 8.0, 4.0, 2.0, 1.0}) {
    EventPrediction p = PredictEvents(0.8, 0.05, ev, stride, 1);
    EXPECT_GE(p.recall, prev - 1e-12);
    prev = p.recall;
  }
  EventPrediction x1 = PredictEvents(0.9, 0.1, ev, 1, 1);
  EventPrediction x3 = PredictEvents(0.9, 0.1, ev, 1, 3);
  EXPECT_GT(x3.precision, x1.precision);
  EXPECT_LE(x3.recall, x1.recall + 1e-12);
}

TEST(EventModel, EventLengthListAveragesRecall) {
  EventStats one;
  one.mean_length = one.min_length = 6;
  one.frequency = 0.2;
  one.correlation = 0.2;
  EventStats list = one;
  list.lengths = {2, 10};
  list.min_length = 2;
  EventPrediction a = PredictEvents(0.8, 0.05, list, 5, 1);
  EventStats two = one, ten = one;
  two.mean_length = two.min_length = 2;
  ten.mean_length = ten.min_length = 10;
  ten.min_length = 2;
  double expect = 0.5 * (PredictEvents(0.8, 0.05, two, 5, 1).recall +
                         PredictEvents(0.8, 0.05, ten, 5, 1).recall);
  EXPECT_NEAR(a.recall, expect, 1e-12);
}

TEST(EventModel, BadInputIsRejected) {
  EventStats ev;
  ev.mean_length = ev.min_length = 10;
  ev.frequency = 0.1;
  EXPECT_THROW(PredictEvents(0.5, 0.1, ev, 0.5, 1), InputError);  // stride < 1
  EXPECT_THROW(PredictEvents(0.5, 0.1, ev, 2, 0), InputError);    // X < 1
  EXPECT_THROW(PredictEvents(1.5, 0.1, ev, 2, 1), InputError);    // TPR > 1
  ev.frequency = 0;
  EXPECT_THROW(PredictEvents(0.5, 0.1, ev, 2, 1), InputError);
  ev.frequency = 0.1;
  ev.correlation = 1.0;
  EXPECT_THROW(PredictEvents(0.5, 0.1, ev, 2, 1), InputError);
  ev.correlation = std::nan("");
  EXPECT_THROW(PredictEvents(0.5, 0.1, ev, 2, 1), InputError);
}

// The analytical model against a simulation of the same process, on a seeded
// grid of parameters: recall within 0.02, precision within 0.05.
TEST(EventModel, PredictionAgreesWithMonteCarloOnASeededGrid) {
  Rng rng(20240611);
  int cases = 0;
  for (int k = 0; k < 60; ++k) {
    double tpr = rng.Uniform(0.3, 0.99);
    double fpr = rng.Uniform(0.0, 0.3);
    EventStats ev;
    ev.mean_length = rng.Uniform(1, 60);
    ev.min_length = ev.mean_length;
    if (k % 3 == 0) {  // a list of event lengths
      ev.lengths = {ev.mean_length * 0.5, ev.mean_length, ev.mean_length * 1.5};
      ev.min_length = ev.mean_length * 0.5;
    }
    ev.frequency = rng.Uniform(0.02, 0.6);
    ev.correlation = rng.Uniform(0, 0.9);
    double stride = rng.Uniform(1, 20);
    int x = 1 + static_cast<int>(rng.Index(4));
    EventPrediction p = PredictEvents(tpr, fpr, ev, stride, x);
    MonteCarloResult m =
        SimulateEvents(tpr, fpr, ev, stride, x, 40000, 1000 + static_cast<uint64_t>(k));
    EXPECT_NEAR(p.recall, m.recall, 0.02)
        << "case " << k << " tpr=" << tpr << " stride=" << stride << " x=" << x;
    if (m.true_reports + m.false_reports > 200) {
      EXPECT_NEAR(p.precision, m.precision, 0.05)
          << "case " << k << " fpr=" << fpr << " stride=" << stride;
      ++cases;
    }
  }
  EXPECT_GT(cases, 40);  // most of the grid reports enough events to compare precision
}

TEST(EventModel, MonteCarloIsReproducible) {
  EventStats ev;
  ev.mean_length = ev.min_length = 12;
  ev.frequency = 0.2;
  ev.correlation = 0.3;
  MonteCarloResult a = SimulateEvents(0.8, 0.1, ev, 3.5, 2, 5000, 7);
  MonteCarloResult b = SimulateEvents(0.8, 0.1, ev, 3.5, 2, 5000, 7);
  MonteCarloResult c = SimulateEvents(0.8, 0.1, ev, 3.5, 2, 5000, 8);
  EXPECT_EQ(a.detected, b.detected);
  EXPECT_EQ(a.false_reports, b.false_reports);
  EXPECT_NE(a.false_reports + a.detected * 1000, c.false_reports + c.detected * 1000);
}

}  // namespace
}  // namespace mainstream
