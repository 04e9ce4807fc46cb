#include "mainstream/runtime/run_report.h"

#include <algorithm>

#include "mainstream/core/error.h"

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

Json AppEvaluation::ToJson() const {
  Json m = measured.ToJson();
  return Json{
      {"labels", labels_file.string()},
      {"frames", {range.start, range.end}},
      {"measured", m},
      {"predicted",
       {{"recall", predicted.recall}, {"precision", predicted.precision}, {"f1", predicted.f1}}},
      {"f1_error", measured.f1 - predicted.f1}};
}

AppEvaluation EvaluateApp(const std::string& app, const std::filesystem::path& labels_file,
                          const FrameLabels& labels, const std::vector<FrameInterval>& reports,
                          const FrameInterval& range, const EventPrediction& predicted,
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
  out += fmt::format("{:<16} {:>3} {:>3} {:>7} {:>8} {:>8} {:>8} {:>7} {:>7}\n", "app", "bp", "X",
                     "fps", "achieved", "samples", "positive", "events", "dropped");
  for (const Json& a : s.at("apps")) {
    out += fmt::format("{:<16} {:>3} {:>3} {:>7.2f} {:>8.2f} {:>8} {:>8} {:>7} {:>7}\n",
                       a.at("app").get<std::string>(), a.at("branchpoint").get<int>(),
                       a.at("x_vote").get<int>(), Num(a, "fps"), Num(a, "achieved_fps"),
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

}  // namespace mainstream
