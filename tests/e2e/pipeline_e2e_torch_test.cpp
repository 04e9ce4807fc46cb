// scripts/pipeline.sh end to end on a tiny synthetic case: a 96x72 video of a
// bright square (the MOT "person"), three apps labelled from its boxes (by
// rules that all select the square: the mechanics, not the tasks, are tested), a tiny base
// pretrained by the pipeline, packages, schedules at a generous and an impossible budget, msrun
// over sampling phases on held-out frames, and the report. Checks the outputs' content, that a
// re-run redoes nothing, that a changed setting redoes only what depends on it, and that a missing
// prerequisite is named.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "testing/testing.h"
#include "testing/video_fixtures.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

struct Csv {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
};

Csv ReadCsv(const fs::path& file) {
  Csv csv;
  std::istringstream in(testing::ReadText(file));
  std::string line;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream ss(s);
    while (std::getline(ss, cell, ',')) out.push_back(cell);
    if (!s.empty() && s.back() == ',') out.push_back("");
    return out;
  };
  if (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    csv.header = split(line);
  }
  auto chomp = [](std::string& s) {
    if (!s.empty() && s.back() == '\r') s.pop_back();  // Python's csv writes CRLF
  };
  while (std::getline(in, line)) {
    chomp(line);
    if (line.empty()) continue;
    std::vector<std::string> cells = split(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < csv.header.size() && i < cells.size(); ++i)
      row[csv.header[i]] = cells[i];
    csv.rows.push_back(row);
  }
  return csv;
}

class E2EPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const testing::SyntheticVideoSpec s = testing::TrainingVideoSpec(200, 11);
    testing::SyntheticVideo v = testing::WriteSyntheticVideo(Dir() / "square.avi", s);
    testing::WriteMotBoxes(v, Dir() / "gt.txt");
    testing::WriteText(Dir() / "seqinfo.ini", "[Sequence]\nseqLength=200\nframeRate=10\n");
    testing::WriteText(Config(), fmt::format(R"(VIDEO={0}/square.avi
FPS=10
MOT={0}/gt.txt
TRAIN_FRAMES=1-130
TEST_FRAMES=141-200
APPS=(
  "anywhere --roi 0,0,96,72"
  "big      --roi 0,0,96,72 --min-height 15"
  "feet     --roi 0,20,96,72"
)
LABEL_ARGS="--min-event 2"
BASE=""
PRETRAIN_ARGS="--size 64x48 --width-mult 0.25 --last-channel 64 --grid 3x2 --epochs 3 --stride 1 --name tiny"
TRAIN_ARGS="--branchpoints 0,5,7 --epochs 6 --patience 6 --gap 4"
BUDGETS="${{BUDGETS:-0.001 1000}}"
ALGOS="greedy exhaustive nosharing maxsharing"
X_VOTE=1,2
PHASES="${{PHASES:-3}}"
SEED=1
THREADS=1
RUN_THREADS=1
OUT={0}/work
RESULTS={0}/results
)",
                                             Dir().string()));
    first_ = new testing::ToolResult(Pipeline(""));
  }
  static void TearDownTestSuite() {
    delete first_;
    delete dir_;
  }
  static fs::path Dir() { return dir_->path(); }
  static fs::path Config() { return Dir() / "tiny.conf"; }
  static fs::path Results() { return Dir() / "results"; }

  // Runs the pipeline with `env` (VAR=value ...) and the given steps.
  static testing::ToolResult Pipeline(const std::string& env, const std::string& steps = "") {
    return testing::RunShell(fmt::format("{} BIN={} bash {}/scripts/pipeline.sh {} {}\n", env,
                                         MS_TOOLS_DIR, MS_SOURCE_DIR, Config().string(), steps));
  }

  static TempDir* dir_;
  static testing::ToolResult* first_;
};
TempDir* E2EPipeline::dir_ = nullptr;
testing::ToolResult* E2EPipeline::first_ = nullptr;

TEST_F(E2EPipeline, RunsEveryStepAndReportsMeasuredBesidePredicted) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  for (const char* step :
       {"labels: anywhere", "base: pretraining", "profile:", "train: feet (3/3)",
        "schedule: budget 1000 greedy", "run: budget 1000 exhaustive", "report ->"}) {
    EXPECT_NE(first_->err.find(step), std::string::npos) << step << "\n" << first_->err;
  }
  // The impossible budget is recorded as infeasible, not run.
  EXPECT_TRUE(fs::exists(Dir() / "work/schedules/b0.001-greedy.json.infeasible"));
  EXPECT_FALSE(fs::exists(Dir() / "work/runs/b0.001-greedy"));

  // Per app rows for every feasible schedule, measured on the held-out frames.
  Csv apps = ReadCsv(Results() / "apps.csv");
  ASSERT_EQ(apps.rows.size(), 4u * 3u) << testing::ReadText(Results() / "apps.csv");
  for (const auto& r : apps.rows) {
    EXPECT_EQ(r.at("budget"), "1000");
    EXPECT_EQ(r.at("phases"), "3");
    const int events = std::stoi(r.at("true_events"));
    EXPECT_GT(events, 0) << r.at("app");
    const double f1 = std::stod(r.at("f1")), lo = std::stod(r.at("f1_lo")),
                 hi = std::stod(r.at("f1_hi"));
    EXPECT_GE(f1, 0.0);
    EXPECT_LE(f1, 1.0);
    EXPECT_LE(lo, f1 + 1e-9);
    EXPECT_GE(hi, f1 - 1e-9);
    const double pred = std::stod(r.at("pred_f1"));
    EXPECT_GE(pred, 0.0);
    EXPECT_LE(pred, 1.0);
    // Rates as scheduled (18-60 samples over 6 s of video).
    const double fps = std::stod(r.at("fps")), achieved = std::stod(r.at("achieved_fps"));
    EXPECT_NEAR(achieved, fps, 0.1 * fps + 0.2) << r.at("algo") << " " << r.at("app");
    // The baselines' fixed candidates: the package's most / least specialized.
    Json pk = ReadJsonFile(Dir() / "work/packages" / r.at("app") / "mpackage.json");
    int lowest = 1 << 30, highest = -1;
    for (const Json& c : pk["candidates"]) {
      lowest = std::min(lowest, c["branchpoint"].get<int>());
      highest = std::max(highest, c["branchpoint"].get<int>());
    }
    if (r.at("algo") == "nosharing") {
      EXPECT_EQ(std::stoi(r.at("branchpoint")), lowest);
    }
    if (r.at("algo") == "maxsharing") {
      EXPECT_EQ(std::stoi(r.at("branchpoint")), highest);
    }
  }
  // The pooled run behind the rows: the events are those of the labels in frames 141..200.
  Json pooled = ReadJsonFile(Dir() / "work/runs/b1000-greedy/pooled.json");
  EXPECT_EQ(pooled["phases"], 3);
  EXPECT_EQ(pooled["frames"]["first"], 141);
  EXPECT_EQ(pooled["frames"]["last"], 200);
  // Pooled counts are the phases' counts summed; recall is their mean.
  for (size_t i = 0; i < pooled["apps"].size(); ++i) {
    const Json& a = pooled["apps"][i];
    EXPECT_EQ(a["evaluation"]["phases"]["f1"].size(), 3u);
    EXPECT_EQ(a["evaluation"]["measured"]["runs"], 3);
    int64_t detected = 0, reports = 0;
    double recall = 0;
    for (int k = 1; k <= 3; ++k) {
      Json phase =
          ReadJsonFile(Dir() / fmt::format("work/runs/b1000-greedy/phase-{}/summary.json", k));
      EXPECT_EQ(phase["sampling"]["seed"], k);
      const Json& m = phase["apps"][i]["evaluation"]["measured"];
      detected += m["detected"].get<int64_t>();
      reports += m["reports"].get<int64_t>();
      recall += m["recall"].get<double>() / 3;
    }
    EXPECT_EQ(a["evaluation"]["measured"]["detected"], detected);
    EXPECT_EQ(a["evaluation"]["measured"]["reports"], reports);
    EXPECT_NEAR(a["evaluation"]["measured"]["recall"].get<double>(), recall, 1e-9);
    EXPECT_EQ(a["evaluation"]["cycles"].size(),
              a["evaluation"]["measured"]["true_events"].get<size_t>());
  }
  EXPECT_TRUE(fs::exists(Dir() / "work/runs/b1000-greedy/phase-3/summary.json"));

  Csv scheds = ReadCsv(Results() / "schedules.csv");
  ASSERT_EQ(scheds.rows.size(), 8u);
  int infeasible = 0;
  for (const auto& r : scheds.rows) infeasible += r.at("feasible") == "False";
  EXPECT_EQ(infeasible, 4);
  const std::string md = testing::ReadText(Results() / "results.md");
  EXPECT_NE(md.find("| 0.001 | infeasible | infeasible | infeasible | infeasible |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("greedy vs exhaustive (predicted objective): 1000:"), std::string::npos) << md;
  EXPECT_EQ(first_->out, testing::ReadText(Results() / "results.md"));

  // Schedules equal in what msrun executes (apps, tree, base, fps) share one
  // run: a later one's directory is a copy naming the first (`same_as`),
  // with its scores; a schedule that differs is run on its own.
  std::map<std::string, std::string> first_of;
  int copies = 0, own = 0;
  for (const char* algo : {"greedy", "exhaustive", "nosharing", "maxsharing"}) {
    const std::string name = std::string("b1000-") + algo;
    const Json s = ReadJsonFile(Dir() / "work/schedules" / (name + ".json"));
    const std::string key = Json{s["apps"], s["tree"], s["base"], s["stream_fps"]}.dump();
    const fs::path run = Dir() / "work/runs" / name;
    const auto it = first_of.find(key);
    if (it == first_of.end()) {
      first_of[key] = name;
      EXPECT_FALSE(fs::exists(run / "same_as")) << name;
      EXPECT_NE(first_->err.find("run: budget 1000 " + std::string(algo) + " on frames"),
                std::string::npos)
          << first_->err;
      ++own;
      continue;
    }
    ++copies;
    std::string same = testing::ReadText(run / "same_as");
    while (!same.empty() && same.back() == '\n') same.pop_back();
    EXPECT_EQ(same, it->second) << name;
    EXPECT_NE(first_->err.find("run: budget 1000 " + std::string(algo) + " is the schedule of " +
                               it->second),
              std::string::npos)
        << first_->err;
    EXPECT_EQ(ReadJsonFile(run / "pooled.json")["apps"],
              ReadJsonFile(Dir() / "work/runs" / it->second / "pooled.json")["apps"]);
  }
  // At an unconstrained budget greedy and exhaustive choose alike, and the
  // baselines differ from them.
  EXPECT_GE(copies, 1);
  EXPECT_GE(own, 2);
}

TEST_F(E2EPipeline, ReRunRedoesNothingAndAChangedSettingRedoesOnlyItsSteps) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  const auto package_time = fs::last_write_time(Dir() / "work/packages/big/mpackage.json");
  auto again = Pipeline("");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const char* step : {"labels:", "base:", "profile:", "train:", "schedule:", "run:"}) {
    EXPECT_EQ(again.err.find(step), std::string::npos) << step << " redone:\n" << again.err;
  }
  // More phases: only the runs (and the report) are redone.
  auto more = Pipeline("PHASES=4", "schedule run report");
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_EQ(more.err.find("schedule: budget"), std::string::npos) << more.err;
  EXPECT_NE(more.err.find("run: budget 1000 greedy on frames 141-200, 4 sampling phases"),
            std::string::npos)
      << more.err;
  EXPECT_EQ(ReadJsonFile(Dir() / "work/runs/b1000-greedy/pooled.json")["phases"], 4);
  EXPECT_EQ(fs::last_write_time(Dir() / "work/packages/big/mpackage.json"), package_time);
}

TEST_F(E2EPipeline, StoppedPhasesPoolOnlyTheFinishedOnes) {
  ASSERT_EQ(first_->exit_code, 0) << first_->err;
  const fs::path out = Dir() / "stopped";
  const testing::ToolResult r = testing::RunShell(fmt::format(
      R"({0}/msrun/msrun --schedule {1}/work/schedules/b1000-greedy.json --base {1}/work/base \
  --input {1}/square.avi --labels anywhere={1}/work/labels/anywhere.csv --start-frame 141 \
  --phases 5000 --threads 1 --progress 0 --bootstrap 100 --out {2} > {2}.out 2> {2}.err &
pid=$!
for i in $(seq 1 600); do [ -d {2}/phase-3 ] && break; sleep 0.1; done
kill -INT $pid
wait $pid
echo $?
)",
      MS_TOOLS_DIR, Dir().string(), out.string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "130\n") << testing::ReadText(fs::path(out.string() + ".err"));
  Json pooled = ReadJsonFile(out / "pooled.json");
  EXPECT_EQ(pooled["status"], "stopped");
  const int64_t phases = pooled["phases"].get<int64_t>();
  EXPECT_GE(phases, 2);
  EXPECT_LT(phases, 5000);
  // The stopped phase has its own directory but is not among the pooled ones.
  EXPECT_TRUE(fs::exists(out / fmt::format("phase-{}", phases + 1) / "summary.json"));
  EXPECT_EQ(pooled["runs"].size(), static_cast<size_t>(phases));
  EXPECT_EQ(pooled["frames"]["last"], 200);
}

TEST_F(E2EPipeline, MissingPrerequisitesAreNamed) {
  // The config sets VIDEO itself; a config that sources it and overrides is how a user points
  // elsewhere.
  testing::WriteText(Dir() / "missing.conf",
                     "source " + Config().string() + "\nVIDEO=/nonexistent/clip.avi\n");
  const testing::ToolResult r =
      testing::RunShell(fmt::format("BIN={} bash {}/scripts/pipeline.sh {}\n", MS_TOOLS_DIR,
                                    MS_SOURCE_DIR, (Dir() / "missing.conf").string()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("video '/nonexistent/clip.avi' not found"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("opencv-doc"), std::string::npos) << r.err;

  auto step = Pipeline("", "bogus");
  EXPECT_EQ(step.exit_code, 2);
  EXPECT_NE(step.err.find("unknown step 'bogus'"), std::string::npos) << step.err;
}

}  // namespace
}  // namespace mainstream
