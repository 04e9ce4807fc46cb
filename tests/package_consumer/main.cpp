// A consumer of the installed package (tests/scripts/package_test.sh): builds
// a scheduling problem of two apps in code, runs greedy and prints, per app,
// the chosen branchpoint, frame rate, X and predicted F1, then the schedule's
// cost, budget and the stem the two apps share. The test asserts on the lines.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "mainstream/schedule/search.h"

namespace {

// A base of four stages; three candidates per app: fully specialized
// (branchpoint 0), sharing two stages, sharing three. More sharing is cheaper
// and less accurate.
mainstream::AppChoices MakeApp(const std::string& name, double quality,
                               const mainstream::OptionSpace& space) {
  std::vector<mainstream::Candidate> candidates(3);
  const int branchpoints[] = {0, 2, 3};
  const double tpr[] = {0.95, 0.90, 0.85};
  const double fpr[] = {0.02, 0.04, 0.06};
  for (size_t i = 0; i < candidates.size(); ++i) {
    candidates[i].branchpoint = branchpoints[i];
    candidates[i].tpr = tpr[i] * quality;
    candidates[i].fpr = fpr[i];
    candidates[i].accuracy = 0.5 * (candidates[i].tpr + 1 - candidates[i].fpr);
  }
  mainstream::EventStats events;
  events.mean_length = 6;  // frames of the 10 fps stream: short events need high rates
  events.min_length = 3;
  events.frequency = 0.2;
  events.correlation = 0.3;
  events.Validate(name);
  return mainstream::BuildAppChoices(name, candidates, events, space);
}

int Run() {
  mainstream::OptionSpace space;
  space.stream_fps = 10;
  space.fps_options = mainstream::DefaultFpsOptions(space.stream_fps);
  space.x_options = {1, 2};

  mainstream::ScheduleProblem problem;
  // ms per frame of each base stage; preprocessing; decoding at 10 fps.
  problem.costs = mainstream::StageCosts({8, 8, 8, 1}, 1, 0.5, space.stream_fps);
  problem.budget = 100;  // ms of compute per second of video
  problem.apps.push_back(MakeApp("pedestrian", 1.0, space));
  problem.apps.push_back(MakeApp("car", 0.97, space));

  mainstream::SearchResult result = mainstream::RunSearch(problem, "greedy");
  const mainstream::Solution& s = result.solution;
  int shared_stem = problem.costs.num_stages();
  for (size_t i = 0; i < problem.apps.size(); ++i) {
    const mainstream::AppChoices& app = problem.apps[i];
    const mainstream::AppOption& o = app.options[static_cast<size_t>(s.choice[i])];
    std::printf("app %s branchpoint %d fps %g x %d f1 %.4f\n", app.name.c_str(), o.branchpoint,
                o.fps, o.x_vote, o.pred.f1);
    shared_stem = std::min(shared_stem, o.branchpoint);
  }
  std::printf("cost %.3f budget %.3f\n", s.cost, problem.budget);
  std::printf("mean_f1 %.4f\n", s.mean_f1());
  std::printf("shared_stem %d\n", shared_stem);
  return 0;
}

}  // namespace

int main() {
  try {
    return Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "package_consumer: %s\n", e.what());
    return 1;
  }
}
