// Workload simulation (the paper's Sec. 8 experiments): random workloads of N
// apps drawn from template M-Packages (their accuracy curves), with event
// length, frequency and correlation drawn uniformly from ranges, scheduled by
// several algorithms at several budgets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/profile/profile.h"

namespace mainstream {

struct UniformRange {
  double lo = 0, hi = 0;
};
// Parses "a:b" or a single value "a" (lo == hi); `flag` names it in errors.
UniformRange ParseRange(const std::string& text, const std::string& flag);

struct SimulateConfig {
  std::vector<int> num_apps{2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::vector<double> budgets{350};
  // Memory budgets in MB (10^6 bytes), each combined with every budget; empty:
  // none. Needs a profile that records memory.
  std::vector<double> memory_budgets_mb;
  std::vector<std::string> algorithms{"greedy", "nosharing", "maxsharing"};
  int workloads = 100;  // per number of apps
  UniformRange event_length_ms{250, 2000};
  UniformRange event_frequency{0.01, 0.3};
  UniformRange correlation{0.0, 0.5};
  std::vector<double> fps_options;  // empty: 1..stream fps
  std::vector<int> x_options{1};
  uint64_t seed = 1;
  int threads = 1;

  void Validate() const;
  Json ToJson() const;
};

// Aggregate over the workloads of one (num_apps, budget, algorithm) cell.
struct SimulateRow {
  int num_apps = 0;
  double budget = 0;
  double memory_budget_mb = 0;  // 0: none
  std::string algorithm;
  int workloads = 0;
  int infeasible = 0;  // workloads where the algorithm could not fit every app (F1 counted as 0)
  double mean_f1 = 0, mean_recall = 0, mean_precision = 0, mean_min_f1 = 0;
  double mean_fps = 0, mean_cost = 0;
  double mean_memory_mb = 0;       // of the feasible schedules (0 without a memory model)
  double mean_ms = 0, max_ms = 0;  // schedule time per workload
  // Relative F1 gap to exhaustive on the same workloads (only when
  // exhaustive is among the algorithms): mean and worst of (opt - f) / opt.
  double gap_mean = 0, gap_worst = 0;
  int gap_count = 0;
};

// Per-workload outcome (for detailed CSV output).
struct SimulateRecord {
  int num_apps = 0;
  int workload = 0;
  double budget = 0;
  double memory_budget_mb = 0;
  std::string algorithm;
  bool feasible = false;
  double mean_f1 = 0, mean_recall = 0, mean_precision = 0, min_f1 = 0, mean_fps = 0, cost = 0;
  double memory_mb = 0;
  double seconds = 0;
  int64_t nodes = 0;
};

struct SimulateOutput {
  std::vector<SimulateRow> rows;
  std::vector<SimulateRecord> records;
  double seconds = 0;
};

// The apps of workload `workload` of size `num_apps` (deterministic in the seed).
std::vector<MPackage> MakeWorkload(const std::vector<MPackage>& templates,
                                   const SimulateConfig& config, int num_apps, int workload);

SimulateOutput RunSimulation(const std::vector<MPackage>& templates, const Profile& profile,
                             const SimulateConfig& config);

std::string SimulateRowsCsv(const std::vector<SimulateRow>& rows);
std::string SimulateRecordsCsv(const std::vector<SimulateRecord>& records);
Json SimulateRowsJson(const std::vector<SimulateRow>& rows);

}  // namespace mainstream
