// End-to-end: run the msschedule binary on synthetic packages.
#include <gtest/gtest.h>

#include "mainstream/core/json_io.h"
#include "mainstream/schedule/node_plan.h"
#include "mainstream/schedule/schedule_doc.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::RunTool;
using testing::TempDir;

struct Workspace {
  TempDir dir;
  std::string packages;
  std::string profile;
  Workspace() {
    Profile prof = testing::SyntheticProfile(6, 3);
    profile = (dir / "profile.json").string();
    WriteProfile(prof, profile);
    for (int i = 0; i < 4; ++i) {
      fs::path d = dir / ("pk" + std::to_string(i));
      WriteMPackageManifest(
          testing::SyntheticPackage("app" + std::to_string(i), prof, 50 + static_cast<uint64_t>(i)),
          d);
      packages += " " + d.string();
    }
  }
};

TEST(E2EMsschedule, PredictPrintsModelAndSimulation) {
  auto r = RunTool("msschedule",
                   "predict --tpr 0.9 --fpr 0.05 --event-length 30 --event-frequency 0.1 "
                   "--correlation 0.2 --stride 4 --x-vote 2 --monte-carlo 20000 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = ParseJson(r.out, "stdout");
  EXPECT_NEAR(j["recall"].get<double>(), j["simulated"]["recall"].get<double>(), 0.02);
  EXPECT_NEAR(j["precision"].get<double>(), j["simulated"]["precision"].get<double>(), 0.05);
  EXPECT_GT(j["f1"].get<double>(), 0.3);
}

// --budget 1.5x: a multiple of the cheapest schedule's cost, recorded in the
// schedule; every algorithm gets the same absolute budget.
TEST(E2EMsschedule, RelativeBudgetsScaleTheCheapestSchedule) {
  Workspace ws;
  double budget = 0;
  for (const char* algo : {"greedy", "nosharing"}) {
    fs::path out = ws.dir / (std::string(algo) + ".json");
    auto r =
        RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                  " --budget 2.5x --algo " + algo + " -o " + out.string());
    if (std::string(algo) == "nosharing" && r.exit_code == 2)
      continue;  // may not fit; greedy always does
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ScheduleDoc doc = ReadSchedule(out);
    EXPECT_DOUBLE_EQ(doc.budget_factor, 2.5);
    EXPECT_GT(doc.cheapest_cost, 0);
    EXPECT_NEAR(doc.budget, 2.5 * doc.cheapest_cost, 1e-9 * doc.budget);
    EXPECT_LE(doc.total_cost, doc.budget + 1e-9);
    if (budget > 0) {
      EXPECT_DOUBLE_EQ(doc.budget, budget);
    }
    budget = doc.budget;
    EXPECT_NE(r.err.find("2.5x the cheapest schedule"), std::string::npos) << r.err;
  }
  // Below the cheapest schedule: infeasible, with the minimum; a bad text: named.
  auto low =
      RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                " --budget 0.5x -o " + (ws.dir / "low.json").string());
  EXPECT_EQ(low.exit_code, 2);
  EXPECT_NE(low.err.find("infeasible"), std::string::npos) << low.err;
  auto bad =
      RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                " --budget 1.5y -o " + (ws.dir / "bad.json").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--budget: '1.5y'"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(ws.dir / "bad.json"));
}

// predict --package: every candidate, rate and X; a package without a score
// trace is predicted by the model alone and says so.
TEST(E2EMsschedule, PredictAPackageShowsEveryOption) {
  Workspace ws;
  const std::string pk = (ws.dir / "pk0").string();
  auto r = RunTool("msschedule", "predict --package " + pk + " --rates 1,5 --x-votes 1,2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json j = ParseJson(r.out, "stdout");
  const MPackage p = ReadMPackage(pk);
  EXPECT_EQ(j["source"], "model");
  EXPECT_EQ(j["rows"].size(), p.candidates.size() * 2 * 2);
  for (const Json& row : j["rows"]) {
    EXPECT_EQ(row["source"], "model");
    EXPECT_LE(row["interval90"][0].get<double>(), row["f1"].get<double>());
    EXPECT_GE(row["interval90"][1].get<double>(), row["f1"].get<double>());
  }
  auto table = RunTool("msschedule", "predict --package " + pk + " --rates 1");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("no score trace"), std::string::npos) << table.out;
  auto missing = RunTool("msschedule", "predict --package " + pk + " --branchpoint 99");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--branchpoint: 99"), std::string::npos) << missing.err;
  auto no_rates = RunTool("msschedule", "predict --tpr 0.5");
  EXPECT_EQ(no_rates.exit_code, 2);
  EXPECT_NE(no_rates.err.find("--fpr is required"), std::string::npos) << no_rates.err;
}

TEST(E2EMsschedule, ScheduleWritesAValidScheduleWithinBudget) {
  Workspace ws;
  fs::path out = ws.dir / "s" / "schedule.json";
  auto r =
      RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                " --budget 40 --algo exhaustive --x-vote 1,2,3 -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScheduleDoc doc = ReadSchedule(out);
  EXPECT_EQ(doc.apps.size(), 4u);
  EXPECT_LE(doc.total_cost, 40 + 1e-9);
  EXPECT_EQ(doc.algorithm, "exhaustive");
  EXPECT_TRUE(doc.search["exact"].get<bool>());
  EXPECT_NE(r.err.find("mean F1"), std::string::npos);
  // The greedy never beats the exact search on the same input.
  fs::path out2 = ws.dir / "s" / "greedy.json";
  auto g =
      RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                " --budget 40 --algo greedy --x-vote 1,2,3 -o " + out2.string());
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_LE(ReadSchedule(out2).mean_f1, doc.mean_f1 + 1e-9);
}

// --max-nodes / --time-limit: the best schedule found, its proven bound and
// gap in schedule.json and on stderr.
TEST(E2EMsschedule, StoppedExhaustiveSaysItsGap) {
  Workspace ws;
  fs::path out = ws.dir / "stopped.json";
  auto r =
      RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                " --budget 40 --algo exhaustive --x-vote 1,2,3 --max-nodes 1 -o " +
                                out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScheduleDoc doc = ReadSchedule(out);
  EXPECT_FALSE(doc.search["exact"].get<bool>());
  EXPECT_EQ(doc.search["stopped_by"], "node limit");
  EXPECT_EQ(doc.search["max_nodes"], 1);
  EXPECT_GE(doc.search["bound_mean_f1"].get<double>(), doc.mean_f1);
  EXPECT_NE(r.err.find("not proven optimal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gap"), std::string::npos) << r.err;
  auto bad =
      RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                " --budget 40 --algo exhaustive --time-limit -2 -o " +
                                (ws.dir / "b.json").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--time-limit"), std::string::npos) << bad.err;
}

// --memory-budget: refused on a profile without memory, respected with one,
// and an impossible pair names the least memory that works.
TEST(E2EMsschedule, MemoryBudgetIsRespectedAndExplained) {
  Workspace ws;
  const std::string base = "schedule --packages" + ws.packages + " --budget 40 --algo exhaustive ";
  auto none = RunTool("msschedule", base + "--profile " + ws.profile + " --memory-budget 5");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("re-run msprofile"), std::string::npos) << none.err;
  Profile prof = ReadProfile(ws.profile);
  for (size_t k = 0; k < prof.stages.size(); ++k) {
    prof.stages[k].param_bytes = 2e5 * static_cast<double>(k + 1);
    prof.stages[k].activation_bytes = 1e5 / static_cast<double>(k + 1);
  }
  prof.input_bytes = 2e5;
  const std::string mem_profile = (ws.dir / "mem-profile.json").string();
  WriteProfile(prof, mem_profile);
  const fs::path free_out = ws.dir / "free.json", tight_out = ws.dir / "tight.json";
  auto free = RunTool("msschedule", base + "--profile " + mem_profile + " -o " + free_out.string());
  ASSERT_EQ(free.exit_code, 0) << free.err;
  const double free_mb = ReadSchedule(free_out).predicted_memory.total() / 1e6;
  auto tight =
      RunTool("msschedule", base + "--profile " + mem_profile + " --memory-budget " +
                                std::to_string(0.8 * free_mb) + " -o " + tight_out.string());
  if (tight.exit_code == 0) {
    const ScheduleDoc doc = ReadSchedule(tight_out);
    EXPECT_LE(doc.predicted_memory.total(), 0.8 * free_mb * 1e6 + 1);
    EXPECT_NEAR(doc.memory_budget, 0.8 * free_mb * 1e6, 1);
    EXPECT_NE(tight.err.find("memory:"), std::string::npos) << tight.err;
  } else {
    EXPECT_EQ(tight.exit_code, 2);
    EXPECT_NE(tight.err.find("least memory found"), std::string::npos) << tight.err;
  }
  auto tiny = RunTool("msschedule", base + "--profile " + mem_profile + " --memory-budget 0.001");
  EXPECT_EQ(tiny.exit_code, 2);
  EXPECT_NE(tiny.err.find("least memory found"), std::string::npos) << tiny.err;
  auto negative = RunTool("msschedule", base + "--profile " + mem_profile + " --memory-budget -1");
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_NE(negative.err.find("--memory-budget"), std::string::npos) << negative.err;
}

TEST(E2EMsschedule, BadInputExitsTwoWithOneLine) {
  Workspace ws;
  auto r = RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " + ws.profile +
                                     " --budget 0.01 -o " + (ws.dir / "x.json").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("infeasible"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(ws.dir / "x.json"));
  testing::WriteText(ws.dir / "pk1" / "mpackage.json", "{ not json");
  auto bad = RunTool("msschedule", "schedule --packages" + ws.packages + " --profile " +
                                       ws.profile + " --budget 50");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("pk1/mpackage.json: malformed JSON"), std::string::npos) << bad.err;
  auto usage = RunTool("msschedule", "schedule --budget 5");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--packages"), std::string::npos) << usage.err;
  auto help = RunTool("msschedule", "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos);
}

// Several cameras, one budget: msschedule plan writes a schedule per camera
// and node.json; a budget that cannot fit every camera exits 2 and writes
// nothing.
TEST(E2EMsschedule, PlanSplitsOneBudgetBetweenCameras) {
  Workspace ws;
  std::vector<std::string> pk;
  for (int i = 0; i < 4; ++i) pk.push_back((ws.dir / ("pk" + std::to_string(i))).string());
  auto deployment = [&](const std::string& budget) {
    const fs::path f = ws.dir / "deployment.json";
    testing::WriteText(
        f,
        Json{{"schema_version", 1},
             {"kind", "mainstream.deployment"},
             {"profile", ws.profile},
             {"budget", budget},
             {"algorithm", "exhaustive"},
             {"cameras",
              Json::array(
                  {Json{{"name", "gate"}, {"input", "gate.avi"}, {"apps", {pk[0], pk[1], pk[2]}}},
                   Json{{"name", "yard"}, {"apps", {pk[3]}}}})}}
            .dump());
    return f.string();
  };
  const fs::path out = ws.dir / "plan";
  auto r = RunTool("msschedule", "plan --deployment " + deployment("1.5x") + " -o " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, (out / "node.json").string() + "\n");
  EXPECT_NE(r.err.find("node: 2 camera(s), 4 app(s), exhaustive"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("camera gate: share"), std::string::npos) << r.err;
  const NodePlan plan = ReadNodePlan(out);
  ASSERT_EQ(plan.cameras.size(), 2u);
  EXPECT_EQ(plan.cameras[0].input, "gate.avi");
  EXPECT_EQ(plan.cameras[1].schedule.apps.size(), 1u);
  EXPECT_NEAR(plan.budget, 1.5 * plan.cheapest_cost, 1e-9);
  EXPECT_TRUE(plan.exact);
  // Each camera's schedule is an ordinary schedule file.
  EXPECT_EQ(ReadSchedule(out / "gate.schedule.json").apps.size(), 3u);

  const fs::path none = ws.dir / "none";
  auto bad =
      RunTool("msschedule", "plan --deployment " + deployment("0.2") + " -o " + none.string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("infeasible for 2 cameras"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(none));
  auto missing = RunTool("msschedule", "plan -o " + none.string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--deployment"), std::string::npos) << missing.err;
}

TEST(E2EMsschedule, SimulateWritesSummaryRows) {
  Workspace ws;
  fs::path csv = ws.dir / "sim.csv";
  auto r =
      RunTool("msschedule",
              "simulate --packages" + ws.packages + " --profile " + ws.profile +
                  " --apps 2,3 --workloads 5 --budgets 30,60 --algos greedy,exhaustive,maxsharing "
                  "--threads 2 --seed 4 -o " +
                  csv.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string text = testing::ReadText(csv);
  int lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 1 + 2 * 2 * 3);
  EXPECT_NE(text.find("3,60,exhaustive,5,0,"), std::string::npos) << text;
  // Same seed, same output (threads do not change results).
  fs::path csv2 = ws.dir / "sim2.csv";
  auto r2 =
      RunTool("msschedule",
              "simulate --packages" + ws.packages + " --profile " + ws.profile +
                  " --apps 2,3 --workloads 5 --budgets 30,60 --algos greedy,exhaustive,maxsharing "
                  "--threads 1 --seed 4 -o " +
                  csv2.string());
  ASSERT_EQ(r2.exit_code, 0);
  auto strip_times = [](const std::string& s) {
    // drop the schedule-time columns (12, 13), which vary run to run
    std::string out;
    size_t start = 0;
    while (start < s.size()) {
      size_t end = s.find('\n', start);
      std::string line = s.substr(start, end - start);
      int col = 0;
      std::string kept;
      size_t p = 0;
      while (p <= line.size()) {
        size_t q = line.find(',', p);
        if (q == std::string::npos) q = line.size();
        if (col != 11 && col != 12) kept += line.substr(p, q - p) + ",";
        ++col;
        p = q + 1;
      }
      out += kept + "\n";
      start = end + 1;
    }
    return out;
  };
  EXPECT_EQ(strip_times(text), strip_times(testing::ReadText(csv2)));
}

}  // namespace
}  // namespace mainstream
