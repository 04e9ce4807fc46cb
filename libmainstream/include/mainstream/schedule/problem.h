// A scheduling problem: for each app, every (candidate, frame rate) option with
// its predicted event metrics (best X among the allowed ones), plus the stage
// costs and the budget.
#pragma once

#include <string>
#include <vector>

#include "mainstream/package/mpackage.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/event_model.h"
#include "mainstream/schedule/memory_model.h"
#include "mainstream/schedule/prediction.h"

namespace mainstream {

struct AppOption {
  int candidate = 0;  // index into the app's candidates
  int branchpoint = 0;
  CandidateKind kind = CandidateKind::kBranch;
  // A microclassifier's own latency per frame on the problem's profile and
  // its bytes (BuildProblem fills them; -1 for a branch, whose own part is
  // stages [b, n) of the profile).
  double own_ms = -1;
  double own_bytes = -1;
  bool is_micro() const { return kind == CandidateKind::kMicro; }
  double fps = 0;
  int x_vote = 1;
  double tpr = 0, fpr = 0;
  AppPrediction pred;
};

struct AppChoices {
  std::string name;
  std::vector<AppOption> options;
};

struct OptionSpace {
  double stream_fps = 0;
  std::vector<double> fps_options;  // candidate frame rates (each <= stream_fps)
  std::vector<int> x_options{1};    // X-voting values to search
};

// Default frame rates: integers 1..floor(stream_fps) (and stream_fps itself if
// it is not an integer).
std::vector<double> DefaultFpsOptions(double stream_fps);

// One (candidate, fps, X) as PredictCandidate predicts it, before any
// selection correction.
struct PredictedOption {
  int candidate = 0;  // index into the candidates given
  double fps = 0;
  int x_vote = 1;
  AppPrediction pred;
};

// Every (candidate, fps) pair of one app, each with the X that maximizes the
// predicted F1 (PredictCandidate: trace + model when `trace` is given).
// `every`, when given, receives every (candidate, fps, X) predicted on the way.
AppChoices BuildAppChoices(const std::string& name, const std::vector<Candidate>& candidates,
                           const EventStats& events, const OptionSpace& space,
                           const ScoreTrace* trace = nullptr, const PredictionOptions& options = {},
                           std::vector<PredictedOption>* every = nullptr);

struct ScheduleProblem {
  StageCosts costs;
  double budget = 0;
  std::vector<AppChoices> apps;
  // Memory (docs/model.md, "Memory model"): per-stage bytes, and a budget in
  // bytes that every search respects (0: none; needs `memory`).
  StageMemory memory;
  double memory_budget = 0;
  bool has_memory_budget() const { return memory_budget > 0; }
};

// One option index per app.
struct Solution {
  std::vector<int> choice;
  double cost = 0;
  double memory = 0;  // bytes (ScheduleMemory); 0 when the problem has no memory model
  double sum_f1 = 0;
  double min_f1 = 0;
  double mean_f1() const {
    return choice.empty() ? 0 : sum_f1 / static_cast<double>(choice.size());
  }
};

// Evaluates a choice with the reference cost model (BuildMergedTree).
Solution Evaluate(const ScheduleProblem& problem, const std::vector<int>& choice);
std::vector<AppRequest> Requests(const ScheduleProblem& problem, const std::vector<int>& choice);

// The cheapest schedule of branches: every app at its most shared branch
// candidate and lowest rate (microclassifiers are left out so that budgets
// given as multiples of it do not move when they are added; an app with
// only microclassifiers takes its cheapest one).
Solution CheapestSolution(const ScheduleProblem& problem);

}  // namespace mainstream
