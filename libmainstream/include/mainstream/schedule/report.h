// Human-readable and JSON reports of the scheduler's results.
#pragma once

#include <cstdint>
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

// Per-app table of a schedule plus its tree and cost.
std::string FormatSchedule(const ScheduleDoc& doc);
// Side-by-side comparison of several schedules of the same apps.
std::string FormatComparison(const std::vector<ScheduleDoc>& docs);
// Table of simulation rows.
std::string FormatSimulation(const std::vector<SimulateRow>& rows);

}  // namespace mainstream
