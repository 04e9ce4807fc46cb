// Microclassifier candidates on the scheduling side (no LibTorch): the
// package and trace formats, the cost and memory models, the searches, the
// baselines and the schedule file (Pareto pruning: train_config_torch_test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/search.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

using testing::InputErrorOf;

Candidate Micro(int layer, double tpr, double fpr, double cost_ms = 0.01) {
  return testing::MicroCandidate(layer, tpr, fpr, cost_ms);
}

Candidate Branch(int b, double accuracy) {
  Candidate c;
  c.branchpoint = b;
  c.accuracy = accuracy;
  c.tpr = accuracy;
  c.fpr = 1 - accuracy;
  return c;
}

TEST(Micro, KeysAndCostOrder) {
  EXPECT_EQ(Micro(3, 0.9, 0.1).key(), "mc3");
  EXPECT_EQ(Branch(3, 0.9).key(), "bp3");
  EXPECT_EQ(BranchKeys({0, 5}), (std::vector<std::string>{"bp0", "bp5"}));
  // Branches: sharing more is cheaper.
  EXPECT_TRUE(NoCostlier(Branch(5, 0.8), Branch(3, 0.8)));
  EXPECT_FALSE(NoCostlier(Branch(3, 0.8), Branch(5, 0.8)));
  // A microclassifier costs no more than any branch, never the reverse.
  EXPECT_TRUE(NoCostlier(Micro(6, 0.9, 0.1), Branch(7, 0.8)));
  EXPECT_TRUE(NoCostlier(Micro(2, 0.9, 0.1), Branch(0, 0.8)));
  EXPECT_FALSE(NoCostlier(Branch(7, 0.8), Micro(2, 0.9, 0.1)));
  // Between microclassifiers: an earlier layer and no more of its own cost.
  EXPECT_TRUE(NoCostlier(Micro(2, 0.9, 0.1, 0.01), Micro(4, 0.9, 0.1, 0.02)));
  EXPECT_FALSE(NoCostlier(Micro(4, 0.9, 0.1, 0.01), Micro(2, 0.9, 0.1, 0.02)));
  EXPECT_FALSE(NoCostlier(Micro(2, 0.9, 0.1, 0.03), Micro(4, 0.9, 0.1, 0.02)));
  // Package order: by branchpoint, the branch first.
  EXPECT_TRUE(CandidateOrder(Branch(3, 0.8), Micro(3, 0.9, 0.1)));
  EXPECT_TRUE(CandidateOrder(Micro(2, 0.9, 0.1), Branch(3, 0.8)));
}

Json PackageJson() {
  MPackage p = testing::SyntheticPackage("app", testing::SyntheticProfile(6, 1), 1);
  p.candidates.push_back(Micro(3, 0.9, 0.05));
  std::sort(p.candidates.begin(), p.candidates.end(), CandidateOrder);
  return p.ToJson();
}

TEST(Micro, PackageRoundTripAndErrorsNameTheField) {
  const Json j = PackageJson();
  const MPackage back = MPackage::FromJson(JsonView(j, "pk.json"));
  const Candidate* m = back.FindKey("mc3");
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->is_micro());
  EXPECT_EQ(m->micro.x1, 4);
  EXPECT_DOUBLE_EQ(m->micro.cost_ms, 0.01);
  EXPECT_EQ(back.FindBranchpoint(3)->kind, CandidateKind::kBranch);
  EXPECT_EQ(back.ToJson(), j);

  // A version 2 manifest: no kind, every candidate a branch.
  Json old = j;
  old["schema_version"] = 2;
  Json cands = Json::array();
  for (Json c : old["candidates"]) {
    if (c["kind"] == "micro") continue;
    c.erase("kind");
    cands.push_back(c);
  }
  old["candidates"] = cands;
  const MPackage v2 = MPackage::FromJson(JsonView(old, "old.json"));
  for (const Candidate& c : v2.candidates) EXPECT_FALSE(c.is_micro());

  auto error = [&](const std::function<void(Json&)>& edit) {
    Json bad = j;
    size_t k = 0;
    while (bad["candidates"][k]["kind"] != "micro") ++k;
    Json& c = bad["candidates"][k];
    (void)c;
    edit(bad["candidates"][k]);
    return InputErrorOf([&] { MPackage::FromJson(JsonView(bad, "pk.json")); });
  };
  std::string e = error([](Json& c) { c["kind"] = "tree"; });
  EXPECT_NE(e.find("pk.json"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown candidate kind"), std::string::npos) << e;
  e = error([](Json& c) { c["branchpoint"] = 0; });
  EXPECT_NE(e.find("branchpoint >= 1"), std::string::npos) << e;
  e = error([](Json& c) { c.erase("micro"); });
  EXPECT_NE(e.find("micro"), std::string::npos) << e;
  e = error([](Json& c) { c["micro"]["crop"] = Json{3, 0, 3, 2}; });
  EXPECT_NE(e.find("empty crop"), std::string::npos) << e;
  e = error([](Json& c) { c["micro"]["reference_ms"] = 0; });
  EXPECT_NE(e.find("reference_ms"), std::string::npos) << e;
  Json dup = j;
  for (const Json& c : j["candidates"])
    if (c["kind"] == "micro") dup["candidates"].push_back(c);
  e = InputErrorOf([&] { MPackage::FromJson(JsonView(dup, "pk.json")); });
  EXPECT_NE(e.find("duplicate micro candidate at branchpoint 3"), std::string::npos) << e;
}

TEST(Micro, TraceColumnsReadBackAndMatchTheirCandidates) {
  ScoreTrace t;
  t.frames = {1, 2, 3};
  t.labels = {0, 1, 1};
  t.folds = {0, 0, 1};
  t.columns = {"bp0", "mc2", "bp3"};
  t.scores = {{0.1f, 0.9f, 0.8f}, {0.2f, 0.7f, 0.6f}, {0.3f, 0.5f, 0.4f}};
  const std::string text = FormatScoreTrace(t);
  EXPECT_EQ(text.substr(0, text.find('\n')), "frame,label,fold,bp0,mc2,bp3");
  const ScoreTrace back = ParseScoreTrace(text, "trace.csv");
  EXPECT_EQ(back.columns, t.columns);
  EXPECT_EQ(back.Column("mc2"), 1);
  EXPECT_EQ(back.Column("bp2"), -1);
  // A leading zero still names the same candidate.
  EXPECT_EQ(ParseScoreTrace("frame,label,fold,mc02\n1,0,0,0.5\n", "t").columns,
            (std::vector<std::string>{"mc2"}));
}

TEST(Micro, CostModelChargesItsOwnLatencyAndTheStemUpToItsLayer) {
  StageCosts costs({1, 2, 3, 4, 5}, 0.5, 0.25, 10);
  const double own = 0.05;
  MergedTree t = BuildMergedTree(costs, {AppRequest{3, 2, own, 1000}});
  ASSERT_EQ(t.nodes.size(), 2u);
  EXPECT_EQ(t.nodes[1].begin, 3);
  EXPECT_EQ(t.nodes[1].end, 3);
  EXPECT_DOUBLE_EQ(t.nodes[1].latency_ms, own);
  EXPECT_DOUBLE_EQ(t.total_cost(), 0.25 * 10 + 0.5 * 2 + (1 + 2 + 3) * 2 + own * 2);
  // Beside a branch at the same cut: the stem runs once, at the faster rate.
  MergedTree both = BuildMergedTree(costs, {AppRequest{3, 2, own, 1000}, AppRequest{3, 4}});
  EXPECT_DOUBLE_EQ(both.total_cost(),
                   0.25 * 10 + 0.5 * 4 + (1 + 2 + 3) * 4 + own * 2 + (4 + 5) * 4);
  // Memory: its own bytes instead of stages [b, n).
  StageMemory mem;
  mem.param_bytes = {10, 20, 30, 40, 50};
  mem.activation_bytes = {1, 1, 1, 1, 1};
  const MemoryBreakdown m = ScheduleMemory(mem, {AppRequest{3, 2, own, 1000}});
  EXPECT_DOUBLE_EQ(m.branch_params, 1000);
  EXPECT_DOUBLE_EQ(m.stem_params, 10 + 20 + 30);
}

// Every app of `p` also gets a microclassifier at a random layer, at every
// rate, with a random F1 and own latency below the last stage's.
void AddMicroOptions(ScheduleProblem& p, uint64_t seed) {
  Rng rng(seed);
  const int n = p.costs.num_stages();
  for (AppChoices& app : p.apps) {
    std::vector<double> rates;
    int next = 0;
    for (const AppOption& o : app.options) {
      rates.push_back(o.fps);
      next = std::max(next, o.candidate + 1);
    }
    std::sort(rates.begin(), rates.end());
    rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
    const int layer = 1 + static_cast<int>(rng.Index(static_cast<uint64_t>(n - 1)));
    const double own = p.costs.Range(n - 1, n) * rng.Uniform(0.05, 0.9);
    const double top = rng.Uniform(0.3, 0.95);
    for (double r : rates) {
      AppOption o;
      o.candidate = next;
      o.branchpoint = layer;
      o.kind = CandidateKind::kMicro;
      o.own_ms = own;
      o.own_bytes = 1000;
      o.fps = r;
      o.pred.f1 = top * std::pow(r / rates.back(), 0.2);
      app.options.push_back(o);
    }
  }
}

TEST(Micro, ExactSearchesMatchEnumerationWithMicroclassifiers) {
  int checked = 0, micro_chosen = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    const int apps = 2 + static_cast<int>(seed % 2);
    ScheduleProblem p = testing::RandomProblem(seed, apps, 5, 2, 3, 0.02 + 0.04 * (seed % 5));
    AddMicroOptions(p, seed);
    double best_sum = -1, best_min = -1, best_sum_at_min = -1;
    std::vector<int> choice(p.apps.size(), 0);
    std::function<void(size_t)> rec = [&](size_t i) {
      if (i == p.apps.size()) {
        const Solution s = Evaluate(p, choice);
        if (s.cost > p.budget + 1e-9) return;
        best_sum = std::max(best_sum, s.sum_f1);
        if (s.min_f1 > best_min + 1e-12) {
          best_min = s.min_f1;
          best_sum_at_min = s.sum_f1;
        } else if (std::fabs(s.min_f1 - best_min) <= 1e-12) {
          best_sum_at_min = std::max(best_sum_at_min, s.sum_f1);
        }
        return;
      }
      for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
        choice[i] = static_cast<int>(k);
        rec(i + 1);
      }
    };
    rec(0);
    if (best_sum < 0) continue;
    ++checked;
    const SearchResult ex = ExhaustiveSearch(p);
    EXPECT_NEAR(ex.solution.sum_f1, best_sum, 1e-9) << "seed " << seed;
    const SearchResult mm = MaxMinSearch(p);
    EXPECT_NEAR(mm.solution.min_f1, best_min, 1e-9) << "seed " << seed;
    EXPECT_NEAR(mm.solution.sum_f1, best_sum_at_min, 1e-9) << "seed " << seed;
    const SearchResult gr = RunSearch(p, "greedy");
    EXPECT_LE(gr.solution.cost, p.budget + 1e-9);
    EXPECT_LE(gr.solution.sum_f1, best_sum + 1e-9);
    for (size_t i = 0; i < p.apps.size(); ++i)
      micro_chosen += p.apps[i].options[static_cast<size_t>(ex.solution.choice[i])].is_micro();
    // The cheapest schedule and the baselines stay with branches.
    std::vector<std::vector<int>> fixed{CheapestSolution(p).choice};
    for (const char* baseline : {"nosharing", "maxsharing"}) {
      try {
        fixed.push_back(RunSearch(p, baseline).solution.choice);
      } catch (const InfeasibleError&) {
        // a budget below the baseline's lowest common rate
      }
    }
    for (const std::vector<int>& c : fixed) {
      for (size_t i = 0; i < p.apps.size(); ++i)
        EXPECT_FALSE(p.apps[i].options[static_cast<size_t>(c[i])].is_micro());
    }
  }
  EXPECT_GE(checked, 20);
  EXPECT_GT(micro_chosen, 0);  // the draws exercise microclassifiers in the optimum
}

TEST(Micro, BaselinesNeedBranches) {
  ScheduleProblem p = testing::RandomProblem(3, 2, 5, 2, 3, 0.5);
  AddMicroOptions(p, 3);
  auto& opts = p.apps[1].options;
  opts.erase(
      std::remove_if(opts.begin(), opts.end(), [](const AppOption& o) { return !o.is_micro(); }),
      opts.end());
  p.budget = 1e9;
  const std::string e = InputErrorOf([&] { RunSearch(p, "maxsharing"); });
  EXPECT_NE(e.find("only microclassifier candidates"), std::string::npos) << e;
  // The searches still schedule it.
  EXPECT_TRUE(
      p.apps[1].options[static_cast<size_t>(RunSearch(p, "greedy").solution.choice[1])].is_micro());
}

TEST(Micro, SchedulesRecordAndReadBackAMicroclassifier) {
  testing::TempDir tmp;
  const Profile profile = testing::SyntheticProfile(6, 2);
  MPackage pkg = testing::SyntheticPackage("cam", profile, 2);
  pkg.candidates.push_back(Micro(3, 0.99, 0.01));
  std::sort(pkg.candidates.begin(), pkg.candidates.end(), CandidateOrder);
  for (Candidate& c : pkg.candidates) c.weights.clear();
  const std::filesystem::path dir = tmp / "pk";
  std::filesystem::create_directories(dir);
  WriteMPackageManifest(pkg, dir);
  WriteProfile(profile, tmp / "profile.json");
  ScheduleConfig config;
  config.packages = {dir};
  config.profile = tmp / "profile.json";
  config.budget = 1e6;
  const ScheduleDoc doc = PlanSchedule(config);
  ASSERT_EQ(doc.apps.size(), 1u);
  const ScheduledApp& a = doc.apps[0];
  EXPECT_EQ(a.kind, CandidateKind::kMicro);
  const double whole =
      profile.whole_model_p50_ms > 0 ? profile.whole_model_p50_ms : profile.TotalStageMs();
  EXPECT_NEAR(a.own_ms, 0.01 * whole / 2.0, 1e-12);
  EXPECT_NEAR(a.own_cost, a.own_ms * a.fps, 1e-9);
  WriteSchedule(doc, tmp / "schedule.json");
  const ScheduleDoc back = ReadSchedule(tmp / "schedule.json");
  EXPECT_EQ(back.apps[0].kind, CandidateKind::kMicro);
  EXPECT_DOUBLE_EQ(back.apps[0].own_ms, a.own_ms);
  EXPECT_NEAR(back.total_cost, doc.total_cost, 1e-9);
  // An edited latency no longer matches the recorded cost.
  Json j = ReadJsonFile(tmp / "schedule.json");
  j["apps"][0]["own_ms"] = a.own_ms * 3;
  WriteJsonFileAtomic(tmp / "edited.json", j);
  const std::string e = InputErrorOf([&] { ReadSchedule(tmp / "edited.json"); });
  EXPECT_NE(e.find("total_cost"), std::string::npos) << e;
}

}  // namespace
}  // namespace mainstream
