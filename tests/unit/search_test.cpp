#include "mainstream/schedule/search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "mainstream/core/error.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

// Plain enumeration of every choice: the reference for the exact searches.
struct BruteResult {
  double best_sum = -1;
  double best_min = -1;
  double best_sum_at_min = -1;
};
BruteResult Enumerate(const ScheduleProblem& p) {
  BruteResult r;
  std::vector<int> choice(p.apps.size(), 0);
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == p.apps.size()) {
      Solution s = Evaluate(p, choice);
      if (s.cost > p.budget + 1e-9) return;
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

TEST(Search, ExhaustiveAndMaxMinMatchEnumerationOnRandomProblems) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    int apps = 2 + static_cast<int>(seed % 3);  // 2..4 apps
    double frac = 0.03 + 0.05 * static_cast<double>(seed % 7);
    std::vector<int> xs = seed % 2 ? std::vector<int>{1} : std::vector<int>{1, 2, 3};
    ScheduleProblem p = testing::RandomProblem(seed, apps, 6, 3, 4, frac, xs);
    // Decoding after the DNN: a cost that grows with the highest rate.
    if (seed % 3 == 0) p.costs.decode_extra_ms = 0.5 * p.costs.decode_ms + 0.05;
    BruteResult brute = Enumerate(p);
    if (brute.best_sum < 0) continue;  // infeasible draw
    ++checked;
    ExhaustiveOptions with_bound, without_bound;
    without_bound.dynamic_bound = false;
    SearchResult ex = ExhaustiveSearch(p, with_bound);
    SearchResult ex2 = ExhaustiveSearch(p, without_bound);
    EXPECT_TRUE(ex.exact);
    EXPECT_NEAR(ex.solution.sum_f1, brute.best_sum, 1e-9) << "seed " << seed;
    EXPECT_NEAR(ex2.solution.sum_f1, brute.best_sum, 1e-9) << "seed " << seed;
    EXPECT_LE(ex.solution.cost, p.budget + 1e-9);
    SearchResult mm = MaxMinSearch(p);
    EXPECT_NEAR(mm.solution.min_f1, brute.best_min, 1e-9) << "seed " << seed;
    EXPECT_NEAR(mm.solution.sum_f1, brute.best_sum_at_min, 1e-9) << "seed " << seed;
    EXPECT_LE(mm.solution.cost, p.budget + 1e-9);
    for (const char* g : {"greedy", "greedy-paper", "greedy-marginal"}) {
      SearchResult gr = RunSearch(p, g);
      EXPECT_LE(gr.solution.sum_f1, brute.best_sum + 1e-9);
      EXPECT_LE(gr.solution.cost, p.budget + 1e-9) << g;
    }
  }
  EXPECT_GE(checked, 30);
}

// Budgets equal, bit for bit, to the cost of some schedule: the optimum then
// sits exactly on the boundary, where a bound computed at the bare budget
// (rounding a hair below the schedule's own cost) used to prune it while
// feasibility accepted it (issue 15, item 6: maxmin lost the best mean).
TEST(Search, ExactSearchesMatchEnumerationWhenTheOptimumCostsExactlyTheBudget) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    int apps = 2 + static_cast<int>(seed % 3);
    std::vector<int> xs = seed % 2 ? std::vector<int>{1} : std::vector<int>{1, 2};
    ScheduleProblem p = testing::RandomProblem(seed, apps, 6, 3, 4, 0.5, xs);
    // Every schedule's cost as Evaluate computes it; a few spread over the range.
    std::vector<double> costs;
    std::vector<int> choice(p.apps.size(), 0);
    std::function<void(size_t)> rec = [&](size_t i) {
      if (i == p.apps.size()) {
        costs.push_back(Evaluate(p, choice).cost);
        return;
      }
      for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
        choice[i] = static_cast<int>(k);
        rec(i + 1);
      }
    };
    rec(0);
    std::sort(costs.begin(), costs.end());
    // Quantiles of all costs, and the costs of the schedules that are optimal
    // (mean; max-min with the best mean) at a budget between them.
    std::vector<double> budgets;
    for (int q = 1; q <= 4; ++q)
      budgets.push_back(costs[costs.size() * static_cast<size_t>(q) / 5]);
    for (int q = 1; q <= 4; ++q) {
      p.budget = 0.5 * (costs[costs.size() * static_cast<size_t>(q) / 5] +
                        costs[costs.size() * static_cast<size_t>(q + 1) / 6]);
      double best_sum = -1, best_min = -1, best_tie = -1, cost_sum = 0, cost_tie = 0;
      std::function<void(size_t)> opt = [&](size_t i) {
        if (i == p.apps.size()) {
          Solution s = Evaluate(p, choice);
          if (s.cost > p.budget + 1e-9) return;
          if (s.sum_f1 > best_sum) best_sum = s.sum_f1, cost_sum = s.cost;
          if (s.min_f1 > best_min + 1e-12 ||
              (std::fabs(s.min_f1 - best_min) <= 1e-12 && s.sum_f1 > best_tie)) {
            best_min = std::max(best_min, s.min_f1), best_tie = s.sum_f1, cost_tie = s.cost;
          }
          return;
        }
        for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
          choice[i] = static_cast<int>(k);
          opt(i + 1);
        }
      };
      opt(0);
      if (best_sum >= 0) budgets.push_back(cost_sum), budgets.push_back(cost_tie);
    }
    for (double budget : budgets) {
      p.budget = budget;
      BruteResult brute = Enumerate(p);
      ASSERT_GE(brute.best_sum, 0);
      ++checked;
      SearchResult ex = ExhaustiveSearch(p);
      EXPECT_NEAR(ex.solution.sum_f1, brute.best_sum, 1e-9)
          << "seed " << seed << " budget " << p.budget;
      SearchResult mm = MaxMinSearch(p);
      EXPECT_NEAR(mm.solution.min_f1, brute.best_min, 1e-9)
          << "seed " << seed << " budget " << p.budget;
      EXPECT_NEAR(mm.solution.sum_f1, brute.best_sum_at_min, 1e-9)
          << "seed " << seed << " budget " << p.budget;
    }
  }
  EXPECT_GE(checked, 400);
}

TEST(Search, ExhaustiveIsExactOnLargerProblemsAgainstEachVariant) {
  // With more apps enumeration is too slow; the two bound variants of the
  // exact search must agree, and greedy can never beat them.
  for (uint64_t seed = 100; seed < 110; ++seed) {
    ScheduleProblem p = testing::RandomProblem(seed, 6, 8, 4, 6, 0.08, {1, 2, 3});
    SearchResult a = ExhaustiveSearch(p);
    ExhaustiveOptions plain;
    plain.dynamic_bound = false;
    SearchResult b = ExhaustiveSearch(p, plain);
    EXPECT_NEAR(a.solution.sum_f1, b.solution.sum_f1, 1e-9) << "seed " << seed;
    SearchResult g = RunSearch(p, "greedy");
    EXPECT_LE(g.solution.sum_f1, a.solution.sum_f1 + 1e-9);
    EXPECT_LE(a.solution.cost, p.budget + 1e-9);
  }
}

// Anytime: stopped by a node or time limit, the exact searches return a
// feasible schedule no better than the optimum and a bound no lower than it.
TEST(Search, StoppedSearchesReturnAValidBoundAndGap) {
  int stopped = 0;
  for (uint64_t seed = 200; seed < 212; ++seed) {
    ScheduleProblem p = testing::RandomProblem(seed, 8, 8, 4, 6, 0.08, {1, 2, 3});
    SearchResult full = ExhaustiveSearch(p);
    ASSERT_TRUE(full.exact);
    EXPECT_EQ(full.stopped_by, "");
    EXPECT_NEAR(full.bound_mean_f1, full.solution.mean_f1(), 1e-12);
    EXPECT_EQ(full.gap, 0.0);
    for (int64_t limit : {1, 2, 10, 100}) {
      SearchLimits lim;
      lim.max_nodes = limit;
      for (const char* algo : {"exhaustive", "maxmin"}) {
        SearchResult r = RunSearch(p, algo, lim);
        EXPECT_LE(r.solution.cost, p.budget + 1e-9) << algo << " seed " << seed;
        if (std::string(algo) == "exhaustive") {
          EXPECT_LE(r.solution.mean_f1(), full.solution.mean_f1() + 1e-12);
          EXPECT_GE(r.bound_mean_f1, full.solution.mean_f1() - 1e-12)
              << "seed " << seed << " limit " << limit;
        } else {
          SearchResult mm = MaxMinSearch(p);
          EXPECT_GE(r.bound_mean_f1, mm.solution.mean_f1() - 1e-12)
              << "seed " << seed << " limit " << limit;
        }
        EXPECT_GE(r.gap, 0.0);
        EXPECT_NEAR(r.gap, (r.bound_mean_f1 - r.solution.mean_f1()) / r.bound_mean_f1, 1e-12);
        if (!r.exact) {
          ++stopped;
          EXPECT_EQ(r.stopped_by, "node limit");
        }
      }
    }
  }
  EXPECT_GT(stopped, 20);
  // A time limit already past when the search starts stops it at once.
  ScheduleProblem big = testing::RandomProblem(7, 60, 10, 5, 10, 0.1, {1, 2, 3});
  SearchLimits instant;
  instant.time_limit_s = 1e-9;
  SearchResult r = RunSearch(big, "exhaustive", instant);
  EXPECT_FALSE(r.exact);
  EXPECT_EQ(r.stopped_by, "time limit");
  EXPECT_GE(r.bound_mean_f1, r.solution.mean_f1());
  EXPECT_LT(r.seconds, 5.0);
  SearchLimits bad;
  bad.time_limit_s = -1;
  EXPECT_THROW(RunSearch(big, "exhaustive", bad), InputError);
}

// The searches' incremental cost (stem envelope, search_internal.h) equals
// the cost model's ScheduleCost of the same choice, for random choices.
TEST(Search, FastCostEqualsTheCostModel) {
  uint64_t state = 12345;
  auto next = [&state](size_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>((state >> 33) % n);
  };
  int checked = 0;
  for (uint64_t seed = 300; seed < 340; ++seed) {
    ScheduleProblem p =
        testing::RandomProblem(seed, 1 + static_cast<int>(seed % 12), 8, 4, 6, 0.3, {1, 2});
    if (seed % 2 == 1) {  // a calibrated profile: specialized stages cost more than shared ones
      std::vector<double> branch;
      for (size_t k = 0; k < p.costs.stage_ms.size(); ++k)
        branch.push_back(p.costs.stage_ms[k] * (1.2 + 0.1 * (k % 3)));
      p.costs.SetBranchStages(branch);
    }
    if (seed % 4 < 2) p.costs.decode_extra_ms = 0.3 + 0.1 * static_cast<double>(seed % 5);
    for (int trial = 0; trial < 25; ++trial) {
      std::vector<int> choice;
      for (const auto& app : p.apps) choice.push_back(static_cast<int>(next(app.options.size())));
      const double model = Evaluate(p, choice).cost;
      EXPECT_NEAR(FastScheduleCost(p, choice), model, 1e-9 * std::max(1.0, model))
          << "seed " << seed;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 1000);
}

TEST(Search, GreedyStartsCheapAndStaysWithinBudget) {
  ScheduleProblem p = testing::RandomProblem(5, 8, 10, 5, 10, 0.05);
  Solution cheapest = CheapestSolution(p);
  for (const char* algo :
       {"greedy", "greedy-paper", "greedy-marginal", "nosharing", "maxsharing"}) {
    try {
      SearchResult r = RunSearch(p, algo);
      EXPECT_LE(r.solution.cost, p.budget + 1e-9) << algo;
      if (std::string(algo).rfind("greedy", 0) == 0) {
        EXPECT_GE(r.solution.sum_f1, cheapest.sum_f1 - 1e-12);
      }
    } catch (const InputError&) {
      EXPECT_TRUE(std::string(algo) == "nosharing") << algo << " should fit this budget";
    }
  }
}

TEST(Search, StaticBaselinesUseTheirBranchpoints) {
  ScheduleProblem p = testing::RandomProblem(9, 4, 6, 6, 5, 0.5);
  SearchResult ns = StaticSearch(p, false);
  SearchResult ms = StaticSearch(p, true);
  for (size_t i = 0; i < p.apps.size(); ++i) {
    int min_bp = 1 << 30, max_bp = -1;
    for (const auto& o : p.apps[i].options)
      min_bp = std::min(min_bp, o.branchpoint), max_bp = std::max(max_bp, o.branchpoint);
    EXPECT_EQ(p.apps[i].options[static_cast<size_t>(ns.solution.choice[i])].branchpoint, min_bp);
    EXPECT_EQ(p.apps[i].options[static_cast<size_t>(ms.solution.choice[i])].branchpoint, max_bp);
    // one common rate
    EXPECT_EQ(p.apps[i].options[static_cast<size_t>(ns.solution.choice[i])].fps,
              p.apps[0].options[static_cast<size_t>(ns.solution.choice[0])].fps);
  }
}

TEST(Search, InfeasibleBudgetSaysTheMinimum) {
  ScheduleProblem p = testing::RandomProblem(3, 3, 6, 3, 5, 0.5);
  double min_cost = CheapestSolution(p).cost;
  p.budget = min_cost * 0.5;
  for (const char* algo : {"greedy", "exhaustive", "maxmin", "nosharing", "maxsharing"}) {
    try {
      RunSearch(p, algo);
      FAIL() << algo;
    } catch (const InfeasibleError& e) {  // a value simulate scores, not any InputError
      std::string msg = e.what();
      EXPECT_NE(msg.find("infeasible"), std::string::npos) << msg;
      // The static baselines name their own minimum (every app at one candidate and rate).
      if (std::string(algo).find("sharing") == std::string::npos) {
        EXPECT_NE(msg.find(fmt::format("{:.6g}", min_cost)), std::string::npos) << msg;
      }
    }
  }
  p.budget = 0;
  EXPECT_THROW(RunSearch(p, "greedy"), InputError);
  try {
    RunSearch(p, "greedy");
  } catch (const InfeasibleError&) {
    ADD_FAILURE() << "a bad budget is bad input, not an infeasible one";
  } catch (const InputError&) {
  }
  p.budget = std::nan("");
  EXPECT_THROW(RunSearch(p, "greedy"), InputError);
  EXPECT_THROW(RunSearch(p, "simulated-annealing"), InputError);
}

TEST(Search, XVotingOptionsOnlyHelp) {
  ScheduleProblem p1 = testing::RandomProblem(11, 4, 6, 4, 8, 0.1, {1});
  ScheduleProblem p3 = testing::RandomProblem(11, 4, 6, 4, 8, 0.1, {1, 2, 3, 5});
  EXPECT_GE(ExhaustiveSearch(p3).solution.sum_f1, ExhaustiveSearch(p1).solution.sum_f1 - 1e-12);
}

TEST(Search, UnknownAlgorithmIsNamedWithTheKnownOnes) {
  for (const std::string& name : AlgorithmNames()) EXPECT_EQ(UnknownAlgorithm(name), "");
  const ScheduleProblem p = testing::RandomProblem(2, 3, 4, 2, 3, 0.5);
  const std::string msg = testing::InputErrorOf([&] { RunSearch(p, "magic"); });
  EXPECT_NE(msg.find("--algo: unknown algorithm 'magic' (expected one of: greedy, greedy-paper,"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("maxsharing)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mainstream
