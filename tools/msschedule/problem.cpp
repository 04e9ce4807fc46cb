#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "mainstream/core/parse.h"

namespace mainstream::cli {

void AddPredictionFlags(CLI::App* c, PredictionOptions& options) {
  c->add_option("--trace-prior", options.prior_events,
                "Shrinkage: events of evidence the trace needs to weigh as much as the model")
      ->capture_default_str();
  c->add_flag(
      "--no-trace", [&options](int64_t) { options.use_trace = false; },
      "Predict with the analytical model only (ignore the packages' score traces)");
  c->add_option("--selection-resamples", options.selection_resamples,
                "Bootstrap resamples of the trace's events that estimate, per option, the "
                "optimism of picking the best-looking of an app's options; the search sees "
                "predictions net of it (predict --package: the 'searched' column; 0: no "
                "correction; docs/model.md)")
      ->capture_default_str();
  c->add_flag("--selection-by-fold", options.selection_by_fold,
              "Resample the trace's folds (stretches of time) instead of its events");
  c->add_option("--selection-seed", options.selection_seed, "Seed of those resamples")
      ->capture_default_str();
  c->add_option_function<std::string>(
       "--heterogeneity-null",
       [&options](const std::string& v) { options.permutation_null = v == "permutation"; },
       "What of the folds' F1 spread their events explain (the rest widens the interval): "
       "'permutation' (the events dealt to the folds at random) or 'normal' (the per-event "
       "spread x folds / events; docs/model.md, \"Prediction intervals\")")
      ->check(CLI::IsMember({"permutation", "normal"}))
      ->default_str("permutation");
  c->add_flag(
      "--no-micro", [&options](int64_t) { options.use_micro = false; },
      "Leave the packages' microclassifier candidates out (branches only)");
}

void ProblemCommands::Add(CLI::App& app) {
  auto add_problem_flags = [this](CLI::App* c) {
    c->add_option("--packages", config.packages, "M-Package directories, one per app")
        ->required()
        ->expected(1, -1);
    c->add_option("--profile", config.profile, "Profile JSON of the base on this machine")
        ->required();
    c->add_option("--budget", budget,
                  "Compute budget: ms of compute per second of video (e.g. 12.5), or a multiple of "
                  "the cheapest "
                  "schedule's cost on this profile (e.g. 1.5x)")
        ->required();
    c->add_option("--fps", fps, "Frame-rate options, comma-separated (default: 1..stream fps)");
    c->add_option("--x-vote", x_votes, "X-voting options to search, e.g. 1,2,3,5,7")
        ->capture_default_str();
    AddPredictionFlags(c, config.prediction);
    c->add_option("--time-limit", config.limits.time_limit_s,
                  "exhaustive/maxmin: stop after S seconds with the best schedule found and a "
                  "proven bound on the "
                  "optimum (0: no limit)")
        ->capture_default_str();
    c->add_option("--max-nodes", config.limits.max_nodes,
                  "exhaustive/maxmin: stop after N search nodes, likewise (0: no limit)")
        ->capture_default_str();
    c->add_option("--memory-budget", memory_mb,
                  "Memory budget in MB (10^6 bytes) for the models' parameters and activations, "
                  "respected by every algorithm beside --budget; needs a profile that records "
                  "memory (0: none)")
        ->capture_default_str();
  };
  schedule = app.add_subcommand("schedule", "Search a schedule and write schedule.json");
  add_problem_flags(schedule);
  schedule
      ->add_option(
          "--algo", config.algorithm,
          "greedy | greedy-paper | greedy-marginal | exhaustive | maxmin | nosharing | maxsharing")
      ->capture_default_str();
  schedule->add_option("-o,--output", out, "Output schedule file ('-' for stdout)")
      ->capture_default_str();
  compare = app.add_subcommand(
      "compare", "Run several algorithms on the same apps and print them side by side");
  add_problem_flags(compare);
  compare->add_option("--algos", algos, "Algorithms, comma-separated")->capture_default_str();
}

int ProblemCommands::Run() {
  if (!fps.empty()) config.fps_options = ParseDoubleList(fps, "--fps");
  config.x_options = ParseIntList(x_votes, "--x-vote");
  ParseBudget(budget, config);
  MS_CHECK(std::isfinite(memory_mb) && memory_mb >= 0,
           "--memory-budget must be a number of MB >= 0 (0: none), got {}", memory_mb);
  config.memory_budget = memory_mb * 1e6;
  if (schedule->parsed()) {
    ScheduleDoc doc = PlanSchedule(config);
    std::fputs(FormatSchedule(doc).c_str(), stderr);
    if (out == "-") {
      std::cout << doc.ToJson(".").dump(2) << "\n";
    } else {
      WriteSchedule(doc, out);
      std::printf("%s\n", out.c_str());
    }
    return 0;
  }
  std::vector<ScheduleDoc> docs;
  for (const auto& a : SplitList(algos)) {
    config.algorithm = a;
    docs.push_back(PlanSchedule(config));
  }
  std::fputs(FormatComparison(docs).c_str(), stdout);
  return 0;
}

}  // namespace mainstream::cli
