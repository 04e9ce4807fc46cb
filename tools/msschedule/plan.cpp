#include <cmath>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "mainstream/core/log.h"

namespace mainstream::cli {

void PlanCommand::Add(CLI::App& app) {
  cmd = app.add_subcommand(
      "plan",
      "Plan a deployment file offline: every camera's apps under the node's one budget (each "
      "camera shares its own stem); writes a schedule per camera and node.json");
  cmd->add_option("--deployment", deployment,
                  "Deployment file (docs/formats.md): \"apps\" (one camera) or \"cameras\", "
                  "with the profile, budget, algorithm and options")
      ->required();
  cmd->add_option("-o,--out", out,
                  "Plan directory: <camera>.schedule.json per camera (each runnable by msrun) and "
                  "node.json; an earlier plan there is replaced whole")
      ->capture_default_str();
  cmd->add_option("--max-points", options.max_points,
                  "Single-camera searches per camera's frontier at most (more: exact on larger "
                  "frontiers; docs/algorithms.md, \"Several cameras\")")
      ->capture_default_str()
      ->check(CLI::Range(2, 100000));
}

int PlanCommand::Run() {
  const DeploymentSpec spec = ReadDeploymentSpec(deployment);
  const NodePlan plan = PlanNode(spec, options);
  for (const NodeCamera& c : plan.cameras) {
    std::fprintf(stderr, "camera %s: share %.4g ms/s\n%s", c.name.c_str(), c.share,
                 FormatSchedule(c.schedule).c_str());
  }
  const std::string verdict = plan.exact ? std::string("exact")
                              : std::isfinite(plan.gap)
                                  ? fmt::format("best mean F1 at most {:.4f} (gap {:.3f}%)",
                                                plan.bound_mean_f1, 100 * plan.gap)
                                  : std::string("heuristic");
  std::fprintf(stderr,
               "node: %zu camera(s), %zu app(s), %s, budget %.4g ms/s, cost %.4g ms/s (%.1f%%), "
               "mean F1 %.4f, min F1 %.4f, %s (%lld searches, %.3g s)\n",
               plan.cameras.size(), plan.apps, plan.algorithm.c_str(), plan.budget, plan.total_cost,
               100 * plan.total_cost / plan.budget, plan.mean_f1, plan.min_f1, verdict.c_str(),
               static_cast<long long>(plan.searches), plan.seconds);
  WriteNodePlan(plan, out);
  std::printf("%s\n", (std::filesystem::path(out) / "node.json").c_str());
  return 0;
}

}  // namespace mainstream::cli
