// The labels module end to end: MOT boxes -> label file -> events and their
// statistics -> splits; and sampled, correlated per-frame outcomes -> X-voting
// detector -> event scoring, compared with the analytical model that the
// scheduler uses.
#include <gtest/gtest.h>

#include <string>

#include "mainstream/core/random.h"
#include "mainstream/labels/correlation.h"
#include "mainstream/labels/detector.h"
#include "mainstream/labels/events.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/labels/mot.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/labels/splits.h"
#include "mainstream/schedule/event_model.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

TEST(LabelsPipeline, MotToLabelFileToEventsAndSplits) {
  // One person walks down through the region y >= 50 in frames 3..6 and again in 10..11.
  std::string gt;
  for (int f = 1; f <= 12; ++f) {
    const int y = (f >= 3 && f <= 6) || (f >= 10 && f <= 11) ? 40 : 0;
    gt += std::to_string(f) + ",1,10," + std::to_string(y) + ",10,20,1,-1,-1,-1\n";
  }
  testing::TempDir tmp;
  testing::WriteText(tmp / "gt.txt", gt);
  testing::WriteText(tmp / "seqinfo.ini", "[Sequence]\nseqLength=12\nimWidth=100\nimHeight=100\n");
  PersonRuleArgs args;
  args.roi = "0,50,100,100";
  FrameLabels labels = LabelsFromMot(LoadMotSequence(tmp / "gt.txt"), ParsePersonRule(args));
  WriteLabelFile(tmp / "labels.csv", labels);
  FrameLabels back = ReadLabelFile(tmp / "labels.csv");
  EXPECT_NO_THROW(CheckLabelFrameCount(back, "labels.csv", 12, "gt.txt"));
  EXPECT_EQ(EventsFromLabels(back), (std::vector<FrameInterval>{{3, 6}, {10, 11}}));
  EventStats stats = EventStatsFromLabels(back, "labels.csv");
  EXPECT_DOUBLE_EQ(stats.mean_length, 3);
  EXPECT_DOUBLE_EQ(stats.frequency, 0.5);

  // Perfect per-frame outcomes at every frame: F1 = 1 for any X up to the shortest event.
  std::vector<int64_t> frames;
  for (int64_t f = 1; f <= 12; ++f) frames.push_back(f);
  for (int x = 1; x <= 2; ++x) {
    EventScore s =
        ScoreEvents(EventsFromLabels(back), EventIntervals(DetectEvents(frames, back, x)));
    EXPECT_EQ(s.f1, 1);
  }
  EXPECT_EQ(
      ScoreEvents(EventsFromLabels(back), EventIntervals(DetectEvents(frames, back, 3))).recall,
      0.5);

  // 10 usable frames: 5 / 2.5 / 2.5; the tie goes to the earlier role.
  TemporalSplit split = MakeTemporalSplit(12, SplitOptions{0.5, 0.25, 0.25, 1, false, 0});
  EXPECT_EQ(split.ToString(), "train [1, 5] | gap 1 | validation [7, 9] | gap 1 | test [11, 12]");
}

// Simulates the analytical model's process on a real frame timeline (fixed
// event and gap lengths, one sampling phase, outcomes restarted at every
// event/gap boundary), runs the streaming detector and scores the reports.
EventScore SimulateOnTimeline(double tpr, double fpr, double c, int64_t event_len, int64_t gap_len,
                              int64_t stride, int x, int cycles, uint64_t seed) {
  Rng rng(seed);
  std::vector<FrameInterval> truth;
  XVotingDetector detector(x);
  std::vector<FrameInterval> reports;
  int64_t frame = 1,
          next_sample = 1 + static_cast<int64_t>(rng.Index(static_cast<uint64_t>(stride)));
  for (int k = 0; k < cycles; ++k) {
    for (bool inside : {false, true}) {
      const int64_t len = inside ? event_len : gap_len;
      if (inside) truth.push_back({frame, frame + len - 1});
      bool first = true, prev = false;
      for (int64_t i = 0; i < len; ++i, ++frame) {
        if (frame != next_sample) continue;
        next_sample += stride;
        const bool outcome = !first && rng.Bernoulli(c) ? prev : rng.Bernoulli(inside ? tpr : fpr);
        first = false;
        prev = outcome;
        if (auto ended = detector.Add(frame, outcome).ended) reports.push_back(ended->interval());
      }
    }
  }
  if (auto last = detector.Flush()) reports.push_back(last->interval());
  return ScoreEvents(truth, reports);
}

TEST(LabelsPipeline, DetectorAndScoringAgreeWithTheAnalyticalModel) {
  // The model counts a run of positives that crosses an event/gap boundary as
  // two reports (one true, one false); on a real timeline it is one true
  // report, so measured precision is slightly higher. Otherwise both describe
  // the same process.
  struct Case {
    int64_t stride;
    int x;
    double c;
  };
  const double tpr = 0.8, fpr = 0.05;
  const int64_t event_len = 30, gap_len = 120;
  EventStats stats;
  stats.mean_length = stats.min_length = static_cast<double>(event_len);
  stats.lengths = {static_cast<double>(event_len)};
  stats.frequency = static_cast<double>(event_len) / static_cast<double>(event_len + gap_len);
  int i = 0;
  for (Case k :
       {Case{1, 2, 0.5}, Case{3, 1, 0.0}, Case{3, 3, 0.5}, Case{7, 2, 0.0}, Case{7, 3, 0.3}}) {
    stats.correlation = k.c;
    EventPrediction pred = PredictEvents(tpr, fpr, stats, static_cast<double>(k.stride), k.x);
    EventScore meas = SimulateOnTimeline(tpr, fpr, k.c, event_len, gap_len, k.stride, k.x, 3000,
                                         SubSeed(77, i++));
    EXPECT_NEAR(meas.recall, pred.recall, 0.03)
        << "stride " << k.stride << " x " << k.x << " c " << k.c;
    EXPECT_NEAR(meas.precision, pred.precision, 0.05)
        << "stride " << k.stride << " x " << k.x << " c " << k.c;
    EXPECT_GE(meas.precision, pred.precision - 0.01);
    EXPECT_NEAR(meas.f1, pred.f1, 0.04) << "stride " << k.stride << " x " << k.x << " c " << k.c;
  }
}

}  // namespace
}  // namespace mainstream
