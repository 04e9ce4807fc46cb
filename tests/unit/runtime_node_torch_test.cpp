// msrun --plan: several cameras of a node plan run side by side in one
// process; msrun --deployment with several cameras: the same, re-planned
// jointly when the deployment changes (docs/runtime.md, "Several cameras").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "mainstream/core/atomic_file.h"
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
  EXPECT_EQ(s["threads_per_camera"], 2);  // one pool of --threads 2 shared by both cameras
  EXPECT_EQ(s["shared_pool"], true);
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

// Waits (up to 60 s) until `flag` is set: a camera's hook holding its frame
// loop until another camera's hook has changed the deployment, so that the
// frame where each camera sees the change is fixed.
void WaitFor(const std::atomic<bool>& flag) {
  for (int k = 0; k < 6000 && !flag; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(flag);
}

TEST_F(RuntimeNodeTest, ALiveDeploymentIsRePlannedJointlyAndEachCameraSwapsOnItsOwn) {
  const fs::path file = dir_->path() / "live.json";
  const Json initial = Json::parse(testing::ReadText(dir_->path() / "node.json"));
  Json less = initial;  // d leaves the yard: the gate's schedule stays as it was
  less["cameras"][1]["apps"] = Json::array({"pk/c"});
  Json more = less;  // a camera added while running: refused by both
  more["cameras"].push_back(Json{{"name", "hall"}, {"apps", Json::array({"pk/d"})}});
  WriteFileAtomic(file, initial.dump());

  const fs::path out = dir_->path() / "live-run";
  NodeRunConfig c = Config(out);
  c.plan.clear();
  c.run.deployment = file;
  c.run.deployment_poll_ms = 0;
  c.run.write_frames = true;
  // Each change is made by the gate after its frames 30 and 60 while the
  // yard waits before its frames 40 and 70, so each camera sees it at a
  // known frame.
  std::atomic<bool> yard_at_40{false}, yard_at_70{false}, wrote_less{false}, wrote_more{false};
  c.frame_hook = [&](const std::string& camera, int64_t decoded) {
    if (camera == "gate" && decoded == 30) {
      WaitFor(yard_at_40);
      WriteFileAtomic(file, less.dump());
      wrote_less = true;
    } else if (camera == "gate" && decoded == 60) {
      WaitFor(yard_at_70);
      WriteFileAtomic(file, more.dump());
      wrote_more = true;
    } else if (camera == "yard" && decoded == 40) {
      yard_at_40 = true;
      WaitFor(wrote_less);
    } else if (camera == "yard" && decoded == 70) {
      yard_at_70 = true;
      WaitFor(wrote_more);
    }
  };
  const NodeRunResult r = RunNode(c);
  ASSERT_EQ(r.status, RunStatus::kCompleted) << r.summary.dump(2);
  const Json& s = r.summary;
  EXPECT_EQ(s["frames"]["decoded"], 160);
  EXPECT_EQ(s["deployment"]["file"], file.string());
  EXPECT_EQ(s["deployment"]["changes_accepted"], 1);
  EXPECT_EQ(s["deployment"]["changes_unchanged"], 1);
  EXPECT_EQ(s["deployment"]["changes_rejected"], 2);
  EXPECT_NE(r.tables.find("1 swapped, 1 unchanged, 2 rejected"), std::string::npos) << r.tables;

  const std::vector<Json> gate = testing::ReadJsonLines(out / "gate" / kDeploymentLogFile);
  const std::vector<Json> yard = testing::ReadJsonLines(out / "yard" / kDeploymentLogFile);
  ASSERT_EQ(gate.size(), 3u);
  ASSERT_EQ(yard.size(), 3u);
  EXPECT_EQ(gate[0]["status"], "initial");
  EXPECT_EQ(gate[1]["status"], "unchanged") << gate[1].dump();
  EXPECT_EQ(gate[1]["frame"], 30);
  EXPECT_EQ(gate[2]["status"], "rejected");
  EXPECT_EQ(gate[2]["frame"], 60);
  EXPECT_NE(gate[2]["reason"].get<std::string>().find("keeps the cameras"), std::string::npos)
      << gate[2].dump();
  EXPECT_EQ(yard[1]["status"], "swapped") << yard[1].dump();
  EXPECT_EQ(yard[1]["camera"], "yard");
  EXPECT_EQ(yard[1]["frame"], 40);
  EXPECT_EQ(yard[1]["left"], Json::array({"d"}));
  EXPECT_EQ(yard[2]["status"], "rejected");
  EXPECT_EQ(yard[2]["frame"], 70);
  // The rejected camera set left both trees running.
  for (const testing::ScoredFrame& f : testing::ReadScoredFrames(out / "yard" / "d.frames.csv"))
    EXPECT_LE(f.frame, 40) << "d sampled frame " << f.frame << " after it left";

  // The yard after its swap: the same samples and scores as a run of the
  // final plan's yard schedule from the start.
  const NodePlan final_plan = PlanNode(ParseDeploymentSpec(less.dump(), file));
  const fs::path yard_schedule = dir_->path() / "yard-final.schedule.json";
  WriteSchedule(final_plan.cameras[1].schedule, yard_schedule);
  RunConfig alone;
  alone.schedule = yard_schedule;
  alone.base_dir = scenario_->base_dir;
  alone.input = scenario_->video.path.string();
  alone.out_dir = dir_->path() / "yard-final";
  alone.write_frames = true;
  alone.progress_interval_s = 0;
  alone.bootstrap_resamples = 0;
  ASSERT_EQ(Runtime::Prepare(alone).Run(nullptr).status, RunStatus::kCompleted);
  std::vector<testing::ScoredFrame> live, ref;
  for (const testing::ScoredFrame& f : testing::ReadScoredFrames(out / "yard" / "c.frames.csv"))
    if (f.frame > 40) live.push_back(f);
  for (const testing::ScoredFrame& f : testing::ReadScoredFrames(alone.out_dir / "c.frames.csv"))
    if (f.frame > 40) ref.push_back(f);
  ASSERT_GT(ref.size(), 10u);
  ASSERT_EQ(live.size(), ref.size());
  for (size_t k = 0; k < live.size(); ++k) {
    EXPECT_EQ(live[k].frame, ref[k].frame);
    EXPECT_NEAR(live[k].score, ref[k].score, 1e-5) << "frame " << live[k].frame;
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
