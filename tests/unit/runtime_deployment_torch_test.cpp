// Bad input is caught before any frame is decoded, with a message naming the
// file and the problem: schedules, packages, weights, bases, videos, labels.
#include <gtest/gtest.h>
#include <torch/script.h>

#include "mainstream/core/error.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/suffix.h"
#include "mainstream/runtime/deployment.h"
#include "mainstream/runtime/runtime.h"
#include "runtime_testing.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::RuntimeScenario;
using testing::TempDir;

class RuntimeDeploymentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetTorchThreads(1);
    tmp_ = new TempDir();
    scenario_ = new RuntimeScenario(
        testing::MakeRuntimeScenario(tmp_->path() / "good", {{"ped", 3, 5}, {"car", 5, 10}},
                                     testing::SyntheticVideoSpec{64, 48, 20}));
  }
  static void TearDownTestSuite() {
    delete scenario_;
    delete tmp_;
  }
  // A private copy of the scenario to break.
  RuntimeScenario Copy(const std::string& name) {
    RuntimeScenario s = *scenario_;
    s.dir = tmp_->path() / name;
    fs::copy(scenario_->dir, s.dir, fs::copy_options::recursive);
    s.base_dir = s.dir / "base";
    s.schedule = s.dir / "schedule.json";
    s.labels = s.dir / "labels.csv";
    s.video.path = s.dir / "video.avi";
    for (size_t i = 0; i < s.packages.size(); ++i) s.packages[i] = s.dir / "pk" / s.apps[i].name;
    return s;
  }
  static RunConfig Config(const RuntimeScenario& s) {
    RunConfig c;
    c.schedule = s.schedule;
    c.base_dir = s.base_dir;
    c.input = s.video.path.string();
    c.out_dir = s.dir / "out";
    c.progress_interval_s = 0;
    return c;
  }
  // Expects Prepare to throw InputError containing every fragment, and no output.
  void ExpectPrepareFails(const RunConfig& c, const std::vector<std::string>& fragments) {
    testing::ExpectInputError([&] { Runtime::Prepare(c); }, fragments);
    EXPECT_FALSE(fs::exists(c.out_dir));
  }
  static TempDir* tmp_;
  static RuntimeScenario* scenario_;
};
TempDir* RuntimeDeploymentTest::tmp_ = nullptr;
RuntimeScenario* RuntimeDeploymentTest::scenario_ = nullptr;

TEST_F(RuntimeDeploymentTest, ResolvesEveryAppOfAGoodSchedule) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  ASSERT_EQ(d.apps.size(), 2u);
  EXPECT_EQ(d.FindApp("car"), 1);
  EXPECT_EQ(d.FindApp("bus"), -1);
  EXPECT_EQ(d.apps[0].weights, scenario_->packages[0] / "bp3.pt");
  EXPECT_EQ(d.apps[1].candidate.branchpoint, 5);
  EXPECT_EQ(d.base.sha256, d.schedule.base.sha256);
}

TEST_F(RuntimeDeploymentTest, MissingPackageOrWeights) {
  RuntimeScenario s = Copy("nopkg");
  fs::remove_all(s.packages[1]);
  ExpectPrepareFails(Config(s),
                     {s.schedule.string(), "$.apps[1].package", "car", "does not exist"});

  RuntimeScenario w = Copy("noweights");
  fs::remove(w.packages[0] / "bp3.pt");
  ExpectPrepareFails(
      Config(w), {(w.packages[0] / "mpackage.json").string(), "weights", "bp3.pt does not exist"});

  RuntimeScenario c = Copy("corruptweights");
  testing::WriteText(c.packages[0] / "bp3.pt", "not a zip file");
  ExpectPrepareFails(Config(c),
                     {(c.packages[0] / "bp3.pt").string(), "cannot load as TorchScript"});
}

TEST_F(RuntimeDeploymentTest, SimulationOnlyCandidateIsRefused) {
  RuntimeScenario s = Copy("sim");
  // Each package's other candidate (branchpoint 7 here) has null weights.
  testing::WriteScenarioSchedule(s, {{"ped", 7, 5}, {"car", 5, 10}}, s.schedule);
  ExpectPrepareFails(Config(s), {(s.packages[0] / "mpackage.json").string(), "weights is null",
                                 "simulation-only"});
}

TEST_F(RuntimeDeploymentTest, PackageOrBaseFromAnotherBase) {
  RuntimeScenario s = Copy("hash");
  Json j = ReadJsonFile(s.packages[1] / "mpackage.json");
  j["base"]["sha256"] = std::string(64, 'a');
  WriteJsonFileAtomic(s.packages[1] / "mpackage.json", j);
  ExpectPrepareFails(
      Config(s), {(s.packages[1] / "mpackage.json").string(), "$.base.sha256", "trained on base"});

  // --base pointing at another base (different weights, same architecture).
  RuntimeScenario b = Copy("otherbase");
  DefaultBaseOptions o = testing::TinyBaseOptions();
  o.seed = 99;
  CreateDefaultBase(b.dir / "other", o);
  RunConfig c = Config(b);
  c.base_dir = b.dir / "other";
  ExpectPrepareFails(
      c, {b.schedule.string(), "built for base 'tiny'", (b.dir / "other" / "base.json").string()});

  // A model file that no longer matches its base.json.
  RuntimeScenario m = Copy("modelchanged");
  fs::copy_file(b.dir / "other" / "model.pt", m.base_dir / "model.pt",
                fs::copy_options::overwrite_existing);
  ExpectPrepareFails(Config(m), {(m.base_dir / "base.json").string(), "sha256"});
}

TEST_F(RuntimeDeploymentTest, PackageChangedAfterScheduling) {
  RuntimeScenario s = Copy("changed");
  Json j = ReadJsonFile(s.packages[0] / "mpackage.json");
  j["candidates"][0]["threshold"] = 0.7;
  WriteJsonFileAtomic(s.packages[0] / "mpackage.json", j);
  ExpectPrepareFails(Config(s), {"threshold", "re-run msschedule"});
}

// A microclassifier: the schedule and the package must agree on the kind, and
// its crop must lie inside the base's feature map at its layer.
TEST_F(RuntimeDeploymentTest, MicroclassifierKindAndCropAreChecked) {
  RuntimeScenario k = Copy("microkind");
  testing::MakeFirstCandidateMicro(k.packages[0] / "mpackage.json", {0, 0, 2, 2}, 4);
  ExpectPrepareFails(Config(k), {"kind", "re-run msschedule"});

  RuntimeScenario s = Copy("microcrop");
  testing::MakeFirstCandidateMicro(s.packages[0] / "mpackage.json", {0, 0, 1000, 2}, 4);
  testing::ScheduleAppAsMicro(s.schedule, 0);
  ExpectPrepareFails(Config(s), {"micro.crop", "outside the", "feature map"});
}

TEST_F(RuntimeDeploymentTest, WeightsThatBreakTheContract) {
  RuntimeScenario s = Copy("threeway");
  BaseModel base = BaseModel::Load(s.base_dir);
  SuffixOptions so;
  so.num_outputs = 3;
  SaveModule(BuildSuffix(base, 3, so), s.packages[0] / "bp3.pt");
  ExpectPrepareFails(Config(s), {(s.packages[0] / "bp3.pt").string(), "logits [batch, 2]"});

  RuntimeScenario w = Copy("wrongbp");
  SaveModule(BuildSuffix(base, 5), w.packages[0] / "bp3.pt");  // trained at 5, named 3
  ExpectPrepareFails(Config(w), {(w.packages[0] / "bp3.pt").string(), "branchpoint 3"});
}

TEST_F(RuntimeDeploymentTest, VideoAndLabelProblems) {
  RuntimeScenario s = Copy("inputs");
  RunConfig c = Config(s);
  c.input = (s.dir / "missing.avi").string();
  ExpectPrepareFails(c, {"missing.avi", "no such file"});

  c = Config(s);
  c.labels = {{"bus", s.labels}};
  ExpectPrepareFails(c, {"--labels bus=", "runs no app \"bus\"", "ped, car"});

  testing::WriteText(s.dir / "short.csv", "frame,label\n1,0\n2,1\n");
  c.labels = {{"ped", s.dir / "short.csv"}};
  ExpectPrepareFails(c, {(s.dir / "short.csv").string(), "2 frames", "20 frames"});

  testing::WriteText(s.dir / "bad.csv", "frame,label\n1,0\n2,7\n");
  c.labels = {{"ped", s.dir / "bad.csv"}};
  ExpectPrepareFails(c, {(s.dir / "bad.csv").string()});

  c = Config(s);
  c.end_frame = 30;  // past the 20 frames
  ExpectPrepareFails(c, {"video.avi", "20 frames"});

  c = Config(s);
  c.start_frame = 0;
  ExpectPrepareFails(c, {"--start-frame", "numbered from 1"});
  EXPECT_THROW(ParseLabelsArg("ped"), InputError);
  EXPECT_EQ(ParseLabelsArg("ped=a/b.csv").file, fs::path("a/b.csv"));
}

TEST(RuntimeConfig, RoundTripsThroughJson) {
  RunConfig c;
  c.schedule = "s.json";
  c.base_dir = "b";
  c.input = "camera:0";
  c.out_dir = "o";
  c.labels = {{"ped", "ped.csv"}};
  c.realtime = true;
  c.seed = 7;
  c.start_frame = 5;
  c.end_frame = 9;
  c.fps_override = 7;
  c.Validate();
  Json j = c.ToJson();
  RunConfig d = RunConfig::FromJson(JsonView(j, "config"));
  EXPECT_EQ(d.ToJson(), j);
  c.batch = 4;
  EXPECT_THROW(c.Validate(), InputError);  // batching is for offline runs
  c.batch = 1;
  c.phases = 3;
  EXPECT_THROW(c.Validate(), InputError);  // phases re-run frames: not in real time
  c.realtime = false;
  EXPECT_THROW(c.Validate(), InputError);  // ... nor on a camera
  c.input = "rtsp://cam/stream";
  EXPECT_THROW(c.Validate(), InputError);
  c.input = "clip.avi";
  c.Validate();
  EXPECT_EQ(RunConfig::FromJson(JsonView(c.ToJson(), "config")).phases, 3);
  c.phases = 0;
  EXPECT_THROW(c.Validate(), InputError);
}

}  // namespace
}  // namespace mainstream
