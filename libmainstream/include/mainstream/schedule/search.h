// Schedule searches over a ScheduleProblem (docs/algorithms.md):
//   greedy      the paper's Algorithm 1 (benefit/cost moves from the cheapest
//               schedule) with the paper's or a marginal ratio, plus an
//               optional local-search polish;
//   exhaustive  the exact optimum of mean F1 under the budget (branch and
//               bound over apps with the stem envelope as state, LP bounds);
//   maxmin      the exact optimum of the minimum F1 (ties: best mean);
//   nosharing / maxsharing  static baselines.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "mainstream/schedule/problem.h"

namespace mainstream {

enum class GreedyRatio { kPaper, kMarginal };

struct GreedyOptions {
  GreedyRatio ratio = GreedyRatio::kMarginal;
  bool polish = true;  // local search after the greedy: best single-app and two-app moves
};

// Limits that make the exact searches anytime: when one is reached the
// search returns the best schedule found so far with a proven upper bound on
// the optimum (SearchResult::bound_mean_f1, gap).
struct SearchLimits {
  double time_limit_s = 0;  // 0: none; wall-clock seconds for the whole search
  int64_t max_nodes = 0;    // 0: none; branch-and-bound nodes
};

struct ExhaustiveOptions {
  bool dynamic_bound = true;            // per-node LP bound that accounts for the shared stem
  const Solution* incumbent = nullptr;  // a known feasible solution to start from
  SearchLimits limits;
  double start_time = 0;  // NowSeconds() when the caller's search began (0: now)
};

struct SearchResult {
  std::string algorithm;
  Solution solution;
  double seconds = 0;
  int64_t nodes = 0;   // search nodes (exhaustive) or moves evaluated (greedy)
  int64_t steps = 0;   // moves applied (greedy)
  bool exact = false;  // proven optimal for its objective
  // Exhaustive and maxmin: a proven upper bound on the best mean F1 (of the
  // schedules with the max-min minimum, for maxmin) and the relative gap
  // (bound - found) / bound; equal to the solution and 0 when exact. NaN for
  // the heuristics.
  double bound_mean_f1 = std::numeric_limits<double>::quiet_NaN();
  double gap = std::numeric_limits<double>::quiet_NaN();
  std::string stopped_by;  // "" (complete), "time limit" or "node limit"
  // With a cache model (RunSearch): each search with the cache-blind costs
  // of one regime, and the cost of its answer under the whole model.
  struct CachePass {
    double stem_fraction = 0, branch_fraction = 0;
    double searched_cost = 0;  // the answer's cost with the regime's costs
    double cost = 0;           // with the cache model
    bool fits = false;
  };
  std::vector<CachePass> cache_passes;
};

// Throws InputError saying the minimum feasible budget when even the cheapest
// schedule does not fit, and, with a memory budget, the least memory found and
// the budgets that would work when no schedule fits both.
void CheckFeasible(const ScheduleProblem& problem);
// A schedule (option index per app) within both budgets: the cheapest, or
// with a memory budget the cheapest of the low-memory schedules that fits.
// Throws as CheckFeasible.
std::vector<int> FeasibleStart(const ScheduleProblem& problem);

SearchResult GreedySearch(const ScheduleProblem& problem, const GreedyOptions& options = {});
// Both ratios, each followed by the polish; the better result.
SearchResult BestGreedySearch(const ScheduleProblem& problem);
SearchResult ExhaustiveSearch(const ScheduleProblem& problem,
                              const ExhaustiveOptions& options = {});
SearchResult MaxMinSearch(const ScheduleProblem& problem, const SearchLimits& limits = {});
// Every app at its most specialized (no_sharing) or most shared candidate,
// all at the one frame rate that maximizes mean F1 within the budget.
SearchResult StaticSearch(const ScheduleProblem& problem, bool max_sharing);

// The cost of `choice` (option indices per app) as the searches compute it,
// incrementally over the stem envelope; equals Evaluate(problem, choice).cost
// up to rounding (a randomized test checks it).
double FastScheduleCost(const ScheduleProblem& problem, const std::vector<int>& choice);

// Algorithm names accepted by RunSearch and the tools.
const std::vector<std::string>& AlgorithmNames();
// "" when RunSearch knows `name`; else "unknown algorithm 'NAME' (expected
// one of: ...)", for the caller to prefix with its flag or field.
std::string UnknownAlgorithm(const std::string& name);
// Dispatches by name: greedy (marginal + polish), greedy-paper, greedy-marginal
// (no polish), exhaustive, maxmin, nosharing, maxsharing.
// The limits apply to exhaustive and maxmin (the others finish in milliseconds).
// With a cache model in problem.costs a schedule's cost depends on every
// app's choice (how many bytes stream through the caches), which no search
// decomposes: each pass searches with the cache-blind costs of one regime
// (StageCosts::AtFractions), first all hot, then at the cache fractions the
// previous answer showed, and finally all cold (never below the model), until
// the answer fits under the whole model (docs/algorithms.md, "Caches"). The
// all-hot pass bounds every schedule's cost from below, so its answer, when
// it fits, is the optimum (exact for exhaustive and maxmin).
SearchResult RunSearch(const ScheduleProblem& problem, const std::string& algorithm,
                       const SearchLimits& limits = {});

}  // namespace mainstream
