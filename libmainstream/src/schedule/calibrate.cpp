#include "mainstream/schedule/calibrate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <system_error>

#include "mainstream/core/error.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/schedule/memory_model.h"
#include "mainstream/schedule/profile_costs.h"

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
  const StageCosts costs = ProfileCosts(profile, 0);
  double nominal_ours = 0, nominal_schedule = 0;
  const JsonView nodes = v.Field("nodes");
  if (nodes.Size() == 0) nodes.Fail("no nodes: the run executed no DNN");
  struct RunNode {
    bool stem;
    int begin, end;
    double fps, measured, expected, executed, predicted_cost;
  };
  std::vector<RunNode> run_nodes;
  double traffic = 0;  // bytes per second of video, for the cache model
  for (const JsonView& node : nodes.Elements()) {
    const std::string kind = node.String("kind");
    if (kind != "stem" && kind != "branch")
      node.Field("kind").Fail("expected \"stem\" or \"branch\", got \"{}\"", kind);
    const JsonView stages = node.Field("stages");
    if (stages.Size() != 2) stages.Fail("expected [begin, end]");
    const int64_t b = stages.At(0).AsIntIn(0, n - 1);
    // A microclassifier's branch holds no base stage: its latency is its
    // own measurement, not the profile's, so it is not calibrated.
    if (kind == "branch" && stages.At(1).AsIntIn(b, n) == b) continue;
    const int64_t e = stages.At(1).AsIntIn(b + 1, n);
    RunNode rn{kind == "stem",
               static_cast<int>(b),
               static_cast<int>(e),
               node.NumberIn("fps", 0, 1e6),
               node.NumberIn("measured_cost", 0, 1e9),
               node.NumberIn("expected_executions", 0, 1e15),
               static_cast<double>(node.IntIn("executions", 0, int64_t{1} << 50)),
               node.NumberIn("predicted_cost", 0, 1e9)};
    traffic += costs.Bytes(rn.begin, rn.end) * rn.fps;
    run_nodes.push_back(rn);
  }
  for (const RunNode& rn : run_nodes) {
    double latency = rn.stem ? costs.Range(rn.begin, rn.end) : costs.BranchRange(rn.begin, rn.end);
    if (costs.cache().enabled() && rn.fps > 0)
      latency += costs.CacheExtra(rn.begin, rn.end, traffic / rn.fps);
    // A run that dropped frames executed fewer than planned: predict what it ran.
    const double predicted = rn.fps * latency * (rn.expected > 0 ? rn.executed / rn.expected : 1.0);
    nominal_ours += rn.fps * latency;
    nominal_schedule += rn.predicted_cost;
    if (rn.stem) {
      r.stem.Add(CostShare{predicted, rn.measured});
      ++r.stem_nodes;
    } else {
      r.branch.Add(CostShare{predicted, rn.measured});
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
  // Memory: the stage copies the run's nodes held, and the rest, as the
  // profile predicts them; the measured model memory when the run has it.
  const StageMemory mem = ProfileMemory(profile);
  if (!mem.empty()) {
    if (auto m = v.OptionalField("memory")) {
      r.memory_measured = m->NumberIn("measured_model_bytes", 0, 1e14);
      std::set<int> cuts;
      for (const JsonView& node : nodes.Elements()) {
        const JsonView st = node.Field("stages");
        const int b = static_cast<int>(st.At(0).AsIntIn(0, n - 1));
        if (node.String("kind") == "branch" && st.At(1).AsIntIn(b, n) == b) {
          ++r.memory_nodes;  // a microclassifier: its bytes are not the profile's
          continue;
        }
        const int e = static_cast<int>(st.At(1).AsIntIn(b + 1, n));
        r.memory_copies += mem.CopyBytes(b, e);
        ++r.memory_nodes;
        if (node.String("kind") == "branch" && b > 0) cuts.insert(b);
      }
      r.memory_other = mem.FixedBytes();  // overhead (an earlier calibration's), base, working set
      for (int b : cuts) r.memory_other += mem.ActivationAt(b);
      r.memory_other += mem.segment_bytes * r.memory_nodes;  // an earlier calibration's
    }
  }
  // The machine's speed during the run against this profile's: the run's
  // DNN cost brought to the profile's speed.
  if (auto probe = machine.OptionalField("speed_probe")) {  // absent or null: no probe
    const double start = probe->NumberIn("start_ms", 0, 1e9);
    const auto end_ms = probe->OptionalField("end_ms");  // null after a fault
    const double end = end_ms ? end_ms->AsNumberIn(0, 1e9) : start;
    // What msprofile measured in the passes the probe repeats: recorded as
    // such (calibration leaves it alone), or, in profiles before that, the
    // stage sum, which calibrations multiplied by their stem factors.
    double profiled = profile.SpeedReferenceMs();
    for (const Json* c = &profile.calibration; profile.speed_reference_ms <= 0 && c->is_object();) {
      if (const auto f = c->find("factors"); f != c->end() && f->is_object()) {
        const auto stem = f->find("stem");
        if (stem != f->end() && stem->is_number() && stem->get<double>() > 0) {
          profiled /= stem->get<double>();
        }
      }
      const auto previous = c->find("previous");
      if (previous == c->end()) break;
      c = &*previous;
    }
    if (start > 0 && end > 0 && profiled > 0) {
      r.speed = (start + end) / 2 / profiled;
      r.stem.measured /= r.speed;
      r.branch.measured /= r.speed;
    }
  }
  const JsonView measured = v.Field("cost").Field("measured");
  // Every stream frame decoded, and one per analyzed frame after the DNN.
  const double decode_extra = profile.DecodeExtraMs();
  r.decode = CostShare{(profile.decode_ms * static_cast<double>(decoded) +
                        decode_extra * static_cast<double>(std::min(preprocessed, decoded))) /
                           seconds,
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

Json MemoryCalibration::ToJson() const {
  return Json{
      {"overhead_bytes", overhead}, {"copy_factor", copy_factor}, {"segment_bytes", segment}};
}

namespace {

// Least squares of y on the columns of X (rows of k values); false when the
// normal equations are singular.
bool LeastSquares(const std::vector<std::vector<double>>& X, const std::vector<double>& y,
                  std::vector<double>* beta) {
  const size_t k = X.empty() ? 0 : X[0].size();
  if (k == 0 || X.size() < k) return false;
  // Columns scaled to a largest value of 1 (bytes, factors and counts differ
  // by 10^7), normal equations, Gauss-Jordan.
  std::vector<double> scale(k, 0.0);
  for (const auto& row : X)
    for (size_t i = 0; i < k; ++i) scale[i] = std::max(scale[i], std::fabs(row[i]));
  for (double& sc : scale)
    if (sc == 0) return false;
  std::vector<std::vector<double>> A(k, std::vector<double>(k + 1, 0.0));
  for (size_t r = 0; r < X.size(); ++r) {
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k; ++j) A[i][j] += X[r][i] / scale[i] * X[r][j] / scale[j];
      A[i][k] += X[r][i] / scale[i] * y[r];
    }
  }
  for (size_t c = 0; c < k; ++c) {  // Gauss-Jordan with partial pivoting
    size_t piv = c;
    for (size_t r = c + 1; r < k; ++r)
      if (std::fabs(A[r][c]) > std::fabs(A[piv][c])) piv = r;
    if (std::fabs(A[piv][c]) <= 1e-9) return false;
    std::swap(A[c], A[piv]);
    for (size_t r = 0; r < k; ++r) {
      if (r == c) continue;
      const double f = A[r][c] / A[c][c];
      for (size_t j = c; j <= k; ++j) A[r][j] -= f * A[c][j];
    }
  }
  beta->assign(k, 0.0);
  for (size_t i = 0; i < k; ++i) (*beta)[i] = A[i][k] / A[i][i] / scale[i];
  return true;
}

}  // namespace

MemoryCalibration FitMemoryCalibration(const std::vector<CalibrationRun>& runs) {
  // y = measured - other = overhead + factor * copies + segment * nodes.
  std::vector<const CalibrationRun*> use;
  for (const CalibrationRun& r : runs)
    if (r.has_memory() && r.memory_copies > 0) use.push_back(&r);
  MemoryCalibration m;
  if (use.empty()) return m;
  m.fitted = true;
  std::vector<double> y;
  for (const CalibrationRun* r : use) y.push_back(r->memory_measured - r->memory_other);
  // Terms: overhead, copies, nodes; the first fit with every coefficient
  // positive wins (scales: bytes, a factor, bytes per node).
  const std::vector<std::vector<int>> models = {{0, 1, 2}, {0, 1}, {1}};
  for (const auto& terms : models) {
    std::vector<std::vector<double>> X;
    for (const CalibrationRun* r : use) {
      std::vector<double> row;
      for (int t : terms)
        row.push_back(t == 0   ? 1.0
                      : t == 1 ? r->memory_copies
                               : static_cast<double>(r->memory_nodes));
      X.push_back(std::move(row));
    }
    std::vector<double> beta;
    if (!LeastSquares(X, y, &beta)) continue;
    bool ok = true;
    for (size_t i = 0; i < terms.size(); ++i)
      ok = ok && beta[i] >= 0 && (terms[i] != 1 || beta[i] > 0);
    if (!ok) continue;
    m.overhead = m.segment = 0;
    m.copy_factor = 1;
    for (size_t i = 0; i < terms.size(); ++i) {
      if (terms[i] == 0) m.overhead = beta[i];
      if (terms[i] == 1) m.copy_factor = beta[i];
      if (terms[i] == 2) m.segment = beta[i];
    }
    return m;
  }
  m.copy_factor = 1;  // nothing positive fits: leave the profile as it is
  return m;
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
  size_t probed = 0;
  for (const CalibrationRun& r : res.runs) probed += r.speed > 0 ? 1 : 0;
  if (probed > 0 && probed < res.runs.size()) {
    res.warnings.push_back(fmt::format(
        "{} of {} runs have no speed probe (msrun --no-speed-probe, or older): their costs are "
        "taken as measured, the others' at the profile's speed",
        res.runs.size() - probed, res.runs.size()));
  }
  res.factors = FitCalibration(res.runs);
  const CalibrationFactors& f = res.factors;
  std::string run_files;
  for (const CalibrationRun& r : res.runs) run_files += (run_files.empty() ? "" : ", ") + r.file;
  for (const auto& [name, value] :
       {std::pair{"stem", f.stem}, std::pair{"branch", f.branch}, std::pair{"decode", f.decode},
        std::pair{"preprocess", f.preprocess}}) {
    // Measured/predicted a thousand times off is not a busy machine: the runs
    // did not run this profile's base (or their costs are corrupt).
    if (!(std::isfinite(value) && value >= kMinCalibrationFactor &&
          value <= kMaxCalibrationFactor)) {
      ThrowInput(
          "{}: the {} cost measured by these runs is {} times the profile's prediction (accepted: "
          "{} to {}); were they made with another base, or is a summary corrupt?",
          run_files, name, value, kMinCalibrationFactor, kMaxCalibrationFactor);
    }
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
            {"speed", r.speed > 0 ? Json(r.speed) : Json(nullptr)},
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

  // Memory, when the runs measured it.
  res.memory = FitMemoryCalibration(res.runs);
  Json memory_runs = Json::array();
  if (res.memory.fitted) {
    for (size_t i = 0; i < res.runs.size(); ++i) {
      const CalibrationRun& r = res.runs[i];
      const double nan = std::numeric_limits<double>::quiet_NaN();
      if (!r.has_memory()) {
        res.memory_before.push_back(nan);
        res.memory_after.push_back(nan);
        res.memory_held_out.push_back(nan);
        continue;
      }
      const double before = r.memory_copies + r.memory_other;
      res.memory_before.push_back(r.memory_measured / before);
      res.memory_after.push_back(r.memory_measured / res.memory.Predict(r));
      std::vector<CalibrationRun> others;
      for (size_t k = 0; k < res.runs.size(); ++k)
        if (k != i && res.runs[k].has_memory()) others.push_back(res.runs[k]);
      const MemoryCalibration held = FitMemoryCalibration(others);
      res.memory_held_out.push_back(held.fitted ? r.memory_measured / held.Predict(r) : nan);
      Json rj{{"file", r.file},
              {"measured_bytes", r.memory_measured},
              {"ratio_before", res.memory_before.back()},
              {"ratio_after", res.memory_after.back()}};
      if (held.fitted) rj["ratio_held_out"] = res.memory_held_out.back();
      memory_runs.push_back(std::move(rj));
    }
  }

  Profile& p = res.profile;
  p = profile;
  Json uncalibrated = Json::array();
  const std::vector<double> branch_ms = profile.BranchLatencies();
  for (size_t k = 0; k < p.stages.size(); ++k) {
    StageTiming& s = p.stages[k];
    const double branch_base = branch_ms.empty() ? s.cost_ms() : branch_ms[k];
    uncalibrated.push_back(Json{{"ms", s.cost_ms()}, {"branch_p50_ms", branch_base}});
    if (s.ms > 0) s.ms *= f.stem;
    s.p50_ms *= f.stem;
    s.p95_ms *= f.stem;
    s.branch_p50_ms = std::max(branch_base * f.branch, 1e-9);
    // The cold timing moves with the shared stage's level (docs/model.md).
    if (s.cold_p50_ms > 0) s.cold_p50_ms = std::max(s.cold_p50_ms * f.stem, 1e-9);
  }
  p.decode_ms *= f.decode;
  p.decode_after_dnn_ms *= f.decode;
  p.preprocess_ms *= f.preprocess;
  if (res.memory.fitted) {
    for (StageTiming& s : p.stages) {
      const double copy = s.resident_bytes >= 0 ? s.resident_bytes : s.param_bytes;
      s.resident_bytes = copy * res.memory.copy_factor;
    }
    p.memory_overhead_bytes = profile.memory_overhead_bytes + res.memory.overhead;
    p.memory_segment_bytes = profile.memory_segment_bytes + res.memory.segment;
  }
  Json cal{
      {"method",
       "ratio of sums of measured / predicted cost over the runs' stem nodes, branch nodes, decode "
       "and preprocessing, the nodes' costs at the profile's speed by the runs' speed probes "
       "(docs/model.md, Calibration)"},
      {"factors", f.ToJson()},
      {"runs", runs_json},
      {"before", Json{{"decode_ms", profile.decode_ms},
                      {"preprocess_ms", profile.preprocess_ms},
                      {"stages", uncalibrated}}},
      {"warnings", res.warnings}};
  if (res.memory.fitted) {
    Json mj = res.memory.ToJson();
    mj["method"] =
        "least squares of measured model memory = overhead + copy_factor x predicted stage-copy "
        "bytes + segment_bytes x tree nodes + base + activations over the runs";
    mj["runs"] = memory_runs;
    cal["memory"] = std::move(mj);
  }
  if (!profile.calibration.is_null()) cal["previous"] = profile.calibration;
  p.calibration = std::move(cal);
  // What msschedule will read: a calibrated latency beyond the profile's
  // ranges (a huge factor on a long stage) is an error here, not there.
  try {
    (void)Profile::FromJson(JsonView(p.ToJson(), "the calibrated profile"));
  } catch (const InputError& e) {
    ThrowInput("{}: the calibration of these runs gives a profile out of range: {}", run_files,
               e.what());
  }
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
  out += fmt::format("{:>7} {:>6} {:>9} {:>9} {:>9} {:>10}  {}\n", "frames", "speed", "measured",
                     "before", "after", "held-out",
                     "run (measured / predicted total cost, DNN at the profile's speed; ms of "
                     "compute per s of video)");
  for (size_t i = 0; i < runs.size(); ++i) {
    out += fmt::format(
        "{:>7} {:>6} {:>9.2f} {:>9.3f} {:>9.3f} {:>10}  {}\n", runs[i].frames,
        runs[i].speed > 0 ? fmt::format("{:.3f}", runs[i].speed) : std::string("-"),
        runs[i].MeasuredTotal(), ratio_before[i], ratio_after[i],
        ratio_held_out.empty() ? std::string("-") : fmt::format("{:.3f}", ratio_held_out[i]),
        runs[i].file);
  }
  out += fmt::format("measured / predicted: before {}; after {}; held out {}\n",
                     range(ratio_before), range(ratio_after), range(ratio_held_out));
  if (memory.fitted) {
    auto finite = [](const std::vector<double>& v) {
      std::vector<double> out;
      for (double x : v)
        if (std::isfinite(x)) out.push_back(x);
      return out;
    };
    out += fmt::format(
        "memory: overhead {:.1f} MB + {:.3f} x the stage copies + {:.2f} MB per node; measured / "
        "predicted model memory: before {}; after {}; held out {}\n",
        memory.overhead / 1e6, memory.copy_factor, memory.segment / 1e6,
        range(finite(memory_before)), range(finite(memory_after)), range(finite(memory_held_out)));
  }
  for (const std::string& w : warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace mainstream
