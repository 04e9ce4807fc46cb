// msprofile --calibrate: fitting a profile to what msrun measured.
#include "mainstream/schedule/calibrate.h"

#include <gtest/gtest.h>

#include "mainstream/core/json_io.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/memory_model.h"
#include "mainstream/schedule/profile_costs.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

using testing::InputErrorOf;
using testing::SyntheticProfile;
using testing::TempDir;

struct TrueCosts {
  double stem = 1.1, branch = 1.4, decode = 1.2, preprocess = 0.9;
};

// An msrun summary of `apps` on `profile` whose measured costs are the
// profile's predictions times `truth`'s factors.
Json FakeSummary(const Profile& profile, const std::vector<AppRequest>& apps,
                 const TrueCosts& truth, double stream_fps = 10, int64_t frames = 300) {
  const StageCosts costs = ProfileCosts(profile, stream_fps);
  const MergedTree tree = BuildMergedTree(costs, apps);
  Json nodes = Json::array();
  for (const TreeNode& n : tree.nodes) {
    const bool stem = n.kind == TreeNode::Kind::kStem;
    const double expected = n.fps * static_cast<double>(frames) / stream_fps;
    nodes.push_back(Json{{"kind", stem ? "stem" : "branch"},
                         {"stages", {n.begin, n.end}},
                         {"fps", n.fps},
                         {"predicted_cost", n.cost()},
                         {"measured_cost", n.cost() * (stem ? truth.stem : truth.branch)},
                         {"expected_executions", expected},
                         {"executions", static_cast<int64_t>(std::llround(expected))}});
  }
  return Json{
      {"kind", "mainstream.run"},
      {"schema_version", 1},
      {"status", "completed"},
      {"base", profile.base.ToJson()},
      {"machine", Json{{"description", Json{{"cpu_model", "Test CPU"}}}, {"torch_threads", 1}}},
      {"frames", Json{{"decoded", frames},
                      {"preprocessed", static_cast<int64_t>(static_cast<double>(frames) *
                                                            tree.max_fps / stream_fps)},
                      {"video_seconds", static_cast<double>(frames) / stream_fps}}},
      {"nodes", nodes},
      {"cost", Json{{"measured", Json{{"decode", tree.decode_cost * truth.decode},
                                      {"preprocess", tree.preprocess_cost * truth.preprocess}}}}}};
}

Profile TestProfile() {
  Profile p = SyntheticProfile(6, 3);
  p.machine = Json{{"cpu_model", "Test CPU"}};
  return p;
}

const std::vector<std::vector<AppRequest>> kSchedules = {
    {{0, 5}, {2, 3}, {4, 10}},
    {{3, 10}, {3, 2}, {5, 1}, {1, 4}},
    {{5, 10}, {5, 10}},
};

TEST(Calibrate, RecoversTheFactorsAndPredictsEveryRunExactly) {
  TempDir dir;
  Profile profile = TestProfile();
  // Decoding after the DNN costs more: charged once per analyzed frame.
  profile.decode_after_dnn_ms = 1.5 * profile.decode_ms;
  const TrueCosts truth;
  std::vector<std::filesystem::path> files;
  for (size_t i = 0; i < kSchedules.size(); ++i) {
    files.push_back(dir / ("run" + std::to_string(i)) / "summary.json");
    std::filesystem::create_directories(files.back().parent_path());
    WriteJsonFileAtomic(files.back(), FakeSummary(profile, kSchedules[i], truth));
  }
  const CalibrationResult r = Calibrate(profile, FindRunSummaries({dir.path()}));
  ASSERT_EQ(r.runs.size(), 3u);
  EXPECT_NEAR(r.factors.stem, truth.stem, 1e-9);
  EXPECT_NEAR(r.factors.branch, truth.branch, 1e-9);
  EXPECT_NEAR(r.factors.decode, truth.decode, 1e-9);
  EXPECT_NEAR(r.factors.preprocess, truth.preprocess, 1e-9);
  for (size_t i = 0; i < r.runs.size(); ++i) {
    EXPECT_GT(r.ratio_before[i], 1.05) << i;  // every factor but preprocess is > 1
    EXPECT_NEAR(r.ratio_after[i], 1, 1e-9) << i;
    EXPECT_NEAR(r.ratio_held_out[i], 1, 1e-9) << i;
  }
  // The calibrated profile, through the cost model the scheduler uses,
  // predicts what was measured.
  const Profile& c = r.profile;
  ASSERT_EQ(c.BranchLatencies().size(), profile.stages.size());
  EXPECT_NEAR(c.decode_after_dnn_ms, profile.decode_after_dnn_ms * truth.decode, 1e-12);
  const StageCosts costs = ProfileCosts(c, 10);
  EXPECT_GT(costs.decode_extra_ms, 0);
  for (size_t i = 0; i < kSchedules.size(); ++i) {
    const Json s = FakeSummary(profile, kSchedules[i], truth);
    double measured = s["cost"]["measured"]["decode"].get<double>() +
                      s["cost"]["measured"]["preprocess"].get<double>();
    for (const Json& n : s["nodes"]) measured += n["measured_cost"].get<double>();
    EXPECT_NEAR(ScheduleCost(costs, kSchedules[i]), measured, 1e-9 * measured) << i;
  }
  // It round-trips through its file format and records what it corrected.
  const Profile back = Profile::FromJson(JsonView(c.ToJson(), "calibrated.json"));
  EXPECT_EQ(back.BranchLatencies(), c.BranchLatencies());
  EXPECT_NEAR(back.calibration["factors"]["branch"].get<double>(), truth.branch, 1e-9);
  EXPECT_EQ(back.calibration["runs"].size(), 3u);
}

// Runs with a speed probe: measured on a machine 1.5x and 0.8x slower than
// when profiled, their stem and branch costs are brought to the profile's
// speed, so the factors are the model's own; decode and preprocessing (not
// probed) are taken as measured. Without probes the drift would be in them.
TEST(Calibrate, SpeedProbesTakeTheMachinesDriftOutOfTheFactors) {
  TempDir dir;
  const Profile profile = TestProfile();
  const TrueCosts truth;
  const double profiled = profile.TotalStageMs();
  const double speeds[] = {1.5, 0.8, 1.5};
  std::vector<std::filesystem::path> files;
  for (size_t i = 0; i < kSchedules.size(); ++i) {
    Json s = FakeSummary(profile, kSchedules[i], truth);
    for (Json& n : s["nodes"]) n["measured_cost"] = n["measured_cost"].get<double>() * speeds[i];
    // The probe before and after: their mean is the speed.
    s["machine"]["speed_probe"] = Json{{"profile_ms", profiled},
                                       {"start_ms", profiled * (speeds[i] - 0.1)},
                                       {"end_ms", profiled * (speeds[i] + 0.1)},
                                       {"factor", speeds[i]}};
    files.push_back(dir / ("run" + std::to_string(i)) / "summary.json");
    std::filesystem::create_directories(files.back().parent_path());
    WriteJsonFileAtomic(files.back(), s);
  }
  const CalibrationResult r = Calibrate(profile, files);
  EXPECT_NEAR(r.factors.stem, truth.stem, 1e-9);
  EXPECT_NEAR(r.factors.branch, truth.branch, 1e-9);
  EXPECT_NEAR(r.factors.decode, truth.decode, 1e-9);
  for (size_t i = 0; i < r.runs.size(); ++i) {
    EXPECT_NEAR(r.runs[i].speed, speeds[i], 1e-9) << i;
    EXPECT_NEAR(r.ratio_held_out[i], 1, 1e-9) << i;
  }
  EXPECT_TRUE(r.warnings.empty());
  // A probe missing from one run: used as measured, with a warning.
  Json plain = FakeSummary(profile, kSchedules[0], truth);
  WriteJsonFileAtomic(files[0], plain);
  const CalibrationResult mixed = Calibrate(profile, files);
  EXPECT_EQ(mixed.runs[0].speed, 0.0);
  ASSERT_FALSE(mixed.warnings.empty());
  EXPECT_NE(mixed.warnings.back().find("no speed probe"), std::string::npos);
  // The calibrated profile: the probe is against what msprofile measured
  // (its stages over the stem factor), and the run's costs at that speed
  // are what the calibrated profile predicts.
  const CalibrationResult again = Calibrate(r.profile, {files[1], files[2]});
  for (size_t i = 0; i < again.runs.size(); ++i) {
    EXPECT_NEAR(again.runs[i].speed, speeds[i + 1], 1e-9) << i;
    EXPECT_NEAR(again.ratio_before[i], 1, 1e-9) << i;
  }
  // A profile that records the reference the probe repeats (msprofile's
  // fixed-input passes, here 0.8x its stage sum): the speed is against it.
  Profile referenced = profile;
  referenced.speed_reference_ms = 0.8 * profiled;
  const CalibrationResult ref = Calibrate(referenced, {files[1], files[2]});
  for (size_t i = 0; i < ref.runs.size(); ++i)
    EXPECT_NEAR(ref.runs[i].speed, speeds[i + 1] / 0.8, 1e-9) << i;
  // Calibrating leaves the reference as msprofile measured it.
  const CalibrationResult ref_cal = Calibrate(referenced, files);
  EXPECT_EQ(ref_cal.profile.speed_reference_ms, referenced.speed_reference_ms);
}

// Memory: runs whose measured model memory is overhead + factor x the
// profile's stage copies + the rest; the fit recovers both, and the
// calibrated profile predicts every run through ScheduleMemory.
TEST(Calibrate, FitsMemoryOverheadAndCopyFactor) {
  TempDir dir;
  Profile profile = TestProfile();
  for (size_t k = 0; k < profile.stages.size(); ++k) {
    profile.stages[k].param_bytes = 1e6 * static_cast<double>(k + 1);
    profile.stages[k].activation_bytes = 2e5 / static_cast<double>(k + 1);
  }
  profile.input_bytes = 3e5;
  const double overhead = 48e6, factor = 1.8, segment = 2e6;
  const StageMemory mem = ProfileMemory(profile);
  std::vector<std::filesystem::path> files;
  for (size_t i = 0; i < kSchedules.size(); ++i) {
    Json s = FakeSummary(profile, kSchedules[i], TrueCosts{});
    const MemoryBreakdown m = ScheduleMemory(mem, kSchedules[i]);
    const MergedTree tree = BuildMergedTree(StageCosts(profile.StageLatencies(), 0), kSchedules[i]);
    const double measured = overhead + factor * (m.stem_params + m.branch_params) + m.base +
                            m.activations + segment * static_cast<double>(tree.nodes.size());
    s["memory"] = Json{{"measured_model_bytes", measured}};
    files.push_back(dir / ("run" + std::to_string(i)) / "summary.json");
    std::filesystem::create_directories(files.back().parent_path());
    WriteJsonFileAtomic(files.back(), s);
  }
  const CalibrationResult r = Calibrate(profile, files);
  ASSERT_TRUE(r.memory.fitted);
  EXPECT_NEAR(r.memory.overhead, overhead, 1e-3 * overhead);
  EXPECT_NEAR(r.memory.copy_factor, factor, 1e-6);
  EXPECT_NEAR(r.memory.segment, segment, 1e-3 * segment);
  for (size_t i = 0; i < kSchedules.size(); ++i) {
    EXPECT_GT(r.memory_before[i], 1.5) << i;
    EXPECT_NEAR(r.memory_after[i], 1, 1e-6) << i;
    // Held out, two runs cannot fit three terms: the fit drops the per-node one.
    EXPECT_NEAR(r.memory_held_out[i], 1, 0.1) << i;
    const Json s = ReadJsonFile(files[i]);
    EXPECT_NEAR(ScheduleMemory(ProfileMemory(r.profile), kSchedules[i]).total(),
                s["memory"]["measured_model_bytes"].get<double>(), 1e-6 * 1e8)
        << i;
  }
  const Profile back = Profile::FromJson(JsonView(r.profile.ToJson(), "calibrated.json"));
  EXPECT_NEAR(back.memory_overhead_bytes, overhead, 1e-3 * overhead);
  EXPECT_NEAR(back.calibration["memory"]["copy_factor"].get<double>(), factor, 1e-6);
  // A profile without memory ignores the runs' memory.
  const CalibrationResult none = Calibrate(TestProfile(), files);
  EXPECT_FALSE(none.memory.fitted);
}

TEST(Calibrate, HeldOutRatiosShowWhatOneRunCannotTell) {
  TempDir dir;
  const Profile profile = TestProfile();
  // Two runs whose branches cost differently: each held out is predicted by
  // the other's factor, so neither held-out ratio is 1.
  TrueCosts a, b;
  b.branch = 2.0;
  WriteJsonFileAtomic(dir / "a.json", FakeSummary(profile, kSchedules[0], a));
  WriteJsonFileAtomic(dir / "b.json", FakeSummary(profile, kSchedules[0], b));
  const CalibrationResult r = Calibrate(profile, {dir / "a.json", dir / "b.json"});
  EXPECT_GT(r.factors.branch, a.branch);
  EXPECT_LT(r.factors.branch, b.branch);
  EXPECT_GT(r.ratio_held_out[0], 0);
  EXPECT_LT(r.ratio_held_out[0], 0.99);  // a predicted with b's costlier branches
  EXPECT_GT(r.ratio_held_out[1], 1.01);
  EXPECT_NE(r.ToText().find("held out"), std::string::npos);
}

TEST(Calibrate, RejectsRunsThatCannotCalibrateThisProfile) {
  TempDir dir;
  const Profile profile = TestProfile();
  const Json good = FakeSummary(profile, kSchedules[1], TrueCosts{});
  auto calibrate_with = [&](const Json& summary) {
    WriteJsonFileAtomic(dir / "summary.json", summary);
    return InputErrorOf([&] { Calibrate(profile, {dir / "summary.json"}); });
  };
  Json other_base = good;
  other_base["base"]["sha256"] = "ffff";
  EXPECT_NE(calibrate_with(other_base).find("$.base.sha256"), std::string::npos);
  Json other_cpu = good;
  other_cpu["machine"]["description"]["cpu_model"] = "Another CPU";
  EXPECT_NE(calibrate_with(other_cpu).find("another machine"), std::string::npos);
  Json threads = good;
  threads["machine"]["torch_threads"] = 2;
  EXPECT_NE(calibrate_with(threads).find("$.machine.torch_threads"), std::string::npos);
  Json failed = good;
  failed["status"] = "failed";
  EXPECT_NE(calibrate_with(failed).find("$.status"), std::string::npos);
  Json short_run = good;
  short_run["frames"]["decoded"] = 5;
  EXPECT_NE(calibrate_with(short_run).find("too few"), std::string::npos);
  Json bad_stage = good;
  bad_stage["nodes"][0]["stages"] = {0, 99};
  EXPECT_NE(calibrate_with(bad_stage).find("$.nodes[0].stages[1]"), std::string::npos);
  Json schedule = good;
  schedule["kind"] = "mainstream.schedule";
  EXPECT_NE(calibrate_with(schedule).find("schedule"), std::string::npos);
  EXPECT_NE(InputErrorOf([&] { FindRunSummaries({dir / "missing"}); }).find("missing"),
            std::string::npos);

  // A stopped run is still usable: a warning, not an error.
  Json stopped = good;
  stopped["status"] = "stopped";
  WriteJsonFileAtomic(dir / "summary.json", stopped);
  const CalibrationResult r = Calibrate(profile, {dir / "summary.json"});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("stopped"), std::string::npos);
}

TEST(CostModel, SpecializedStageCostsChargeBranchesOnly) {
  StageCosts costs({1, 2, 3, 4}, 0.5);
  const std::vector<AppRequest> apps = {{2, 10}, {2, 5}, {0, 1}};
  const MergedTree hot = BuildMergedTree(costs, apps);
  costs.SetBranchStages({10, 20, 30, 40});
  const MergedTree cold = BuildMergedTree(costs, apps);
  EXPECT_DOUBLE_EQ(cold.stem_cost, hot.stem_cost);
  EXPECT_DOUBLE_EQ(cold.branch_cost, 10 * hot.branch_cost);
  EXPECT_DOUBLE_EQ(costs.BranchRange(2, 4), 70);
  EXPECT_DOUBLE_EQ(costs.Range(2, 4), 7);
  EXPECT_THROW(costs.SetBranchStages({1, 2}), InputError);
  costs.SetBranchStages({});
  EXPECT_DOUBLE_EQ(BuildMergedTree(costs, apps).total_cost(), hot.total_cost());
}

}  // namespace
}  // namespace mainstream
