#include "mainstream/schedule/multi_camera.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "mainstream/core/error.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

// Every schedule of one camera: (cost, sum F1, min F1).
struct Schedule {
  double cost, sum, min;
};
std::vector<Schedule> AllSchedules(const ScheduleProblem& p) {
  std::vector<Schedule> out;
  std::vector<int> choice(p.apps.size(), 0);
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == p.apps.size()) {
      const Solution s = Evaluate(p, choice);
      out.push_back({s.cost, s.sum_f1, s.min_f1});
      return;
    }
    for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
      choice[i] = static_cast<int>(k);
      rec(i + 1);
    }
  };
  rec(0);
  return out;
}

// The joint optimum by enumeration over every camera's every schedule, as the
// searches see them: a camera's schedule must cost at least its own cheapest
// schedule of branches (below it the single-camera searches see no schedule).
struct Joint {
  double best_sum = -1;
  double best_min = -1, best_sum_at_min = -1;
};
Joint Enumerate(const std::vector<ScheduleProblem>& cameras, double budget) {
  std::vector<std::vector<Schedule>> all;
  for (const ScheduleProblem& p : cameras) {
    const double floor = CheapestSolution(p).cost;
    std::vector<Schedule> s = AllSchedules(p);
    s.erase(std::remove_if(s.begin(), s.end(),
                           [&](const Schedule& x) { return x.cost < floor - 1e-9; }),
            s.end());
    all.push_back(std::move(s));
  }
  Joint j;
  std::function<void(size_t, double, double, double)> rec = [&](size_t c, double cost, double sum,
                                                                double mn) {
    if (cost > budget + 1e-9) return;
    if (c == all.size()) {
      j.best_sum = std::max(j.best_sum, sum);
      if (mn > j.best_min + 1e-12) {
        j.best_min = mn;
        j.best_sum_at_min = sum;
      } else if (std::fabs(mn - j.best_min) <= 1e-12) {
        j.best_sum_at_min = std::max(j.best_sum_at_min, sum);
      }
      return;
    }
    for (const Schedule& s : all[c]) rec(c + 1, cost + s.cost, sum + s.sum, std::min(mn, s.min));
  };
  rec(0, 0, 0, 2.0);
  return j;
}

std::vector<ScheduleProblem> Cameras(uint64_t seed, int count, int apps) {
  std::vector<ScheduleProblem> cams;
  for (int c = 0; c < count; ++c) {
    // Different bases' speeds and stream rates per camera.
    cams.push_back(testing::RandomProblem(seed * 17 + static_cast<uint64_t>(c), apps, 5, 2,
                                          3 + (c + static_cast<int>(seed)) % 3, 0.0));
  }
  return cams;
}

double BudgetBetween(const std::vector<ScheduleProblem>& cams, double fraction) {
  double lo = CheapestMultiCost(cams), hi = 0;
  for (const ScheduleProblem& p : cams) {
    for (const Schedule& s : AllSchedules(p)) hi = std::max(hi, s.cost);
  }
  hi = std::max(hi * static_cast<double>(cams.size()), lo);
  return lo + fraction * (hi - lo);
}

size_t Apps(const std::vector<ScheduleProblem>& cams) {
  size_t n = 0;
  for (const ScheduleProblem& p : cams) n += p.apps.size();
  return n;
}

TEST(MultiCamera, ExhaustiveAndMaxMinAreTheJointOptimumOfEnumeration) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const auto cams = Cameras(seed, 2 + static_cast<int>(seed % 2), 2);
    const double budget = BudgetBetween(cams, 0.04 + 0.05 * static_cast<double>(seed % 5));
    const Joint brute = Enumerate(cams, budget);
    ASSERT_GE(brute.best_sum, 0) << "seed " << seed;
    ++checked;
    const double n = static_cast<double>(Apps(cams));
    const MultiCameraResult ex = MultiCameraSearch(cams, budget, "exhaustive");
    EXPECT_TRUE(ex.exact) << "seed " << seed << " gap " << ex.gap;
    EXPECT_NEAR(ex.sum_f1, brute.best_sum, 1e-9) << "seed " << seed;
    EXPECT_LE(ex.cost, budget + 1e-9);
    EXPECT_NEAR(ex.bound_mean_f1, ex.mean_f1(), 1e-9);
    EXPECT_NEAR(ex.mean_f1() * n, ex.sum_f1, 1e-9);
    ASSERT_EQ(ex.cameras.size(), cams.size());
    double cost = 0, shares = 0;
    for (size_t c = 0; c < cams.size(); ++c) {
      const Solution again = Evaluate(cams[c], ex.cameras[c].solution.choice);
      EXPECT_NEAR(again.cost, ex.cameras[c].solution.cost, 1e-9);
      EXPECT_LE(again.cost, ex.shares[c] + 1e-9);
      cost += again.cost;
      shares += ex.shares[c];
    }
    EXPECT_NEAR(cost, ex.cost, 1e-9);
    EXPECT_NEAR(shares, std::max(budget, cost), 1e-6);

    const MultiCameraResult mm = MultiCameraSearch(cams, budget, "maxmin");
    EXPECT_NEAR(mm.min_f1, brute.best_min, 1e-9) << "seed " << seed;
    EXPECT_NEAR(mm.sum_f1, brute.best_sum_at_min, 1e-9) << "seed " << seed;
    EXPECT_TRUE(mm.exact) << "seed " << seed;
    EXPECT_LE(mm.cost, budget + 1e-9);

    const MultiCameraResult gr = MultiCameraSearch(cams, budget, "greedy");
    EXPECT_LE(gr.sum_f1, brute.best_sum + 1e-9);
    EXPECT_LE(gr.cost, budget + 1e-9);
    EXPECT_FALSE(gr.exact);
    EXPECT_TRUE(std::isnan(gr.bound_mean_f1));
  }
  EXPECT_EQ(checked, 12);
}

TEST(MultiCamera, FewFrontierPointsStillGiveAValidBoundAndGap) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const auto cams = Cameras(seed + 100, 3, 2);
    const double budget = BudgetBetween(cams, 0.2);
    const Joint brute = Enumerate(cams, budget);
    MultiCameraOptions coarse;
    coarse.max_points = 2;
    const MultiCameraResult r = MultiCameraSearch(cams, budget, "exhaustive", coarse);
    const double n = static_cast<double>(Apps(cams));
    ASSERT_TRUE(std::isfinite(r.bound_mean_f1)) << "seed " << seed;
    EXPECT_LE(r.mean_f1(), brute.best_sum / n + 1e-9);
    EXPECT_GE(r.bound_mean_f1, brute.best_sum / n - 1e-9) << "seed " << seed;
    EXPECT_NEAR(r.gap, (r.bound_mean_f1 - r.mean_f1()) / r.bound_mean_f1, 1e-12);
    EXPECT_LE(r.cost, budget + 1e-9);
    // Each camera searched at its top and floor only.
    EXPECT_LE(r.searches, 3 * 2);
  }
}

TEST(MultiCamera, OneCameraIsTheSingleCameraSearch) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    ScheduleProblem p = testing::RandomProblem(seed, 3, 6, 3, 4, 0.15);
    for (const char* algo : {"exhaustive", "maxmin"}) {
      const SearchResult single = RunSearch(p, algo);
      const MultiCameraResult multi = MultiCameraSearch({p}, p.budget, algo);
      EXPECT_NEAR(multi.sum_f1, single.solution.sum_f1, 1e-9) << algo << " seed " << seed;
      EXPECT_NEAR(multi.min_f1, single.solution.min_f1, 1e-9) << algo << " seed " << seed;
    }
  }
}

// The baselines' rule by hand: every app of every camera at its most (or
// least) shared candidate, one rate for all; the best sum that fits.
TEST(MultiCamera, BaselinesRunEveryAppOfEveryCameraAtOneRate) {
  const auto cams = Cameras(7, 3, 3);
  const double budget = BudgetBetween(cams, 0.1);
  for (const std::string algo : {"nosharing", "maxsharing"}) {
    const bool max_sharing = algo == "maxsharing";
    double best_sum = -1;
    for (double fps = 1; fps <= 10; ++fps) {
      double cost = 0, sum = 0;
      bool all = true;
      for (const ScheduleProblem& p : cams) {
        std::vector<int> choice;
        for (const AppChoices& a : p.apps) {
          int pick = -1;
          for (size_t k = 0; k < a.options.size(); ++k) {
            const AppOption& x = a.options[k];
            if (x.fps != fps) continue;
            const bool better =
                pick < 0 ||
                (max_sharing ? x.branchpoint > a.options[static_cast<size_t>(pick)].branchpoint
                             : x.branchpoint < a.options[static_cast<size_t>(pick)].branchpoint);
            if (better) pick = static_cast<int>(k);
          }
          all = all && pick >= 0;
          choice.push_back(std::max(pick, 0));
        }
        if (!all) break;
        const Solution s = Evaluate(p, choice);
        cost += s.cost;
        sum += s.sum_f1;
      }
      if (all && cost <= budget + 1e-9) best_sum = std::max(best_sum, sum);
    }
    ASSERT_GE(best_sum, 0) << algo;
    const MultiCameraResult r = MultiCameraSearch(cams, budget, algo);
    EXPECT_NEAR(r.sum_f1, best_sum, 1e-9) << algo;
    EXPECT_LE(r.cost, budget + 1e-9);
    double fps = -1;
    for (size_t c = 0; c < cams.size(); ++c) {
      for (size_t i = 0; i < cams[c].apps.size(); ++i) {
        const AppOption& o =
            cams[c].apps[i].options[static_cast<size_t>(r.cameras[c].solution.choice[i])];
        if (fps < 0) fps = o.fps;
        EXPECT_EQ(o.fps, fps) << algo;
      }
    }
  }
}

TEST(MultiCamera, InfeasibleAndUnsupportedInputSayWhy) {
  const auto cams = Cameras(3, 2, 2);
  const double cheapest = CheapestMultiCost(cams);
  const std::string msg =
      testing::InputErrorOf([&] { (void)MultiCameraSearch(cams, cheapest * 0.9, "exhaustive"); });
  EXPECT_NE(msg.find("infeasible for 2 cameras"), std::string::npos) << msg;
  EXPECT_NE(msg.find(fmt::format("{:.6g}", cheapest)), std::string::npos) << msg;
  EXPECT_THROW((void)MultiCameraSearch(cams, cheapest * 0.9, "greedy"), InfeasibleError);
  // Exactly the cheapest fits.
  const MultiCameraResult at = MultiCameraSearch(cams, cheapest, "exhaustive");
  EXPECT_LE(at.cost, cheapest + 1e-9);
  auto with_memory = cams;
  with_memory[1].memory_budget = 1e6;
  testing::ExpectInputError([&] { (void)MultiCameraSearch(with_memory, cheapest * 2, "greedy"); },
                            {"camera 1", "memory budget"});
  testing::ExpectInputError([&] { (void)MultiCameraSearch(cams, cheapest * 2, "best"); },
                            {"unknown algorithm 'best'"});
  testing::ExpectInputError([&] { (void)MultiCameraSearch({}, 10, "greedy"); }, {"no cameras"});
}

}  // namespace
}  // namespace mainstream
