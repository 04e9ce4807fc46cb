// Human-readable and JSON reports of the scheduler's results.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/simulate.h"

namespace mainstream {

struct PredictRequest {
  double tpr = 0, fpr = 0;
  EventStats events;
  double stride = 1;
  int x_vote = 1;
  int64_t monte_carlo = 0;  // events to simulate (0: none)
  uint64_t seed = 1;
};

// {"recall":..,"precision":..,"f1":.., "inputs":{...}, "simulated":{...}}
Json PredictReport(const PredictRequest& request);

// Every (candidate, rate, X) of one M-Package as the scheduler predicts it:
// the analytical model, the trace replay and the combination, with the
// events behind them and a 90% interval (for a measurement over as many
// events as the trace holds).
struct PackagePredictRequest {
  std::filesystem::path package;
  std::vector<int> branchpoints;  // empty: every candidate
  std::vector<double> fps;        // empty: 1..stream fps
  std::vector<int> x_vote{1, 2, 3};
  PredictionOptions options;
};
Json PredictPackage(const PackagePredictRequest& request);
// A table of PredictPackage's rows.
std::string FormatPackagePrediction(const Json& prediction);

// Per-app table of a schedule plus its tree and cost.
std::string FormatSchedule(const ScheduleDoc& doc);
// Side-by-side comparison of several schedules of the same apps.
std::string FormatComparison(const std::vector<ScheduleDoc>& docs);
// Table of simulation rows.
std::string FormatSimulation(const std::vector<SimulateRow>& rows);

}  // namespace mainstream
