// msrun --plan: several cameras of a node plan run side by side in one
// process (docs/runtime.md, "Several cameras").
#include <gtest/gtest.h>

#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/runtime/node_run.h"
#include "mainstream/runtime/runtime.h"
#include "mainstream/schedule/node_plan.h"
#include "runtime_testing.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::ExpectInputError;
using testing::RuntimeScenario;
using testing::TempDir;

class RuntimeNodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // 80 frames at 10 fps; four apps at different branchpoints, two per camera.
    scenario_ = new RuntimeScenario(testing::MakeRuntimeScenario(
        dir_->path(), {{"a", 3, 10}, {"b", 5, 10}, {"c", 3, 10}, {"d", 7, 10}},
        testing::SyntheticVideoSpec{64, 48, 80}));
    testing::PrepareScenarioForPlanning(*scenario_);
    const std::string video = scenario_->video.path.string();
    testing::WriteText(
        dir_->path() / "node.json",
        Json{{"schema_version", 1},
             {"kind", "mainstream.deployment"},
             {"profile", "profile.json"},
             {"budget", 1000},
             {"algorithm", "exhaustive"},
             {"fps_options", {5, 10}},
             {"cameras",
              Json::array({Json{{"name", "gate"}, {"input", video}, {"apps", {"pk/a", "pk/b"}}},
                           Json{{"name", "yard"}, {"apps", {"pk/c", "pk/d"}}}})}}
            .dump());
    WriteNodePlan(PlanNode(ReadDeploymentSpec(dir_->path() / "node.json")), dir_->path() / "plan");
  }
  static void TearDownTestSuite() {
    delete scenario_;
    delete dir_;
  }

  static NodeRunConfig Config(const fs::path& out) {
    NodeRunConfig c;
    c.plan = dir_->path() / "plan";
    c.inputs = {"yard=" + scenario_->video.path.string()};
    c.labels = {"gate/a=" + scenario_->labels.string()};
    c.run.base_dir = scenario_->base_dir;
    c.run.out_dir = out;
    c.run.threads = 2;
    c.run.progress_interval_s = 0;
    c.run.bootstrap_resamples = 0;
    return c;
  }

  static TempDir* dir_;
  static RuntimeScenario* scenario_;
};
TempDir* RuntimeNodeTest::dir_ = nullptr;
RuntimeScenario* RuntimeNodeTest::scenario_ = nullptr;

TEST_F(RuntimeNodeTest, CamerasRunSideBySideAsTheyWouldAlone) {
  const fs::path out = dir_->path() / "node-run";
  const NodeRunResult r = RunNode(Config(out));
  ASSERT_EQ(r.status, RunStatus::kCompleted) << r.summary.dump(2);
  EXPECT_EQ(r.ExitCode(), 0);
  const Json s = ReadJsonFile(out / kNodeRunFile);
  EXPECT_EQ(s, r.summary);
  EXPECT_EQ(s["kind"], "mainstream.node_run");
  ASSERT_EQ(s["cameras"].size(), 2u);
  EXPECT_EQ(s["threads_per_camera"], 1);
  EXPECT_EQ(s["frames"]["decoded"], 160);
  const NodePlan plan = ReadNodePlan(dir_->path() / "plan");
  EXPECT_NEAR(s["cost"]["predicted"].get<double>(), plan.total_cost, 1e-6);
  EXPECT_EQ(s["cameras"][0]["status"], "completed");
  EXPECT_TRUE(s["cameras"][0].contains("evaluation"));
  EXPECT_FALSE(s["cameras"][1].contains("evaluation"));
  EXPECT_EQ(s["evaluation"]["apps"], 1);
  EXPECT_NE(r.tables.find("yard"), std::string::npos) << r.tables;

  // Each camera's events equal a run of its schedule alone (same seed).
  for (const NodeCamera& cam : plan.cameras) {
    RunConfig alone;
    alone.schedule = dir_->path() / "plan" / cam.schedule_file;
    alone.base_dir = scenario_->base_dir;
    alone.input = scenario_->video.path.string();
    alone.out_dir = dir_->path() / ("alone-" + cam.name);
    alone.progress_interval_s = 0;
    alone.bootstrap_resamples = 0;
    Runtime rt = Runtime::Prepare(alone);
    ASSERT_EQ(rt.Run(nullptr).status, RunStatus::kCompleted);
    for (const ScheduledApp& a : cam.schedule.apps) {
      const std::string events = a.app + ".events.jsonl";
      EXPECT_EQ(testing::ReadText(out / cam.name / events),
                testing::ReadText(alone.out_dir / events))
          << cam.name << "/" << a.app;
    }
  }
}

TEST_F(RuntimeNodeTest, BadCamerasInputsAndLabelsAreInputErrorsBeforeAnyOutput) {
  const fs::path out = dir_->path() / "bad";
  NodeRunConfig no_input = Config(out);
  no_input.inputs.clear();
  ExpectInputError([&] { (void)RunNode(no_input); },
                   {"camera 'yard' has no input", "--camera-input yard="});
  NodeRunConfig unknown = Config(out);
  unknown.inputs.push_back("hall=x.avi");
  ExpectInputError([&] { (void)RunNode(unknown); },
                   {"--camera-input hall=x.avi", "no camera 'hall'"});
  NodeRunConfig bare_labels = Config(out);
  bare_labels.labels = {"a=" + scenario_->labels.string()};
  ExpectInputError([&] { (void)RunNode(bare_labels); }, {"CAMERA/APP"});
  NodeRunConfig missing = Config(out);
  missing.inputs = {"yard=" + (dir_->path() / "none.avi").string()};
  ExpectInputError([&] { (void)RunNode(missing); }, {"camera 'yard'", "none.avi"});
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace mainstream
