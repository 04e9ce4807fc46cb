// msschedule: pick each app's branchpoint, frame rate and X under a compute
// budget; predict event F1; simulate workloads. Logic lives in libmainstream.
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "mainstream/core/atomic_file.h"
#include "mainstream/core/parse.h"
#include "mainstream/schedule/report.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/simulate.h"

using namespace mainstream;

int main(int argc, char** argv) {
  CLI::App app{"msschedule: choose how much of the base DNN each app shares and at what frame rate"};
  app.footer(
      "Examples:\n"
      "  msschedule schedule --packages pk/ped pk/car --profile profile.json --budget 350 -o schedule.json\n"
      "  msschedule compare --packages pk/* --profile profile.json --budget 100 --algos greedy,exhaustive\n"
      "  msschedule predict --package pk/ped --rates 1,3,7\n"
      "  msschedule predict --tpr 0.9 --fpr 0.05 --event-length 30 --event-frequency 0.1 --stride 4 --monte-carlo 20000\n"
      "  msschedule simulate --packages ref/* --profile ref/profile.json --apps 2-10 --budgets 100,350 -o sim.csv");
  app.require_subcommand(1);
  cli::CommonFlags common;
  cli::AddCommonFlags(app, common);

  // predict
  PredictRequest pr;
  std::string lengths;
  PackagePredictRequest pp;
  std::string pp_bps, pp_fps, pp_x = "1,2,3";
  bool pp_json = false;
  auto* predict = app.add_subcommand(
      "predict", "Predict event recall/precision/F1: of one M-Package's every candidate, rate and X (--package: a "
                 "table, or --json), or of one app given by its rates and event statistics (JSON on stdout)");
  predict->add_option("--package", pp.package, "An M-Package: predict its candidates (trace + model)");
  predict->add_option("--branchpoint", pp_bps, "With --package: only these candidates, comma-separated");
  predict->add_option("--rates", pp_fps, "With --package: frame rates, comma-separated (default 1..stream fps)");
  predict->add_option("--x-votes", pp_x, "With --package: X-voting values, comma-separated")->capture_default_str();
  predict->add_flag("--json", pp_json, "With --package: print JSON instead of a table");
  predict->add_option("--trace-prior", pp.options.prior_events,
                      "Events of evidence the trace needs to weigh as much as the model")->capture_default_str();
  predict->add_flag("--no-trace", [&](int64_t) { pp.options.use_trace = false; }, "Analytical model only");
  predict->add_option("--tpr", pr.tpr, "Per-frame true-positive rate")->check(CLI::Range(0.0, 1.0));
  predict->add_option("--fpr", pr.fpr, "Per-frame false-positive rate")->check(CLI::Range(0.0, 1.0));
  predict->add_option("--event-length", pr.events.mean_length, "Mean event length (stream frames)");
  predict->add_option("--event-lengths", lengths, "Every event length (frames), comma-separated (overrides the mean for recall)");
  predict->add_option("--event-frequency", pr.events.frequency, "Fraction of frames inside events");
  predict->add_option("--correlation", pr.events.correlation, "Inter-frame correlation c in [0,1)")->capture_default_str();
  predict->add_option("--stride", pr.stride, "Stream frames per sample (stream fps / app fps)")->capture_default_str();
  predict->add_option("--x-vote", pr.x_vote, "Report an event after X consecutive positives")->capture_default_str();
  predict->add_option("--monte-carlo", pr.monte_carlo, "Also simulate this many events and print both");

  // schedule / compare
  ScheduleConfig sc;
  std::string budget_text;
  std::string out = "schedule.json", fps, xs = "1", algos = "greedy,exhaustive,maxmin,nosharing,maxsharing";
  auto add_problem_flags = [&](CLI::App* cmd) {
    cmd->add_option("--packages", sc.packages, "M-Package directories, one per app")->required()->expected(1, -1);
    cmd->add_option("--profile", sc.profile, "Profile JSON of the base on this machine")->required();
    cmd->add_option("--budget", budget_text,
                    "Compute budget: ms of compute per second of video (e.g. 12.5), or a multiple of the cheapest "
                    "schedule's cost on this profile (e.g. 1.5x)")
        ->required();
    cmd->add_option("--fps", fps, "Frame-rate options, comma-separated (default: 1..stream fps)");
    cmd->add_option("--x-vote", xs, "X-voting options to search, e.g. 1,2,3,5,7")->capture_default_str();
    cmd->add_option("--trace-prior", sc.prediction.prior_events,
                    "Shrinkage: events of evidence the trace needs to weigh as much as the model")
        ->capture_default_str();
    cmd->add_flag("--no-trace", [&](int64_t) { sc.prediction.use_trace = false; },
                  "Predict with the analytical model only (ignore the packages' score traces)");
  };
  auto* schedule = app.add_subcommand("schedule", "Search a schedule and write schedule.json");
  add_problem_flags(schedule);
  schedule->add_option("--algo", sc.algorithm, "greedy | greedy-paper | greedy-marginal | exhaustive | maxmin | "
                       "nosharing | maxsharing")->capture_default_str();
  schedule->add_option("-o,--output", out, "Output schedule file ('-' for stdout)")->capture_default_str();
  auto* compare = app.add_subcommand("compare", "Run several algorithms on the same apps and print them side by side");
  add_problem_flags(compare);
  compare->add_option("--algos", algos, "Algorithms, comma-separated")->capture_default_str();

  // simulate
  SimulateConfig sim;
  std::string apps_list = "2-10", budgets = "350", sim_algos = "greedy,nosharing,maxsharing";
  std::string ev_len = "250:2000", ev_freq = "0.01:0.3", corr = "0:0.5", sim_out = "-", sim_json, records;
  std::vector<std::string> templates;
  std::string sim_profile;
  auto* simulate = app.add_subcommand("simulate", "Simulate random workloads drawn from template packages");
  simulate->add_option("--packages", templates, "Template M-Packages (accuracy curves)")->required()->expected(1, -1);
  simulate->add_option("--profile", sim_profile, "Profile JSON")->required();
  simulate->add_option("--apps", apps_list, "Numbers of apps per workload, e.g. 2-10 or 1,5,10")->capture_default_str();
  simulate->add_option("--workloads", sim.workloads, "Workloads per number of apps")->capture_default_str();
  simulate->add_option("--budgets", budgets, "Budgets, comma-separated")->capture_default_str();
  simulate->add_option("--algos", sim_algos, "Algorithms, comma-separated")->capture_default_str();
  simulate->add_option("--event-length-ms", ev_len, "Event length range lo:hi (ms)")->capture_default_str();
  simulate->add_option("--event-frequency", ev_freq, "Event frequency range lo:hi")->capture_default_str();
  simulate->add_option("--correlation", corr, "Correlation range lo:hi")->capture_default_str();
  simulate->add_option("--fps", fps, "Frame-rate options (default: 1..stream fps)");
  simulate->add_option("--x-vote", xs, "X-voting options")->capture_default_str();
  simulate->add_option("-o,--output", sim_out, "Summary CSV ('-' prints a table on stdout)")->capture_default_str();
  simulate->add_option("--json", sim_json, "Also write the summary as JSON");
  simulate->add_option("--records", records, "Also write one CSV row per workload, budget and algorithm");

  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("msschedule", [&]() -> int {
    cli::ApplyCommonFlags(common);
    if (!fps.empty()) sc.fps_options = sim.fps_options = ParseDoubleList(fps, "--fps");
    sc.x_options = sim.x_options = ParseIntList(xs, "--x-vote");
    if (predict->parsed() && !pp.package.empty()) {
      if (!pp_bps.empty()) pp.branchpoints = ParseIntList(pp_bps, "--branchpoint");
      if (!pp_fps.empty()) pp.fps = ParseDoubleList(pp_fps, "--rates");
      pp.x_vote = ParseIntList(pp_x, "--x-votes");
      Json j = PredictPackage(pp);
      std::fputs(pp_json ? (j.dump(2) + "\n").c_str() : FormatPackagePrediction(j).c_str(), stdout);
      return 0;
    }
    if (predict->parsed()) {
      for (const char* flag : {"--tpr", "--fpr", "--event-length", "--event-frequency"}) {
        MS_CHECK(predict->count(flag) > 0, "predict: {} is required (or give --package DIR)", flag);
      }
      if (!lengths.empty()) pr.events.lengths = ParseDoubleList(lengths, "--event-lengths");
      pr.events.min_length = pr.events.mean_length;
      for (double l : pr.events.lengths) pr.events.min_length = std::min(pr.events.min_length, l);
      pr.seed = common.seed;
      std::cout << PredictReport(pr).dump(2) << "\n";
      return 0;
    }
    if (schedule->parsed() || compare->parsed()) ParseBudget(budget_text, sc);
    if (schedule->parsed()) {
      ScheduleDoc doc = PlanSchedule(sc);
      std::fputs(FormatSchedule(doc).c_str(), stderr);
      if (out == "-") {
        std::cout << doc.ToJson(".").dump(2) << "\n";
      } else {
        WriteSchedule(doc, out);
        std::printf("%s\n", out.c_str());
      }
      return 0;
    }
    if (compare->parsed()) {
      std::vector<ScheduleDoc> docs;
      for (const auto& a : SplitList(algos)) {
        sc.algorithm = a;
        docs.push_back(PlanSchedule(sc));
      }
      std::fputs(FormatComparison(docs).c_str(), stdout);
      return 0;
    }
    sim.num_apps = ParseIntList(apps_list, "--apps");
    sim.budgets = ParseDoubleList(budgets, "--budgets");
    sim.algorithms = SplitList(sim_algos);
    sim.event_length_ms = ParseRange(ev_len, "--event-length-ms");
    sim.event_frequency = ParseRange(ev_freq, "--event-frequency");
    sim.correlation = ParseRange(corr, "--correlation");
    sim.seed = common.seed;
    sim.threads = common.ResolvedThreads();
    std::vector<MPackage> pk;
    for (const auto& t : templates) pk.push_back(ReadMPackage(t));
    Profile profile = ReadProfile(sim_profile);
    CheckCompatible(pk, profile, sim_profile);
    SimulateOutput res = RunSimulation(pk, profile, sim);
    if (sim_out == "-") {
      std::fputs(FormatSimulation(res.rows).c_str(), stdout);
    } else {
      WriteFileAtomic(sim_out, SimulateRowsCsv(res.rows));
      std::fputs(FormatSimulation(res.rows).c_str(), stderr);
    }
    if (!sim_json.empty()) {
      WriteJsonFileAtomic(sim_json, Json{{"schema_version", 1}, {"kind", "mainstream.simulation"},
                                         {"config", sim.ToJson()}, {"seconds", res.seconds},
                                         {"rows", SimulateRowsJson(res.rows)}});
    }
    if (!records.empty()) WriteFileAtomic(records, SimulateRecordsCsv(res.records));
    return 0;
  });
}
