#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/correlation.h"
#include "mainstream/labels/events.h"

namespace mainstream {
namespace {

using Groups = std::vector<std::vector<uint8_t>>;

// Outcomes of the analytical model's process: the first drawn with p, each
// later one repeats the previous with probability c, else is drawn afresh.
std::vector<uint8_t> ModelOutcomes(Rng& rng, size_t n, double p, double c) {
  std::vector<uint8_t> out;
  for (size_t k = 0; k < n; ++k) {
    out.push_back(k > 0 && rng.Bernoulli(c) ? out.back() : static_cast<uint8_t>(rng.Bernoulli(p)));
  }
  return out;
}

TEST(Correlation, HandChecked) {
  // Pairs 1-1, 1-0, 0-0: r = 2/3; p = 1/2, s = 1/2; c = (2/3 - 1/2) / (1/2) = 1/3.
  CorrelationEstimate e = EstimateCorrelation({{1, 1, 0, 0}});
  EXPECT_TRUE(e.defined);
  EXPECT_EQ(e.pairs, 3);
  EXPECT_EQ(e.outcomes, 4);
  EXPECT_DOUBLE_EQ(e.repeat_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(e.positive_rate, 0.5);
  EXPECT_DOUBLE_EQ(e.chance_repeat, 0.5);
  EXPECT_DOUBLE_EQ(e.correlation, 1.0 / 3);
  // Pairs never cross groups: {1,1} {0,0} has r = 1, s = 1/2 -> c = 1, clamped.
  CorrelationEstimate split = EstimateCorrelation({{1, 1}, {0, 0}});
  EXPECT_EQ(split.pairs, 2);
  EXPECT_DOUBLE_EQ(split.unclamped, 1);
  EXPECT_DOUBLE_EQ(split.correlation, kMaxCorrelation);
  // Whereas {1,1,0,0} as one group has a change.
  EXPECT_LT(EstimateCorrelation({{1, 1, 0, 0}}).correlation, split.correlation);
  // Singletons add to p but not to pairs: p = 3/5, s = 0.52, r = 2/3.
  CorrelationEstimate single = EstimateCorrelation({{1, 1, 0, 0}, {1}});
  EXPECT_EQ(single.pairs, 3);
  EXPECT_DOUBLE_EQ(single.positive_rate, 0.6);
  EXPECT_NEAR(single.correlation, (2.0 / 3 - 0.52) / 0.48, 1e-12);
}

TEST(Correlation, ClampedAndUndefinedCases) {
  CorrelationEstimate alternating = EstimateCorrelation({{0, 1, 0, 1, 0, 1}});
  EXPECT_TRUE(alternating.defined);
  EXPECT_LT(alternating.unclamped, 0);
  EXPECT_EQ(alternating.correlation, 0);
  CorrelationEstimate constant = EstimateCorrelation({{1, 1, 1}, {1, 1}});
  EXPECT_FALSE(constant.defined);  // s = 1: nothing to learn about c
  EXPECT_EQ(constant.correlation, 0);
  EXPECT_FALSE(EstimateCorrelation({}).defined);
  EXPECT_FALSE(EstimateCorrelation({{1}, {0}}).defined);  // no pairs
  EXPECT_EQ(EstimateCorrelation({{1}, {0}}).positive_rate, 0.5);
}

TEST(Correlation, RecoversTheModelsCorrelation) {
  Rng rng(17);
  for (double p : {0.15, 0.5, 0.85}) {
    for (double c : {0.0, 0.3, 0.6, 0.9}) {
      Groups groups;
      for (int g = 0; g < 1500; ++g) groups.push_back(ModelOutcomes(rng, 2 + rng.Index(30), p, c));
      CorrelationEstimate e = EstimateCorrelation(groups);
      EXPECT_NEAR(e.correlation, c, 0.03) << "p=" << p << " c=" << c;
      EXPECT_NEAR(e.positive_rate, p, 0.02);
      // r = c + (1 - c) s holds for the estimate by construction.
      EXPECT_NEAR(e.repeat_rate, e.unclamped + (1 - e.unclamped) * e.chance_repeat, 1e-12);
    }
  }
}

TEST(Correlation, StrataWithDifferentRatesNeedTheStratifiedEstimate) {
  // Inside events a model fires with p = TPR = 0.9, between them with p = FPR = 0.05.
  Rng rng(23);
  const double c = 0.4;
  Groups events, gaps;
  for (int g = 0; g < 800; ++g) {
    events.push_back(ModelOutcomes(rng, 3 + rng.Index(20), 0.9, c));
    gaps.push_back(ModelOutcomes(rng, 3 + rng.Index(40), 0.05, c));
  }
  CorrelationEstimate stratified = EstimateCorrelationStratified({events, gaps});
  EXPECT_NEAR(stratified.correlation, c, 0.04);
  // Pooling both as one stratum mistakes the rate difference for correlation.
  Groups pooled = events;
  pooled.insert(pooled.end(), gaps.begin(), gaps.end());
  EXPECT_GT(EstimateCorrelation(pooled).correlation, c + 0.2);
  // One stratum alone is the plain estimate.
  EXPECT_DOUBLE_EQ(EstimateCorrelationStratified({events}).correlation,
                   EstimateCorrelation(events).correlation);
}

TEST(Correlation, SampledOutcomesFollowEventBoundaries) {
  //           frame: 1 2 3 4 5 6 7 8 9 10 11 12
  FrameLabels labels{0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0};
  FrameLabels preds{1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1};
  SegmentOutcomes all = SampledOutcomes(labels, preds);
  EXPECT_EQ(all.events, (Groups{{1, 0, 1}, {1, 1, 0, 1}}));
  EXPECT_EQ(all.gaps, (Groups{{1, 0}, {1}, {0, 1}}));
  // Every second frame from frame 2: frames 2, 4, 6, 8, 10, 12. The one-frame
  // gap at frame 6 is sampled and splits the events.
  SegmentOutcomes half = SampledOutcomes(labels, preds, 2, 1);
  EXPECT_EQ(half.events, (Groups{{0}, {1, 1}}));
  EXPECT_EQ(half.gaps, (Groups{{0}, {1}, {1}}));
  // Every third frame from frame 1: frames 1, 4, 7, 10. Frame 6 is not
  // sampled, yet frames 4 and 7 lie in different events: no pair between them.
  SegmentOutcomes third = SampledOutcomes(labels, preds, 3, 0);
  EXPECT_EQ(third.events, (Groups{{0}, {1, 1}}));
  EXPECT_EQ(third.gaps, (Groups{{1}}));
  EXPECT_THROW(SampledOutcomes(labels, FrameLabels(3), 1, 0), InputError);
  EXPECT_THROW(SampledOutcomes(labels, preds, 0, 0), InputError);
  EXPECT_THROW(SampledOutcomes(labels, preds, 2, 2), InputError);
}

TEST(Correlation, PredictionsFromTheModelProcessGiveBackC) {
  // A labelled sequence with events and gaps; per-frame predictions generated
  // by the model's process (restarted in every segment).
  Rng rng(31);
  FrameLabels labels, preds;
  const double c = 0.7, tpr = 0.8, fpr = 0.1;
  for (int k = 0; k < 600; ++k) {
    const size_t event_len = 5 + rng.Index(30), gap_len = 10 + rng.Index(60);
    for (uint8_t v : ModelOutcomes(rng, gap_len, fpr, c)) labels.push_back(0), preds.push_back(v);
    for (uint8_t v : ModelOutcomes(rng, event_len, tpr, c)) labels.push_back(1), preds.push_back(v);
  }
  CorrelationEstimate e = EstimatePredictionCorrelation(labels, preds);
  EXPECT_NEAR(e.correlation, c, 0.03);
  EXPECT_GT(e.pairs, 30000);
}

}  // namespace
}  // namespace mainstream
