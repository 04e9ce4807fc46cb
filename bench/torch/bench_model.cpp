// bench_model: what freezing/oneDNN and stem sharing buy on this CPU, measured
// side by side in one run, printed as ratios (docs/models.md, "Benchmarks").
//
//   1. Optimized segment vs plain TorchScript, per frame, for the default base
//      and each torchvision architecture (exported by scripts/export_base.py).
//   2. Our optimized latency vs Debian's python3-torch running the same
//      model.pt through torch.jit.optimize_for_inference (scripts/bench_python.py).
//   3. Shared stem: N apps, each with its own copy of the last k stages; the
//      stem runs once per frame and feeds every app, vs every app running the
//      whole model. Measured per-frame time vs the scheduler's cost model
//      (ScheduleCost) fed with per-stage latencies taken the way msprofile
//      takes them, in the same loop as the frames (same load).
//
//   bench_model --threads 1                       # everything (~10 min on 2 cores)
//   bench_model --archs mobilenet_v2 --apps 1,5   # a quick look
#include <torch/script.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/default_base.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/segment.h"
#include "mainstream/schedule/cost_model.h"

namespace fs = std::filesystem;
using namespace mainstream;

namespace {

struct Options {
  fs::path work = fs::temp_directory_path() / "mainstream-bench";
  fs::path scripts = fs::path(__FILE__).parent_path().parent_path().parent_path() / "scripts";
  std::string python = "/usr/bin/python3";
  std::string archs = "mobilenet_v2,resnet18,resnet50,inception_v3";
  std::string stem_bases = "msnet-s,mobilenet_v2";
  std::string apps = "1,5,10,30";
  int k = 3;
  int threads = 1;
  int repeats = 20;
  bool python_side = true;
  std::string json;
};

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Runs a shell command and returns its stdout; throws on a non-zero exit.
std::string Capture(const std::string& cmd) {
  LogDebug("$ {}", cmd);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  MS_CHECK_RT(pipe != nullptr, "cannot run {}", cmd);
  std::string out;
  char buf[4096];
  while (size_t got = fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, got);
  int status = pclose(pipe.release());
  MS_CHECK_RT(status == 0, "command failed ({}): {}", status, cmd);
  return out;
}

// The default base is built here in C++; torchvision ones by export_base.py.
fs::path EnsureBase(const Options& o, const std::string& name) {
  fs::path dir = o.work / name;
  if (fs::exists(dir / kBaseManifest)) return dir;
  if (name == "msnet-s") {
    CreateDefaultBase(dir, DefaultBaseOptions{});
  } else {
    LogInfo("exporting {} with scripts/export_base.py", name);
    Capture(o.python + " " + Quote((o.scripts / "export_base.py").string()) + " --arch " + name +
            " -o " + Quote(dir.string()) + " 2>/dev/null");
  }
  return dir;
}

double P50(std::vector<double> v) { return SummarizeLatency(std::move(v)).p50_ms; }

struct ArchResult {
  std::string name;
  int stages = 0;
  double plain_ms = 0, optimized_ms = 0, python_ms = 0, python_diff = 0;
  FusionReport fusion;
};

ArchResult BenchArch(const Options& o, const std::string& name) {
  fs::path dir = EnsureBase(o, name);
  BaseModel base = BaseModel::Load(dir);
  const int n = base.num_stages();
  ArchResult r;
  r.name = name;
  r.stages = n;
  Segment plain = Segment::Build(base, 0, n, SegmentOptions{/*optimize=*/false});
  Segment opt = Segment::Build(base, 0, n);
  r.fusion = opt.fusion();
  at::Tensor x = base.DummyInput(1, 1);
  for (int i = 0; i < 2; ++i) plain.Forward(x);
  for (int i = 0; i < 5; ++i) opt.Forward(x);
  // Plain calls are slow: one every few optimized calls, interleaved.
  auto measure_ours = [&](std::vector<double>* plain_s, std::vector<double>* opt_s) {
    for (int i = 0; i < o.repeats; ++i) {
      double t0 = NowSeconds();
      opt.Forward(x);
      opt_s->push_back((NowSeconds() - t0) * 1e3);
      if (plain_s && i % 4 == 0) {
        t0 = NowSeconds();
        plain.Forward(x);
        plain_s->push_back((NowSeconds() - t0) * 1e3);
      }
    }
  };
  std::vector<double> plain_s, opt_a, opt_b;
  measure_ours(&plain_s, &opt_a);
  r.plain_ms = P50(plain_s);
  r.optimized_ms = P50(opt_a);
  if (o.python_side) {
    // Alternate us / Python twice and keep each side's better p50, so that a
    // burst of load from other processes does not decide the comparison.
    std::string cmd =
        o.python + " " + Quote((o.scripts / "bench_python.py").string()) + " --base " +
        Quote(dir.string()) +
        fmt::format(" --threads {} --repeats {} --plain-repeats 0", o.threads, o.repeats);
    double best = 1e30;
    for (int round = 0; round < 2; ++round) {
      Json j = ParseJson(Capture(cmd + " 2>/dev/null"), "bench_python.py output");
      best = std::min(best, j["optimized"]["p50_ms"].get<double>());
      r.python_diff = j["optimized_max_abs_diff"].get<double>() /
                      std::max(1e-30, j["reference_max_abs"].get<double>());
      if (round == 0) measure_ours(nullptr, &opt_b);
    }
    r.python_ms = best;
    r.optimized_ms = std::min(r.optimized_ms, P50(opt_b));
  }
  LogInfo("{}: plain {:.2f} ms, optimized {:.2f} ms, python {:.2f} ms", name, r.plain_ms,
          r.optimized_ms, r.python_ms);
  return r;
}

struct StemRow {
  int apps = 0;
  double shared_ms = 0, shared_model_ms = 0;      // stem once, handed over in oneDNN's layout
  double unshared_ms = 0, unshared_model_ms = 0;  // every app runs the whole model
  double shared_dense_ms = 0;                     // stem once, handed over as dense tensors
  double shared_one_copy_ms = 0;                  // stem once, the same branch weights N times
};

struct StemResult {
  std::string base;
  int branchpoint = 0, k = 0;
  std::vector<double> stage_ms;
  std::vector<StemRow> rows;
};

StemResult BenchStem(const Options& o, const std::string& name, const std::vector<int>& apps) {
  fs::path dir = EnsureBase(o, name);
  BaseModel base = BaseModel::Load(dir);
  const int n = base.num_stages();
  const int b = std::max(1, n - o.k);
  StemResult res;
  res.base = name;
  res.branchpoint = b;
  res.k = n - b;
  // One segment per stage, timed as msprofile times them (in order, handing
  // activations over in oneDNN's layout) inside the same loop as the frames,
  // so that the model and the measurement see the same load.
  std::vector<Segment> stages;
  for (int k = 0; k < n; ++k) stages.push_back(Segment::Build(base, k, k + 1));
  std::vector<std::vector<double>> stage_samples(static_cast<size_t>(n));

  int max_apps = 0;
  for (int a : apps) max_apps = std::max(max_apps, a);
  LogInfo("{}: building the stem [0, {}), {} branches [{}, {}) and {} whole models", name, b,
          max_apps, b, n, max_apps);
  Segment stem = Segment::Build(base, 0, b);
  std::vector<Segment> branches, wholes;
  for (int i = 0; i < max_apps; ++i) {
    branches.push_back(Segment::Build(base, b, n));  // each freezes its own copy of the weights
    wholes.push_back(Segment::Build(base, 0, n));
  }
  const at::Tensor x = base.DummyInput(1, 3);
  for (int a : apps) {
    const size_t na = static_cast<size_t>(a);
    StemRow row;
    row.apps = a;
    std::vector<std::vector<double>> t(4);
    auto frame = [&](int mode) {
      double t0 = NowSeconds();
      if (mode == 0) {
        at::Tensor h = stem.ForwardKeepLayout(x);
        for (size_t i = 0; i < na; ++i) branches[i].Forward(h);
      } else if (mode == 1) {
        for (size_t i = 0; i < na; ++i) wholes[i].Forward(x);
      } else if (mode == 2) {
        at::Tensor h = stem.Forward(x);
        for (size_t i = 0; i < na; ++i) branches[i].Forward(h);
      } else {
        at::Tensor h = stem.ForwardKeepLayout(x);
        for (size_t i = 0; i < na; ++i) branches[0].Forward(h);
      }
      return (NowSeconds() - t0) * 1e3;
    };
    auto stage_pass = [&](bool record) {
      at::Tensor h = x;
      for (size_t k = 0; k < stages.size(); ++k) {
        double t0 = NowSeconds();
        h = stages[k].ForwardKeepLayout(h);
        if (record) stage_samples[k].push_back((NowSeconds() - t0) * 1e3);
      }
    };
    stage_pass(false);
    for (int mode = 0; mode < 4; ++mode) frame(mode);  // warmup
    for (int r = 0; r < o.repeats; ++r) {
      stage_pass(true);
      for (int mode = 0; mode < 4; ++mode) t[static_cast<size_t>(mode)].push_back(frame(mode));
    }
    res.stage_ms.clear();
    for (auto& ss : stage_samples) {
      res.stage_ms.push_back(P50(ss));
      ss.clear();
    }
    const StageCosts costs(res.stage_ms, 0.0);  // no decoding here
    row.shared_ms = P50(t[0]);
    row.unshared_ms = P50(t[1]);
    row.shared_dense_ms = P50(t[2]);
    row.shared_one_copy_ms = P50(t[3]);
    // At 1 fps the cost model's "ms of compute per second of video" is ms per frame.
    row.shared_model_ms = ScheduleCost(costs, std::vector<AppRequest>(na, AppRequest{b, 1.0}));
    row.unshared_model_ms = ScheduleCost(costs, std::vector<AppRequest>(na, AppRequest{0, 1.0}));
    res.rows.push_back(row);
    LogInfo("{} apps: shared {:.2f} ms (model {:.2f}), unshared {:.2f} ms (model {:.2f})", a,
            row.shared_ms, row.shared_model_ms, row.unshared_ms, row.unshared_model_ms);
  }
  return res;
}

double Err(double measured, double model) {
  return model > 0 ? 100.0 * (measured - model) / model : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bench_model: optimized vs plain TorchScript, vs Python, and shared-stem execution vs the "
      "cost model"};
  Options o;
  cli::CommonFlags common;
  common.threads = 1;
  cli::AddCommonFlags(app, common);
  std::string work = o.work.string(), scripts = o.scripts.string();
  app.add_option("--work", work, "Directory for the exported bases (reused between runs)")
      ->capture_default_str();
  app.add_option("--scripts", scripts, "Directory holding export_base.py and bench_python.py")
      ->capture_default_str();
  app.add_option("--python", o.python, "Python with python3-torch and torchvision")
      ->capture_default_str();
  app.add_option("--archs", o.archs, "torchvision architectures to compare (empty: none)")
      ->capture_default_str();
  app.add_option("--stem-bases", o.stem_bases, "Bases for the shared-stem benchmark")
      ->capture_default_str();
  app.add_option("--apps", o.apps, "Numbers of apps sharing the stem")->capture_default_str();
  app.add_option("-k,--own-stages", o.k, "Stages each app owns (its copy of the last k)")
      ->capture_default_str();
  app.add_option("--repeats", o.repeats, "Timed frames per measurement")->capture_default_str();
  app.add_flag("!--no-python", o.python_side, "Skip the Python comparison");
  app.add_option("--json", o.json, "Also write all results as JSON");
  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("bench_model", [&]() -> int {
    cli::ApplyCommonFlags(common);
    o.work = work;
    o.scripts = scripts;
    o.threads = SetTorchThreads(common.ResolvedThreads());
    Json machine = DescribeMachine();
    std::printf(
        "bench_model: %s, %d logical CPUs, LibTorch %s, oneDNN %s, %d torch thread(s), load %.2f\n",
        machine["cpu_model"].get<std::string>().c_str(), machine["logical_cpus"].get<int>(),
        machine["libtorch"].get<std::string>().c_str(),
        machine["onednn"].get<std::string>().c_str(), o.threads,
        machine.value("load_average", Json::array({0.0}))[0].get<double>());
    Json out{{"machine", machine}, {"threads", o.threads}, {"repeats", o.repeats}};

    // 1 + 2: per architecture.
    std::vector<std::string> names = {"msnet-s"};
    for (const auto& a : SplitList(o.archs)) names.push_back(a);
    std::vector<ArchResult> archs;
    for (const auto& name : names) archs.push_back(BenchArch(o, name));
    std::printf("\nPer-frame latency, batch 1, p50 (ms)\n");
    std::printf("%-14s %6s %10s %10s %8s %10s %9s  %s\n", "base", "stages", "plain", "optimized",
                "speedup", "python", "us/python", "fusion");
    Json arch_json = Json::array();
    for (const auto& r : archs) {
      std::printf(
          "%-14s %6d %10.2f %10.2f %7.1fx %10s %9s  %s\n", r.name.c_str(), r.stages, r.plain_ms,
          r.optimized_ms, r.plain_ms / r.optimized_ms,
          o.python_side ? fmt::format("{:.2f}", r.python_ms).c_str() : "-",
          o.python_side ? fmt::format("{:.2f}x", r.optimized_ms / r.python_ms).c_str() : "-",
          r.fusion.ToString().c_str());
      arch_json.push_back(
          Json{{"base", r.name},
               {"stages", r.stages},
               {"plain_ms", r.plain_ms},
               {"optimized_ms", r.optimized_ms},
               {"speedup", r.plain_ms / r.optimized_ms},
               {"python_optimized_ms", r.python_ms},
               {"ours_over_python", o.python_side ? r.optimized_ms / r.python_ms : 0.0},
               {"python_relative_diff", r.python_diff},
               {"fusion", r.fusion.ToJson()}});
    }
    out["architectures"] = arch_json;

    // 3: shared stem.
    Json stem_json = Json::array();
    for (const auto& name : SplitList(o.stem_bases)) {
      StemResult s = BenchStem(o, name, ParseIntList(o.apps, "--apps"));
      std::printf(
          "\nShared stem on %s: stem = stages [0, %d), each app owns a copy of the last %d.\n"
          "ms per frame (p50) vs the cost model (ScheduleCost on per-stage latencies taken as "
          "msprofile takes them, in the same loop):\n"
          "  shared: the stem runs once and hands its output (oneDNN layout) to every app;\n"
          "  unshared: every app runs the whole model; dense: shared, handing over dense "
          "tensors;\n  1 copy: shared, every app using the same branch weights (cache effects)\n",
          s.base.c_str(), s.branchpoint, s.k);
      std::printf("%5s %9s %9s %7s   %9s %9s %7s %8s   %9s %9s\n", "apps", "shared", "model",
                  "error", "unshared", "model", "error", "sharing", "dense", "1 copy");
      Json rows = Json::array();
      for (const auto& r : s.rows) {
        std::printf("%5d %9.2f %9.2f %6.1f%%   %9.2f %9.2f %6.1f%% %7.1fx   %9.2f %9.2f\n", r.apps,
                    r.shared_ms, r.shared_model_ms, Err(r.shared_ms, r.shared_model_ms),
                    r.unshared_ms, r.unshared_model_ms, Err(r.unshared_ms, r.unshared_model_ms),
                    r.unshared_ms / r.shared_ms, r.shared_dense_ms, r.shared_one_copy_ms);
        rows.push_back(Json{{"apps", r.apps},
                            {"shared_ms", r.shared_ms},
                            {"shared_model_ms", r.shared_model_ms},
                            {"shared_error_pct", Err(r.shared_ms, r.shared_model_ms)},
                            {"unshared_ms", r.unshared_ms},
                            {"unshared_model_ms", r.unshared_model_ms},
                            {"unshared_error_pct", Err(r.unshared_ms, r.unshared_model_ms)},
                            {"sharing_speedup", r.unshared_ms / r.shared_ms},
                            {"shared_dense_handoff_ms", r.shared_dense_ms},
                            {"shared_one_branch_copy_ms", r.shared_one_copy_ms}});
      }
      stem_json.push_back(Json{{"base", s.base},
                               {"branchpoint", s.branchpoint},
                               {"own_stages", s.k},
                               {"stage_ms", s.stage_ms},
                               {"rows", rows}});
    }
    out["shared_stem"] = stem_json;
    Json after = DescribeMachine();
    std::printf("\nload average at the end: %.2f\n",
                after.value("load_average", Json::array({0.0}))[0].get<double>());
    if (!o.json.empty()) WriteJsonFileAtomic(o.json, out);
    return 0;
  });
}
