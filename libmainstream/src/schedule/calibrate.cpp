#include "mainstream/schedule/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <system_error>

#include "mainstream/core/error.h"
#include "mainstream/schedule/cost_model.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

// msrun's summary.json (runtime/runtime.h kRunSummarySchemaVersion; the
// profile module does not link the runtime).
constexpr int kRunSummarySchema = 1;
constexpr int64_t kMinFrames = 20;

std::string MachineString(const Json& machine, const char* key) {
  if (!machine.is_object() || !machine.contains(key) || !machine[key].is_string()) return {};
  return machine[key].get<std::string>();
}

}  // namespace

double CalibrationFactors::Predict(const CalibrationRun& r) const {
  return stem * r.stem.predicted + branch * r.branch.predicted + decode * r.decode.predicted +
         preprocess * r.preprocess.predicted;
}

Json CalibrationFactors::ToJson() const {
  return Json{{"stem", stem}, {"branch", branch}, {"decode", decode}, {"preprocess", preprocess}};
}

CalibrationRun ReadCalibrationRun(const Profile& profile, const fs::path& summary,
                                  std::vector<std::string>* warnings) {
  const Json j = ReadJsonFile(summary);
  JsonView v(j, summary.string());
  v.RequireKind("mainstream.run", "msrun summary");
  v.RequireSchema(kRunSummarySchema, "msrun summary");
  auto warn = [&](std::string message) {
    if (warnings) warnings->push_back(summary.string() + ": " + std::move(message));
  };
  CalibrationRun r;
  r.file = summary.string();

  const std::string status = v.String("status");
  if (status == "stopped") {
    warn("a stopped run: calibrating on the frames it processed");
  } else if (status != "completed") {
    v.Field("status").Fail("the run {}: only completed (or stopped) runs measure costs", status);
  }
  const JsonView base = v.Field("base");
  const std::string sha = base.String("sha256");
  if (sha != profile.base.sha256) {
    base.Field("sha256").Fail(
        "the run used base '{}' (sha256 {}), the profile times '{}' (sha256 {}): calibrate "
        "a profile with runs of its own base",
        base.String("id"), sha.substr(0, 12), profile.base.id, profile.base.sha256.substr(0, 12));
  }
  const JsonView machine = v.Field("machine");
  const std::string run_cpu = MachineString(machine.Field("description").raw(), "cpu_model");
  const std::string profile_cpu = MachineString(profile.machine, "cpu_model");
  if (!run_cpu.empty() && !profile_cpu.empty() && run_cpu != profile_cpu) {
    machine.Field("description")
        .Field("cpu_model")
        .Fail(
            "the run was measured on '{}', the profile on '{}' (another machine): calibrate a "
            "profile with runs on "
            "its own machine",
            run_cpu, profile_cpu);
  }
  const int64_t threads = machine.IntIn("torch_threads", 1, 4096);
  if (threads != profile.threads) {
    machine.Field("torch_threads")
        .Fail(
            "the run used {} LibTorch thread(s), the profile was timed on {}: run msrun "
            "with --threads {} (or profile with --threads {})",
            threads, profile.threads, profile.threads, threads);
  }
  if (auto w = machine.OptionalField("branch_workers"); w && w->AsIntIn(1, 4096) > 1) {
    warn(fmt::format(
        "its branches ran on {} workers: their per-node times include the workers' contention",
        w->AsInt()));
  }

  const JsonView frames = v.Field("frames");
  const int64_t decoded = frames.IntIn("decoded", 0, int64_t{1} << 40);
  const int64_t preprocessed = frames.IntIn("preprocessed", 0, int64_t{1} << 40);
  const double seconds = frames.NumberIn("video_seconds", 0, 1e9);
  if (decoded < kMinFrames || seconds <= 0) {
    frames.Field("decoded").Fail("{} frames: too few to measure costs on (at least {})", decoded,
                                 kMinFrames);
  }
  r.frames = decoded;

  const int n = static_cast<int>(profile.stages.size());
  StageCosts costs(profile.StageLatencies(), profile.preprocess_ms);
  costs.SetBranchStages(profile.BranchLatencies());
  double nominal_ours = 0, nominal_schedule = 0;
  const JsonView nodes = v.Field("nodes");
  if (nodes.Size() == 0) nodes.Fail("no nodes: the run executed no DNN");
  for (const JsonView& node : nodes.Elements()) {
    const std::string kind = node.String("kind");
    if (kind != "stem" && kind != "branch")
      node.Field("kind").Fail("expected \"stem\" or \"branch\", got \"{}\"", kind);
    const JsonView stages = node.Field("stages");
    if (stages.Size() != 2) stages.Fail("expected [begin, end]");
    const int64_t b = stages.At(0).AsIntIn(0, n - 1);
    const int64_t e = stages.At(1).AsIntIn(b + 1, n);
    const double fps = node.NumberIn("fps", 0, 1e6);
    const double measured = node.NumberIn("measured_cost", 0, 1e9);
    const double expected = node.NumberIn("expected_executions", 0, 1e15);
    const double executed = static_cast<double>(node.IntIn("executions", 0, int64_t{1} << 50));
    const int bi = static_cast<int>(b), ei = static_cast<int>(e);
    const double latency = kind == "stem" ? costs.Range(bi, ei) : costs.BranchRange(bi, ei);
    // A run that dropped frames executed fewer than planned: predict what it ran.
    const double predicted = fps * latency * (expected > 0 ? executed / expected : 1.0);
    nominal_ours += fps * latency;
    nominal_schedule += node.NumberIn("predicted_cost", 0, 1e9);
    if (kind == "stem") {
      r.stem.Add(CostShare{predicted, measured});
      ++r.stem_nodes;
    } else {
      r.branch.Add(CostShare{predicted, measured});
      ++r.branch_nodes;
    }
  }
  if (std::fabs(nominal_ours - nominal_schedule) >
      0.05 * std::max(nominal_ours, nominal_schedule)) {
    warn(
        fmt::format("its schedule predicted {:.2f} ms/s of DNN cost from another profile, this one "
                    "predicts {:.2f}: "
                    "the factors correct this profile",
                    nominal_schedule, nominal_ours));
  }
  const JsonView measured = v.Field("cost").Field("measured");
  r.decode = CostShare{profile.decode_ms * static_cast<double>(decoded) / seconds,
                       measured.NumberIn("decode", 0, 1e9)};
  r.preprocess = CostShare{profile.preprocess_ms * static_cast<double>(preprocessed) / seconds,
                           measured.NumberIn("preprocess", 0, 1e9)};
  return r;
}

CalibrationFactors FitCalibration(const std::vector<CalibrationRun>& runs) {
  CalibrationRun sum;
  for (const CalibrationRun& r : runs) {
    sum.stem.Add(r.stem);
    sum.branch.Add(r.branch);
    sum.decode.Add(r.decode);
    sum.preprocess.Add(r.preprocess);
  }
  CalibrationFactors f;
  f.stem = sum.stem.Ratio();
  f.branch = sum.branch.Ratio();
  f.decode = sum.decode.Ratio();
  f.preprocess = sum.preprocess.Ratio();
  return f;
}

std::vector<fs::path> FindRunSummaries(const std::vector<fs::path>& paths) {
  std::vector<fs::path> out;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      out.push_back(p);
      continue;
    }
    MS_CHECK(fs::is_directory(p, ec),
             "{}: no such file or directory (give msrun --out directories or their "
             "summary.json files)",
             p.string());
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(p, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && it->path().filename() == "summary.json")
        found.push_back(it->path());
    }
    MS_CHECK(!ec, "{}: cannot list: {}", p.string(), ec.message());
    MS_CHECK(!found.empty(), "{}: no summary.json below it (an msrun --out directory holds one)",
             p.string());
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  MS_CHECK(!out.empty(), "no msrun summaries to calibrate with");
  return out;
}

CalibrationResult Calibrate(const Profile& profile, const std::vector<fs::path>& summaries) {
  CalibrationResult res;
  for (const fs::path& s : summaries)
    res.runs.push_back(ReadCalibrationRun(profile, s, &res.warnings));
  MS_CHECK(!res.runs.empty(), "no msrun summaries to calibrate with");
  res.factors = FitCalibration(res.runs);
  const CalibrationFactors& f = res.factors;
  for (const auto& [name, value] :
       {std::pair{"stem", f.stem}, std::pair{"branch", f.branch}, std::pair{"decode", f.decode},
        std::pair{"preprocess", f.preprocess}}) {
    if (value < 0.5 || value > 3) {
      res.warnings.push_back(
          fmt::format("the {} factor is {:.2f}: were the runs made on a busy machine, or the "
                      "profile on another one?",
                      name, value));
    }
  }
  Json runs_json = Json::array();
  for (size_t i = 0; i < res.runs.size(); ++i) {
    const CalibrationRun& r = res.runs[i];
    res.ratio_before.push_back(CostShare{r.PredictedTotal(), r.MeasuredTotal()}.Ratio());
    res.ratio_after.push_back(CostShare{f.Predict(r), r.MeasuredTotal()}.Ratio());
    Json rj{{"file", r.file},
            {"frames", r.frames},
            {"stem_nodes", r.stem_nodes},
            {"branch_nodes", r.branch_nodes},
            {"measured_total", r.MeasuredTotal()},
            {"ratio_before", res.ratio_before.back()},
            {"ratio_after", res.ratio_after.back()}};
    if (res.runs.size() >= 2) {
      std::vector<CalibrationRun> others;
      for (size_t k = 0; k < res.runs.size(); ++k) {
        if (k != i) others.push_back(res.runs[k]);
      }
      res.ratio_held_out.push_back(
          CostShare{FitCalibration(others).Predict(r), r.MeasuredTotal()}.Ratio());
      rj["ratio_held_out"] = res.ratio_held_out.back();
    }
    runs_json.push_back(std::move(rj));
  }

  Profile& p = res.profile;
  p = profile;
  Json uncalibrated = Json::array();
  const std::vector<double> branch_ms = profile.BranchLatencies();
  for (size_t k = 0; k < p.stages.size(); ++k) {
    StageTiming& s = p.stages[k];
    uncalibrated.push_back(
        Json{{"p50_ms", s.p50_ms}, {"branch_p50_ms", branch_ms.empty() ? s.p50_ms : branch_ms[k]}});
    const double branch_base = branch_ms.empty() ? s.p50_ms : branch_ms[k];
    s.p50_ms *= f.stem;
    s.p95_ms *= f.stem;
    s.branch_p50_ms = std::max(branch_base * f.branch, 1e-9);
  }
  p.decode_ms *= f.decode;
  p.preprocess_ms *= f.preprocess;
  Json cal{
      {"method",
       "ratio of sums of measured / predicted cost over the runs' stem nodes, branch nodes, decode "
       "and preprocessing (docs/model.md, Calibration)"},
      {"factors", f.ToJson()},
      {"runs", runs_json},
      {"before", Json{{"decode_ms", profile.decode_ms},
                      {"preprocess_ms", profile.preprocess_ms},
                      {"stages", uncalibrated}}},
      {"warnings", res.warnings}};
  if (!profile.calibration.is_null()) cal["previous"] = profile.calibration;
  p.calibration = std::move(cal);
  return res;
}

std::string CalibrationResult::ToText() const {
  auto range = [](const std::vector<double>& v) {
    if (v.empty()) return std::string("-");
    double worst = 0;
    for (double x : v) worst = std::max(worst, std::fabs(x - 1));
    return fmt::format("{:.3f}..{:.3f} (worst {:+.1f}%)", *std::min_element(v.begin(), v.end()),
                       *std::max_element(v.begin(), v.end()), 100 * worst);
  };
  std::string out = fmt::format(
      "calibration over {} run(s): factors stem {:.3f}, branch {:.3f}, decode {:.3f}, "
      "preprocess {:.3f}\n",
      runs.size(), factors.stem, factors.branch, factors.decode, factors.preprocess);
  out += fmt::format("{:>7} {:>9} {:>9} {:>9} {:>10}  {}\n", "frames", "measured", "before",
                     "after", "held-out",
                     "run (measured / predicted total cost; ms of compute per s of video)");
  for (size_t i = 0; i < runs.size(); ++i) {
    out += fmt::format(
        "{:>7} {:>9.2f} {:>9.3f} {:>9.3f} {:>10}  {}\n", runs[i].frames, runs[i].MeasuredTotal(),
        ratio_before[i], ratio_after[i],
        ratio_held_out.empty() ? std::string("-") : fmt::format("{:.3f}", ratio_held_out[i]),
        runs[i].file);
  }
  out += fmt::format("measured / predicted: before {}; after {}; held out {}\n",
                     range(ratio_before), range(ratio_after), range(ratio_held_out));
  for (const std::string& w : warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace mainstream
