// End-to-end: the msrun binary on a tiny base, packages and a synthetic video
// made here: outputs, scores against labels and against each app's full
// model, frame ranges and seeds, SIGTERM, bad input and mid-stream faults.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include "mainstream/labels/label_file.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/runtime/deployment.h"
#include "mainstream/runtime/executor.h"
#include "mainstream/runtime/run_report.h"
#include "mainstream/video/video_source.h"
#include "testing/testing.h"
#include "unit/runtime_testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::RuntimeScenario;
using testing::RunTool;
using testing::TempDir;

class E2EMsrun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetTorchThreads(1);
    tmp_ = new TempDir();
    scenario_ = new RuntimeScenario(testing::MakeRuntimeScenario(
        tmp_->path(), {{"ped", 0, 10}, {"car", 3, 5, 2}, {"bus", 3, 10}, {"bike", 7, 2.5}},
        testing::SyntheticVideoSpec{64, 48, 60}));
  }
  static void TearDownTestSuite() {
    delete scenario_;
    delete tmp_;
  }
  static std::string Args(const fs::path& out) {
    return "--schedule " + scenario_->schedule.string() + " --base " +
           scenario_->base_dir.string() + " --input " + scenario_->video.path.string() + " --out " +
           out.string() + " --threads 1 --log-level warn";
  }
  static TempDir* tmp_;
  static RuntimeScenario* scenario_;
};
TempDir* E2EMsrun::tmp_ = nullptr;
RuntimeScenario* E2EMsrun::scenario_ = nullptr;

// frame -> score of a <app>.frames.csv file.
std::map<int64_t, double> ReadFramesCsv(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "frame,time_s,score,positive");
  std::map<int64_t, double> out;
  while (std::getline(in, line)) {
    const auto c1 = line.find(','), c2 = line.find(',', c1 + 1), c3 = line.find(',', c2 + 1);
    out[std::stoll(line.substr(0, c1))] = std::stod(line.substr(c2 + 1, c3 - c2 - 1));
  }
  return out;
}

TEST_F(E2EMsrun, RunsTheMergedTreeAndScoresAgainstLabels) {
  TempDir out;
  const std::string labels = scenario_->labels.string();
  auto r = RunTool(
      "msrun", Args(out.path()) + " --frames --seed 3 --labels ped=" + labels + " car=" + labels);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("event scoring"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find((out.path() / "summary.json").string()), std::string::npos) << r.out;
  Json s = ReadJsonFile(out.path() / "summary.json");
  EXPECT_EQ(s["schema_version"].get<int>(), 1);
  EXPECT_EQ(s["kind"], "mainstream.run");
  EXPECT_EQ(s["status"], "completed");
  EXPECT_EQ(s["frames"]["decoded"].get<int64_t>(), 60);
  EXPECT_EQ(s["input"]["first_frame"].get<int64_t>(), 1);
  EXPECT_EQ(s["input"]["last_frame"].get<int64_t>(), 60);
  EXPECT_EQ(s["sampling"]["seed"].get<int>(), 3);
  EXPECT_EQ(s["machine"]["torch_threads"].get<int>(), 1);
  EXPECT_GT(s["wall_seconds"].get<double>(), 0);
  ASSERT_EQ(s["nodes"].size(), 2u + 4u);  // stems [0,3) [3,7), four branches
  for (const Json& n : s["nodes"]) {
    EXPECT_EQ(n["executions"], n["planned"]);
    EXPECT_NEAR(n["executions"].get<double>(), n["expected_executions"].get<double>(), 3.0);
    EXPECT_TRUE(n.contains("fusion"));
  }
  for (const char* k : {"decode", "stem", "branch", "dnn", "total"}) {
    EXPECT_TRUE(s["cost"]["predicted"].contains(k)) << k;
    EXPECT_TRUE(s["cost"]["measured"].contains(k)) << k;
  }
  EXPECT_NEAR(s["cost"]["predicted"]["total"].get<double>(),
              s["schedule"]["total_cost"].get<double>(), 1e-9);

  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  // The decoded frames, preprocessed as the runtime does.
  std::vector<float> buf;
  {
    VideoSource src(scenario_->video.path.string());
    PreprocessConfig pre = PreprocessConfigFor(base.info());
    Frame f;
    while (src.Read(&f)) {
      buf.resize(buf.size() + pre.floats_per_frame());
      Preprocess(f.image, pre, buf.data() + buf.size() - pre.floats_per_frame());
    }
  }
  const auto& in = base.info().input;
  at::Tensor frames = torch::from_blob(buf.data(), {60, 3, in.height, in.width});
  FrameLabels truth_labels = ReadLabelFile(scenario_->labels);
  double worst = 0;
  for (size_t a = 0; a < d.apps.size(); ++a) {
    const Json& app = s["apps"][a];
    const std::string name = d.apps[a].scheduled.app;
    ASSERT_EQ(app["app"], name);
    // Every sampled frame's score equals the app's full model run alone.
    std::map<int64_t, double> scores = ReadFramesCsv(out.path() / (name + ".frames.csv"));
    EXPECT_EQ(static_cast<int64_t>(scores.size()), app["frames_analyzed"].get<int64_t>()) << name;
    // Up to one sample per tree level is lost at the start (random phases).
    EXPECT_NEAR(app["achieved_fps"].get<double>(), d.apps[a].scheduled.fps, 3.0 / 6) << name;
    torch::jit::Module suffix = LoadModule(d.apps[a].weights);
    suffix.eval();
    torch::NoGradGuard ng;
    at::Tensor ref = torch::softmax(
        suffix.forward({base.RunStages(frames, 0, d.apps[a].scheduled.branchpoint)}).toTensor(), 1);
    for (const auto& [frame, score] : scores) {
      worst = std::max(worst, std::fabs(score - ref[frame - 1][1].item<double>()));
    }
    // Events: valid JSON Lines, inside the run, counted in the summary.
    std::vector<ReportedEvent> events = ReadEventsFile(out.path() / (name + ".events.jsonl"));
    EXPECT_EQ(static_cast<int64_t>(events.size()), app["events"].get<int64_t>()) << name;
    std::vector<FrameInterval> reports;
    for (const auto& e : events) {
      EXPECT_EQ(e.app, name);
      EXPECT_GE(e.event.start, 1);
      EXPECT_LE(e.event.end, 60);
      EXPECT_GE(e.event.samples, d.apps[a].scheduled.x_vote);
      EXPECT_TRUE(scores.count(e.event.start) && scores.count(e.event.end) &&
                  scores.count(e.reported_frame));
      reports.push_back(e.event.interval());
    }
    // Labels given for ped and car: the summary's figures are ScoreEvents'.
    const Json& ev = app["evaluation"];
    if (name == "ped" || name == "car") {
      ASSERT_FALSE(ev.is_null()) << name;
      EventScore direct = ScoreEvents(EventsFromLabels(truth_labels), reports);
      EXPECT_EQ(ev["measured"]["true_events"].get<int64_t>(), direct.true_events);
      EXPECT_EQ(ev["measured"]["detected"].get<int64_t>(), direct.detected);
      EXPECT_EQ(ev["measured"]["reports"].get<int64_t>(), direct.reports);
      EXPECT_DOUBLE_EQ(ev["measured"]["f1"].get<double>(), direct.f1);
      EXPECT_DOUBLE_EQ(ev["predicted"]["f1"].get<double>(), d.apps[a].scheduled.predicted.f1);
      EXPECT_EQ(ev["frames"], Json({1, 60}));
    } else {
      EXPECT_TRUE(ev.is_null()) << name;
    }
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(s["evaluation"]["apps"].get<int>(), 2);
}

TEST_F(E2EMsrun, FrameRangesAreOneBasedAndSeedsPickThePhases) {
  TempDir out;
  auto run = [&](const std::string& name, const std::string& extra) {
    auto r = RunTool("msrun", Args(out / name) + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ReadJsonFile(out / name / "summary.json");
  };
  Json a = run(
      "a", " --start-frame 11 --end-frame 40 --seed 5 --labels ped=" + scenario_->labels.string());
  EXPECT_EQ(a["frames"]["decoded"].get<int64_t>(), 30);
  EXPECT_EQ(a["input"]["first_frame"].get<int64_t>(), 11);
  EXPECT_EQ(a["input"]["last_frame"].get<int64_t>(), 40);
  EXPECT_EQ(a["apps"][0]["evaluation"]["frames"], Json({11, 40}));
  for (const auto& e : ReadEventsFile(out / "a" / "ped.events.jsonl")) {
    EXPECT_GE(e.event.start, 11);
    EXPECT_LE(e.event.end, 40);
  }
  Json b = run("b", " --start-frame 11 --end-frame 40 --seed 5");
  Json c = run("c", " --start-frame 11 --end-frame 40 --seed 6");
  EXPECT_EQ(testing::ReadText(out / "a" / "car.events.jsonl"),
            testing::ReadText(out / "b" / "car.events.jsonl"));
  bool differ = false;
  for (size_t k = 0; k < b["nodes"].size(); ++k)
    differ = differ || b["nodes"][k]["first_frame"] != c["nodes"][k]["first_frame"];
  EXPECT_TRUE(differ) << "seeds 5 and 6 gave the same sampling phases";
}

// Re-using --out: the directory ends up describing the new run only; the
// user's own files stay (issue 15, item 7).
TEST_F(E2EMsrun, ReusedOutputDirectoryHoldsOnlyTheNewRun) {
  TempDir out;
  const fs::path dir = out / "run";
  auto first = RunTool("msrun", Args(dir) + " --start-frame 1 --end-frame 30 --phases 2 --frames");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(fs::exists(dir / "pooled.json"));
  ASSERT_TRUE(fs::exists(dir / "phase-2" / "ped.frames.csv"));
  testing::WriteText(dir / "ghost.events.jsonl", "");  // an app of an older schedule
  testing::WriteText(dir / "notes.txt", "mine");
  fs::create_directories(dir / "phase-9");
  testing::WriteText(dir / "phase-9" / "keep.txt", "mine");  // not msrun's: the directory stays
  auto second = RunTool("msrun", Args(dir) + " --start-frame 1 --end-frame 30");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(fs::exists(dir / "summary.json"));
  EXPECT_TRUE(fs::exists(dir / "ped.events.jsonl"));
  EXPECT_FALSE(fs::exists(dir / "pooled.json"));
  EXPECT_FALSE(fs::exists(dir / "phase-1"));
  EXPECT_FALSE(fs::exists(dir / "phase-2"));
  EXPECT_FALSE(fs::exists(dir / "ghost.events.jsonl"));
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));
  EXPECT_TRUE(fs::exists(dir / "phase-9" / "keep.txt"));
  EXPECT_NE(second.err.find("earlier run"), std::string::npos) << second.err;
}

// A disk that fills mid-run (here a 1 KiB file-size limit, SIGXFSZ ignored):
// exit 1 with the run's own fault first, even though the summary cannot be
// written either (issue 15, item 7: it used to say only "summary.json: write failed").
TEST_F(E2EMsrun, FullDiskMidRunKeepsTheOriginalError) {
  TempDir out;
  const std::string exe = (fs::path(MS_TOOLS_DIR) / "msrun" / "msrun").string();
  auto r = testing::RunShell("trap '' XFSZ; ulimit -f 1; exec " + exe + " " + Args(out / "run") +
                             " --frames");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const size_t original = r.err.find(".frames.csv");
  const size_t summary = r.err.find("the summary could not be written either");
  EXPECT_NE(original, std::string::npos) << r.err;
  EXPECT_NE(summary, std::string::npos) << r.err;
  EXPECT_LT(original, summary) << r.err;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
}

// Starts msrun in the background; stdout and stderr go to files.
pid_t Spawn(const std::string& args, const fs::path& log) {
  const std::string exe = (fs::path(MS_TOOLS_DIR) / "msrun" / "msrun").string();
  const std::string cmd = "exec " + exe + " " + args + " > " + log.string() + " 2>&1";
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

TEST_F(E2EMsrun, SigtermStopsCleanlyWithCompleteOutputs) {
  TempDir tmp;
  // 240 frames at 10 fps in real time: 24 s unless stopped.
  testing::SyntheticVideo v =
      testing::WriteSyntheticVideo(tmp / "long.avi", testing::SyntheticVideoSpec{64, 48, 240});
  const fs::path out = tmp / "out";
  const std::string args = "--schedule " + scenario_->schedule.string() + " --base " +
                           scenario_->base_dir.string() + " --input " + v.path.string() +
                           " --out " + out.string() +
                           " --threads 1 --realtime --frames --progress 0.2";
  pid_t pid = Spawn(args, tmp / "log");
  ASSERT_GT(pid, 0);
  // Wait until it is running frames (progress lines), then stop it.
  ASSERT_TRUE(testing::WaitForText(tmp / "log", {"msrun: frame"}, 30))
      << testing::ReadText(tmp / "log");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(pid, SIGTERM);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 100 && done == 0; ++i) {
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "msrun did not stop within 10 s of SIGTERM";
  }
  ASSERT_TRUE(WIFEXITED(status)) << testing::ReadText(tmp / "log");
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << testing::ReadText(tmp / "log");
  Json s = ReadJsonFile(out / "summary.json");
  EXPECT_EQ(s["status"], "stopped");
  EXPECT_EQ(s["stop_signal"].get<int>(), SIGTERM);
  const int64_t decoded = s["frames"]["decoded"].get<int64_t>();
  EXPECT_GT(decoded, 0);
  EXPECT_LT(decoded, 240);
  for (const Json& a : s["apps"]) {
    const std::string name = a["app"];
    std::vector<ReportedEvent> events = ReadEventsFile(out / (name + ".events.jsonl"));
    EXPECT_EQ(static_cast<int64_t>(events.size()), a["events"].get<int64_t>());
    for (const auto& e : events) EXPECT_LE(e.event.end, decoded);
    EXPECT_EQ(static_cast<int64_t>(ReadFramesCsv(out / (name + ".frames.csv")).size()),
              a["frames_analyzed"].get<int64_t>());
  }
}

TEST_F(E2EMsrun, BadInputExitsTwoBeforeAnyOutput) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  auto expect_bad = [&](const std::string& args, const std::vector<std::string>& fragments) {
    auto r = RunTool("msrun", args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << args;
  };
  const std::string base = " --base " + scenario_->base_dir.string() + " --out " + out.string();
  const std::string good = "--schedule " + scenario_->schedule.string() + base;
  expect_bad(good + " --input " + (tmp / "nope.avi").string(), {"msrun: error:", "nope.avi"});
  expect_bad(good + " --input " + scenario_->video.path.string() +
                 " --labels tram=" + scenario_->labels.string(),
             {"runs no app \"tram\""});
  testing::WriteText(tmp / "short.csv", "frame,label\n1,1\n");
  expect_bad(good + " --input " + scenario_->video.path.string() +
                 " --labels ped=" + (tmp / "short.csv").string(),
             {"short.csv", "1 frames"});
  expect_bad("--schedule " + (tmp / "none.json").string() + base + " --input x.avi", {"none.json"});
  expect_bad(good, {"--input"});
  expect_bad(good + " --input " + scenario_->video.path.string() + " --fps-override 0",
             {"--fps-override"});

  // A schedule whose package is simulation-only.
  RuntimeScenario sim = *scenario_;
  testing::WriteScenarioSchedule(sim, {{"ped", 7, 10}},
                                 tmp / "sim.json");  // ped's bp-7 candidate has no weights
  expect_bad("--schedule " + (tmp / "sim.json").string() + base + " --input " +
                 scenario_->video.path.string(),
             {"mpackage.json", "simulation-only"});
}

// Read on the loop thread (--threads 1) and decoded ahead (--threads 2):
// the fault reaches the loop in order, after the frames before it.
TEST_F(E2EMsrun, TruncatedVideoEndsTheRunWithOutputsAndExitOne) {
  TempDir tmp;
  testing::WriteTruncatedCopy(scenario_->video.path, tmp / "cut.avi", 0.5);
  int64_t decoded = -1;
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    const fs::path out = tmp / ("out" + std::to_string(threads));
    auto r = RunTool("msrun", "--schedule " + scenario_->schedule.string() + " --base " +
                                  scenario_->base_dir.string() + " --input " +
                                  (tmp / "cut.avi").string() + " --out " + out.string() +
                                  " --threads " + std::to_string(threads));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("ended early"), std::string::npos) << r.err;
    Json s = ReadJsonFile(out / "summary.json");
    EXPECT_EQ(s["status"], "failed");
    EXPECT_EQ(s["machine"]["prefetch"].get<bool>(), threads >= 2);
    EXPECT_NE(s["error"].get<std::string>().find("ended early"), std::string::npos);
    EXPECT_GT(s["frames"]["decoded"].get<int64_t>(), 0);
    if (decoded >= 0) {
      EXPECT_EQ(s["frames"]["decoded"].get<int64_t>(), decoded);
    }
    decoded = s["frames"]["decoded"].get<int64_t>();
    for (const Json& a : s["apps"]) {
      EXPECT_EQ(static_cast<int64_t>(ReadEventsFile(a["events_file"].get<std::string>()).size()),
                a["events"].get<int64_t>());
    }
  }
}

}  // namespace
}  // namespace mainstream
