// The schedule file (schedule.json) and how one is planned from M-Packages and
// a profile. See docs/formats.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/profile/profile.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/event_model.h"
#include "mainstream/schedule/memory_model.h"
#include "mainstream/schedule/prediction.h"
#include "mainstream/schedule/search.h"

namespace mainstream {

inline constexpr int kScheduleSchemaVersion = 1;

struct ScheduledApp {
  std::string app;
  std::filesystem::path package;  // package directory (absolute once read)
  int candidate = 0;              // index into the package's candidates
  int branchpoint = 0;
  CandidateKind kind = CandidateKind::kBranch;
  // A microclassifier's latency per frame and bytes on the schedule's
  // profile (what its branch node costs; -1 for a branch).
  double own_ms = -1, own_bytes = -1;
  double fps = 0;
  int x_vote = 1;
  double tpr = 0, fpr = 0, threshold = 0.5;
  std::string weights;  // candidate weights file (relative to package), may be empty
  AppPrediction predicted;
  double own_cost = 0;  // fps x latency of its own stages
};

struct ScheduleDoc {
  double budget = 0;         // ms of compute per second of video
  double budget_factor = 0;  // > 0: the budget was given as this multiple of cheapest_cost
  double cheapest_cost = 0;  // cost of the cheapest schedule of these apps (0: not recorded)
  std::string algorithm;
  std::string objective = "mean_f1";
  double stream_fps = 0;
  BaseRef base;
  std::string profile;  // path of the profile it was planned with
  StageCosts costs;     // copied from the profile
  // The profile's speed_reference_ms (0: not recorded; msrun's speed probe
  // then compares with costs.Total(), as profiles before it timed stages so).
  double speed_reference_ms = 0;
  std::vector<std::string> stage_names;
  std::vector<ScheduledApp> apps;
  MergedTree tree;  // derived from apps + costs
  double total_cost = 0;
  StageMemory memory;                // copied from the profile (empty: it records none)
  double memory_budget = 0;          // bytes (0: none)
  MemoryBreakdown predicted_memory;  // of the apps' merged tree (docs/model.md)
  double mean_f1 = 0, min_f1 = 0, mean_recall = 0, mean_precision = 0;
  Json search = Json::object();  // seconds, nodes, exact, options searched

  Json ToJson(const std::filesystem::path& relative_to) const;
  std::vector<AppRequest> Requests() const;
  std::vector<std::string> AppNames() const;
};

// Reads and validates a schedule; package paths are resolved relative to the
// schedule file; the tree is rebuilt from the apps and checked against the
// file's recorded total cost.
ScheduleDoc ReadSchedule(const std::filesystem::path& file);
void WriteSchedule(const ScheduleDoc& doc, const std::filesystem::path& file);

// ScheduleConfig: what `msschedule schedule` needs.
struct ScheduleConfig {
  std::vector<std::filesystem::path> packages;
  std::filesystem::path profile;
  double budget = 0;
  // > 0: the budget is this multiple of the cheapest schedule's cost on the
  // profile (every app at its most shared candidate and lowest rate), so that
  // budgets travel between machines; `budget` is then ignored.
  double budget_factor = 0;
  std::string algorithm = "greedy";
  std::vector<double> fps_options;  // empty: integers 1..stream fps
  std::vector<int> x_options{1};
  PredictionOptions prediction;
  SearchLimits limits;  // exhaustive and maxmin: stop with the best found and a proven bound
  double memory_budget =
      0;  // bytes every algorithm respects (0: none; needs a profile with memory)

  void Validate() const;
  Json ToJson() const;
};

// "12.5" (ms of compute per second of video) or "1.5x" (a multiple of the
// cheapest schedule's cost) into config.budget / config.budget_factor.
void ParseBudget(const std::string& text, ScheduleConfig& config);

// Loads packages (checking they share the profile's base hash and stream fps),
// builds the problem, runs the search, and returns the schedule.
ScheduleDoc PlanSchedule(const ScheduleConfig& config);

// Builds a problem from loaded packages and a profile (shared with simulate).
// Packages with a score trace are predicted from it (LoadPackageTrace checks
// it against the manifest) unless options.use_trace is false; a package
// without one is predicted by the analytical model alone, logged once.
ScheduleProblem BuildProblem(const std::vector<MPackage>& packages, const Profile& profile,
                             double budget, const OptionSpace& space,
                             const PredictionOptions& options = {});
// Checks every package against the profile (base hash, stage count, stream
// fps agreement); errors name the package file and field.
void CheckCompatible(const std::vector<MPackage>& packages, const Profile& profile,
                     const std::string& profile_origin);

// Fills a ScheduleDoc from a search result.
ScheduleDoc MakeScheduleDoc(const std::vector<MPackage>& packages, const Profile& profile,
                            const std::string& profile_path, const ScheduleProblem& problem,
                            const SearchResult& result);

}  // namespace mainstream
