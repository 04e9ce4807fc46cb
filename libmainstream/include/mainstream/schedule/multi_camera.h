// Several cameras on one node (docs/algorithms.md, "Several cameras"): each
// camera's apps share that camera's stem, and one compute budget covers every
// camera. The joint search splits the budget between the cameras by searching
// each camera alone at many budgets (its frontier: the best schedule the
// algorithm finds at each budget) and picking one point per camera with a
// multiple-choice knapsack over those frontiers, so every single-camera
// search (greedy, exhaustive, max-min, the baselines) serves several cameras
// unchanged. With exhaustive the frontiers are exact and the split is the
// joint optimum; otherwise a proven bound and gap are reported.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "mainstream/schedule/problem.h"
#include "mainstream/schedule/search.h"

namespace mainstream {

struct MultiCameraOptions {
  SearchLimits limits;  // each single-camera search's (exhaustive, maxmin)
  // Single-camera searches per camera's frontier at most. A frontier starts
  // with its camera's largest and smallest budgets and a few between; the
  // split then searches, camera by camera, just below the cost of the point
  // its bound picks, until the bound is reached by schedules found
  // (exact) or this many searches were made (the bound and gap say how far
  // from the optimum the split may be). At least 2.
  int max_points = 200;
};

struct MultiCameraResult {
  std::string algorithm;
  double budget = 0;
  // Per camera: its schedule (option indices of its own problem) and the
  // share of the budget it was given (its cost plus an equal part of what is
  // left over).
  std::vector<SearchResult> cameras;
  std::vector<double> shares;
  double cost = 0;
  double sum_f1 = 0;
  double min_f1 = 0;
  size_t apps = 0;
  double mean_f1() const { return apps == 0 ? 0 : sum_f1 / static_cast<double>(apps); }
  // Proven upper bound on the best mean F1 over every split of the budget (for
  // maxmin: the best mean among schedules with the max-min minimum), and the
  // relative gap; NaN for the heuristics (greedy) and the baselines' rule.
  bool exact = false;
  double bound_mean_f1 = std::numeric_limits<double>::quiet_NaN();
  double gap = std::numeric_limits<double>::quiet_NaN();
  int64_t searches = 0;  // single-camera searches run
  double seconds = 0;
};

// The cheapest schedule of every camera together (what "1.5x" multiplies).
double CheapestMultiCost(const std::vector<ScheduleProblem>& cameras);

// Searches every camera jointly under `budget` (each problem's own budget is
// ignored). Throws InfeasibleError when even the cheapest schedules of all
// cameras together exceed it, and InputError for a problem with a memory
// budget (memory is not split between cameras yet) or no apps.
MultiCameraResult MultiCameraSearch(const std::vector<ScheduleProblem>& cameras, double budget,
                                    const std::string& algorithm,
                                    const MultiCameraOptions& options = {});

}  // namespace mainstream
