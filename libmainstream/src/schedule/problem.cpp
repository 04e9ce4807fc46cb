#include "mainstream/schedule/problem.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mainstream/core/error.h"
#include "mainstream/schedule/selection.h"
#include "mainstream/schedule/trace_model.h"

namespace mainstream {

std::vector<double> DefaultFpsOptions(double stream_fps) {
  std::vector<double> out;
  for (int f = 1; f <= static_cast<int>(std::floor(stream_fps + 1e-9)); ++f) out.push_back(f);
  if (out.empty() || std::fabs(out.back() - stream_fps) > 1e-9) out.push_back(stream_fps);
  return out;
}

AppChoices BuildAppChoices(const std::string& name, const std::vector<Candidate>& candidates,
                           const EventStats& events, const OptionSpace& space,
                           const ScoreTrace* trace, const PredictionOptions& options,
                           std::vector<PredictedOption>* every) {
  MS_CHECK(!candidates.empty(), "app {}: no candidates", name);
  MS_CHECK(options.use_micro || std::any_of(candidates.begin(), candidates.end(),
                                            [](const Candidate& c) { return !c.is_micro(); }),
           "app {}: only microclassifier candidates, and --no-micro leaves them out", name);
  MS_CHECK(!space.fps_options.empty(), "no frame-rate options");
  MS_CHECK(!space.x_options.empty(), "no X-voting options");
  const bool correct = trace != nullptr && options.use_trace && options.selection_resamples > 0;
  AppChoices app;
  app.name = name;
  // Every (candidate, rate, X) predicted, with its replay when the selection
  // correction needs the event cycles; the option kept per (candidate, rate)
  // is its best X.
  std::vector<TraceReplay> replays;
  std::vector<SelectionEntry> entries;
  std::vector<size_t> kept;
  for (size_t ci = 0; ci < candidates.size(); ++ci) {
    const Candidate& c = candidates[ci];
    if (c.is_micro() && !options.use_micro) continue;
    for (double fps : space.fps_options) {
      MS_CHECK(fps > 0 && fps <= space.stream_fps + 1e-9,
               "frame rate {} outside (0, stream fps {}]", fps, space.stream_fps);
      AppOption best;
      bool have = false;
      size_t best_entry = 0;
      for (int x : space.x_options) {
        TraceReplay replay;
        AppPrediction p = PredictCandidate(c, events, trace, space.stream_fps / fps, x, options,
                                           correct ? &replay : nullptr);
        if (every) every->push_back(PredictedOption{static_cast<int>(ci), fps, x, p});
        if (correct) {
          replays.push_back(std::move(replay));
          entries.push_back(SelectionEntry{c.branchpoint, fps, c.kind, c.micro.cost_ms,
                                           p.trace_weight, p.model.recall, p.model.precision,
                                           nullptr, replays.back().phases});
        }
        if (!have || p.f1 > best.pred.f1 + 1e-12) {
          best.candidate = static_cast<int>(ci);
          best.branchpoint = c.branchpoint;
          best.kind = c.kind;
          best.fps = fps;
          best.x_vote = x;
          best.tpr = c.tpr;
          best.fpr = c.fpr;
          best.pred = p;
          have = true;
          if (correct) best_entry = entries.size() - 1;
        }
      }
      if (correct) kept.push_back(best_entry);
      app.options.push_back(best);
    }
  }
  if (!correct || replays.empty() || replays[0].events < 2) return app;
  for (size_t e = 0; e < entries.size(); ++e) {
    entries[e].cycles = &replays[e].cycles;
    entries[e].runs = std::max(1, replays[e].phases);
  }
  const std::vector<double> bias =
      SelectionOptimism(entries, kept, options.selection_resamples, options.selection_seed,
                        options.selection_by_fold ? ResampleUnit::kFold : ResampleUnit::kEvent,
                        replays[0].cycle_fold);
  for (size_t k = 0; k < app.options.size(); ++k) {
    AppPrediction& p = app.options[k].pred;
    p.selection_bias = std::min(bias[k], p.f1);
    p.f1 -= p.selection_bias;
  }
  return app;
}

std::vector<AppRequest> Requests(const ScheduleProblem& problem, const std::vector<int>& choice) {
  MS_CHECK(choice.size() == problem.apps.size(), "choice has {} entries for {} apps", choice.size(),
           problem.apps.size());
  std::vector<AppRequest> req;
  for (size_t i = 0; i < choice.size(); ++i) {
    const AppOption& o = problem.apps[i].options.at(static_cast<size_t>(choice[i]));
    MS_ASSERT(!o.is_micro() || o.own_ms >= 0,
              "app {}: a microclassifier option without its latency (BuildProblem sets it)",
              problem.apps[i].name);
    req.push_back(AppRequest{o.branchpoint, o.fps, o.is_micro() ? o.own_ms : -1,
                             o.is_micro() ? o.own_bytes : -1});
  }
  return req;
}

Solution Evaluate(const ScheduleProblem& problem, const std::vector<int>& choice) {
  Solution s;
  s.choice = choice;
  const std::vector<AppRequest> req = Requests(problem, choice);
  s.cost = ScheduleCost(problem.costs, req);
  s.memory = ScheduleMemory(problem.memory, req).total();
  s.min_f1 = choice.empty() ? 0 : std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < choice.size(); ++i) {
    double f = problem.apps[i].options[static_cast<size_t>(choice[i])].pred.f1;
    s.sum_f1 += f;
    s.min_f1 = std::min(s.min_f1, f);
  }
  return s;
}

Solution CheapestSolution(const ScheduleProblem& problem) {
  std::vector<int> choice;
  for (const auto& app : problem.apps) {
    MS_CHECK(!app.options.empty(), "app {}: no options", app.name);
    const bool has_branch = std::any_of(app.options.begin(), app.options.end(),
                                        [](const AppOption& o) { return !o.is_micro(); });
    // Branches: the most shared, then the lowest rate. Only microclassifiers:
    // the cheapest alone.
    auto alone = [&](const AppOption& o) {
      return ScheduleCost(problem.costs, {AppRequest{o.branchpoint, o.fps, o.own_ms, o.own_bytes}});
    };
    int best = -1;
    for (size_t k = 0; k < app.options.size(); ++k) {
      const AppOption& a = app.options[k];
      if (has_branch && a.is_micro()) continue;
      if (best < 0) {
        best = static_cast<int>(k);
        continue;
      }
      const AppOption& b = app.options[static_cast<size_t>(best)];
      bool better;
      if (has_branch) {
        better = a.branchpoint > b.branchpoint ||
                 (a.branchpoint == b.branchpoint && a.fps < b.fps) ||
                 (a.branchpoint == b.branchpoint && a.fps == b.fps && a.pred.f1 > b.pred.f1);
      } else {
        const double ca = alone(a), cb = alone(b);
        better = ca < cb - 1e-12 || (ca <= cb + 1e-12 && a.pred.f1 > b.pred.f1);
      }
      if (better) best = static_cast<int>(k);
    }
    choice.push_back(best);
  }
  return Evaluate(problem, choice);
}

}  // namespace mainstream
