#include "mainstream/train/pareto.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/schedule/problem.h"

namespace mainstream {

namespace {

// Candidate j may dominate candidate i: of the same kind (a microclassifier
// never prunes a branch, so that the package stays usable branches only:
// msschedule --no-micro, the baselines; the searches still weigh them
// against each other), it costs no more in any schedule (NoCostlier), and of
// two that cost the same either way only the later one (package order)
// dominates, so that one of equal twins survives.
bool Dominator(const std::vector<Candidate>& c, size_t j, size_t i) {
  if (j == i || c[j].kind != c[i].kind || !NoCostlier(c[j], c[i])) return false;
  return !NoCostlier(c[i], c[j]) || j > i;
}

// Why `d` costs no more than `c`, for the log.
std::string CostPhrase(const Candidate& d, const Candidate& c, int num_stages) {
  if (d.is_micro() && !c.is_micro())
    return fmt::format("a microclassifier vs {} specialized stage(s) of {}",
                       num_stages - c.branchpoint, num_stages);
  if (d.is_micro())
    return fmt::format("a microclassifier at layer {} ({:.4f} ms) vs layer {} ({:.4f} ms)",
                       d.branchpoint, d.micro.cost_ms, c.branchpoint, c.micro.cost_ms);
  const int more = d.branchpoint - c.branchpoint;
  return fmt::format("{} fewer specialized stage{}: {} vs {} of {}", more, more == 1 ? "" : "s",
                     num_stages - d.branchpoint, num_stages - c.branchpoint, num_stages);
}

}  // namespace

ParetoResult ParetoPrune(std::vector<Candidate> candidates, int num_stages, double tolerance) {
  MS_CHECK(tolerance >= 0 && std::isfinite(tolerance), "Pareto tolerance must be >= 0, got {}",
           tolerance);
  std::sort(candidates.begin(), candidates.end(), CandidateOrder);
  for (size_t i = 1; i < candidates.size(); ++i) {
    MS_CHECK(candidates[i].key() != candidates[i - 1].key(), "duplicate candidate {}",
             candidates[i].key());
  }
  ParetoResult r;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const Candidate* best = nullptr;
    for (size_t j = 0; j < candidates.size(); ++j) {
      const Candidate& d = candidates[j];
      if (!Dominator(candidates, j, i)) continue;
      if (d.accuracy >= c.accuracy - tolerance && (!best || d.accuracy >= best->accuracy))
        best = &d;
    }
    if (!best) {
      r.kept.push_back(c);
      continue;
    }
    r.pruned.push_back(c);
    r.log.push_back(
        Json{{"event", "pruned"},
             {"branchpoint", c.branchpoint},
             {"candidate", c.key()},
             {"accuracy", c.accuracy},
             {"dominated_by", best->branchpoint},
             {"dominated_by_candidate", best->key()},
             {"dominating_accuracy", best->accuracy},
             {"reason",
              fmt::format("dominated by {}: accuracy {:.4f} {} {:.4f}{} at no more cost ({})",
                          best->key(), best->accuracy,
                          best->accuracy >= c.accuracy ? ">=" : "within tolerance of", c.accuracy,
                          tolerance > 0 ? fmt::format(" (tolerance {})", tolerance) : "",
                          CostPhrase(*best, c, num_stages))}});
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
  std::sort(candidates.begin(), candidates.end(), CandidateOrder);
  for (size_t i = 1; i < candidates.size(); ++i) {
    MS_CHECK(candidates[i].key() != candidates[i - 1].key(), "duplicate candidate {}",
             candidates[i].key());
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
    for (size_t j = 0; j < candidates.size(); ++j) {
      if (!Dominator(candidates, j, i)) continue;
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
    r.log.push_back(Json{
        {"event", "pruned"},
        {"branchpoint", c.branchpoint},
        {"candidate", c.key()},
        {"predicted_f1", curves[i]},
        {"dominated_by", d.branchpoint},
        {"dominated_by_candidate", d.key()},
        {"dominating_predicted_f1", curves[static_cast<size_t>(dominator)]},
        {"fps", fps_options},
        {"reason",
         fmt::format("dominated by {}: its predicted F1 is {} at every frame rate ({} to {} "
                     "fps, best X of {}), best {:.3f} vs {:.3f}, at no more cost ({})",
                     d.key(),
                     tolerance > 0 ? fmt::format("within {} of this one's or higher", tolerance)
                                   : std::string(">= this one's"),
                     fps_options.front(), fps_options.back(), fmt::join(x_options, ","),
                     best_of(curves[static_cast<size_t>(dominator)]), best_of(curves[i]),
                     CostPhrase(d, c, num_stages))}});
  }
  return r;
}

}  // namespace mainstream
