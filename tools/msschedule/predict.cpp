#include <cstdio>
#include <iostream>

#include "commands.h"
#include "mainstream/core/parse.h"

namespace mainstream::cli {

void PredictCommand::Add(CLI::App& app) {
  cmd = app.add_subcommand(
      "predict",
      "Predict event recall/precision/F1: of one M-Package's every candidate, rate and X "
      "(--package: a "
      "table, or --json), or of one app given by its rates and event statistics (JSON on stdout)");
  cmd->add_option("--package", package.package,
                  "An M-Package: predict its candidates (trace + model)");
  cmd->add_option("--branchpoint", branchpoints,
                  "With --package: only these candidates, comma-separated");
  cmd->add_option("--rates", rates,
                  "With --package: frame rates, comma-separated (default 1..stream fps)");
  cmd->add_option("--x-votes", x_votes, "With --package: X-voting values, comma-separated")
      ->capture_default_str();
  cmd->add_flag("--json", json, "With --package: print JSON instead of a table");
  AddPredictionFlags(cmd, package.options);
  cmd->add_option("--tpr", single.tpr, "Per-frame true-positive rate")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--fpr", single.fpr, "Per-frame false-positive rate")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--event-length", single.events.mean_length, "Mean event length (stream frames)");
  cmd->add_option("--event-lengths", lengths,
                  "Every event length (frames), comma-separated (overrides the mean for recall)");
  cmd->add_option("--event-frequency", single.events.frequency, "Fraction of frames inside events");
  cmd->add_option("--correlation", single.events.correlation, "Inter-frame correlation c in [0,1)")
      ->capture_default_str();
  cmd->add_option("--stride", single.stride, "Stream frames per sample (stream fps / app fps)")
      ->capture_default_str();
  cmd->add_option("--x-vote", single.x_vote, "Report an event after X consecutive positives")
      ->capture_default_str();
  cmd->add_option("--monte-carlo", single.monte_carlo,
                  "Also simulate this many events and print both");
}

int PredictCommand::Run(const CommonFlags& common) {
  if (!package.package.empty()) {
    if (!branchpoints.empty()) package.branchpoints = ParseIntList(branchpoints, "--branchpoint");
    if (!rates.empty()) package.fps = ParseDoubleList(rates, "--rates");
    package.x_vote = ParseIntList(x_votes, "--x-votes");
    const Json j = PredictPackage(package);
    std::fputs(json ? (j.dump(2) + "\n").c_str() : FormatPackagePrediction(j).c_str(), stdout);
    return 0;
  }
  for (const char* flag : {"--tpr", "--fpr", "--event-length", "--event-frequency"}) {
    MS_CHECK(cmd->count(flag) > 0, "predict: {} is required (or give --package DIR)", flag);
  }
  if (!lengths.empty()) single.events.lengths = ParseDoubleList(lengths, "--event-lengths");
  single.events.min_length = single.events.mean_length;
  for (double l : single.events.lengths)
    single.events.min_length = std::min(single.events.min_length, l);
  single.seed = common.seed;
  std::cout << PredictReport(single).dump(2) << "\n";
  return 0;
}

}  // namespace mainstream::cli
