// The memory model (docs/model.md, "Memory model") and the searches under a
// memory budget beside the compute budget.
#include "mainstream/schedule/memory_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/search.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

StageMemory FourStages() {
  StageMemory m;
  m.param_bytes = {10, 20, 30, 40};
  m.activation_bytes = {5, 3, 2, 1};
  m.input_bytes = 8;
  return m;
}

TEST(MemoryModel, CountsTheStemOnceEachBranchAndTheCutsHeld) {
  const StageMemory m = FourStages();
  EXPECT_DOUBLE_EQ(m.WorkingSet(), 13);  // input 8 + stage 0's output 5
  // Two apps at branchpoint 2 share stages [0, 2); one app owns all four.
  MemoryBreakdown b = ScheduleMemory(m, {{2, 5}, {2, 1}, {0, 3}});
  EXPECT_DOUBLE_EQ(b.stem_params, 30);
  EXPECT_DOUBLE_EQ(b.branch_params, 70 + 70 + 100);
  EXPECT_DOUBLE_EQ(b.activations, 13 + 3);  // working set + the cut at 2
  EXPECT_DOUBLE_EQ(b.base, 100);            // the plain base msrun keeps loaded
  EXPECT_DOUBLE_EQ(b.total(), 386);
  // Rates do not matter; a second cut adds its activation and a longer stem.
  EXPECT_DOUBLE_EQ(ScheduleMemory(m, {{2, 1}, {2, 9}, {0, 1}}).total(), 386);
  MemoryBreakdown c = ScheduleMemory(m, {{2, 5}, {3, 5}});
  EXPECT_DOUBLE_EQ(c.stem_params, 60);
  EXPECT_DOUBLE_EQ(c.branch_params, 70 + 40);
  EXPECT_DOUBLE_EQ(c.activations, 13 + 3 + 2);
  EXPECT_DOUBLE_EQ(ScheduleMemory(StageMemory{}, {{2, 5}}).total(), 0);
  // Measured resident bytes of an optimized copy replace the parameter bytes
  // for the copies; the plain base stays its parameters.
  StageMemory r = FourStages();
  r.resident_bytes = {15, 25, 35, 45};
  MemoryBreakdown d = ScheduleMemory(r, {{2, 5}, {3, 5}});
  EXPECT_DOUBLE_EQ(d.stem_params, 15 + 25 + 35);
  EXPECT_DOUBLE_EQ(d.branch_params, 35 + 45 + 45);
  EXPECT_DOUBLE_EQ(d.base, 100);
}

// Random per-stage bytes for a RandomProblem's base: early stages have few
// parameters and large activations, late ones the reverse (as in CNNs).
StageMemory RandomMemory(uint64_t seed, int stages) {
  Rng rng(seed * 7919 + 13);
  StageMemory m;
  m.input_bytes = 600 * (1 + rng.Uniform());
  for (int k = 0; k < stages; ++k) {
    const double depth = static_cast<double>(k + 1) / stages;
    m.param_bytes.push_back(1000 * depth * depth * (0.5 + rng.Uniform()));
    m.activation_bytes.push_back(500 * (1 - depth + 0.1) * (0.5 + rng.Uniform()));
  }
  return m;
}

struct Brute {
  double best_sum = -1, best_min = -1, best_sum_at_min = -1;
};
Brute Enumerate(const ScheduleProblem& p) {
  Brute r;
  std::vector<int> choice(p.apps.size(), 0);
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == p.apps.size()) {
      Solution s = Evaluate(p, choice);
      if (s.cost > p.budget + 1e-9) return;
      if (p.has_memory_budget() && s.memory > p.memory_budget + 1e-6) return;
      r.best_sum = std::max(r.best_sum, s.sum_f1);
      if (s.min_f1 > r.best_min + 1e-12) {
        r.best_min = s.min_f1;
        r.best_sum_at_min = s.sum_f1;
      } else if (std::fabs(s.min_f1 - r.best_min) <= 1e-12) {
        r.best_sum_at_min = std::max(r.best_sum_at_min, s.sum_f1);
      }
      return;
    }
    for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
      choice[i] = static_cast<int>(k);
      rec(i + 1);
    }
  };
  rec(0);
  return r;
}

// Memory of every app at its most specialized / most shared candidate.
std::pair<double, double> MemoryRange(const ScheduleProblem& p) {
  std::vector<AppRequest> lo, hi;
  for (const auto& app : p.apps) {
    int bmin = 1 << 20, bmax = -1;
    for (const auto& o : app.options) bmin = std::min(bmin, o.branchpoint);
    for (const auto& o : app.options) bmax = std::max(bmax, o.branchpoint);
    hi.push_back({bmin, 1});
    lo.push_back({bmax, 1});
  }
  return {ScheduleMemory(p.memory, lo).total(), ScheduleMemory(p.memory, hi).total()};
}

TEST(MemoryBudget, ExactSearchesMatchEnumerationAndEveryAlgorithmFits) {
  int checked = 0, binding = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const int apps = 2 + static_cast<int>(seed % 3);
    const double frac = 0.2 + 0.1 * static_cast<double>(seed % 7);
    ScheduleProblem p = testing::RandomProblem(seed, apps, 6, 3, 3, frac);
    p.memory = RandomMemory(seed, p.costs.num_stages());
    p.memory_budget = 1e30;  // memory known, not binding
    // Between the least memory and that of the optimum without a memory
    // budget, so that the budget binds.
    const double lo = MemoryRange(p).first;
    const double free_memory = ExhaustiveSearch(p).solution.memory;
    p.memory_budget = lo + (free_memory - lo) * (0.2 + 0.15 * static_cast<double>(seed % 5));
    if (seed % 10 == 0) p.memory_budget = 0.5 * lo;  // below the least: infeasible or tight
    const Brute brute = Enumerate(p);
    if (brute.best_sum < 0) {
      // No schedule fits both budgets: every algorithm says so.
      EXPECT_THROW(CheckFeasible(p), InputError) << "seed " << seed;
      continue;
    }
    ++checked;
    ScheduleProblem unlimited = p;
    unlimited.memory_budget = 0;
    if (Enumerate(unlimited).best_sum > brute.best_sum + 1e-9) ++binding;
    SearchResult ex = ExhaustiveSearch(p);
    EXPECT_TRUE(ex.exact);
    EXPECT_NEAR(ex.solution.sum_f1, brute.best_sum, 1e-9) << "seed " << seed;
    EXPECT_LE(ex.solution.memory, p.memory_budget + 1e-6) << "seed " << seed;
    SearchResult mm = MaxMinSearch(p);
    EXPECT_NEAR(mm.solution.min_f1, brute.best_min, 1e-9) << "seed " << seed;
    EXPECT_NEAR(mm.solution.sum_f1, brute.best_sum_at_min, 1e-9) << "seed " << seed;
    EXPECT_LE(mm.solution.memory, p.memory_budget + 1e-6) << "seed " << seed;
    for (const char* g : {"greedy", "greedy-paper", "greedy-marginal"}) {
      SearchResult gr = RunSearch(p, g);
      EXPECT_LE(gr.solution.sum_f1, brute.best_sum + 1e-9) << g << " seed " << seed;
      EXPECT_LE(gr.solution.cost, p.budget + 1e-9) << g << " seed " << seed;
      EXPECT_LE(gr.solution.memory, p.memory_budget + 1e-6) << g << " seed " << seed;
    }
    for (const char* s : {"nosharing", "maxsharing"}) {
      try {
        SearchResult st = RunSearch(p, s);
        EXPECT_LE(st.solution.memory, p.memory_budget + 1e-6) << s << " seed " << seed;
        EXPECT_LE(st.solution.cost, p.budget + 1e-9) << s << " seed " << seed;
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("infeasible"), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_GE(checked, 30);
  EXPECT_GE(binding, 30);  // the memory budget changed the optimum in many draws
}

TEST(MemoryBudget, InfeasiblePairSaysTheLeastMemoryAndTheBudgetsThatWork) {
  ScheduleProblem p = testing::RandomProblem(3, 4, 6, 3, 3, 0.5);
  p.memory = RandomMemory(3, p.costs.num_stages());
  p.memory_budget = 1;  // one byte
  const std::string msg = testing::InputErrorOf([&] { CheckFeasible(p); });
  EXPECT_NE(msg.find("least memory found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--memory-budget"), std::string::npos) << msg;
  // The least memory it names is what a schedule really holds, and fits.
  const std::vector<int> start = [&] {
    ScheduleProblem q = p;
    q.memory_budget = MemoryRange(p).first;
    q.budget = 1e9;
    return FeasibleStart(q);
  }();
  EXPECT_LE(Evaluate(p, start).memory, MemoryRange(p).first + 1e-6);
  // No memory model: a memory budget is an input error, not a silent no-op.
  ScheduleProblem none = testing::RandomProblem(3, 4, 6, 3, 3, 0.5);
  none.memory_budget = 1e9;
  EXPECT_NE(testing::InputErrorOf([&] { RunSearch(none, "greedy"); }).find("re-run msprofile"),
            std::string::npos);
}

TEST(MemoryBudget, ScheduleFileRecordsMemoryAndRejectsAnEditedTotal) {
  testing::TempDir dir;
  Profile prof = testing::SyntheticProfile(6, 3);
  for (size_t k = 0; k < prof.stages.size(); ++k) {
    prof.stages[k].param_bytes = 1e5 * static_cast<double>(k + 1);
    prof.stages[k].activation_bytes = 4e4 / static_cast<double>(k + 1);
  }
  prof.input_bytes = 6e4;
  WriteProfile(prof, dir / "profile.json");
  ScheduleConfig config;
  for (int i = 0; i < 3; ++i) {
    auto d = dir / ("pk" + std::to_string(i));
    WriteMPackageManifest(
        testing::SyntheticPackage("app" + std::to_string(i), prof, 70 + static_cast<uint64_t>(i)),
        d);
    config.packages.push_back(d);
  }
  config.profile = dir / "profile.json";
  config.budget = 1e6;
  const ScheduleDoc free_doc = PlanSchedule(config);
  ASSERT_FALSE(free_doc.memory.empty());
  EXPECT_EQ(free_doc.memory_budget, 0);
  // Between the most shared schedule's memory and the unconstrained one's:
  // the schedule must share more than it would.
  ScheduleConfig shared = config;
  shared.algorithm = "maxsharing";
  const double least = PlanSchedule(shared).predicted_memory.total();
  ASSERT_LT(least, free_doc.predicted_memory.total());
  config.memory_budget = 0.5 * (least + free_doc.predicted_memory.total());
  const std::string msg = testing::InputErrorOf([&] {
    ScheduleConfig tight = config;
    tight.memory_budget = 1;
    PlanSchedule(tight);
  });
  EXPECT_NE(msg.find("least memory found"), std::string::npos) << msg;
  const ScheduleDoc doc = PlanSchedule(config);
  EXPECT_LE(doc.predicted_memory.total(), config.memory_budget + 1e-6);
  EXPECT_LE(doc.mean_f1, free_doc.mean_f1 + 1e-12);
  WriteSchedule(doc, dir / "schedule.json");
  const ScheduleDoc back = ReadSchedule(dir / "schedule.json");
  EXPECT_DOUBLE_EQ(back.predicted_memory.total(), doc.predicted_memory.total());
  EXPECT_DOUBLE_EQ(back.memory_budget, config.memory_budget);
  Json j = ReadJsonFile(dir / "schedule.json");
  j["memory"]["total"] = j["memory"]["total"].get<double>() + 1000;
  WriteJsonFileAtomic(dir / "edited.json", j);
  EXPECT_NE(
      testing::InputErrorOf([&] { ReadSchedule(dir / "edited.json"); }).find("$.memory.total"),
      std::string::npos);
}

TEST(MemoryBudget, ProfileMemoryIsAllStagesOrNone) {
  testing::TempDir dir;
  Profile prof = testing::SyntheticProfile(4, 1);
  EXPECT_FALSE(prof.HasMemory());
  prof.stages[0].param_bytes = 100;
  Json j = prof.ToJson();
  WriteJsonFileAtomic(dir / "p.json", j);
  EXPECT_NE(testing::InputErrorOf([&] { ReadProfile(dir / "p.json"); }).find("give param_bytes"),
            std::string::npos);
  for (auto& s : prof.stages) s.param_bytes = 100, s.activation_bytes = 50;
  prof.input_bytes = 30;
  WriteProfile(prof, dir / "q.json");
  const Profile back = ReadProfile(dir / "q.json");
  ASSERT_TRUE(back.HasMemory());
  EXPECT_DOUBLE_EQ(ProfileMemory(back).WorkingSet(), 100);  // two stage outputs of 50
  j = back.ToJson();
  j.erase("input_bytes");
  WriteJsonFileAtomic(dir / "r.json", j);
  EXPECT_NE(testing::InputErrorOf([&] { ReadProfile(dir / "r.json"); }).find("input_bytes"),
            std::string::npos);
}

}  // namespace
}  // namespace mainstream
