#include "mainstream/train/pareto.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/schedule/problem.h"

namespace mainstream {

ParetoResult ParetoPrune(std::vector<Candidate> candidates, int num_stages, double tolerance) {
  MS_CHECK(tolerance >= 0 && std::isfinite(tolerance), "Pareto tolerance must be >= 0, got {}",
           tolerance);
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.branchpoint < b.branchpoint; });
  for (size_t i = 1; i < candidates.size(); ++i) {
    MS_CHECK(candidates[i].branchpoint != candidates[i - 1].branchpoint,
             "duplicate candidate at branchpoint {}", candidates[i].branchpoint);
  }
  ParetoResult r;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const Candidate* best = nullptr;
    for (size_t j = i + 1; j < candidates.size(); ++j) {
      const Candidate& d = candidates[j];
      if (d.accuracy >= c.accuracy - tolerance && (!best || d.accuracy >= best->accuracy))
        best = &d;
    }
    if (!best) {
      r.kept.push_back(c);
      continue;
    }
    r.pruned.push_back(c);
    const int more = best->branchpoint - c.branchpoint;
    r.log.push_back(
        Json{{"event", "pruned"},
             {"branchpoint", c.branchpoint},
             {"accuracy", c.accuracy},
             {"dominated_by", best->branchpoint},
             {"dominating_accuracy", best->accuracy},
             {"reason",
              fmt::format("dominated by branchpoint {}: accuracy {:.4f} {} {:.4f}{} with {} fewer "
                          "specialized stage{} "
                          "({} vs {} of {})",
                          best->branchpoint, best->accuracy,
                          best->accuracy >= c.accuracy ? ">=" : "within tolerance of", c.accuracy,
                          tolerance > 0 ? fmt::format(" (tolerance {})", tolerance) : "", more,
                          more == 1 ? "" : "s", num_stages - best->branchpoint,
                          num_stages - c.branchpoint, num_stages)}});
  }
  return r;
}

ParetoResult ParetoPruneByPrediction(std::vector<Candidate> candidates, int num_stages,
                                     const EventStats& events, const ScoreTrace* trace,
                                     double stream_fps, const std::vector<double>& fps_options,
                                     const std::vector<int>& x_options,
                                     const PredictionOptions& prediction, double tolerance) {
  MS_CHECK(tolerance >= 0 && std::isfinite(tolerance), "Pareto tolerance must be >= 0, got {}",
           tolerance);
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.branchpoint < b.branchpoint; });
  for (size_t i = 1; i < candidates.size(); ++i) {
    MS_CHECK(candidates[i].branchpoint != candidates[i - 1].branchpoint,
             "duplicate candidate at branchpoint {}", candidates[i].branchpoint);
  }
  OptionSpace space;
  space.stream_fps = stream_fps;
  space.fps_options = fps_options;
  space.x_options = x_options;
  // curves[i][r]: candidate i's best predicted F1 at rate r, as predicted
  // (the scheduler's correction for choosing among options is about the
  // package's options together, not one candidate's curve).
  PredictionOptions raw = prediction;
  raw.selection_resamples = 0;
  std::vector<std::vector<double>> curves;
  for (const Candidate& c : candidates) {
    AppChoices choices = BuildAppChoices("pareto", {c}, events, space, trace, raw);
    std::vector<double> curve;
    for (const AppOption& o : choices.options) curve.push_back(o.pred.f1);
    curves.push_back(std::move(curve));
  }
  auto best_of = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  ParetoResult r;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    int dominator = -1;
    for (size_t j = i + 1; j < candidates.size(); ++j) {
      bool dominates = true;
      for (size_t k = 0; k < curves[i].size(); ++k)
        dominates = dominates && curves[j][k] >= curves[i][k] - tolerance;
      if (dominates && (dominator < 0 ||
                        best_of(curves[j]) >= best_of(curves[static_cast<size_t>(dominator)]))) {
        dominator = static_cast<int>(j);
      }
    }
    if (dominator < 0) {
      r.kept.push_back(c);
      continue;
    }
    const Candidate& d = candidates[static_cast<size_t>(dominator)];
    r.pruned.push_back(c);
    const int more = d.branchpoint - c.branchpoint;
    r.log.push_back(Json{
        {"event", "pruned"},
        {"branchpoint", c.branchpoint},
        {"predicted_f1", curves[i]},
        {"dominated_by", d.branchpoint},
        {"dominating_predicted_f1", curves[static_cast<size_t>(dominator)]},
        {"fps", fps_options},
        {"reason",
         fmt::format(
             "dominated by branchpoint {}: its predicted F1 is {} at every frame rate ({} to {} "
             "fps, best X "
             "of {}), best {:.3f} vs {:.3f}, with {} fewer specialized stage{} ({} vs {} of {})",
             d.branchpoint,
             tolerance > 0 ? fmt::format("within {} of this one's or higher", tolerance)
                           : std::string(">= this one's"),
             fps_options.front(), fps_options.back(), fmt::join(x_options, ","),
             best_of(curves[static_cast<size_t>(dominator)]), best_of(curves[i]), more,
             more == 1 ? "" : "s", num_stages - d.branchpoint, num_stages - c.branchpoint,
             num_stages)}});
  }
  return r;
}

}  // namespace mainstream
