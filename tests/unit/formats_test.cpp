#include <gtest/gtest.h>

#include "mainstream/core/error.h"
#include "mainstream/schedule/schedule_doc.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

// Writes a package/profile pair and returns their paths.
struct Fixture {
  TempDir dir;
  Profile profile = testing::SyntheticProfile(5, 1);
  fs::path profile_path = dir / "profile.json";
  std::vector<fs::path> packages;
  Fixture() {
    WriteProfile(profile, profile_path);
    for (int i = 0; i < 3; ++i) {
      MPackage p = testing::SyntheticPackage("app" + std::to_string(i), profile,
                                             10 + static_cast<uint64_t>(i));
      fs::path d = dir / ("pkg" + std::to_string(i));
      WriteMPackageManifest(p, d);
      packages.push_back(d);
    }
  }
  // Edits one package's manifest JSON.
  void Edit(size_t i, const std::function<void(Json&)>& f) {
    fs::path file = packages[i] / "mpackage.json";
    Json j = ReadJsonFile(file);
    f(j);
    testing::WriteText(file, j.dump(2));
  }
};

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Formats, PackageRoundTrip) {
  Fixture fx;
  MPackage p = ReadMPackage(fx.packages[0]);
  EXPECT_EQ(p.app, "app0");
  EXPECT_EQ(p.candidates.size(), 5u);
  EXPECT_EQ(p.base.sha256, fx.profile.base.sha256);
  Profile q = ReadProfile(fx.profile_path);
  EXPECT_EQ(q.stages.size(), 5u);
  EXPECT_DOUBLE_EQ(q.stages[2].p50_ms, fx.profile.stages[2].p50_ms);
}

TEST(Formats, PackageErrorsNameFileAndPath) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string expect;
  };
  std::vector<Case> cases = {
      {[](Json& j) { j["schema_version"] = 9; }, "$.schema_version: unsupported schema_version 9"},
      {[](Json& j) { j.erase("app"); }, "$: missing required field \"app\""},
      {[](Json& j) { j["candidates"] = Json::array(); }, "$.candidates: no candidates"},
      {[](Json& j) { j["candidates"][1]["tpr"] = -0.2; },
       "$.candidates[1].tpr: expected a number in [0, 1], got -0.2"},
      {[](Json& j) { j["candidates"][0]["fpr"] = "high"; },
       "$.candidates[0].fpr: expected a number"},
      {[](Json& j) { j["candidates"][2]["branchpoint"] = 99; },
       "$.candidates[2].branchpoint: branchpoint 99 must be below"},
      {[](Json& j) { j["candidates"][1]["branchpoint"] = 0; },
       "$.candidates[1].branchpoint: duplicate branch candidate at branchpoint 0"},
      {[](Json& j) { j["events"]["frequency"] = 0; },
       "$.events.frequency: expected a fraction in [1e-09, 1]"},
      {[](Json& j) { j["events"]["mean_length_frames"] = 3e18; },
       "$.events.mean_length_frames: expected a number of frames in (0, 1000000]"},
      {[](Json& j) { j["stream_fps"] = 1e-7; }, "$.stream_fps: expected a number in [1e-06"},
      {[](Json& j) { j["events"]["correlation"] = 1.5; }, "$.events.correlation"},
      {[](Json& j) { j["events"]["mean_length_frames"] = -4; },
       "$.events.mean_length_frames: expected a number of frames in (0"},
      {[](Json& j) { j["stream_fps"] = 0; }, "$.stream_fps"},
      {[](Json& j) { j["app"] = "bad name/"; }, "$.app: app name"},
      {[](Json& j) { j["kind"] = "mainstream.schedule"; },
       "$.kind: this file is a \"mainstream.schedule\", not a M-Package manifest"},
      {[](Json& j) { j.erase("kind"); },
       "$: missing \"kind\" (a M-Package manifest has \"kind\": \"mainstream.mpackage\")"},
      // Weights may not leave the package directory.
      {[](Json& j) { j["candidates"][1]["weights"] = "../../../etc/passwd"; },
       "$.candidates[1].weights: \"../../../etc/passwd\" must be a relative path inside the "
       "package directory"},
      {[](Json& j) { j["candidates"][0]["weights"] = "/abs/other/bp0.pt"; },
       "$.candidates[0].weights: \"/abs/other/bp0.pt\" must be a relative path"},
      {[](Json& j) { j["candidates"][0]["tpr"] = Json::parse("1e300"); },
       "$.candidates[0].tpr: expected a number in [0, 1]"},
  };
  for (const auto& c : cases) {
    Fixture fx;
    fx.Edit(0, c.edit);
    std::string err = ErrorOf([&] { ReadMPackage(fx.packages[0]); });
    EXPECT_NE(err.find("mpackage.json"), std::string::npos) << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << "got: " << err << "\nwant: " << c.expect;
  }
}

TEST(Formats, NaNAndMalformedJsonAreRejected) {
  Fixture fx;
  testing::WriteText(fx.packages[0] / "mpackage.json", "{\"schema_version\": 1, \"app\": NaN}");
  EXPECT_NE(ErrorOf([&] { ReadMPackage(fx.packages[0]); }).find("malformed JSON"),
            std::string::npos);
  testing::WriteText(fx.packages[1] / "mpackage.json", "{\"schema_version\": 1, \"app\": \"x\", ");
  EXPECT_NE(ErrorOf([&] { ReadMPackage(fx.packages[1]); }).find("malformed JSON"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ReadMPackage(fx.dir / "nowhere"); }).find("no M-Package here"),
            std::string::npos);
}

TEST(Formats, ProfileErrors) {
  Fixture fx;
  Json j = ReadJsonFile(fx.profile_path);
  j["stages"].erase(j["stages"].begin());
  testing::WriteText(fx.profile_path, j.dump());
  std::string err = ErrorOf([&] { ReadProfile(fx.profile_path); });
  EXPECT_NE(err.find("profile.json: $.stages: has 4 stage timings but the base has num_stages 5"),
            std::string::npos)
      << err;
  j = ReadJsonFile(fx.profile_path);
  WriteProfile(fx.profile, fx.profile_path);
  j = ReadJsonFile(fx.profile_path);
  j["stages"][1]["p95_ms"] = 0.0;
  testing::WriteText(fx.profile_path, j.dump());
  EXPECT_NE(ErrorOf([&] { ReadProfile(fx.profile_path); }).find("$.stages[1].p95_ms: p95"),
            std::string::npos);
  // A package manifest passed as a profile is named as what it is.
  std::string other = ErrorOf([&] { ReadProfile(fx.packages[0] / "mpackage.json"); });
  EXPECT_NE(other.find("$.kind: this file is a \"mainstream.mpackage\", not a profile"),
            std::string::npos)
      << other;
}

TEST(Formats, PlanRejectsMismatchedBaseAndBadBudget) {
  Fixture fx;
  ScheduleConfig sc;
  sc.packages = fx.packages;
  sc.profile = fx.profile_path;
  sc.budget = 1e9;
  EXPECT_NO_THROW(PlanSchedule(sc));
  fx.Edit(1, [](Json& j) { j["base"]["sha256"] = "deadbeef"; });
  std::string err = ErrorOf([&] { PlanSchedule(sc); });
  EXPECT_NE(err.find("pkg1/mpackage.json: $.base.sha256: package was trained on base"),
            std::string::npos)
      << err;
  fx.Edit(1, [&](Json& j) { j["base"]["sha256"] = fx.profile.base.sha256; });
  // Budgets as text (flags, deployment files): what Validate accepts.
  ScheduleConfig parsed;
  ParseBudget("1.5x", parsed);
  EXPECT_EQ(parsed.budget_factor, 1.5);
  ParseBudget("12.5", parsed);
  EXPECT_EQ(parsed.budget, 12.5);
  EXPECT_EQ(parsed.budget_factor, 0);
  for (const char* bad : {"2e16x", "0x", "-3", "fast", "inf", "x"}) {
    EXPECT_NE(ErrorOf([&] { ParseBudget(bad, parsed); }).find("--budget"), std::string::npos)
        << bad;
  }
  sc.budget = 0;
  EXPECT_NE(ErrorOf([&] { PlanSchedule(sc); }).find("--budget must be a positive number"),
            std::string::npos);
  sc.budget = 1e9;
  sc.fps_options = {-1};
  EXPECT_NE(ErrorOf([&] { PlanSchedule(sc); }).find("--fps"), std::string::npos);
  sc.fps_options = {};
  fx.Edit(2, [](Json& j) { j["stream_fps"] = 25; });
  EXPECT_NE(ErrorOf([&] { PlanSchedule(sc); }).find("$.stream_fps: 25 differs"), std::string::npos);
}

// What msprofile records of the run's context (docs/formats.md): the stages'
// charged ms, the decode after the DNN and the speed probe's reference travel
// from the profile into the schedule, and the cost model charges them.
TEST(Formats, ProfileAndScheduleCarryTheRunsContext) {
  Fixture fx;
  Profile p = fx.profile;
  double p50_sum = 0;
  for (StageTiming& st : p.stages) {
    st.ms = 1.1 * st.p50_ms;
    p50_sum += st.p50_ms;
  }
  p.decode_after_dnn_ms = 1.5 * p.decode_ms;
  p.speed_reference_ms = 0.9 * p50_sum;
  WriteProfile(p, fx.profile_path);
  const Profile back = ReadProfile(fx.profile_path);
  for (size_t k = 0; k < p.stages.size(); ++k) EXPECT_EQ(back.stages[k].ms, p.stages[k].ms);
  EXPECT_NEAR(back.TotalStageMs(), 1.1 * p50_sum, 1e-9);
  EXPECT_EQ(back.decode_after_dnn_ms, p.decode_after_dnn_ms);
  EXPECT_EQ(back.SpeedReferenceMs(), p.speed_reference_ms);

  ScheduleConfig sc;
  sc.packages = fx.packages;
  sc.profile = fx.profile_path;
  sc.budget = 1000;
  const ScheduleDoc doc = PlanSchedule(sc);
  EXPECT_NEAR(doc.costs.decode_extra_ms, 0.5 * p.decode_ms, 1e-12);
  EXPECT_EQ(doc.speed_reference_ms, p.speed_reference_ms);
  EXPECT_NEAR(doc.tree.decode_cost,
              p.decode_ms * doc.stream_fps + 0.5 * p.decode_ms * doc.tree.max_fps, 1e-9);
  EXPECT_NEAR(doc.costs.Total(), 1.1 * p50_sum, 1e-9);
  fs::path out = fx.dir / "out" / "schedule.json";
  WriteSchedule(doc, out);
  const ScheduleDoc again = ReadSchedule(out);  // its recorded cost checks out
  EXPECT_EQ(again.costs.decode_extra_ms, doc.costs.decode_extra_ms);
  EXPECT_EQ(again.speed_reference_ms, doc.speed_reference_ms);
  EXPECT_NEAR(again.total_cost, doc.total_cost, 1e-9);

  Json j = ReadJsonFile(fx.profile_path);
  j["stages"][2]["ms"] = 0.0;
  testing::WriteText(fx.profile_path, j.dump());
  EXPECT_NE(ErrorOf([&] { ReadProfile(fx.profile_path); }).find("$.stages[2].ms"),
            std::string::npos);
  j = ReadJsonFile(out);
  j["decode_extra_ms"] = -1;
  testing::WriteText(out, j.dump());
  EXPECT_NE(ErrorOf([&] { ReadSchedule(out); }).find("$.decode_extra_ms"), std::string::npos);
}

TEST(Formats, ScheduleRoundTripAndTamperDetection) {
  Fixture fx;
  ScheduleConfig sc;
  sc.packages = fx.packages;
  sc.profile = fx.profile_path;
  sc.budget = 60;
  ScheduleDoc doc = PlanSchedule(sc);
  fs::path out = fx.dir / "out" / "schedule.json";
  WriteSchedule(doc, out);
  ScheduleDoc back = ReadSchedule(out);
  ASSERT_EQ(back.apps.size(), doc.apps.size());
  EXPECT_NEAR(back.total_cost, doc.total_cost, 1e-9);
  EXPECT_LE(back.total_cost, 60 + 1e-9);
  for (size_t i = 0; i < doc.apps.size(); ++i) {
    EXPECT_EQ(fs::canonical(back.apps[i].package), fs::canonical(doc.apps[i].package));
    EXPECT_EQ(back.apps[i].branchpoint, doc.apps[i].branchpoint);
    EXPECT_DOUBLE_EQ(back.apps[i].fps, doc.apps[i].fps);
  }
  Json j = ReadJsonFile(out);
  j["apps"][0]["fps"] = j["apps"][0]["fps"].get<double>() + 1;
  testing::WriteText(out, j.dump());
  std::string err = ErrorOf([&] { ReadSchedule(out); });
  EXPECT_TRUE(err.find("$.total_cost: recorded cost") != std::string::npos ||
              err.find("$.apps[0].fps") != std::string::npos)
      << err;
}

}  // namespace
}  // namespace mainstream
