#include "mainstream/runtime/run_report.h"

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/runtime/app_output.h"

namespace mainstream {

std::vector<FrameInterval> TrueEventsInRange(const FrameLabels& labels,
                                             const FrameInterval& range) {
  MS_CHECK(!range.empty() && range.start >= 1, "scoring range {} is empty or starts before frame 1",
           range.ToString());
  MS_CHECK(range.end <= static_cast<int64_t>(labels.size()),
           "scoring range {} reaches past the {} labelled frames", range.ToString(), labels.size());
  FrameLabels part(labels.begin() + (range.start - 1), labels.begin() + range.end);
  std::vector<FrameInterval> events = EventsFromLabels(part);
  for (FrameInterval& e : events) {
    e.start += range.start - 1;
    e.end += range.start - 1;
  }
  return events;
}

namespace {

// "bp3" / "mc2" for an app entry of a summary (older summaries: no kind).
std::string KeyOf(const Json& a) {
  return fmt::format("{}{}", a.value("kind", "branch") == "micro" ? "mc" : "bp",
                     a.at("branchpoint").get<int>());
}

// The prediction's 90% interval for a measurement over `true_events` events,
// and whether the measured F1 lies in it.
void AddInterval(Json& evaluation, const AppPrediction& predicted, int64_t true_events,
                 double measured_f1) {
  if (true_events <= 0) return;
  const ConfidenceInterval ci = predicted.Interval(static_cast<double>(true_events));
  evaluation["predicted_interval90"] = {ci.lower, ci.upper};
  evaluation["in_interval90"] = measured_f1 >= ci.lower - 1e-12 && measured_f1 <= ci.upper + 1e-12;
}
}  // namespace

Json AppEvaluation::ToJson() const {
  Json m = measured.ToJson();
  Json j{{"labels", labels_file.string()},
         {"frames", {range.start, range.end}},
         {"measured", m},
         {"predicted", predicted.ToJson()},
         {"f1_error", measured.f1 - predicted.f1}};
  AddInterval(j, predicted, measured.true_events, measured.f1);
  return j;
}

AppEvaluation EvaluateApp(const std::string& app, const std::filesystem::path& labels_file,
                          const FrameLabels& labels, const std::vector<FrameInterval>& reports,
                          const FrameInterval& range, const AppPrediction& predicted,
                          const BootstrapOptions& options) {
  AppEvaluation e;
  e.app = app;
  e.labels_file = labels_file;
  e.range = range;
  e.predicted = predicted;
  std::vector<FrameInterval> truth = TrueEventsInRange(labels, range);
  // Reports never leave the decoded range, but clip defensively.
  std::vector<FrameInterval> clipped;
  for (FrameInterval r : reports) {
    r.start = std::max(r.start, range.start);
    r.end = std::min(r.end, range.end);
    if (!r.empty()) clipped.push_back(r);
  }
  e.measured = BootstrapEventScore(truth, clipped, options);
  return e;
}

namespace {

double Num(const Json& j, const char* key, double fallback = 0) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

std::string Ci(const Json& pair) {
  if (!pair.is_array() || pair.size() != 2) return "";
  return fmt::format("[{:.2f}, {:.2f}]", pair[0].get<double>(), pair[1].get<double>());
}

}  // namespace

std::string FormatRunTables(const Json& s) {
  std::string out;
  const Json& frames = s.at("frames");
  const Json& input = s.at("input");
  out += fmt::format(
      "msrun {}: frames {}..{} ({} decoded, {:.1f} s of video at {:g} fps) in {:.1f} s wall "
      "({:.1f}x "
      "real time), {} dropped, {} thread(s), seed {}\n",
      s.at("status").get<std::string>(), input.at("first_frame").get<int64_t>(),
      input.at("last_frame").get<int64_t>(), frames.at("decoded").get<int64_t>(),
      Num(frames, "video_seconds"), Num(input, "fps"), Num(s, "wall_seconds"), Num(s, "speed"),
      frames.at("dropped").get<int64_t>(), s.at("machine").at("torch_threads").get<int>(),
      s.at("sampling").at("seed").get<uint64_t>());
  out += fmt::format("{:<16} {:>4} {:>3} {:>7} {:>8} {:>8} {:>8} {:>7} {:>7}\n", "app", "cand", "X",
                     "fps", "achieved", "samples", "positive", "events", "dropped");
  for (const Json& a : s.at("apps")) {
    out += fmt::format("{:<16} {:>4} {:>3} {:>7.2f} {:>8.2f} {:>8} {:>8} {:>7} {:>7}\n",
                       a.at("app").get<std::string>(), KeyOf(a), a.at("x_vote").get<int>(),
                       Num(a, "fps"), Num(a, "achieved_fps"),
                       a.at("frames_analyzed").get<int64_t>(), a.at("positives").get<int64_t>(),
                       a.at("events").get<int64_t>(), a.at("samples_dropped").get<int64_t>());
  }
  const Json& cost = s.at("cost");
  const Json& pred = cost.at("predicted");
  const Json& meas = cost.at("measured");
  auto ratio = [](double m, double p) {
    return p > 0 ? fmt::format("{:.2f}", m / p) : std::string("-");
  };
  out += fmt::format("\n{:<36} {:>10} {:>10} {:>7}\n", "cost (ms of compute per s of video)",
                     "predicted", "measured", "ratio");
  out += fmt::format("{:<36} {:>10.1f} {:>10.1f} {:>7}\n", "DNN: shared stem", Num(pred, "stem"),
                     Num(meas, "stem"), ratio(Num(meas, "stem"), Num(pred, "stem")));
  out += fmt::format("{:<36} {:>10.1f} {:>10.1f} {:>7}\n", "DNN: app branches", Num(pred, "branch"),
                     Num(meas, "branch"), ratio(Num(meas, "branch"), Num(pred, "branch")));
  out += fmt::format("{:<36} {:>10.1f} {:>10.1f} {:>7}\n", "DNN total", Num(pred, "dnn"),
                     Num(meas, "dnn"), ratio(Num(meas, "dnn"), Num(pred, "dnn")));
  if (cost.contains("measured_cpu")) {
    const Json& cpu = cost.at("measured_cpu");
    out +=
        fmt::format("{:<36} {:>10.1f} {:>10.1f} {:>7}\n", "DNN total, CPU time of the loop thread",
                    Num(pred, "dnn"), Num(cpu, "dnn"), ratio(Num(cpu, "dnn"), Num(pred, "dnn")));
  }
  out += fmt::format("{:<36} {:>10.1f} {:>10.1f} {:>7}\n", "decode + preprocess",
                     Num(pred, "decode"), Num(meas, "decode_preprocess"),
                     ratio(Num(meas, "decode_preprocess"), Num(pred, "decode")));
  out += fmt::format("{:<36} {:>10.1f} {:>10.1f} {:>7}\n", "total", Num(pred, "total"),
                     Num(meas, "total"), ratio(Num(meas, "total"), Num(pred, "total")));
  if (s.contains("memory")) {
    const Json& mem = s.at("memory");
    const double measured = Num(mem, "measured_model_bytes") / 1e6;
    const bool has_pred = mem.at("predicted").is_object();
    const double predicted = has_pred ? Num(mem.at("predicted"), "total") / 1e6 : 0.0;
    out += fmt::format("{:<36} {:>10} {:>10.1f} {:>7}   (peak RSS {:.1f} MB)\n",
                       "model memory (MB)", has_pred ? fmt::format("{:.1f}", predicted) : "-",
                       measured, ratio(measured, predicted), Num(mem, "peak_rss") / 1e6);
  }

  bool any = false;
  for (const Json& a : s.at("apps")) any = any || !a.at("evaluation").is_null();
  if (!any) return out;
  out += fmt::format("\n{:<16} {:>6} {:>6} {:>5} {:>6} {:>14} {:>9} {:>14} {:>6} {:>14} {:>8}\n",
                     "event scoring", "events", "found", "rep", "recall", "95% CI", "precision",
                     "95% CI", "F1", "95% CI", "pred F1");
  double sum_f1 = 0, sum_pred = 0;
  int n = 0;
  for (const Json& a : s.at("apps")) {
    const Json& e = a.at("evaluation");
    if (e.is_null()) continue;
    const Json& m = e.at("measured");
    const Json& p = e.at("predicted");
    out += fmt::format(
        "{:<16} {:>6} {:>6} {:>5} {:>6.3f} {:>14} {:>9.3f} {:>14} {:>6.3f} {:>14} {:>8.3f}\n",
        a.at("app").get<std::string>(), m.at("true_events").get<int64_t>(),
        m.at("detected").get<int64_t>(), m.at("reports").get<int64_t>(), Num(m, "recall"),
        Ci(m.at("recall_ci")), Num(m, "precision"), Ci(m.at("precision_ci")), Num(m, "f1"),
        Ci(m.at("f1_ci")), Num(p, "f1"));
    sum_f1 += Num(m, "f1");
    sum_pred += Num(p, "f1");
    ++n;
  }
  if (n > 1) {
    out += fmt::format("{:<16} {:>76.3f} {:>14} {:>8.3f}\n", "mean", sum_f1 / n, "", sum_pred / n);
  }
  out +=
      "(events: true events in the frames run; found: detected; rep: reported events; CIs: "
      "bootstrap over "
      "events)\n";
  return out;
}

namespace {

struct MeanSd {
  double mean = 0, sd = 0;
};
MeanSd Stats(const std::vector<double>& v) {
  MeanSd r;
  if (v.empty()) return r;
  for (double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    for (double x : v) r.sd += (x - r.mean) * (x - r.mean);
    r.sd = std::sqrt(r.sd / static_cast<double>(v.size() - 1));
  }
  return r;
}

}  // namespace

Json PoolRunSummaries(const std::vector<Json>& summaries, const std::vector<LabeledApp>& labeled,
                      const BootstrapOptions& options) {
  MS_CHECK_RT(!summaries.empty(), "no run summaries to pool");
  const Json& first = summaries.front();
  const Json& apps0 = first.at("apps");
  const int64_t range_start = first.at("input").at("first_frame").get<int64_t>();
  int64_t range_end = first.at("input").at("last_frame").get<int64_t>();
  std::vector<uint64_t> seeds;
  std::vector<std::string> runs;
  std::vector<double> wall, total, dnn;
  std::string status = "completed";
  for (const Json& s : summaries) {
    MS_CHECK_RT(s.at("schedule").at("file") == first.at("schedule").at("file") &&
                    s.at("apps").size() == apps0.size() &&
                    s.at("input").at("first_frame").get<int64_t>() == range_start,
                "run summaries to pool describe different schedules or frames");
    range_end = std::min(range_end, s.at("input").at("last_frame").get<int64_t>());
    seeds.push_back(s.at("sampling").at("seed").get<uint64_t>());
    runs.push_back(s.at("config").at("out").get<std::string>());
    wall.push_back(Num(s, "wall_seconds"));
    total.push_back(Num(s.at("cost").at("measured"), "total"));
    dnn.push_back(Num(s.at("cost").at("measured"), "dnn"));
    if (s.at("status") != "completed") status = s.at("status").get<std::string>();
  }
  const FrameInterval range{range_start, range_end};

  Json apps = Json::array();
  double sum_f1 = 0, sum_recall = 0, sum_precision = 0, sum_pred = 0, sum_phase_f1 = 0;
  int evaluated = 0;
  for (size_t a = 0; a < apps0.size(); ++a) {
    const Json& a0 = apps0[a];
    const std::string name = a0.at("app").get<std::string>();
    std::vector<double> achieved, f1s, recalls, precisions;
    std::vector<std::vector<FrameInterval>> reports;
    for (const Json& s : summaries) {
      const Json& sa = s.at("apps")[a];
      MS_CHECK_RT(sa.at("app") == name, "run summaries to pool list different apps");
      achieved.push_back(Num(sa, "achieved_fps"));
      std::vector<FrameInterval> r;
      for (const ReportedEvent& e : ReadEventsFile(sa.at("events_file").get<std::string>())) {
        FrameInterval i = e.event.interval();
        i.start = std::max(i.start, range.start);
        i.end = std::min(i.end, range.end);
        if (!i.empty()) r.push_back(i);
      }
      reports.push_back(std::move(r));
      const Json& ev = sa.at("evaluation");
      if (!ev.is_null()) {
        f1s.push_back(Num(ev.at("measured"), "f1"));
        recalls.push_back(Num(ev.at("measured"), "recall"));
        precisions.push_back(Num(ev.at("measured"), "precision"));
      }
    }
    Json app{{"app", name},
             {"kind", a0.value("kind", "branch")},
             {"branchpoint", a0.at("branchpoint")},
             {"x_vote", a0.at("x_vote")},
             {"fps", a0.at("fps")},
             {"achieved_fps", Stats(achieved).mean},
             {"predicted", a0.at("predicted")},
             {"evaluation", nullptr}};
    auto l = std::find_if(labeled.begin(), labeled.end(),
                          [&](const LabeledApp& x) { return x.app == name; });
    if (l != labeled.end() && l->labels != nullptr && !range.empty()) {
      const std::vector<FrameInterval> truth = TrueEventsInRange(*l->labels, range);
      const EventScoreCI pooled = BootstrapEventScoreRuns(truth, reports, options);
      // The bootstrap's units, so that runs over disjoint frames (cross-validation
      // folds) can be pooled by resampling all their cycles together.
      Json cycles = Json::array();
      for (const EventCycle& c : EventCycles(truth, reports)) {
        cycles.push_back(
            Json{c.event.start, c.event.end, c.detected, c.true_reports, c.false_reports});
      }
      const MeanSd f1 = Stats(f1s);
      const double pred = Num(a0.at("predicted"), "f1");
      app["evaluation"] = Json{{"labels", l->file.string()},
                               {"frames", {range.start, range.end}},
                               {"measured", pooled.ToJson()},
                               {"phases",
                                {{"f1", f1s},
                                 {"recall", recalls},
                                 {"precision", precisions},
                                 {"f1_mean", f1.mean},
                                 {"f1_sd", f1.sd}}},
                               {"cycles", cycles},
                               {"predicted", a0.at("predicted")},
                               {"f1_error", pooled.f1 - pred}};
      AddInterval(
          app["evaluation"],
          AppPrediction::FromJson(JsonView(a0.at("predicted"), "run summary", "$.predicted")),
          pooled.true_events, pooled.f1);
      sum_f1 += pooled.f1;
      sum_recall += pooled.recall;
      sum_precision += pooled.precision;
      sum_pred += pred;
      sum_phase_f1 += f1.mean;
      ++evaluated;
    }
    apps.push_back(std::move(app));
  }
  Json evaluation = nullptr;
  if (evaluated > 0) {
    evaluation = Json{{"apps", evaluated},
                      {"mean_f1", sum_f1 / evaluated},
                      {"mean_recall", sum_recall / evaluated},
                      {"mean_precision", sum_precision / evaluated},
                      {"mean_phase_f1", sum_phase_f1 / evaluated},
                      {"predicted_mean_f1", sum_pred / evaluated}};
  }
  const Json& pred_cost = first.at("cost").at("predicted");
  return Json{{"schema_version", kPooledSummarySchemaVersion},
              {"kind", "mainstream.run.pooled"},
              {"status", status},
              {"phases", static_cast<int64_t>(summaries.size())},
              {"seeds", seeds},
              {"runs", runs},
              {"schedule", first.at("schedule")},
              {"base", first.at("base")},
              {"input", first.at("input")},
              {"frames", {{"first", range.start}, {"last", range.end}}},
              {"wall_seconds", Stats(wall).mean * static_cast<double>(summaries.size())},
              {"machine", first.at("machine")},
              {"cost",
               {{"predicted", pred_cost},
                {"measured_mean", {{"total", Stats(total).mean}, {"dnn", Stats(dnn).mean}}}}},
              {"apps", apps},
              {"evaluation", evaluation}};
}

std::string FormatPooledTables(const Json& p) {
  std::string out;
  const std::vector<uint64_t> seeds = p.at("seeds").get<std::vector<uint64_t>>();
  const Json& cost = p.at("cost");
  out += fmt::format(
      "msrun {}: {} sampling phases (seeds {}..{}), frames {}..{}, {:.1f} s wall; cost {:.1f} ms/s "
      "measured (mean) vs {:.1f} predicted\n",
      p.at("status").get<std::string>(), p.at("phases").get<int64_t>(), seeds.front(), seeds.back(),
      p.at("frames").at("first").get<int64_t>(), p.at("frames").at("last").get<int64_t>(),
      Num(p, "wall_seconds"), Num(cost.at("measured_mean"), "total"),
      Num(cost.at("predicted"), "total"));
  bool any = false;
  for (const Json& a : p.at("apps")) any = any || !a.at("evaluation").is_null();
  out += fmt::format(
      "{:<16} {:>4} {:>3} {:>6} {:>6} {:>6} {:>14} {:>9} {:>14} {:>6} {:>14} {:>13} {:>7}\n", "app",
      "cand", "X", "fps", "events", "recall", "95% CI", "precision", "95% CI", "F1", "95% CI",
      "phase F1 sd", "pred F1");
  for (const Json& a : p.at("apps")) {
    const Json& e = a.at("evaluation");
    std::string row = fmt::format("{:<16} {:>4} {:>3} {:>6.2f}", a.at("app").get<std::string>(),
                                  KeyOf(a), a.at("x_vote").get<int>(), Num(a, "achieved_fps"));
    if (e.is_null()) {
      out += row + fmt::format(" {:>6} {:>97.3f}\n", "-", Num(a.at("predicted"), "f1"));
      continue;
    }
    const Json& m = e.at("measured");
    const double err = Num(e, "f1_error");
    out += row +
           fmt::format(" {:>6} {:>6.3f} {:>14} {:>9.3f} {:>14} {:>6.3f} {:>14} {:>13} {:>7.3f}{}\n",
                       m.at("true_events").get<int64_t>(), Num(m, "recall"), Ci(m.at("recall_ci")),
                       Num(m, "precision"), Ci(m.at("precision_ci")), Num(m, "f1"),
                       Ci(m.at("f1_ci")), fmt::format("{:.3f}", Num(e.at("phases"), "f1_sd")),
                       Num(e.at("predicted"), "f1"), std::fabs(err) > 0.1 ? "  |err| > 0.1" : "");
  }
  if (any) {
    const Json& ev = p.at("evaluation");
    out += fmt::format("{:<16} {:>37.3f} {:>24.3f} {:>21.3f} {:>37.3f}\n", "mean",
                       Num(ev, "mean_recall"), Num(ev, "mean_precision"), Num(ev, "mean_f1"),
                       Num(ev, "predicted_mean_f1"));
    out +=
        "(events: true events in the frames run, the same in every phase; recall: mean over "
        "phases; "
        "precision: all phases' reports pooled; CIs: bootstrap over true events)\n";
  }
  return out;
}

}  // namespace mainstream
