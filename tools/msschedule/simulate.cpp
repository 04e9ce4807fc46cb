#include <cstdio>

#include "commands.h"
#include "mainstream/core/atomic_file.h"
#include "mainstream/core/parse.h"

namespace mainstream::cli {

void SimulateCommand::Add(CLI::App& app) {
  cmd = app.add_subcommand("simulate", "Simulate random workloads drawn from template packages");
  cmd->add_option("--packages", templates, "Template M-Packages (accuracy curves)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--profile", profile, "Profile JSON")->required();
  cmd->add_option("--apps", apps, "Numbers of apps per workload, e.g. 2-10 or 1,5,10")
      ->capture_default_str();
  cmd->add_option("--workloads", config.workloads, "Workloads per number of apps")
      ->capture_default_str();
  cmd->add_option("--budgets", budgets, "Budgets, comma-separated")->capture_default_str();
  cmd->add_option("--memory-budgets", memory_budgets,
                  "Memory budgets in MB, comma-separated, each combined with every budget "
                  "(default: none; needs a profile that records memory)");
  cmd->add_option("--algos", algos, "Algorithms, comma-separated")->capture_default_str();
  cmd->add_option("--event-length-ms", event_length, "Event length range lo:hi (ms)")
      ->capture_default_str();
  cmd->add_option("--event-frequency", event_frequency, "Event frequency range lo:hi")
      ->capture_default_str();
  cmd->add_option("--correlation", correlation, "Correlation range lo:hi")->capture_default_str();
  cmd->add_option("--fps", fps, "Frame-rate options (default: 1..stream fps)");
  cmd->add_option("--x-vote", x_votes, "X-voting options")->capture_default_str();
  cmd->add_option("-o,--output", out, "Summary CSV ('-' prints a table on stdout)")
      ->capture_default_str();
  cmd->add_option("--json", json, "Also write the summary as JSON");
  cmd->add_option("--records", records,
                  "Also write one CSV row per workload, budget and algorithm");
}

int SimulateCommand::Run(const CommonFlags& common) {
  if (!fps.empty()) config.fps_options = ParseDoubleList(fps, "--fps");
  config.x_options = ParseIntList(x_votes, "--x-vote");
  config.num_apps = ParseIntList(apps, "--apps");
  config.budgets = ParseDoubleList(budgets, "--budgets");
  if (!memory_budgets.empty())
    config.memory_budgets_mb = ParseDoubleList(memory_budgets, "--memory-budgets");
  config.algorithms = SplitList(algos);
  config.event_length_ms = ParseRange(event_length, "--event-length-ms");
  config.event_frequency = ParseRange(event_frequency, "--event-frequency");
  config.correlation = ParseRange(correlation, "--correlation");
  config.seed = common.seed;
  config.threads = common.ResolvedThreads();
  std::vector<MPackage> pk;
  for (const auto& t : templates) pk.push_back(ReadMPackage(t));
  Profile prof = ReadProfile(profile);
  CheckCompatible(pk, prof, profile);
  SimulateOutput res = RunSimulation(pk, prof, config);
  if (out == "-") {
    std::fputs(FormatSimulation(res.rows).c_str(), stdout);
  } else {
    WriteFileAtomic(out, SimulateRowsCsv(res.rows));
    std::fputs(FormatSimulation(res.rows).c_str(), stderr);
  }
  if (!json.empty()) {
    WriteJsonFileAtomic(json, Json{{"schema_version", 1},
                                   {"kind", "mainstream.simulation"},
                                   {"config", config.ToJson()},
                                   {"seconds", res.seconds},
                                   {"rows", SimulateRowsJson(res.rows)}});
  }
  if (!records.empty()) WriteFileAtomic(records, SimulateRecordsCsv(res.records));
  return 0;
}

}  // namespace mainstream::cli
