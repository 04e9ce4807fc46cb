// The searches' shared internals, the static baselines and the dispatcher.
// Greedy: search_greedy.cpp; exhaustive: search_exhaustive.cpp; max-min:
// search_maxmin.cpp.
#include "mainstream/schedule/search.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "search_internal.h"

namespace mainstream {
namespace search_detail {

// A dominates B when it is at least as good and never costs more in any
// schedule: f >= , rate <=, level >= (more of the stem shared).
bool Dominates(const Opt& a, const Opt& b) { return a.f >= b.f && a.r <= b.r && a.q >= b.q; }

Compiled Compile(const ScheduleProblem& p,
                 const std::function<bool(size_t, const AppOption&)>& keep, bool prune) {
  Compiled c;
  c.D = p.costs.preprocess_ms;
  c.budget =
      p.budget - p.costs.FixedCost();  // decoding the stream costs the same in every schedule
  const int n = p.costs.num_stages();
  std::vector<int> levels{0};
  for (const auto& app : p.apps) {
    for (const auto& o : app.options) levels.push_back(o.branchpoint);
  }
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  c.m = static_cast<int>(levels.size()) - 1;
  for (int j = 0; j < c.m; ++j)
    c.L.push_back(
        p.costs.Range(levels[static_cast<size_t>(j)], levels[static_cast<size_t>(j + 1)]));
  c.apps.resize(p.apps.size());
  for (size_t i = 0; i < p.apps.size(); ++i) {
    std::vector<Opt> all;
    for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
      const AppOption& o = p.apps[i].options[k];
      if (!keep(i, o)) continue;
      MS_CHECK(o.branchpoint >= 0 && o.branchpoint < n,
               "app {}: branchpoint {} outside the base's {} stages", p.apps[i].name, o.branchpoint,
               n);
      Opt x;
      x.q = static_cast<int>(std::lower_bound(levels.begin(), levels.end(), o.branchpoint) -
                             levels.begin());
      x.r = o.fps;
      x.w = o.fps * p.costs.BranchRange(o.branchpoint, n);
      x.f = o.pred.f1;
      x.orig = static_cast<int>(k);
      all.push_back(x);
    }
    if (prune) {
      std::vector<Opt> kept;
      for (size_t a = 0; a < all.size(); ++a) {
        bool dominated = false;
        for (size_t b = 0; b < all.size() && !dominated; ++b) {
          if (a == b || !Dominates(all[b], all[a])) continue;
          bool equal = all[b].f == all[a].f && all[b].r == all[a].r && all[b].q == all[a].q;
          dominated = !equal || b < a;  // among identical options keep the first
        }
        if (!dominated) kept.push_back(all[a]);
      }
      all.swap(kept);
    }
    c.apps[i] = std::move(all);
  }
  return c;
}

double FullCost(const Compiled& c, const std::vector<const Opt*>& sel) {
  std::vector<double> M(static_cast<size_t>(c.m), 0.0);
  double rmax = 0, cost = 0;
  for (const Opt* o : sel) {
    cost += Increment(c, *o, M.data(), rmax);
    Raise(*o, M.data());
    rmax = std::max(rmax, o->r);
  }
  return cost;
}

Solution ToSolution(const ScheduleProblem& p, const Compiled& c,
                    const std::vector<int>& compiled_choice) {
  std::vector<int> choice(compiled_choice.size());
  for (size_t i = 0; i < compiled_choice.size(); ++i) {
    choice[i] = c.apps[i][static_cast<size_t>(compiled_choice[i])].orig;
  }
  return Evaluate(p, choice);
}

int CheapestIndex(const std::vector<Opt>& opts) {
  int best = 0;
  for (size_t k = 1; k < opts.size(); ++k) {
    const Opt& a = opts[k];
    const Opt& b = opts[static_cast<size_t>(best)];
    if (a.q > b.q || (a.q == b.q && (a.r < b.r || (a.r == b.r && a.f > b.f))))
      best = static_cast<int>(k);
  }
  return best;
}

}  // namespace search_detail

using namespace search_detail;

void CheckFeasible(const ScheduleProblem& problem) {
  MS_CHECK(!problem.apps.empty(), "no applications to schedule");
  MS_CHECK(std::isfinite(problem.budget) && problem.budget > 0,
           "budget must be a positive number, got {}", problem.budget);
  Solution cheapest = CheapestSolution(problem);
  if (cheapest.cost > problem.budget + kCostEps) {
    ThrowInfeasible(
        "budget {:.6g} is infeasible: the cheapest schedule (every app at its most shared "
        "candidate and "
        "lowest frame rate) costs {:.6g} ms/s; use --budget {:.6g} or more, lower --fps options or "
        "fewer apps",
        problem.budget, cheapest.cost, std::ceil(cheapest.cost * 1000) / 1000);
  }
}

SearchResult StaticSearch(const ScheduleProblem& problem, bool max_sharing) {
  double t0 = NowSeconds();
  MS_CHECK(!problem.apps.empty(), "no applications to schedule");
  // Each app's fixed candidate.
  std::vector<int> cand(problem.apps.size());
  for (size_t i = 0; i < problem.apps.size(); ++i) {
    int pick = -1, pick_bp = 0;
    for (const auto& o : problem.apps[i].options) {
      if (pick < 0 || (max_sharing ? o.branchpoint > pick_bp : o.branchpoint < pick_bp)) {
        pick = o.candidate;
        pick_bp = o.branchpoint;
      }
    }
    cand[i] = pick;
  }
  std::vector<double> rates;
  for (const auto& o : problem.apps[0].options) rates.push_back(o.fps);
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  Solution best;
  bool have = false;
  double min_cost = kInf;
  for (double r : rates) {
    std::vector<int> choice;
    for (size_t i = 0; i < problem.apps.size(); ++i) {
      int idx = -1;
      for (size_t k = 0; k < problem.apps[i].options.size(); ++k) {
        const AppOption& o = problem.apps[i].options[k];
        if (o.candidate == cand[i] && o.fps == r) idx = static_cast<int>(k);
      }
      if (idx < 0) break;
      choice.push_back(idx);
    }
    if (choice.size() != problem.apps.size()) continue;
    Solution s = Evaluate(problem, choice);
    min_cost = std::min(min_cost, s.cost);
    if (s.cost > problem.budget + kCostEps) continue;
    if (!have || s.sum_f1 > best.sum_f1 + kValueEps) {
      best = s;
      have = true;
    }
  }
  if (!have) {
    ThrowInfeasible(
        "budget {:.6g} is infeasible for {}: running every app at the lowest common frame rate "
        "costs "
        "{:.6g} ms/s; use --budget {:.6g} or more",
        problem.budget, max_sharing ? "maxsharing" : "nosharing", min_cost,
        std::ceil(min_cost * 1000) / 1000);
  }
  SearchResult r;
  r.algorithm = max_sharing ? "maxsharing" : "nosharing";
  r.solution = best;
  r.nodes = static_cast<int64_t>(rates.size());
  r.exact = true;
  r.seconds = NowSeconds() - t0;
  return r;
}

double FastScheduleCost(const ScheduleProblem& problem, const std::vector<int>& choice) {
  MS_ASSERT(choice.size() == problem.apps.size(), "FastScheduleCost: {} choices for {} apps",
            choice.size(), problem.apps.size());
  Compiled c = Compile(
      problem, [](size_t, const AppOption&) { return true; }, /*prune=*/false);
  std::vector<const Opt*> sel;
  for (size_t i = 0; i < choice.size(); ++i)
    sel.push_back(&c.apps[i].at(static_cast<size_t>(choice[i])));
  return FullCost(c, sel) + problem.costs.FixedCost();
}

const std::vector<std::string>& AlgorithmNames() {
  static const std::vector<std::string> names{"greedy",     "greedy-paper", "greedy-marginal",
                                              "exhaustive", "maxmin",       "nosharing",
                                              "maxsharing"};
  return names;
}

SearchResult RunSearch(const ScheduleProblem& problem, const std::string& algorithm,
                       const SearchLimits& limits) {
  MS_CHECK(std::isfinite(limits.time_limit_s) && limits.time_limit_s >= 0,
           "--time-limit must be a number of seconds >= 0 (0: none), got {}", limits.time_limit_s);
  MS_CHECK(limits.max_nodes >= 0, "--max-nodes must be >= 0 (0: none), got {}", limits.max_nodes);
  if (algorithm == "greedy") return BestGreedySearch(problem);
  if (algorithm == "greedy-paper") return GreedySearch(problem, {GreedyRatio::kPaper, false});
  if (algorithm == "greedy-marginal") return GreedySearch(problem, {GreedyRatio::kMarginal, false});
  if (algorithm == "exhaustive") {
    ExhaustiveOptions o;
    o.limits = limits;
    return ExhaustiveSearch(problem, o);
  }
  if (algorithm == "maxmin") return MaxMinSearch(problem, limits);
  if (algorithm == "nosharing") return StaticSearch(problem, false);
  if (algorithm == "maxsharing") return StaticSearch(problem, true);
  ThrowInput(
      "--algo: unknown algorithm '{}' (expected one of: greedy, greedy-paper, greedy-marginal, "
      "exhaustive, maxmin, nosharing, maxsharing)",
      algorithm);
}

}  // namespace mainstream
