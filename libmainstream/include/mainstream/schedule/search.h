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
#include <string>
#include <vector>

#include "mainstream/schedule/problem.h"

namespace mainstream {

enum class GreedyRatio { kPaper, kMarginal };

struct GreedyOptions {
  GreedyRatio ratio = GreedyRatio::kMarginal;
  bool polish = true;  // local search after the greedy: best single-app and two-app moves
};

struct ExhaustiveOptions {
  bool dynamic_bound = true;  // per-node LP bound that accounts for the shared stem
  const Solution* incumbent = nullptr;  // a known feasible solution to start from
  int64_t max_nodes = 0;  // 0: unlimited; otherwise stop (and report) after this many
};

struct SearchResult {
  std::string algorithm;
  Solution solution;
  double seconds = 0;
  int64_t nodes = 0;  // search nodes (exhaustive) or moves evaluated (greedy)
  int64_t steps = 0;  // moves applied (greedy)
  bool exact = false;  // proven optimal for its objective
};

// Throws InputError saying the minimum feasible budget when even the cheapest
// schedule does not fit.
void CheckFeasible(const ScheduleProblem& problem);

SearchResult GreedySearch(const ScheduleProblem& problem, const GreedyOptions& options = {});
// Both ratios, each followed by the polish; the better result.
SearchResult BestGreedySearch(const ScheduleProblem& problem);
SearchResult ExhaustiveSearch(const ScheduleProblem& problem, const ExhaustiveOptions& options = {});
SearchResult MaxMinSearch(const ScheduleProblem& problem);
// Every app at its most specialized (no_sharing) or most shared candidate,
// all at the one frame rate that maximizes mean F1 within the budget.
SearchResult StaticSearch(const ScheduleProblem& problem, bool max_sharing);

// Algorithm names accepted by RunSearch and the tools.
const std::vector<std::string>& AlgorithmNames();
// Dispatches by name: greedy (marginal + polish), greedy-paper, greedy-marginal
// (no polish), exhaustive, maxmin, nosharing, maxsharing.
SearchResult RunSearch(const ScheduleProblem& problem, const std::string& algorithm);

}  // namespace mainstream
