// msrun --deployment: a live deployment re-planned while the frame loop runs
// (docs/runtime.md, "Live deployments"). The runs are offline, so each change
// is applied at the frame where it is seen (reproducible); the frame hook
// rewrites the deployment file at chosen frames, as an operator would
// (a temporary file renamed over it).
#include <gtest/gtest.h>

#include <map>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/runtime/runtime.h"
#include "mainstream/schedule/deployment_spec.h"
#include "runtime_testing.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::AppSpec;
using testing::RuntimeScenario;
using testing::TempDir;

class RuntimeLiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // 120 frames at 10 fps; three apps at different branchpoints, each with a
    // single (real) candidate so that any plan can run.
    scenario_ = new RuntimeScenario(
        testing::MakeRuntimeScenario(dir_->path(), {{"a", 3, 10}, {"b", 5, 10}, {"c", 7, 10}},
                                     testing::SyntheticVideoSpec{64, 48, 120}));
    testing::PrepareScenarioForPlanning(*scenario_);
  }
  static void TearDownTestSuite() {
    delete scenario_;
    delete dir_;
  }

  // A deployment of `apps` (package directories under pk/), every app at
  // the rates `fps` allows.
  static std::string Deployment(const std::vector<std::string>& apps,
                                const std::vector<double>& fps = {10}) {
    std::vector<fs::path> packages;
    for (const auto& a : apps) packages.push_back(fs::path("pk") / a);
    return testing::DeploymentText("profile.json", packages, fps);
  }

  // Runs `c`, writing each text of `changes` over the deployment (as an
  // operator would: a temporary file renamed) once that many frames are
  // decoded; returns the result and the deployment log.
  static std::pair<RunResult, std::vector<Json>> RunWithChanges(
      const RunConfig& c, const std::map<int64_t, std::string>& changes) {
    Runtime rt = Runtime::Prepare(c);
    rt.SetFrameHook([&](int64_t decoded) {
      if (auto it = changes.find(decoded); it != changes.end())
        WriteFileAtomic(c.deployment, it->second);
    });
    RunResult r = rt.Run(nullptr);
    return {std::move(r), testing::ReadJsonLines(c.out_dir / kDeploymentLogFile)};
  }

  RunConfig Config(const fs::path& out, const std::string& deployment_text) {
    const fs::path file = dir_->path() / ("deployment-" + out.filename().string() + ".json");
    WriteFileAtomic(file, deployment_text);
    RunConfig c;
    c.deployment = file;
    c.deployment_poll_ms = 0;  // at every frame: the change applies where the hook wrote it
    c.base_dir = scenario_->base_dir;
    c.input = scenario_->video.path.string();
    c.out_dir = out;
    c.write_frames = true;
    c.progress_interval_s = 0;
    c.bootstrap_resamples = 0;
    c.labels = {{"a", scenario_->labels}, {"b", scenario_->labels}, {"c", scenario_->labels}};
    return c;
  }

  static TempDir* dir_;
  static RuntimeScenario* scenario_;
};

TempDir* RuntimeLiveTest::dir_ = nullptr;
RuntimeScenario* RuntimeLiveTest::scenario_ = nullptr;

TEST_F(RuntimeLiveTest, ChangesSwapTreesAndKeepEventsContinuous) {
  TempDir out_live, out_final;
  const std::string final_text = Deployment({"a", "b", "c"}, {5});
  // Frames decoded -> the deployment written then (seen before the next frame).
  const std::map<int64_t, std::string> changes{
      {20, Deployment({"a", "b", "c"})},                         // c arrives
      {40, Deployment({"a", "c"})},                              // b leaves
      {55, "{\"schema_version\": 1, \"kind\": \"mainstream.d"},  // half-written: rejected
      {60, Deployment({"a", "c", "a"})},                         // an app twice: rejected
      {70, Deployment({"a", "b", "c"})},                         // b comes back
      {90, final_text}};                                         // every rate halves
  RunConfig c = Config(out_live.path() / "live", Deployment({"a", "b"}));
  const auto [r, log] = RunWithChanges(c, changes);
  ASSERT_EQ(r.status, RunStatus::kCompleted);

  // The log: the initial plan, four swaps, two rejections naming the problem.
  ASSERT_EQ(log.size(), 7u);
  EXPECT_EQ(log[0]["status"], "initial");
  const std::vector<std::pair<std::string, int64_t>> expected{{"swapped", 20},  {"swapped", 40},
                                                              {"rejected", 55}, {"rejected", 60},
                                                              {"swapped", 70},  {"swapped", 90}};
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(log[k + 1]["status"], expected[k].first) << log[k + 1].dump();
    EXPECT_EQ(log[k + 1]["frame"].get<int64_t>(), expected[k].second) << log[k + 1].dump();
  }
  EXPECT_NE(log[3]["reason"].get<std::string>().find("half-written"), std::string::npos)
      << log[3].dump();
  EXPECT_NE(log[4]["reason"].get<std::string>().find("listed twice"), std::string::npos)
      << log[4].dump();
  EXPECT_EQ(log[1]["arrived"], Json::array({"c"}));
  EXPECT_EQ(log[2]["left"], Json::array({"b"}));
  EXPECT_EQ(log[5]["arrived"], Json::array({"b"}));
  for (const Json& a : log[6]["apps"]) EXPECT_EQ(a["fps"].get<double>(), 5.0) << log[6].dump();
  const Json& summary = r.summary;
  EXPECT_EQ(summary["frames"]["decoded"].get<int64_t>(), 120);
  EXPECT_EQ(summary["deployment"]["changes_accepted"].get<int>(), 4);
  EXPECT_EQ(summary["deployment"]["changes_rejected"].get<int>(), 2);

  // Every sample planned was analyzed, and b sampled only while deployed.
  for (const Json& app : summary["apps"]) {
    EXPECT_EQ(app["samples_dropped"].get<int64_t>(), 0) << app.dump();
    EXPECT_EQ(app["frames_analyzed"].get<int64_t>(), app["samples_planned"].get<int64_t>())
        << app.dump();
  }
  for (const testing::ScoredFrame& s : testing::ReadScoredFrames(c.out_dir / "b.frames.csv"))
    EXPECT_TRUE(s.frame <= 40 || s.frame > 70) << "b sampled frame " << s.frame;
  for (const testing::ScoredFrame& s : testing::ReadScoredFrames(c.out_dir / "c.frames.csv"))
    EXPECT_GT(s.frame, 20) << "c sampled frame " << s.frame;
  // b's events file holds both of its stays (not truncated when it came back).
  const std::vector<testing::ScoredFrame> b = testing::ReadScoredFrames(c.out_dir / "b.frames.csv");
  ASSERT_FALSE(b.empty());
  EXPECT_LE(b.front().frame, 40);
  EXPECT_GT(b.back().frame, 70);

  // The same frames, samples, scores and events after the last change as a
  // run of the final deployment from the start.
  RunConfig f = Config(out_final.path() / "final", final_text);
  RunResult rf = Runtime::Prepare(f).Run(nullptr);
  ASSERT_EQ(rf.status, RunStatus::kCompleted);
  for (const std::string app : {"a", "b", "c"}) {
    std::vector<testing::ScoredFrame> live, ref;
    for (const testing::ScoredFrame& s :
         testing::ReadScoredFrames(c.out_dir / (app + ".frames.csv")))
      if (s.frame > 90) live.push_back(s);
    for (const testing::ScoredFrame& s :
         testing::ReadScoredFrames(f.out_dir / (app + ".frames.csv")))
      if (s.frame > 90) ref.push_back(s);
    ASSERT_EQ(live.size(), ref.size()) << app;
    ASSERT_GT(live.size(), 5u) << app;
    for (size_t k = 0; k < live.size(); ++k) {
      EXPECT_EQ(live[k].frame, ref[k].frame) << app;
      EXPECT_NEAR(live[k].score, ref[k].score, 1e-5) << app << " frame " << live[k].frame;
      EXPECT_EQ(live[k].positive, ref[k].positive) << app << " frame " << live[k].frame;
    }
    // Events that start after the first post-change sample's run (X = 1:
    // any event starting after frame 90 is decided by those samples alone).
    auto late = [](const fs::path& file) {
      std::vector<std::pair<int64_t, int64_t>> out;
      for (const ReportedEvent& e : ReadEventsFile(file))
        if (e.event.start > 92) out.emplace_back(e.event.start, e.event.end);
      return out;
    };
    EXPECT_EQ(late(c.out_dir / (app + ".events.jsonl")), late(f.out_dir / (app + ".events.jsonl")))
        << app;
  }
}

TEST_F(RuntimeLiveTest, BadChangesAreRejectedAndTheTreeRunsOn) {
  TempDir out;
  RunConfig c = Config(out.path() / "run", Deployment({"a"}));
  const std::map<int64_t, std::string> changes{
      {10, Deployment({"a", "gone"})},  // a package that does not exist
      {20, "not json"},
      {30, "{\"schema_version\": 1, \"kind\": \"mainstream.schedule\"}"},
      {40, Deployment({})},
      {50,
       "{\"schema_version\": 1, \"kind\": \"mainstream.deployment\", \"profile\": "
       "\"profile.json\", \"budget\": 0.001, \"apps\": [\"pk/a\"]}"}};  // infeasible
  const auto [r, log] = RunWithChanges(c, changes);
  ASSERT_EQ(r.status, RunStatus::kCompleted);
  ASSERT_EQ(log.size(), 6u);
  const std::vector<std::string> reasons{"gone", "malformed json", "kind", "no apps", "budget"};
  for (size_t k = 0; k < reasons.size(); ++k) {
    EXPECT_EQ(log[k + 1]["status"], "rejected");
    std::string reason = log[k + 1]["reason"].get<std::string>();
    std::transform(reason.begin(), reason.end(), reason.begin(), ::tolower);
    EXPECT_NE(reason.find(reasons[k]), std::string::npos) << reason;
  }
  EXPECT_EQ(r.summary["deployment"]["changes_rejected"].get<int>(), 5);
  // The first tree ran every frame.
  ASSERT_EQ(r.summary["apps"].size(), 1u);
  EXPECT_EQ(r.summary["apps"][0]["frames_analyzed"].get<int64_t>(), 120);
}

TEST_F(RuntimeLiveTest, AnInitialDeploymentThatCannotRunIsAnInputError) {
  TempDir out;
  RunConfig c = Config(out.path() / "run", Deployment({"a", "a"}));
  EXPECT_THROW(
      {
        try {
          Runtime::Prepare(c);
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("$.apps[1]"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("listed twice"), std::string::npos) << e.what();
          throw;
        }
      },
      InputError);
  EXPECT_FALSE(fs::exists(c.out_dir));
  RunConfig both = Config(out.path() / "both", Deployment({"a"}));
  both.schedule = scenario_->schedule;
  EXPECT_THROW(Runtime::Prepare(both), InputError);
}

TEST(DeploymentSpec, ParsesAndNamesBadFields) {
  const fs::path file = "/srv/node/deployment.json";
  DeploymentSpec s = ParseDeploymentSpec(
      R"({"schema_version": 1, "kind": "mainstream.deployment", "profile": "p.json",
          "budget": "1.5x", "algorithm": "exhaustive", "x_options": [1, 2],
          "apps": ["pk/a", {"package": "/abs/b"}]})",
      file);
  EXPECT_EQ(s.profile, fs::path("/srv/node/p.json"));
  ASSERT_EQ(s.packages.size(), 2u);
  EXPECT_EQ(s.packages[0], fs::path("/srv/node/pk/a"));
  EXPECT_EQ(s.packages[1], fs::path("/abs/b"));
  ScheduleConfig sc = s.ToScheduleConfig();
  EXPECT_EQ(sc.budget_factor, 1.5);
  EXPECT_EQ(sc.algorithm, "exhaustive");
  EXPECT_EQ(sc.x_options, (std::vector<int>{1, 2}));
  // Round trip.
  DeploymentSpec back = ParseDeploymentSpec(s.ToJson().dump(), file);
  EXPECT_EQ(back.packages, s.packages);
  EXPECT_EQ(back.budget, s.budget);

  const std::string head = R"({"schema_version": 1, "kind": "mainstream.deployment", )";
  const std::vector<std::pair<std::string, std::string>> bad{
      {head + R"("profile": "p", "budget": -3, "apps": ["a"]})", "$.budget"},
      {head + R"("profile": "p", "budget": "fast", "apps": ["a"]})", "$.budget"},
      {head + R"("profile": "p", "budget": 5, "algorithm": "magic", "apps": ["a"]})",
       "$.algorithm"},
      {head + R"("profile": "p", "budget": 5, "apps": []})", "$.apps: no apps"},
      {head + R"("profile": "p", "budget": 5, "apps": ["a", "./a"]})", "$.apps[1]"},
      {head + R"("profile": "p", "budget": 5, "apps": [3]})", "$.apps[0]"},
      {head + R"("budget": 5, "apps": ["a"]})", "profile"},
      {R"({"schema_version": 2, "kind": "mainstream.deployment"})", "schema_version"},
      {R"({"schema_version": 1, "kind": "mainstream.deployment", "profile": "p", "budget": 5, )",
       "half-written"}};
  for (const auto& [text, fragment] : bad) {
    try {
      ParseDeploymentSpec(text, file);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << e.what() << " (expected " << fragment << ")";
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mainstream
