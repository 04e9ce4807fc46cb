// msschedule: pick each app's branchpoint, frame rate and X under a compute
// budget; predict event F1; simulate workloads. Logic lives in libmainstream;
// each subcommand's flags are in commands.h.
#include "cli.h"
#include "commands.h"

using namespace mainstream;

int main(int argc, char** argv) {
  CLI::App app{
      "msschedule: choose how much of the base DNN each app shares and at what frame rate"};
  app.footer(
      "Examples:\n"
      "  msschedule schedule --packages pk/ped pk/car --profile profile.json --budget 350 -o "
      "schedule.json\n"
      "  msschedule schedule --packages pk/* --profile profile.json --budget 1.5x -o "
      "schedule.json\n"
      "  msschedule compare --packages pk/* --profile profile.json --budget 100 --algos "
      "greedy,exhaustive\n"
      "  msschedule plan --deployment deployment.json -o plan   # several cameras, one budget\n"
      "  msschedule predict --package pk/ped --rates 1,3,7\n"
      "  msschedule predict --tpr 0.9 --fpr 0.05 --event-length 30 --event-frequency 0.1 --stride "
      "4 --monte-carlo 20000\n"
      "  msschedule simulate --packages ref/* --profile ref/profile.json --apps 2-10 --budgets "
      "100,350 -o sim.csv");
  app.require_subcommand(1);
  cli::CommonFlags common;
  cli::AddCommonFlags(app, common);
  cli::PredictCommand predict;
  cli::ProblemCommands problem;
  cli::SimulateCommand simulate;
  cli::PlanCommand plan;
  predict.Add(app);
  problem.Add(app);
  plan.Add(app);
  simulate.Add(app);
  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("msschedule", [&]() -> int {
    cli::ApplyCommonFlags(common);
    if (predict.cmd->parsed()) return predict.Run(common);
    if (problem.schedule->parsed() || problem.compare->parsed()) return problem.Run();
    if (plan.cmd->parsed()) return plan.Run();
    return simulate.Run(common);
  });
}
