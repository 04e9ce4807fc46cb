#include <gtest/gtest.h>

#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/events.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

using testing::InputErrorOf;

FrameLabels FromString(const std::string& s) {
  FrameLabels l;
  for (char c : s) l.push_back(c == '1' ? 1 : 0);
  return l;
}

TEST(Events, MaximalRunsHandChecked) {
  using V = std::vector<FrameInterval>;
  EXPECT_EQ(EventsFromLabels(FromString("0110011101")), (V{{2, 3}, {6, 8}, {10, 10}}));
  EXPECT_EQ(EventsFromLabels(FromString("1111")), (V{{1, 4}}));
  EXPECT_EQ(EventsFromLabels(FromString("1000")), (V{{1, 1}}));
  EXPECT_TRUE(EventsFromLabels(FromString("0000")).empty());
  EXPECT_TRUE(EventsFromLabels({}).empty());
}

TEST(Events, RandomLabelsRoundTripAndRunsAreMaximal) {
  Rng rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t n = 1 + static_cast<int64_t>(rng.Index(300));
    const double p_stay = rng.Uniform(0.3, 0.97);
    FrameLabels l(static_cast<size_t>(n));
    l[0] = rng.Bernoulli(0.5);
    for (size_t i = 1; i < l.size(); ++i) l[i] = rng.Bernoulli(p_stay) ? l[i - 1] : 1 - l[i - 1];
    std::vector<FrameInterval> events = EventsFromLabels(l);
    EXPECT_EQ(LabelsFromEvents(events, n), l);
    int64_t prev_end = -1;
    for (const FrameInterval& e : events) {
      ASSERT_FALSE(e.empty());
      EXPECT_GT(e.start, prev_end + 1);  // disjoint and separated by at least one 0
      if (e.start > 1) {
        EXPECT_EQ(l[static_cast<size_t>(e.start - 2)], 0);
      }
      if (e.end < n) {
        EXPECT_EQ(l[static_cast<size_t>(e.end)], 0);
      }
      prev_end = e.end;
    }
  }
}

TEST(Events, StatsHandChecked) {
  FrameLabels l = FromString("0110011101");  // events of 2, 3, 1 frames; 6 of 10 frames inside
  EventStats s = EventStatsFromLabels(l, "l.csv");
  EXPECT_EQ(s.lengths, (std::vector<double>{2, 3, 1}));
  EXPECT_DOUBLE_EQ(s.mean_length, 2);
  EXPECT_DOUBLE_EQ(s.min_length, 1);
  EXPECT_DOUBLE_EQ(s.frequency, 0.6);
  EXPECT_EQ(s.correlation, 0);
  EXPECT_NO_THROW(s.Validate("l.csv"));
  // Round trip through the package JSON keeps everything.
  EventStats back = EventStats::FromJson(JsonView(s.ToJson(), "test"));
  EXPECT_EQ(back.lengths, s.lengths);
  EXPECT_DOUBLE_EQ(back.frequency, s.frequency);

  EventStats all = EventStatsFromLabels(FromString("111"), "all");
  EXPECT_DOUBLE_EQ(all.frequency, 1);
  EXPECT_NO_THROW(all.Validate("all"));
  EXPECT_EQ(SummarizeLabels(l),
            "10 frames, 6 positive (60.0%), 3 events, length mean 2.0 / min 1 / max 3 frames");
  EXPECT_EQ(SummarizeLabels(FromString("00")), "2 frames, 0 positive (0.0%), 0 events");
}

TEST(Events, SmoothingFillsShortGapsThenDropsShortEvents) {
  FrameLabels l = FromString("0101100010000111011");
  EXPECT_EQ(SmoothLabels(l, 0, 1), l);
  // Gaps of <= 1 frame filled: [2,5] [9,9] [14,19]; leading zeros untouched.
  EXPECT_EQ(SmoothLabels(l, 1, 1), FromString("0111100010000111111"));
  // Then events shorter than 2 frames cleared.
  EXPECT_EQ(SmoothLabels(l, 1, 2), FromString("0111100000000111111"));
  // Without filling, the short events go first: [4,5] [14,16] [18,19] remain.
  EXPECT_EQ(SmoothLabels(l, 0, 2), FromString("0001100000000111011"));
  EXPECT_EQ(SmoothLabels(l, 3, 1), FromString("0111111110000111111"));
  EXPECT_THROW(SmoothLabels(l, -1, 1), InputError);
  EXPECT_THROW(SmoothLabels(l, 0, 0), InputError);
  // Brute force: filling never shortens, dropping never lengthens.
  Rng rng(2);
  for (int trial = 0; trial < 100; ++trial) {
    FrameLabels r(1 + rng.Index(200));
    for (auto& v : r) v = rng.Bernoulli(0.5);
    const int64_t gap = static_cast<int64_t>(rng.Index(4)),
                  len = 1 + static_cast<int64_t>(rng.Index(4));
    FrameLabels s = SmoothLabels(r, gap, len);
    for (const FrameInterval& e : EventsFromLabels(s)) EXPECT_GE(e.length(), len);
    std::vector<FrameInterval> ev = EventsFromLabels(s);
    for (size_t i = 1; i < ev.size(); ++i) EXPECT_GT(ev[i].start - ev[i - 1].end - 1, gap);
    EXPECT_EQ(SmoothLabels(s, gap, len), s);  // idempotent
  }
}

TEST(Events, ErrorsNameTheOrigin) {
  EXPECT_NE(InputErrorOf([] {
              EventStatsFromLabels(FromString("000"), "quiet.csv");
            }).find("quiet.csv: no events"),
            std::string::npos);
  std::string outside = InputErrorOf([] { LabelsFromEvents({{3, 12}}, 10); });
  EXPECT_NE(outside.find("event [3, 12] must be non-empty and inside frames 1..10"),
            std::string::npos)
      << outside;
  EXPECT_FALSE(InputErrorOf([] { LabelsFromEvents({{5, 4}}, 10); }).empty());
  std::string overlap = InputErrorOf([] { EventStatsFromEvents({{1, 5}, {4, 6}}, 10, "ev"); });
  EXPECT_NE(overlap.find("ev: events must be sorted and disjoint"), std::string::npos) << overlap;
}

TEST(FrameIntervalTest, OverlapIsInclusiveAndEmptyNeverOverlaps) {
  FrameInterval a{10, 20};
  EXPECT_TRUE(a.Overlaps({20, 30}));
  EXPECT_TRUE(a.Overlaps({1, 10}));
  EXPECT_TRUE(a.Overlaps({12, 13}));
  EXPECT_TRUE(a.Overlaps({1, 100}));
  EXPECT_FALSE(a.Overlaps({21, 30}));
  EXPECT_FALSE(a.Overlaps({1, 9}));
  EXPECT_FALSE(a.Overlaps({15, 14}));
  EXPECT_EQ(a.length(), 11);
  EXPECT_EQ((FrameInterval{5, 4}).length(), 0);
  EXPECT_EQ(a.ToString(), "[10, 20]");
}

}  // namespace
}  // namespace mainstream
