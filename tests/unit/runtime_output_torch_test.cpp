// Per-app outputs (events as JSON Lines, per-frame scores) and scoring a run
// against labels.
#include <gtest/gtest.h>

#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/runtime/run_report.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

std::vector<std::string> Lines(const fs::path& file) {
  std::vector<std::string> out;
  std::string text = testing::ReadText(file), line;
  for (char ch : text) {
    if (ch == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += ch;
    }
  }
  EXPECT_TRUE(line.empty()) << "last line of " << file << " is not terminated";
  return out;
}

TEST(RuntimeAppOutput, WritesEachEventAsItEndsAndTheOpenOneAtTheEnd) {
  TempDir tmp;
  const fs::path events = tmp / "out" / "ped.events.jsonl";
  const fs::path frames = tmp / "out" / "ped.frames.csv";
  AppOutput o("ped", /*x_vote=*/2, /*threshold=*/0.5, /*fps=*/10, events, frames);
  // Samples every 2 frames: 1 2 [3 5 7] 9 | 11 [13 15] (cut at the end).
  const std::vector<std::pair<int64_t, double>> samples = {
      {1, 0.9}, {3, 0.2}, {5, 0.6}, {7, 0.8}, {9, 0.7}, {11, 0.1}, {13, 0.5}, {15, 0.55}};
  size_t lines_before_end = 0;
  for (const auto& [f, s] : samples) {
    o.Add(f, s);
    if (f == 11) lines_before_end = Lines(events).size();
  }
  EXPECT_EQ(lines_before_end, 1u) << "the first event is on disk as soon as it ends";
  o.Finish();
  std::vector<ReportedEvent> read = ReadEventsFile(events);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].event.start, 5);
  EXPECT_EQ(read[0].event.end, 9);
  EXPECT_EQ(read[0].reported_frame, 7);  // the second positive completes X = 2
  EXPECT_EQ(read[0].event.samples, 3);
  EXPECT_DOUBLE_EQ(*read[0].event.peak_score, 0.8);
  EXPECT_EQ(read[0].event.peak_frame, 7);
  EXPECT_FALSE(read[0].cut);
  EXPECT_EQ(read[1].event.start, 13);
  EXPECT_TRUE(read[1].cut);
  EXPECT_EQ(read[1].index, 1);
  EXPECT_NEAR(read[1].fps, 10, 1e-9);
  for (const std::string& line : Lines(events)) {
    Json j = ParseJson(line, "line");
    EXPECT_EQ(j["app"], "ped");
    EXPECT_TRUE(j.contains("start_s") && j.contains("end_s") && j.contains("peak_score"));
  }
  EXPECT_NEAR(ParseJson(Lines(events)[0], "l")["start_s"].get<double>(), 0.4,
              1e-9);  // frame 5 at 10 fps
  std::vector<std::string> csv = Lines(frames);
  ASSERT_EQ(csv.size(), samples.size() + 1);
  EXPECT_EQ(csv[0], "frame,time_s,score,positive");
  EXPECT_EQ(csv[1], "1,0.000000,0.9,1");
  EXPECT_EQ(csv[2], "3,0.200000,0.2,0");
  EXPECT_EQ(o.samples(), 8);
  EXPECT_EQ(o.positives(), 6);
  EXPECT_EQ(o.first_frame(), 1);
  EXPECT_THROW(o.Add(17, 0.5), RuntimeError);
  EXPECT_THROW(AppOutput("x", 1, 0.5, 10, tmp / "f").Add(3, NAN), RuntimeError);
}

TEST(RuntimeAppOutput, ReadingABrokenEventsFileNamesTheLine) {
  TempDir tmp;
  testing::WriteText(
      tmp / "a.events.jsonl",
      "{\"app\":\"a\",\"event\":0,\"start_frame\":3,\"end_frame\":4,\"start_s\":0.2,\"end_s\":0.3,"
      "\"reported_frame\":3,\"reported_s\":0.2,\"samples\":2,\"peak_score\":0.9,\"peak_frame\":3,"
      "\"cut\":false}\n{\"app\":\"a\",\"event\":1,\"start_frame\":9,\"end_frame\":4}\n");
  try {
    ReadEventsFile(tmp / "a.events.jsonl");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("a.events.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(RuntimeReport, ScoresOnlyTheFramesRun) {
  //            frame: 1 2 3 4 5 6 7 8 9 10 11 12
  FrameLabels labels{0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1};
  // Frames 3..11: the event [2, 3] is clipped to [3, 3], [11, 12] to [11, 11].
  std::vector<FrameInterval> truth = TrueEventsInRange(labels, {3, 11});
  ASSERT_EQ(truth.size(), 3u);
  EXPECT_EQ(truth[0], (FrameInterval{3, 3}));
  EXPECT_EQ(truth[1], (FrameInterval{6, 8}));
  EXPECT_EQ(truth[2], (FrameInterval{11, 11}));
  EXPECT_THROW(TrueEventsInRange(labels, {3, 13}), InputError);

  AppPrediction pred;
  pred.f1 = 0.5;
  BootstrapOptions bo;
  bo.resamples = 100;
  AppEvaluation e = EvaluateApp("ped", "ped.csv", labels, {{7, 7}, {9, 10}}, {3, 11}, pred, bo);
  EventScore direct = ScoreEvents(truth, {{7, 7}, {9, 10}});
  EXPECT_EQ(e.measured.true_events, 3);
  EXPECT_EQ(e.measured.detected, direct.detected);
  EXPECT_DOUBLE_EQ(e.measured.recall, 1.0 / 3);
  EXPECT_DOUBLE_EQ(e.measured.precision, 0.5);
  EXPECT_DOUBLE_EQ(e.measured.f1, direct.f1);
  Json j = e.ToJson();
  EXPECT_EQ(j["frames"], Json({3, 11}));
  EXPECT_EQ(j["measured"]["true_events"].get<int>(), 3);
  EXPECT_DOUBLE_EQ(j["predicted"]["f1"].get<double>(), 0.5);
  EXPECT_EQ(j["measured"]["f1_ci"].size(), 2u);
}

}  // namespace
}  // namespace mainstream
