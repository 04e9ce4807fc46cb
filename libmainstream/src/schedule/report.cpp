#include "mainstream/schedule/report.h"

#include <algorithm>
#include <optional>

#include "mainstream/labels/score_trace.h"

namespace mainstream {

Json PredictReport(const PredictRequest& q) {
  EventPrediction p = PredictEvents(q.tpr, q.fpr, q.events, q.stride, q.x_vote);
  Json out{{"recall", p.recall},
           {"precision", p.precision},
           {"f1", p.f1},
           {"true_reports_per_event", p.true_reports_per_event},
           {"false_reports_per_gap", p.false_reports_per_gap},
           {"gap_length", p.gap_length},
           {"inputs", Json{{"tpr", q.tpr},
                           {"fpr", q.fpr},
                           {"events", q.events.ToJson()},
                           {"stride", q.stride},
                           {"x_vote", q.x_vote}}}};
  if (q.monte_carlo > 0) {
    MonteCarloResult m =
        SimulateEvents(q.tpr, q.fpr, q.events, q.stride, q.x_vote, q.monte_carlo, q.seed);
    out["simulated"] = Json{{"recall", m.recall},
                            {"precision", m.precision},
                            {"f1", m.f1},
                            {"events", m.events},
                            {"detected", m.detected},
                            {"true_reports", m.true_reports},
                            {"false_reports", m.false_reports},
                            {"seed", q.seed}};
  }
  return out;
}

Json PredictPackage(const PackagePredictRequest& q) {
  q.options.Validate();
  const MPackage pkg = ReadMPackage(q.package);
  std::optional<ScoreTrace> trace;
  if (pkg.trace && q.options.use_trace) trace = LoadPackageTrace(pkg);
  const std::vector<double> rates = q.fps.empty() ? DefaultFpsOptions(pkg.stream_fps) : q.fps;
  for (double r : rates) {
    MS_CHECK(r > 0 && r <= pkg.stream_fps + 1e-9,
             "--fps: {} is outside (0, {}] (the package's stream fps)", r, pkg.stream_fps);
  }
  for (int x : q.x_vote) MS_CHECK(x >= 1, "--x-vote: X must be >= 1, got {}", x);
  for (int b : q.branchpoints) {
    MS_CHECK(std::any_of(pkg.candidates.begin(), pkg.candidates.end(),
                         [&](const Candidate& c) { return c.branchpoint == b; }),
             "--branchpoint: {} is not a candidate of {}", b,
             (pkg.dir / kMPackageManifest).string());
  }
  std::vector<Candidate> chosen;
  for (const Candidate& c : pkg.candidates) {
    if (q.branchpoints.empty() || std::find(q.branchpoints.begin(), q.branchpoints.end(),
                                            c.branchpoint) != q.branchpoints.end()) {
      chosen.push_back(c);
    }
  }
  // What the search would see: the best X per (candidate, rate), net of the
  // selection correction among these options.
  OptionSpace space;
  space.stream_fps = pkg.stream_fps;
  space.fps_options = rates;
  space.x_options = q.x_vote;
  std::vector<PredictedOption> every;
  const AppChoices choices = BuildAppChoices(pkg.app, chosen, pkg.events, space,
                                             trace ? &*trace : nullptr, q.options, &every);
  Json rows = Json::array();
  for (const PredictedOption& e : every) {
    const Candidate& c = chosen[static_cast<size_t>(e.candidate)];
    Json row = e.pred.ToJson();
    row["branchpoint"] = c.branchpoint;
    row["candidate"] = c.key();
    row["fps"] = e.fps;
    row["x_vote"] = e.x_vote;
    row["searched_f1"] = nullptr;
    for (const AppOption& o : choices.options) {
      if (o.candidate == e.candidate && o.fps == e.fps && o.x_vote == e.x_vote) {
        row["selection_bias"] = o.pred.selection_bias;
        row["searched_f1"] = o.pred.f1;
      }
    }
    rows.push_back(std::move(row));
  }
  return Json{{"app", pkg.app},
              {"package", pkg.dir.string()},
              {"source", trace ? "trace+model" : "model"},
              {"trace_events", trace ? Json(pkg.trace->events) : Json(nullptr)},
              {"trace_prior", q.options.prior_events},
              {"rows", rows}};
}

std::string FormatPackagePrediction(const Json& j) {
  std::string s = fmt::format(
      "{}: predicted event F1 ({}{})\n", j.at("app").get<std::string>(),
      j.at("source").get<std::string>(),
      j.at("trace_events").is_null()
          ? std::string("; no score trace: analytical model only")
          : fmt::format("; {} events in the trace, trace weight n/(n+{:g})",
                        j.at("trace_events").get<int64_t>(), j.at("trace_prior").get<double>()));
  s += fmt::format("{:>4} {:>6} {:>3} {:>8} {:>8} {:>8} {:>8} {:>7} {:>15} {:>6}  {}\n", "cand",
                   "fps", "X", "model", "trace", "F1", "searched", "weight", "90% interval",
                   "events", "recall / precision");
  for (const Json& r : j.at("rows")) {
    const Json& iv = r.at("interval90");
    s += fmt::format(
        "{:>4} {:>6.3g} {:>3} {:>8.3f} {:>8} {:>8.3f} {:>8} {:>7.2f}  [{:.2f}, {:.2f}] {:>6}  "
        "{:.3f} / {:.3f}{}\n",
        r.value("candidate", fmt::format("bp{}", r.at("branchpoint").get<int>())),
        r.at("fps").get<double>(), r.at("x_vote").get<int>(), r.at("model").at("f1").get<double>(),
        r.at("trace").is_null() ? std::string("-")
                                : fmt::format("{:.3f}", r.at("trace").at("f1").get<double>()),
        r.at("f1").get<double>(),
        r.at("searched_f1").is_null() ? std::string("-")
                                      : fmt::format("{:.3f}", r.at("searched_f1").get<double>()),
        r.at("trace_weight").get<double>(), iv[0].get<double>(), iv[1].get<double>(),
        r.at("events").get<int64_t>(), r.at("recall").get<double>(),
        r.at("precision").get<double>(), r.at("no_skill").get<bool>() ? "  (no skill)" : "");
  }
  return s;
}

std::string FormatSchedule(const ScheduleDoc& d) {
  std::string s = fmt::format(
      "schedule: {} apps, algorithm {}, budget {:.4g}{}, cost {:.4g} ms/s ({:.1f}%)\n",
      d.apps.size(), d.algorithm, d.budget,
      d.budget_factor > 0
          ? fmt::format(" ({:g}x the cheapest schedule's {:.4g})", d.budget_factor, d.cheapest_cost)
          : std::string(),
      d.total_cost, 100 * d.total_cost / d.budget);
  s += fmt::format("{:<20} {:>5} {:>6} {:>3} {:>7} {:>7} {:>7} {:>14} {:>6} {:>8}  {}\n", "app",
                   "cand", "fps", "X", "recall", "prec", "F1", "90% interval", "events", "cost",
                   "source");
  for (const auto& a : d.apps) {
    const ConfidenceInterval ci =
        a.predicted.Interval(static_cast<double>(std::max<int64_t>(a.predicted.events, 1)));
    s += fmt::format(
        "{:<20} {:>5} {:>6.3g} {:>3} {:>7.4f} {:>7.4f} {:>7.4f}  [{:.2f}, {:.2f}] {:>6} {:>8.3f}  "
        "{}{}\n",
        a.app, CandidateKey(a.kind, a.branchpoint), a.fps, a.x_vote, a.predicted.recall,
        a.predicted.precision, a.predicted.f1, ci.lower, ci.upper, a.predicted.events, a.own_cost,
        a.predicted.source(), a.predicted.no_skill ? " (no skill)" : "");
  }
  s += fmt::format("mean F1 {:.4f}, min F1 {:.4f}, mean recall {:.4f}, mean precision {:.4f}\n",
                   d.mean_f1, d.min_f1, d.mean_recall, d.mean_precision);
  if (d.search.contains("stopped_by")) {
    s += fmt::format(
        "search stopped by its {} after {:.3g} s: not proven optimal; the best mean F1 is at most "
        "{:.4f} "
        "(gap {:.3f}%)\n",
        d.search.value("stopped_by", std::string()), d.search.value("seconds", 0.0),
        d.search.value("bound_mean_f1", 0.0), 100 * d.search.value("gap", 0.0));
  }
  s += fmt::format(
      "cost: decode {:.3f} + preprocess {:.3f} + stem {:.3f} + branches {:.3f} = {:.3f} ms/s\n",
      d.tree.decode_cost, d.tree.preprocess_cost, d.tree.stem_cost, d.tree.branch_cost,
      d.tree.total_cost());
  for (const auto& n : d.tree.nodes) {
    if (n.kind != TreeNode::Kind::kStem) continue;
    s += fmt::format("  stem stages [{}, {}) at {:.3g} fps, serves {} app(s), cost {:.3f}\n",
                     n.begin, n.end, n.fps, n.apps.size(), n.cost());
  }
  if (!d.memory.empty()) {
    const MemoryBreakdown& m = d.predicted_memory;
    s += fmt::format("memory: stem {} + branches {} + activations {} = {}{}\n",
                     FormatMegabytes(m.stem_params), FormatMegabytes(m.branch_params),
                     FormatMegabytes(m.activations), FormatMegabytes(m.total()),
                     d.memory_budget > 0
                         ? fmt::format(" (budget {}, {:.1f}%)", FormatMegabytes(d.memory_budget),
                                       100 * m.total() / d.memory_budget)
                         : std::string());
  }
  return s;
}

std::string FormatComparison(const std::vector<ScheduleDoc>& docs) {
  if (docs.empty()) return "";
  std::string s =
      fmt::format("{:<18} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10}\n", "algorithm", "mean F1",
                  "min F1", "mean fps", "cost", "time ms", "vs best", "memory MB");
  double best = 0;
  for (const auto& d : docs) best = std::max(best, d.mean_f1);
  for (const auto& d : docs) {
    double fps = 0;
    for (const auto& a : d.apps) fps += a.fps;
    fps /= static_cast<double>(d.apps.size());
    double secs = d.search.value("seconds", 0.0);
    s += fmt::format("{:<18} {:>8.4f} {:>8.4f} {:>8.2f} {:>9.3f} {:>9.3f} {:>9.3f}% {:>10}\n",
                     d.algorithm, d.mean_f1, d.min_f1, fps, d.total_cost, secs * 1000,
                     best > 0 ? 100 * (d.mean_f1 - best) / best : 0.0,
                     d.memory.empty() ? std::string("-")
                                      : fmt::format("{:.3f}", d.predicted_memory.total() / 1e6));
  }
  s += "\nper app (branchpoint@fps/X -> predicted F1):\n";
  s += fmt::format("{:<20}", "app");
  for (const auto& d : docs) s += fmt::format(" {:>22}", d.algorithm);
  s += "\n";
  for (size_t i = 0; i < docs[0].apps.size(); ++i) {
    s += fmt::format("{:<20}", docs[0].apps[i].app);
    for (const auto& d : docs) {
      const auto& a = d.apps[i];
      s += fmt::format(" {:>22}", fmt::format("{}@{:g}/{} -> {:.3f}", a.branchpoint, a.fps,
                                              a.x_vote, a.predicted.f1));
    }
    s += "\n";
  }
  return s;
}

std::string FormatSimulation(const std::vector<SimulateRow>& rows) {
  bool memory = false;
  for (const auto& r : rows) memory = memory || r.memory_budget_mb > 0;
  std::string s = fmt::format(
      "{:>5} {:>8} {:<16} {:>5} {:>6} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9}{}\n", "apps",
      "budget", "algorithm", "runs", "infeas", "F1", "recall", "prec", "fps", "ms/sched",
      "gap mean", "gap worst", memory ? fmt::format(" {:>9} {:>9}", "mem MB", "used MB") : "");
  for (const auto& r : rows) {
    s += fmt::format(
        "{:>5} {:>8.4g} {:<16} {:>5} {:>6} {:>8.4f} {:>8.4f} {:>8.4f} {:>7.2f} {:>9.3f} {:>9} "
        "{:>9}{}\n",
        r.num_apps, r.budget, r.algorithm, r.workloads, r.infeasible, r.mean_f1, r.mean_recall,
        r.mean_precision, r.mean_fps, r.mean_ms,
        r.gap_count ? fmt::format("{:.3f}%", 100 * r.gap_mean) : "-",
        r.gap_count ? fmt::format("{:.3f}%", 100 * r.gap_worst) : "-",
        memory ? fmt::format(" {:>9.4g} {:>9.4g}", r.memory_budget_mb, r.mean_memory_mb) : "");
  }
  return s;
}

}  // namespace mainstream
