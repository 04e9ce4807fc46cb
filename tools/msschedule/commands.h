// msschedule's subcommands: each registers its flags on the app and runs
// when it was the one parsed. Logic lives in libmainstream; these only turn
// flags into library calls and print results.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli.h"
#include "mainstream/schedule/node_plan.h"
#include "mainstream/schedule/report.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/simulate.h"

namespace mainstream::cli {

// The flags that shape F1 predictions (--trace-prior, --no-trace,
// --selection-*), shared by predict, schedule and compare.
void AddPredictionFlags(CLI::App* c, PredictionOptions& options);

// predict: one package's candidates (--package), or one app's rates.
struct PredictCommand {
  PredictRequest single;
  PackagePredictRequest package;
  std::string lengths, branchpoints, rates, x_votes = "1,2,3";
  bool json = false;
  CLI::App* cmd = nullptr;
  void Add(CLI::App& app);
  int Run(const CommonFlags& common);
};

// schedule and compare: packages + profile + budget.
struct ProblemCommands {
  ScheduleConfig config;
  double memory_mb = 0;
  std::string budget, fps, x_votes = "1", out = "schedule.json",
                           algos = "greedy,exhaustive,maxmin,nosharing,maxsharing";
  CLI::App* schedule = nullptr;
  CLI::App* compare = nullptr;
  void Add(CLI::App& app);
  int Run();
};

// plan: a deployment file (one or several cameras) under one budget ->
// a plan directory (a schedule per camera + node.json).
struct PlanCommand {
  std::string deployment, out = "plan";
  MultiCameraOptions options;
  CLI::App* cmd = nullptr;
  void Add(CLI::App& app);
  int Run();
};

// simulate: random workloads from template packages.
struct SimulateCommand {
  SimulateConfig config;
  std::string memory_budgets;
  std::string apps = "2-10", budgets = "350", algos = "greedy,nosharing,maxsharing",
              event_length = "250:2000", event_frequency = "0.01:0.3", correlation = "0:0.5", fps,
              x_votes = "1", out = "-", json, records, profile;
  std::vector<std::string> templates;
  CLI::App* cmd = nullptr;
  void Add(CLI::App& app);
  int Run(const CommonFlags& common);
};

}  // namespace mainstream::cli
