#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/detector.h"

namespace mainstream {
namespace {

// Reference: maximal runs of >= x positives among the samples, non-streaming.
std::vector<FrameInterval> ReferenceEvents(const std::vector<int64_t>& frames,
                                           const std::vector<uint8_t>& pos, int x) {
  std::vector<FrameInterval> out;
  size_t i = 0;
  while (i < frames.size()) {
    if (!pos[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j + 1 < frames.size() && pos[j + 1]) ++j;
    if (static_cast<int>(j - i + 1) >= x) out.push_back({frames[i], frames[j]});
    i = j + 1;
  }
  return out;
}

TEST(XVoting, HandCheckedStreamWithXEquals2) {
  XVotingDetector d(2);
  // Samples every 3 frames: + - + + + - + (+ at the end, flushed)
  EXPECT_FALSE(d.Add(0, true).started);
  EXPECT_EQ(d.run_length(), 1);
  DetectorStep s1 = d.Add(3, false);
  EXPECT_FALSE(s1.started);
  EXPECT_FALSE(s1.ended);  // a single positive never became an event
  EXPECT_FALSE(d.Add(6, true).started);
  DetectorStep s2 = d.Add(9, true);
  ASSERT_TRUE(s2.started);
  EXPECT_EQ(s2.started->start, 6);  // the first frame of the voting run
  EXPECT_EQ(s2.started->end, 9);
  EXPECT_EQ(s2.started->samples, 2);
  EXPECT_TRUE(d.in_event());
  DetectorStep s3 = d.Add(12, true);
  EXPECT_FALSE(s3.started);  // already open
  EXPECT_EQ(d.current().end, 12);
  DetectorStep s4 = d.Add(15, false);
  ASSERT_TRUE(s4.ended);
  EXPECT_EQ(s4.ended->interval(), (FrameInterval{6, 12}));  // ends at the last positive frame
  EXPECT_EQ(s4.ended->samples, 3);
  EXPECT_FALSE(s4.ended->peak_score.has_value());
  EXPECT_FALSE(d.in_event());
  d.Add(18, true);
  EXPECT_FALSE(d.Flush().has_value());  // a run shorter than X is not an event
  EXPECT_EQ(d.samples_seen(), 7);
}

TEST(XVoting, XEquals1ReportsEveryRunAndFlushClosesTheLast) {
  std::vector<DetectedEvent> e = DetectEvents({1, 2, 3, 4, 5, 6, 7}, {1, 0, 1, 1, 0, 0, 1}, 1);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].interval(), (FrameInterval{1, 1}));
  EXPECT_EQ(e[1].interval(), (FrameInterval{3, 4}));
  EXPECT_EQ(e[2].interval(), (FrameInterval{7, 7}));  // open at the end of the stream
  EXPECT_EQ(EventIntervals(e), (std::vector<FrameInterval>{{1, 1}, {3, 4}, {7, 7}}));
}

TEST(XVoting, PeakScoreCoversTheWholeRun) {
  XVotingDetector d(3);
  d.Add(10, true, 0.95);  // before the event opens, but part of it
  d.Add(11, true, 0.7);
  DetectorStep open = d.Add(12, true, 0.8);
  ASSERT_TRUE(open.started);
  EXPECT_DOUBLE_EQ(*open.started->peak_score, 0.95);
  EXPECT_EQ(open.started->peak_frame, 10);
  d.Add(13, true, 0.99);
  DetectorStep close =
      d.Add(14, false, 0.999);  // a negative sample's score is not part of the event
  ASSERT_TRUE(close.ended);
  EXPECT_DOUBLE_EQ(*close.ended->peak_score, 0.99);
  EXPECT_EQ(close.ended->peak_frame, 13);
  // The next event starts from scratch.
  d.Add(15, true, 0.6);
  d.Add(16, true, 0.61);
  d.Add(17, true, 0.62);
  std::optional<DetectedEvent> last = d.Flush();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->interval(), (FrameInterval{15, 17}));
  EXPECT_DOUBLE_EQ(*last->peak_score, 0.62);
  EXPECT_EQ(last->peak_frame, 17);
  // Ties keep the earliest frame.
  d.Add(18, true, 0.9);
  d.Add(19, true, 0.9);
  d.Add(20, true, 0.9);
  std::optional<DetectedEvent> tie = d.Flush();
  ASSERT_TRUE(tie);
  EXPECT_EQ(tie->peak_frame, 18);
  // After a flush the stream may continue with later frames.
  EXPECT_FALSE(d.Add(21, true, 0.5).started);
}

TEST(XVoting, RejectsBadInput) {
  EXPECT_THROW(XVotingDetector(0), InputError);
  XVotingDetector d(1);
  d.Add(5, false);
  EXPECT_THROW(d.Add(5, true), RuntimeError);
  EXPECT_THROW(d.Add(4, true), RuntimeError);
  EXPECT_THROW(d.Add(6, true, std::nan("")), RuntimeError);
  try {
    d.Add(3, true);
    ADD_FAILURE() << "no error for a frame going back";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("got frame 3 after frame 5"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(DetectEvents({1, 2}, {1}, 1), InputError);
}

TEST(XVoting, RandomStreamsMatchTheReference) {
  Rng rng(21);
  for (int trial = 0; trial < 400; ++trial) {
    const int x = 1 + static_cast<int>(rng.Index(5));
    const size_t n = rng.Index(200);
    const double p = rng.Uniform(0.2, 0.95);
    std::vector<int64_t> frames;
    std::vector<uint8_t> pos;
    int64_t f = static_cast<int64_t>(rng.Index(5));
    for (size_t i = 0; i < n; ++i) {
      frames.push_back(f);
      f += 1 + static_cast<int64_t>(rng.Index(4));
      pos.push_back(rng.Bernoulli(p));
    }
    std::vector<FrameInterval> want = ReferenceEvents(frames, pos, x);
    // Streaming, checking each notification.
    XVotingDetector d(x);
    std::vector<FrameInterval> got_start, got;
    for (size_t i = 0; i < n; ++i) {
      DetectorStep s = d.Add(frames[i], pos[i] != 0, static_cast<double>(i));
      if (s.started) {
        EXPECT_EQ(s.started->samples, x);
        EXPECT_EQ(s.started->end, frames[i]);
        got_start.push_back({s.started->start, s.started->start});
      }
      if (s.ended) {
        EXPECT_FALSE(pos[i]);
        EXPECT_EQ(*s.ended->peak_score,
                  static_cast<double>(i - 1));  // increasing scores: the last positive
        got.push_back(s.ended->interval());
      }
    }
    if (auto last = d.Flush()) got.push_back(last->interval());
    ASSERT_EQ(got, want) << "trial " << trial << " x=" << x;
    ASSERT_EQ(got_start.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(got_start[k].start, want[k].start);
    EXPECT_EQ(EventIntervals(DetectEvents(frames, pos, x)), want);
  }
}

}  // namespace
}  // namespace mainstream
