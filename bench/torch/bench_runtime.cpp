// bench_runtime: the runtime (msrun's library half) on the default base,
// measured end to end on a video, printed as ratios in one run
// (docs/runtime.md, "Benchmarks"):
//
//   1. Throughput of the merged tree vs No-Sharing: N = 1, 5, 10, 30 apps at
//      the stream's full rate, all sharing the first n-3 stages, all sharing
//      all but the head (Max-Sharing), or each running its whole model.
//   2. Measured compute per second of video vs the schedule's predicted cost:
//      profile the base with the model module's profiler (RunProfile, what
//      msprofile does), schedule mixed workloads with msschedule's planner at
//      several budgets, run them, compare (goal: DNN cost within 10%).
//   3. Runtime overhead: the runtime's frames/s with every app at full sharing
//      vs a bare loop of decode + preprocess + the same segments (goal >= 95%).
//   4. Branch workers: frames/s of 10 and 30 apps (specialized from stage 0
//      and sharing [0, n-3)) with --threads 1 vs 2 (stems on the loop
//      thread, branches over the workers, the loop thread among them and
//      running the next frame's stems meanwhile), beside 2 without decoding
//      ahead, 2 with --no-overlap and 2 with --no-stem-split, alternating
//      rounds; goal >= 1.7x.
//   5. Cost at 1, 5, 10, 30, 100 apps (mixed branchpoints, whole models from
//      stage 0 included, mixed rates): measured / predicted total cost with
//      the cache-blind model (hot stage timings only) and the cache model
//      (cold timings + the probe), side by side, and with msprofile
//      --calibrate of each fitted on the other counts' runs (held out); goal
//      within 10%.
//   6. --realtime at 90% of one core: the most of part 5's apps that the
//      cache-blind profile, the cache model and the calibrated profile each
//      say fit 900 ms/s, run in real time over the input, the calibrated one
//      also with --max-lag 1000; frames dropped (goal < 1%).
//
//   7. Memory at 1, 5, 10, 30 apps (every app's whole model, and mixed
//      branchpoints): msrun run as its own process so that its peak resident
//      memory is its own; measured model memory (peak RSS less the RSS
//      before the models were loaded) / the schedule's predicted memory
//      (docs/model.md, "Memory model"; goal within 10%).
//
//   8. Live deployment: --realtime with 5 changes (apps arriving and leaving,
//      a budget change, X options), re-planned and loaded in the background:
//      plan/load time and swap pause per change, frames dropped vs the final
//      deployment from the start (goal: no drop at a swap, pause < one frame
//      interval); re-planning 10/30/100 apps with greedy (goal: 30 < 50 ms).
//
//  10. Several cameras: 4 cameras x 5 apps from one deployment on 2 threads,
//      the branches on one pool shared by the cameras vs each camera's own
//      worker: node frames/s offline and frames dropped in --realtime.
//
//   bench_runtime --threads 1                       # ~9 min on 2 cores (parts 1-6)
//   9. Soak: msrun --deployment --realtime on the input served as an endless
//      live stream by ffmpeg for --soak-minutes (30), the apps changing every
//      2 minutes: resident memory from minute 5 on, and its drift between
//      phases of the same deployment (goal: within 5%).
//
//   bench_runtime --parts 8                         # ~2.5 min (live deployment)
//   bench_runtime --parts 9                         # 30 min (soak)
//   bench_runtime --apps 1,5 --frames 60            # a quick look
//   bench_runtime --parts 5 --base bases/mobilenet_v2 --cost-apps 1,5,10,30
#include <fmt/ranges.h>
#include <signal.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "mainstream/core/atomic_file.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/default_base.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/profiler.h"
#include "mainstream/model/segment.h"
#include "mainstream/model/suffix.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/runtime/executor.h"
#include "mainstream/runtime/node_run.h"
#include "mainstream/runtime/runtime.h"
#include "mainstream/schedule/calibrate.h"
#include "mainstream/schedule/deployment_spec.h"
#include "mainstream/schedule/event_model.h"
#include "mainstream/schedule/memory_model.h"
#include "mainstream/schedule/profile_costs.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"

namespace fs = std::filesystem;
using namespace mainstream;

namespace {

constexpr const char* kVtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";

struct Options {
  fs::path work;
  std::string input;  // default: vtest.avi if installed, else a synthetic 640x480 clip
  std::string base;   // default: the embedded default base (msnet-s)
  std::string apps = "1,5,10,30";
  std::string budget_fractions = "0.05,0.15,0.4";
  std::string parts = "1,2,3,4,5,6";
  std::string cost_apps = "1,5,10,30,100";
  std::string memory_apps = "1,5,10,30";
  int realtime_frames = 0;   // part 6: frames per --realtime run (0: the whole input)
  int soak_minutes = 30;     // part 9
  double max_lag_ms = 1000;  // part 6: the --max-lag of its third run
  int frames = 150;
  int threads = 1;
  int overhead_apps = 10;
  int rounds = 3;
  bool keep = false;
  std::string json;
};

double LoadAverage() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

fs::path SyntheticClip(const fs::path& file, int frames) {
  cv::VideoWriter w(file.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10,
                    cv::Size(640, 480));
  MS_CHECK_RT(w.isOpened(), "cannot write {}", file.string());
  cv::Mat bg(480, 640, CV_8UC3);
  cv::RNG rng(3);
  rng.fill(bg, cv::RNG::UNIFORM, 0, 255);
  cv::GaussianBlur(bg, bg, cv::Size(0, 0), 3);
  for (int i = 0; i < frames; ++i) {
    cv::Mat f = bg.clone();
    cv::rectangle(f, cv::Rect((i * 9) % 560, (i * 5) % 400, 80, 80), cv::Scalar(40, 200, 240),
                  cv::FILLED);
    w.write(f);
  }
  return file;
}

// One package per app, candidates at `bps`, weights from work/weights
// (hard-linked into the package: weights paths must stay inside it).
// Specializing more raises TPR and lowers FPR; apps differ in their events.
void WritePackage(const fs::path& dir, const std::string& app, const BaseModel& base,
                  const std::vector<int>& bps, double stream_fps, int index) {
  fs::create_directories(dir);
  MPackage p;
  p.app = app;
  p.base = base.ref();
  p.stream_fps = stream_fps;
  p.events.mean_length = 8 + 6 * (index % 5);
  p.events.min_length = p.events.mean_length / 2;
  p.events.frequency = 0.1 + 0.04 * (index % 4);
  p.events.correlation = 0.3;
  p.head = Json{{"kind", "suffix-v1"}, {"num_outputs", 2}, {"score", "softmax1"}};
  const int n = base.num_stages();
  for (int b : bps) {
    Candidate c;
    c.branchpoint = b;
    const double shared = static_cast<double>(b) / (n - 1);
    c.tpr = 0.95 - 0.1 * shared * shared - 0.01 * (index % 3);
    c.fpr = 0.02 + 0.03 * shared;
    c.accuracy = 1 - (c.fpr + 1 - c.tpr) / 2;
    c.threshold = 0.5;
    const std::string file = "bp" + std::to_string(b) + ".pt";
    c.weights = "weights/" + file;
    fs::create_directories(dir / "weights");
    const fs::path from = dir.parent_path().parent_path() / "weights" / file, to = dir / c.weights;
    if (!fs::exists(to)) {
      std::error_code ec;
      fs::create_hard_link(from, to, ec);
      if (ec) fs::copy_file(from, to);
    }
    p.candidates.push_back(c);
  }
  WriteMPackageManifest(p, dir);
}

// A deployment file's text for packages[first, first + count) (msrun
// --deployment), written by DeploymentSpec's own writer.
std::string DeploymentText(const fs::path& profile, const std::vector<fs::path>& packages,
                           int first, int count, double budget, std::vector<int> x_options) {
  DeploymentSpec spec;
  spec.profile = profile;
  spec.budget = fmt::format("{}", budget);
  spec.x_options = std::move(x_options);
  spec.packages.assign(packages.begin() + first, packages.begin() + first + count);
  return spec.ToJson().dump();
}

// A schedule by hand: app i at branchpoint requests[i].branchpoint and rate
// requests[i].fps.
fs::path HandSchedule(const fs::path& file, const Profile& profile,
                      const std::vector<fs::path>& packages,
                      const std::vector<AppRequest>& requests, double stream_fps,
                      const std::string& algorithm) {
  ScheduleDoc d;
  d.budget = 1e9;
  d.algorithm = algorithm;
  d.stream_fps = stream_fps;
  d.base = profile.base;
  d.profile = "profile.json";
  // What msschedule would predict (decoding after the DNN, the cache
  // model), and the reference msrun's speed probe compares with.
  d.costs = ProfileCosts(profile, stream_fps);
  d.speed_reference_ms = profile.speed_reference_ms;
  for (const auto& s : profile.stages) d.stage_names.push_back(s.name);
  for (size_t i = 0; i < packages.size(); ++i) {
    const fs::path& pk = packages[i];
    const int bp = requests.at(i).branchpoint;
    MPackage p = ReadMPackage(pk);
    ScheduledApp a;
    a.app = p.app;
    a.package = pk;
    for (size_t c = 0; c < p.candidates.size(); ++c) {
      if (p.candidates[c].branchpoint == bp) a.candidate = static_cast<int>(c);
    }
    const Candidate& c = p.candidates.at(static_cast<size_t>(a.candidate));
    MS_CHECK_RT(c.branchpoint == bp, "{} has no candidate at branchpoint {}", pk.string(), bp);
    a.branchpoint = bp;
    a.fps = requests[i].fps;
    a.tpr = c.tpr;
    a.fpr = c.fpr;
    a.threshold = c.threshold;
    a.weights = c.weights;
    a.predicted = PredictCandidate(c, p.events, nullptr, stream_fps / a.fps, 1);
    d.apps.push_back(a);
  }
  d.tree = BuildMergedTree(d.costs, d.Requests());
  d.total_cost = d.tree.total_cost();
  d.memory = ProfileMemory(profile);
  d.predicted_memory = ScheduleMemory(d.memory, d.Requests());
  WriteSchedule(d, file);
  return file;
}

// Every app at branchpoint `bp` and rate `fps`.
fs::path UniformSchedule(const fs::path& file, const Profile& profile,
                         const std::vector<fs::path>& packages, int bp, double fps) {
  return HandSchedule(file, profile, packages,
                      std::vector<AppRequest>(packages.size(), AppRequest{bp, fps}), fps,
                      bp == 0 ? "nosharing" : "maxsharing");
}

// Part 5's runs node by node: measured / predicted cost of the root stems,
// the child stems and the branches by the stage they start at (a branch of
// the last stage alone is a head), summed over each run's nodes, to show
// where a total's error sits.
void PrintNodeKinds(const std::vector<fs::path>& summaries, const std::vector<int>& apps) {
  std::vector<std::string> kinds;
  std::vector<std::vector<std::pair<double, double>>> sums(summaries.size());
  std::vector<double> probe(summaries.size(), 0), total(summaries.size(), 0);
  for (size_t i = 0; i < summaries.size(); ++i) {
    const Json s = ReadJsonFile(summaries[i]);
    total[i] = s.at("cost").at("measured").at("total").get<double>() /
               s.at("cost").at("predicted").at("total").get<double>();
    const Json::json_pointer factor("/machine/speed_probe/factor");
    if (s.contains(factor) && s[factor].is_number()) probe[i] = s[factor].get<double>();
    for (const Json& n : s.at("nodes")) {
      const int b = n.at("stages")[0].get<int>();
      const int e = n.at("stages")[1].get<int>();
      std::string kind;
      if (n.at("kind").get<std::string>() == "stem") {
        kind = n.at("parent").is_null() ? "root stem" : "child stem";
      } else {
        kind = b == e ? "micro" : fmt::format("branch {}-{}", b, e);
      }
      auto it = std::find(kinds.begin(), kinds.end(), kind);
      const size_t k = static_cast<size_t>(it - kinds.begin());
      if (it == kinds.end()) kinds.push_back(kind);
      for (auto& row : sums) row.resize(kinds.size());
      sums[i][k].first += n.at("measured_cost").get<double>();
      sums[i][k].second += n.at("predicted_cost").get<double>();
    }
  }
  std::printf(
      "as measured (no speed correction), measured / the schedule's predicted cost: the total, "
      "and by node kind (predicted ms/s); probe = msrun's speed probe (docs/runtime.md):\n%5s "
      "%6s %6s",
      "apps", "total", "probe");
  for (const std::string& k : kinds) std::printf(" %17s", k.c_str());
  std::printf("\n");
  for (size_t i = 0; i < summaries.size(); ++i) {
    std::printf("%5d %6.3f %6.3f", apps[i], total[i], probe[i]);
    for (const auto& [m, p] : sums[i]) {
      if (p > 0) {
        std::printf(" %8.3f (%6.1f)", m / p, p);
      } else {
        std::printf(" %17s", "-");
      }
    }
    std::printf("\n");
  }
}

struct Run {
  double fps = 0;  // frames decoded per wall second
  Json summary;
};

Run RunSchedule(const Options& o, const fs::path& schedule, const fs::path& base,
                const std::string& input, const fs::path& out, int threads = 0,
                bool realtime = false, int64_t end_frame = -1, double max_lag_ms = 0,
                bool prefetch = true, bool overlap = true, bool stem_split = true) {
  RunConfig c;
  c.prefetch = prefetch;
  c.overlap = overlap;
  c.stem_split = stem_split;
  c.realtime = realtime;
  c.max_lag_ms = max_lag_ms;
  c.schedule = schedule;
  c.base_dir = base;
  c.input = input;
  c.out_dir = out;
  c.threads = threads > 0 ? threads : o.threads;
  c.end_frame = end_frame >= 0 ? end_frame : o.frames;
  c.progress_interval_s = 0;
  c.bootstrap_resamples = 0;
  Runtime rt = Runtime::Prepare(c);
  RunResult r = rt.Run();
  return Run{r.summary["frames_per_second"].get<double>(), r.summary};
}

// Decode + preprocess + the same segments, nothing else: the stem once per
// frame (kept in oneDNN's layout) and every app's suffix on it.
double BareLoop(const Options& o, const BaseModel& base, int bp,
                const std::vector<fs::path>& weights, const std::string& input) {
  const int n = base.num_stages();
  Segment stem = Segment::Build(base, 0, bp);
  at::Tensor probe = base.RunStages(base.DummyInput(2, 11), 0, bp);
  std::vector<Segment> apps;
  for (const fs::path& w : weights)
    apps.push_back(Segment::FromModule(LoadModule(w), probe, {}, w.string()));
  (void)n;
  const PreprocessConfig pre = PreprocessConfigFor(base.info());
  std::vector<float> buf(pre.floats_per_frame());
  VideoSourceOptions vo;
  vo.end_frame = o.frames;
  VideoSource src(input, vo);
  Frame f;
  double sink = 0;
  const double t0 = NowSeconds();
  int64_t frames = 0;
  torch::NoGradGuard ng;
  while (src.Read(&f)) {
    Preprocess(f.image, pre, buf.data());
    at::Tensor x = torch::from_blob(buf.data(), {1, 3, pre.height, pre.width});
    at::Tensor h = stem.ForwardKeepLayout(x);
    for (const Segment& s : apps) sink += torch::softmax(s.Forward(h), 1)[0][1].item<double>();
    ++frames;
  }
  const double fps = static_cast<double>(frames) / (NowSeconds() - t0);
  if (sink < -1) std::printf("%g", sink);  // keep the scores alive
  return fps;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bench_runtime: merged tree vs No-Sharing, measured vs predicted cost, runtime overhead"};
  cli::CommonFlags common;
  common.threads = 1;
  cli::AddCommonFlags(app, common);
  Options o;
  app.add_option("--base", o.base,
                 "Base directory to run (default: the embedded msnet-s), e.g. one written by "
                 "scripts/export_base.py --arch mobilenet_v2");
  app.add_option("--input", o.input,
                 "Video (default: vtest.avi from opencv-doc, else a synthetic clip)");
  app.add_option("--apps", o.apps, "Numbers of apps for the throughput comparison")
      ->capture_default_str();
  app.add_option("--frames", o.frames, "Frames per run")->capture_default_str();
  app.add_option("--budgets", o.budget_fractions,
                 "Budgets for the cost check, as fractions of the No-Sharing full-rate cost")
      ->capture_default_str();
  app.add_option("--overhead-apps", o.overhead_apps, "Apps in the overhead comparison")
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "Alternating rounds per comparison (best of each side)")
      ->capture_default_str();
  app.add_option("--cost-apps", o.cost_apps,
                 "Numbers of apps for part 5 (cost, profile vs calibrated)")
      ->capture_default_str();
  app.add_option("--realtime-frames", o.realtime_frames,
                 "Part 6: frames per --realtime run (0: the whole input)")
      ->capture_default_str();
  app.add_option("--max-lag", o.max_lag_ms, "Part 6: --max-lag (ms) of its third run")
      ->capture_default_str();
  app.add_option("--parts", o.parts,
                 "Which measurements: 1 throughput, 2 cost, 3 overhead, 4 branch workers, 5 cost "
                 "at 1-100 apps "
                 "with the profile vs calibrated, 6 --realtime drops at 90% of one core (needs 5), "
                 "7 memory at 1-30 apps (msrun as a process), 8 live deployment, 9 soak, 10 four "
                 "cameras from one deployment (shared pool vs own workers)")
      ->capture_default_str();
  app.add_option("--memory-apps", o.memory_apps, "Numbers of apps for part 7 (memory)")
      ->capture_default_str();
  app.add_option("--soak-minutes", o.soak_minutes, "Part 9: minutes of the soak run")
      ->capture_default_str();
  app.add_option("--json", o.json, "Also write the results as JSON");
  app.add_flag("--keep", o.keep, "Keep the work directory");
  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("bench_runtime", [&]() -> int {
    cli::ApplyCommonFlags(common);
    o.threads = common.ResolvedThreads();
    SetTorchThreads(o.threads);
    SetVideoThreads(o.threads);
    o.work = StagingPath(fs::temp_directory_path() / "bench_runtime");
    fs::create_directories(o.work);
    const double load_before = LoadAverage();
    Json results;

    // Base, input, profile, weights at a few branchpoints.
    const fs::path base_dir = o.base.empty() ? o.work / "base" : fs::path(o.base);
    if (o.base.empty()) CreateDefaultBase(base_dir);
    BaseModel base = BaseModel::Load(base_dir);
    const int n = base.num_stages();
    if (o.input.empty()) {
      o.input = fs::exists(kVtest) ? std::string(kVtest)
                                   : SyntheticClip(o.work / "clip.avi", o.frames + 10).string();
    }
    double stream_fps = 0;
    {
      VideoSource probe(o.input);
      stream_fps = probe.fps();
      LogInfo("input {}", probe.Describe());
    }
    ProfileConfig pc;
    pc.base_dir = base_dir;
    pc.threads = o.threads;
    pc.input_video = o.input;
    pc.decode_frames = 60;
    pc.plain_reference = false;
    Profile profile = RunProfile(pc).profile;
    WriteProfile(profile, o.work / "profile.json");
    const std::vector<int> bps = {0, 3, n - 3, n - 1};
    fs::create_directories(o.work / "weights");
    for (int b : bps) {
      SuffixOptions so;
      so.seed = static_cast<uint64_t>(b) + 1;
      SaveModule(BuildSuffix(base, b, so), o.work / "weights" / ("bp" + std::to_string(b) + ".pt"));
    }
    std::vector<int> counts = ParseIntList(o.apps, "--apps");
    const std::vector<int> cost_counts = ParseIntList(o.cost_apps, "--cost-apps");
    int max_apps = std::max({o.overhead_apps, *std::max_element(counts.begin(), counts.end()),
                             *std::max_element(cost_counts.begin(), cost_counts.end())});
    const std::vector<int> memory_counts = ParseIntList(o.memory_apps, "--memory-apps");
    max_apps = std::max(max_apps, *std::max_element(memory_counts.begin(), memory_counts.end()));
    const std::vector<int> parts = ParseIntList(o.parts, "--parts");
    auto part = [&](int k) { return std::find(parts.begin(), parts.end(), k) != parts.end(); };
    if (part(6)) max_apps = std::max(max_apps, 400);  // apps are added until 900 ms/s (~6 each)
    if (part(8)) max_apps = std::max(max_apps, 100);  // re-planning 100 apps
    if (part(10)) max_apps = std::max(max_apps, 20);  // 4 cameras x 5 apps
    std::vector<fs::path> packages;
    for (int i = 0; i < max_apps; ++i) {
      packages.push_back(o.work / "pk" / fmt::format("app{:02d}", i));
      WritePackage(packages.back(), fmt::format("app{:02d}", i), base, bps, stream_fps, i);
    }

    std::printf(
        "bench_runtime: base %s (%d stages, %dx%d), input %s, %d frames per run, %d thread(s), "
        "load "
        "average %.1f on %u CPUs\n",
        base.info().name.c_str(), n, base.info().input.width, base.info().input.height,
        o.input.c_str(), o.frames, o.threads, load_before, std::thread::hardware_concurrency());
    std::printf("profile: stages p50 (ms)");
    for (double t : profile.StageLatencies()) std::printf(" %.3f", t);
    std::printf(", decode %.3f ms, preprocess %.3f ms\n", profile.decode_ms, profile.preprocess_ms);
    if (profile.HasCache()) {
      std::printf("cold (ms @ MiB streamed between runs):");
      for (const StageTiming& st : profile.stages)
        std::printf(" %.3f@%.0f", st.cold_p50_ms, st.cold_reuse_bytes / (1 << 20));
      std::printf("; probe ns/line:");
      for (size_t i = 0; i < profile.cache.bytes.size(); ++i)
        std::printf(" %.0fM %.2f", profile.cache.bytes[i] / (1 << 20),
                    profile.cache.ns_per_line[i]);
    }
    std::printf("\n\n");

    // 1. Throughput: merged tree vs No-Sharing.
    if (part(1)) {
      std::printf("1. throughput, all apps at %g fps (frames/s, decode included)\n", stream_fps);
      std::printf("%5s %12s %14s %14s %10s %10s\n", "apps", "no-sharing",
                  fmt::format("share [0,{})", n - 3).c_str(),
                  fmt::format("share [0,{})", n - 1).c_str(), "speedup", "speedup");
      Json part1 = Json::array();
      for (int count : counts) {
        std::vector<fs::path> pk(packages.begin(), packages.begin() + count);
        double best[3] = {0, 0, 0};
        const int cfg_bp[3] = {0, n - 3, n - 1};
        for (int round = 0; round < std::max(1, o.rounds - 1); ++round) {
          for (int c = 0; c < 3; ++c) {
            fs::path s = UniformSchedule(o.work / fmt::format("s1_{}_{}.json", count, c), profile,
                                         pk, cfg_bp[c], stream_fps);
            best[c] = std::max(best[c], RunSchedule(o, s, base_dir, o.input, o.work / "out1").fps);
          }
        }
        std::printf("%5d %12.1f %14.1f %14.1f %9.2fx %9.2fx\n", count, best[0], best[1], best[2],
                    best[1] / best[0], best[2] / best[0]);
        std::fflush(stdout);
        part1.push_back(Json{{"apps", count},
                             {"nosharing_fps", best[0]},
                             {"share5_fps", best[1]},
                             {"share7_fps", best[2]},
                             {"speedup5", best[1] / best[0]},
                             {"speedup7", best[2] / best[0]}});
      }
      results["throughput"] = part1;
    }

    // 2. Measured vs predicted cost on mixed schedules from the planner.
    if (part(2)) {
      const int sched_apps = std::min<int>(8, max_apps);
      std::vector<fs::path> pk2(packages.begin(), packages.begin() + sched_apps);
      const double full =
          ScheduleCost(StageCosts(profile.StageLatencies(), profile.preprocess_ms,
                                  profile.decode_ms, stream_fps),
                       std::vector<AppRequest>(static_cast<size_t>(sched_apps), {0, stream_fps}));
      std::printf(
          "\n2. measured vs predicted compute (ms per second of video), %d apps, greedy "
          "schedules\n",
          sched_apps);
      std::printf("%8s %5s %-24s %8s %8s %6s %8s %6s %8s %8s %8s %8s\n", "budget", "nodes",
                  "bp@fps per app", "DNN pred", "DNN wall", "ratio", "DNN cpu", "ratio", "dec pred",
                  "dec meas", "tot pred", "tot meas");
      Json part2 = Json::array();
      for (double frac : ParseDoubleList(o.budget_fractions, "--budgets")) {
        ScheduleConfig sc;
        sc.packages = pk2;
        sc.profile = o.work / "profile.json";
        sc.budget = frac * full;
        sc.algorithm = "greedy";
        sc.x_options = {1, 2, 3};
        ScheduleDoc doc = PlanSchedule(sc);
        const fs::path file = o.work / fmt::format("s2_{:.2f}.json", frac);
        WriteSchedule(doc, file);
        Json s = RunSchedule(o, file, base_dir, o.input, o.work / "out2").summary;
        const Json& pred = s["cost"]["predicted"];
        const Json& meas = s["cost"]["measured"];
        std::string bpl;
        for (const auto& a : doc.apps)
          bpl += fmt::format("{}{}@{:g}", bpl.empty() ? "" : ",", a.branchpoint, a.fps);
        if (bpl.size() > 24) bpl = bpl.substr(0, 21) + "...";
        const Json& cpu = s["cost"]["measured_cpu"];
        const double dnn_ratio = meas["dnn"].get<double>() / pred["dnn"].get<double>();
        const double cpu_ratio = cpu["dnn"].get<double>() / pred["dnn"].get<double>();
        std::printf("%8.1f %5zu %-24s %8.1f %8.1f %6.2f %8.1f %6.2f %8.1f %8.1f %8.1f %8.1f\n",
                    sc.budget, doc.tree.nodes.size(), bpl.c_str(), pred["dnn"].get<double>(),
                    meas["dnn"].get<double>(), dnn_ratio, cpu["dnn"].get<double>(), cpu_ratio,
                    pred["decode"].get<double>(), meas["decode_preprocess"].get<double>(),
                    pred["total"].get<double>(), meas["total"].get<double>());
        std::fflush(stdout);
        part2.push_back(Json{{"budget", sc.budget},
                             {"schedule", doc.ToJson(o.work)},
                             {"cost", s["cost"]},
                             {"dnn_ratio", dnn_ratio},
                             {"dnn_cpu_ratio", cpu_ratio},
                             {"within_10_percent", std::fabs(dnn_ratio - 1) <= 0.1}});
      }
      results["cost"] = part2;
    }

    // 3. Overhead: runtime vs a bare loop over the same segments.
    if (part(3)) {
      std::vector<fs::path> pk3(packages.begin(), packages.begin() + o.overhead_apps);
      const fs::path s3 = UniformSchedule(o.work / "s3.json", profile, pk3, n - 1, stream_fps);
      std::vector<fs::path> w3(static_cast<size_t>(o.overhead_apps),
                               o.work / "weights" / ("bp" + std::to_string(n - 1) + ".pt"));
      double best_rt = 0, best_bare = 0;
      for (int round = 0; round < o.rounds; ++round) {
        best_rt = std::max(best_rt, RunSchedule(o, s3, base_dir, o.input, o.work / "out3").fps);
        best_bare = std::max(best_bare, BareLoop(o, base, n - 1, w3, o.input));
      }
      std::printf(
          "\n3. overhead, %d apps sharing stages [0, %d) at %g fps: runtime %.1f frames/s, bare "
          "loop %.1f "
          "frames/s: %.1f%% (goal >= 95%%)\n",
          o.overhead_apps, n - 1, stream_fps, best_rt, best_bare, 100 * best_rt / best_bare);
      results["overhead"] = Json{{"apps", o.overhead_apps},
                                 {"runtime_fps", best_rt},
                                 {"bare_fps", best_bare},
                                 {"ratio", best_rt / best_bare}};
    }
    const double load_after = LoadAverage();
    std::printf(
        "load average before %.1f, after %.1f (2 cores shared with other jobs: timings are "
        "noisy)\n",
        load_before, load_after);
    // 4. Branch workers: the same schedules on 1 and 2 threads.
    if (part(4)) {
      std::printf(
          "\n4. branch workers, all apps at %g fps (frames/s; best of %d alternating rounds)\n",
          stream_fps, std::max(1, o.rounds - 1));
      std::printf("%5s %10s %12s %12s %8s %8s %16s %8s %16s %8s %16s %8s\n", "apps", "branchpoint",
                  "1 thread", "2 threads", "ratio", "paired", "2, no prefetch", "ratio",
                  "2, no overlap", "ratio", "2, no stem split", "ratio");
      Json part4 = Json::array();
      for (int count : {10, 30}) {
        if (count > static_cast<int>(packages.size())) continue;
        std::vector<fs::path> pk(packages.begin(), packages.begin() + count);
        for (int bp : {0, n - 3, n - 1}) {
          fs::path s = UniformSchedule(o.work / fmt::format("s4_{}_{}.json", count, bp), profile,
                                       pk, bp, stream_fps);
          // 1 thread; 2 threads decoding ahead (the default); 2 threads
          // decoding on the loop thread; 2 workers while the loop thread
          // waits (--no-overlap, the earlier design); 2 threads with the
          // stems all on the loop thread (--no-stem-split): alternating,
          // best of the rounds. "paired": the median over rounds of 2
          // threads / 1 thread within a round (runs seconds apart), less
          // moved by a machine whose speed drifts between rounds.
          double best[5] = {0, 0, 0, 0, 0};
          std::vector<double> paired;
          for (int round = 0; round < std::max(1, o.rounds - 1); ++round) {
            double fps[5] = {0, 0, 0, 0, 0};
            for (int t = 0; t < 5; ++t) {
              fps[t] = RunSchedule(o, s, base_dir, o.input, o.work / "out4", t == 0 ? 1 : 2, false,
                                   -1, 0, t != 2, t != 3, t != 4)
                           .fps;
              best[t] = std::max(best[t], fps[t]);
            }
            paired.push_back(fps[1] / fps[0]);
          }
          std::sort(paired.begin(), paired.end());
          const size_t h = paired.size() / 2;
          const double median = paired.size() % 2 ? paired[h] : (paired[h - 1] + paired[h]) / 2;
          std::printf(
              "%5d %10d %12.1f %12.1f %7.2fx %7.2fx %16.1f %7.2fx %16.1f %7.2fx %16.1f %7.2fx\n",
              count, bp, best[0], best[1], best[1] / best[0], median, best[2], best[2] / best[0],
              best[3], best[3] / best[0], best[4], best[4] / best[0]);
          std::fflush(stdout);
          part4.push_back(Json{{"apps", count},
                               {"branchpoint", bp},
                               {"fps_1_thread", best[0]},
                               {"fps_2_threads", best[1]},
                               {"ratio", best[1] / best[0]},
                               {"ratio_paired_median", median},
                               {"fps_2_threads_no_prefetch", best[2]},
                               {"ratio_no_prefetch", best[2] / best[0]},
                               {"fps_2_threads_no_overlap", best[3]},
                               {"ratio_no_overlap", best[3] / best[0]},
                               {"fps_2_threads_no_stem_split", best[4]},
                               {"ratio_no_stem_split", best[4] / best[0]}});
        }
      }
      results["branch_workers"] = part4;
    }

    std::optional<Profile> calibrated;
    // 5. Cost at 1-100 apps: the hot profile vs a calibrated one, each count
    //    predicted by the factors fitted on the other counts' runs.
    if (part(5)) {
      std::printf(
          "\n5. measured / predicted total cost (ms per second of video), mixed branchpoints %s "
          "and "
          "rates; calibrated = msprofile --calibrate on the other rows' runs\n",
          fmt::format("{}", fmt::join(bps, ",")).c_str());
      std::vector<fs::path> summaries;
      std::vector<int> used;
      for (int count : cost_counts) {
        if (count > static_cast<int>(packages.size())) continue;
        std::vector<fs::path> pk(packages.begin(), packages.begin() + count);
        std::vector<AppRequest> req;
        for (int i = 0; i < count; ++i) {
          req.push_back(
              AppRequest{bps[static_cast<size_t>(i) % bps.size()], stream_fps / (1 + i % 3)});
        }
        const fs::path s = HandSchedule(o.work / fmt::format("s5_{}.json", count), profile, pk, req,
                                        stream_fps, "mixed");
        const fs::path summary =
            o.work / "out5" / fmt::format("apps{:03d}", count) / "summary.json";
        fs::create_directories(summary.parent_path());
        WriteJsonFileAtomic(summary,
                            RunSchedule(o, s, base_dir, o.input, o.work / "out5run").summary);
        summaries.push_back(summary);
        used.push_back(count);
      }
      Json part5 = Json::array();
      if (!summaries.empty()) {
        // The same runs predicted by the cache-blind model (the profile
        // without its cold timings) and by the cache model, side by side.
        Profile blind = profile;
        for (StageTiming& st : blind.stages) st.cold_p50_ms = 0;
        blind.cache = CacheProbe{};
        const CalibrationResult cal_blind = Calibrate(blind, summaries);
        const CalibrationResult cal = Calibrate(profile, summaries);
        calibrated = cal.profile;
        std::printf("%5s %6s %10s %10s %10s %8s %8s %12s %12s\n", "apps", "nodes", "measured",
                    "pred blind", "pred cache", "blind", "cache", "calib blind", "calib cache");
        for (size_t i = 0; i < summaries.size(); ++i) {
          const CalibrationRun& r = cal.runs[i];
          const CalibrationRun& rb = cal_blind.runs[i];
          auto held = [&](const CalibrationResult& c) {
            return c.ratio_held_out.empty() ? std::string("-")
                                            : fmt::format("{:.3f}", c.ratio_held_out[i]);
          };
          std::printf("%5d %6d %10.1f %10.1f %10.1f %8.3f %8.3f %12s %12s\n", used[i],
                      r.stem_nodes + r.branch_nodes, r.MeasuredTotal(), rb.PredictedTotal(),
                      r.PredictedTotal(), cal_blind.ratio_before[i], cal.ratio_before[i],
                      held(cal_blind).c_str(), held(cal).c_str());
          part5.push_back(
              Json{{"apps", used[i]},
                   {"measured", r.MeasuredTotal()},
                   {"predicted_blind", rb.PredictedTotal()},
                   {"predicted_cache", r.PredictedTotal()},
                   {"ratio_blind", cal_blind.ratio_before[i]},
                   {"ratio_cache", cal.ratio_before[i]},
                   {"ratio_calibrated_blind_held_out", cal_blind.ratio_held_out.empty()
                                                           ? Json(nullptr)
                                                           : Json(cal_blind.ratio_held_out[i])},
                   {"ratio_calibrated_cache_held_out",
                    cal.ratio_held_out.empty() ? Json(nullptr) : Json(cal.ratio_held_out[i])}});
        }
        std::printf(
            "factors (all rows), blind: stem %.3f, branch %.3f, decode %.3f, preprocess %.3f; "
            "cache: stem %.3f, branch %.3f\n",
            cal_blind.factors.stem, cal_blind.factors.branch, cal_blind.factors.decode,
            cal_blind.factors.preprocess, cal.factors.stem, cal.factors.branch);
        for (const std::string& w : cal.warnings) std::printf("warning: %s\n", w.c_str());
        PrintNodeKinds(summaries, used);
      }
      results["cost_scaling"] = part5;
    }

    // 6. --realtime at 90% of one core: the most apps (part 5's mix) whose
    //    predicted cost fits 900 ms/s, by the hot profile and by the
    //    calibrated one; frames dropped over the input.
    if (part(6) && !calibrated)
      std::printf("\n6. skipped: it needs part 5's calibration (--parts 5,6)\n");
    if (part(6) && calibrated) {
      std::printf(
          "\n6. --realtime, schedule at <= 90%% of one core (900 ms/s predicted), part 5's mix of "
          "apps\n");
      std::printf("%-11s %8s %5s %10s %10s %9s %9s %8s\n", "profile", "max lag", "apps",
                  "predicted", "measured", "decoded", "dropped", "dropped%");
      Json part6 = Json::array();
      // The cache-blind profile (hot timings), the cache model (what
      // msschedule uses), calibrated, calibrated with --max-lag.
      Profile blind = profile;
      for (StageTiming& st : blind.stages) st.cold_p50_ms = 0;
      blind.cache = CacheProbe{};
      const char* names[4] = {"hot, blind", "cache", "calibrated", "calibrated"};
      for (int which = 0; which < 4; ++which) {
        const Profile& prof = which == 0 ? blind : which == 1 ? profile : *calibrated;
        const double lag_ms = which == 3 ? o.max_lag_ms : 0;
        const std::string lag = lag_ms > 0 ? fmt::format("{:g} ms", lag_ms) : "1 frame";
        const StageCosts costs = ProfileCosts(prof, stream_fps);
        std::vector<AppRequest> req;
        for (int i = 0; i < static_cast<int>(packages.size()); ++i) {
          req.push_back(
              AppRequest{bps[static_cast<size_t>(i) % bps.size()], stream_fps / (1 + i % 3)});
          if (ScheduleCost(costs, req) > 900) {
            req.pop_back();
            break;
          }
        }
        if (req.size() == packages.size()) {
          std::printf("%-11s: %zu apps fit; raise --cost-apps to reach 900 ms/s\n", names[which],
                      req.size());
          continue;
        }
        std::vector<fs::path> pk(packages.begin(),
                                 packages.begin() + static_cast<long>(req.size()));
        const fs::path file = o.work / fmt::format("s6_{}.json", which);
        HandSchedule(file, prof, pk, req, stream_fps, "mixed");
        const Json s = RunSchedule(o, file, base_dir, o.input, o.work / "out6", 0, true,
                                   o.realtime_frames, lag_ms)
                           .summary;
        const double decoded = s["frames"]["decoded"].get<double>();
        const double dropped = s["frames"]["dropped"].get<double>();
        const double measured = s["cost"]["measured"]["total"].get<double>();
        const double predicted = ScheduleCost(costs, req);
        std::printf("%-11s %8s %5zu %10.1f %10.1f %9.0f %9.0f %7.2f%%\n", names[which], lag.c_str(),
                    req.size(), predicted, measured, decoded, dropped,
                    100 * dropped / std::max(1.0, decoded));
        std::fflush(stdout);
        part6.push_back(Json{{"profile", which == 0   ? "hot"
                                         : which == 1 ? "cache"
                                                      : "calibrated"},
                             {"max_lag_ms", lag_ms},
                             {"apps", req.size()},
                             {"predicted", predicted},
                             {"measured", measured},
                             {"decoded", decoded},
                             {"dropped", dropped}});
      }
      results["realtime"] = part6;
    }

    // 7. Memory: msrun in its own process (peak RSS is per process); the
    // profile's prediction, and msprofile --calibrate's fitted on the other
    // runs (held out).
    if (part(7)) {
      struct MemRun {
        int apps = 0;
        int mix = 0;
        std::vector<AppRequest> req;
        fs::path summary;
        double measured = 0, predicted = 0, after_load = 0, peak = 0;
      };
      std::vector<MemRun> mem_runs;
      for (int count : memory_counts) {
        for (int mix = 0; mix < 2; ++mix) {
          MemRun m;
          m.apps = count;
          m.mix = mix;
          for (int i = 0; i < count; ++i)
            m.req.push_back(
                AppRequest{mix == 0 ? 0 : bps[static_cast<size_t>(i) % bps.size()], stream_fps});
          std::vector<fs::path> pk(packages.begin(), packages.begin() + count);
          const fs::path file = o.work / fmt::format("s7_{}_{}.json", count, mix);
          HandSchedule(file, profile, pk, m.req, stream_fps, mix == 0 ? "nosharing" : "mixed");
          m.predicted = ScheduleMemory(ProfileMemory(profile), m.req).total();
          const fs::path out = o.work / fmt::format("out7_{}_{}", count, mix);
          const std::string cmd = fmt::format(
              "'{}' --schedule '{}' --base '{}' --input '{}' --out '{}' --end-frame {} --threads "
              "{} "
              "--log-level warn > /dev/null",
              MS_MSRUN, file.string(), base_dir.string(), o.input, out.string(),
              std::max(o.frames, 30), o.threads);
          MS_CHECK_RT(std::system(cmd.c_str()) == 0, "part 7: msrun failed: {}", cmd);
          m.summary = out / "summary.json";
          const Json mem = ReadJsonFile(m.summary)["memory"];
          m.measured = mem["measured_model_bytes"].get<double>();
          m.after_load =
              mem["rss_after_load"].get<double>() - mem["rss_before_models"].get<double>();
          m.peak = mem["peak_rss"].get<double>();
          mem_runs.push_back(std::move(m));
        }
      }
      std::printf(
          "\n7. model memory (MB): msrun's peak RSS less its RSS before loading the models, vs the "
          "profile's prediction and the calibrated one (fitted on the other runs)\n");
      std::printf("%5s %-7s %10s %10s %8s %11s %8s %10s\n", "apps", "branches", "measured",
                  "profile", "ratio", "calibrated", "ratio", "peak RSS");
      Json part7 = Json::array();
      for (size_t i = 0; i < mem_runs.size(); ++i) {
        const MemRun& m = mem_runs[i];
        std::vector<fs::path> others;
        for (size_t k = 0; k < mem_runs.size(); ++k)
          if (k != i) others.push_back(mem_runs[k].summary);
        const CalibrationResult cal = Calibrate(profile, others);
        const double calibrated = ScheduleMemory(ProfileMemory(cal.profile), m.req).total();
        std::printf("%5d %-7s %10.2f %10.2f %8.3f %11.2f %8.3f %10.1f\n", m.apps,
                    m.mix == 0 ? "whole" : "mixed", m.measured / 1e6, m.predicted / 1e6,
                    m.measured / m.predicted, calibrated / 1e6, m.measured / calibrated,
                    m.peak / 1e6);
        std::fflush(stdout);
        part7.push_back(Json{{"apps", m.apps},
                             {"branches", m.mix == 0 ? "whole" : "mixed"},
                             {"measured_bytes", m.measured},
                             {"after_load_bytes", m.after_load},
                             {"predicted_bytes", m.predicted},
                             {"calibrated_held_out_bytes", calibrated},
                             {"ratio", m.measured / m.predicted},
                             {"ratio_calibrated", m.measured / calibrated}});
      }
      results["memory"] = part7;
    }

    // 8. Live deployment (msrun --deployment --realtime): 5 changes while the
    // stream runs, each re-planned and loaded on a background thread; per
    // swap the plan and load times and the loop's pause, frames dropped over
    // the run vs a run of the final deployment from the start; then the time
    // to re-plan 10, 30 and 100 apps with greedy (PlanDeployment: reading the
    // packages and the profile included).
    if (part(8)) {
      const fs::path dep_file = o.work / "live" / "deployment.json";
      fs::create_directories(dep_file.parent_path());
      auto spec_text = [&](int first, int count, double budget, std::vector<int> x) {
        return DeploymentText(o.work / "profile.json", packages, first, count, budget,
                              std::move(x));
      };
      const int end_frame = std::max(o.frames, 420);
      const int step = end_frame / 7;
      // Frames decoded -> the deployment then: +5 apps, -3, a lower budget,
      // +5 apps, X in {1, 2}.
      const std::vector<std::pair<int64_t, std::string>> changes{
          {step, spec_text(0, 10, 400, {1})},
          {2 * step, spec_text(3, 7, 400, {1})},
          {3 * step, spec_text(3, 7, 250, {1})},
          {4 * step, spec_text(3, 12, 400, {1})},
          {5 * step, spec_text(3, 12, 400, {1, 2})}};
      auto live_run = [&](const std::string& initial, bool with_changes, const fs::path& out) {
        WriteFileAtomic(dep_file, initial);
        RunConfig c;
        c.deployment = dep_file;
        c.deployment_poll_ms = 100;
        c.base_dir = base_dir;
        c.input = o.input;
        c.out_dir = out;
        c.realtime = true;
        c.end_frame = end_frame;
        c.threads = o.threads;
        c.progress_interval_s = 0;
        c.bootstrap_resamples = 0;
        Runtime rt = Runtime::Prepare(c);
        if (with_changes) {
          rt.SetFrameHook([&](int64_t decoded) {
            for (const auto& [frame, text] : changes)
              if (frame == decoded) WriteFileAtomic(dep_file, text);
          });
        }
        return rt.Run(nullptr).summary;
      };
      const Json live = live_run(spec_text(0, 5, 400, {1}), true, o.work / "out8_live");
      const Json final_run = live_run(changes.back().second, false, o.work / "out8_final");
      std::vector<Json> log;
      {
        std::ifstream in(o.work / "out8_live" / kDeploymentLogFile);
        std::string line;
        while (std::getline(in, line)) log.push_back(Json::parse(line));
      }
      const double period_ms = 1000 / stream_fps;
      std::printf(
          "\n8. live deployment, --realtime at %.3g fps (a frame every %.0f ms), %d frames, 5 "
          "changes re-planned and loaded in the background\n",
          stream_fps, period_ms, end_frame);
      std::printf("%-9s %6s %5s %9s %9s %10s %10s %8s\n", "change", "frame", "apps", "plan ms",
                  "load ms", "ready ms", "pause ms", "dropped");
      Json part8 = Json::array();
      for (const Json& e : log) {
        if (e["status"] == "initial") continue;
        std::printf("%-9s %6lld %5zu %9.1f %9.1f %10.1f %10.2f %8lld\n",
                    e["status"].get<std::string>().c_str(),
                    static_cast<long long>(e["frame"].get<int64_t>()), e["apps"].size(),
                    e.value("plan_ms", 0.0), e.value("load_ms", 0.0),
                    e.value("ready_after_ms", 0.0), e.value("swap_pause_ms", 0.0),
                    static_cast<long long>(e.value("dropped_so_far", int64_t{0})));
        part8.push_back(e);
      }
      const auto dropped_live = live["frames"]["dropped"].get<int64_t>();
      const auto dropped_final = final_run["frames"]["dropped"].get<int64_t>();
      const double max_pause = live["deployment"]["max_swap_pause_ms"].get<double>();
      std::printf(
          "frames dropped: %lld with the changes, %lld with the final deployment from the start; "
          "longest swap pause %.2f ms = %.3f of a frame interval (goal: no drop at a swap, pause "
          "< 1)\n",
          static_cast<long long>(dropped_live), static_cast<long long>(dropped_final), max_pause,
          max_pause / period_ms);
      std::printf(
          "re-planning with greedy (PlanDeployment: packages, profile, search; median of 5):");
      Json replans = Json::array();
      for (int count : {10, 30, 100}) {
        if (count > static_cast<int>(packages.size())) continue;
        const DeploymentSpec spec =
            ParseDeploymentSpec(spec_text(0, count, 2000, {1, 2}), dep_file);
        std::vector<double> ms;
        for (int r = 0; r < 5; ++r) {
          const double t0 = NowSeconds();
          (void)PlanDeployment(spec);
          ms.push_back((NowSeconds() - t0) * 1e3);
        }
        std::sort(ms.begin(), ms.end());
        std::printf(" %d apps %.1f ms;", count, ms[2]);
        replans.push_back(Json{{"apps", count}, {"median_ms", ms[2]}});
      }
      std::printf(" (goal: 30 apps < 50 ms)\n");
      std::fflush(stdout);
      results["live"] = Json{{"changes", part8},
                             {"dropped_live", dropped_live},
                             {"dropped_final", dropped_final},
                             {"max_swap_pause_ms", max_pause},
                             {"frame_interval_ms", period_ms},
                             {"replan", replans}};
    }

    // 9. Soak: msrun --deployment --realtime on the input served as an endless
    // live stream (ffmpeg -stream_loop -1 over HTTP on the loopback) for
    // --soak-minutes, the deployment alternating between two sets of apps every
    // two minutes; msrun's resident memory sampled every 10 s. Goal: flat
    // within 5% from the fifth minute to the end.
    if (part(9)) {
      if (std::system("command -v ffmpeg > /dev/null 2>&1") != 0) {
        std::printf("\n9. soak: skipped, ffmpeg is not installed (scripts/setup.sh installs it)\n");
      } else {
        const fs::path dir = o.work / "soak";
        fs::create_directories(dir);
        const fs::path dep_file = dir / "deployment.json";
        auto spec_text = [&](int first, int count) {
          return DeploymentText(o.work / "profile.json", packages, first, count, 400, {1});
        };
        WriteFileAtomic(dep_file, spec_text(0, 5));
        const std::string url = fmt::format("http://127.0.0.1:{}", 21000 + getpid() % 20000);
        const std::string server = fmt::format(
            "ffmpeg -hide_banner -loglevel error -stream_loop -1 -re -i '{}' -c:v mpeg4 -q:v 3 -f "
            "mpegts -listen 1 {} > '{}' 2>&1 & echo $!",
            o.input, url, (dir / "ffmpeg.log").string());
        auto start = [](const std::string& cmd) {
          FILE* p = popen(cmd.c_str(), "r");
          MS_CHECK_RT(p != nullptr, "cannot run {}", cmd);
          long pid = 0;
          if (std::fscanf(p, "%ld", &pid) != 1) pid = 0;
          pclose(p);
          MS_CHECK_RT(pid > 0, "cannot start {}", cmd);
          return static_cast<pid_t>(pid);
        };
        const pid_t ffmpeg = start(server);
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        const pid_t msrun = start(fmt::format(
            "'{}' --deployment '{}' --base '{}' --input {} --fps-override {} --realtime --out "
            "'{}' --threads {} --progress 0 --log-level warn > '{}' 2>&1 & echo $!",
            MS_MSRUN, dep_file.string(), base_dir.string(), url, stream_fps, (dir / "out").string(),
            o.threads, (dir / "msrun.log").string()));
        auto rss_mb = [](pid_t pid) {
          std::ifstream in(fmt::format("/proc/{}/status", pid));
          std::string line;
          while (std::getline(in, line))
            if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024;
          return 0.0;
        };
        std::printf(
            "\n9. soak: msrun --deployment --realtime on an endless stream for %d min, 5 <-> 8 "
            "apps "
            "every 2 min; resident MB every minute:\n",
            o.soak_minutes);
        std::vector<double> samples;  // every 10 s
        const double t0 = NowSeconds();
        int swaps = 0;
        for (int k = 1; NowSeconds() - t0 < o.soak_minutes * 60.0; ++k) {
          std::this_thread::sleep_for(std::chrono::seconds(10));
          samples.push_back(rss_mb(msrun));
          if (samples.back() == 0) break;  // msrun ended
          if (k % 6 == 0) std::printf(" %.1f", samples.back()), std::fflush(stdout);
          if (k % 12 == 0) WriteFileAtomic(dep_file, spec_text(0, (++swaps % 2) ? 8 : 5));
        }
        kill(msrun, SIGINT);
        for (int i = 0; i < 300 && rss_mb(msrun) > 0; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        kill(ffmpeg, SIGTERM);
        const size_t from = std::min<size_t>(samples.size() - 1, 30);  // minute 5
        double lo = samples[from], hi = samples[from];
        for (size_t i = from; i < samples.size(); ++i) {
          lo = std::min(lo, samples[i]);
          hi = std::max(hi, samples[i]);
        }
        // Resident memory follows the apps (5 or 8, two minutes each, the
        // freed tree's pages handed back), so a leak shows as drift between
        // phases of the same deployment: the settled (last) sample of each
        // 2-minute phase from minute 6 on, first vs last of each kind.
        std::vector<double> settled[2];
        for (size_t w = 3; (w + 1) * 12 <= samples.size(); ++w)
          settled[w % 2].push_back(samples[(w + 1) * 12 - 1]);
        double drift = 0;
        std::string drifts;
        for (const auto& v : settled) {
          if (v.size() < 2) continue;
          drift = std::max(drift, std::fabs(v.back() / v.front() - 1));
          drifts += fmt::format("{}{:.1f} -> {:.1f} MB over {} phases", drifts.empty() ? "" : "; ",
                                v.front(), v.back(), v.size());
        }
        std::printf("\nthe same deployment's phases, settled: %s: drift %.1f%% (goal < 5%%)",
                    drifts.c_str(), 100 * drift);
        Json summary;
        try {
          summary = ReadJsonFile(dir / "out" / kRunSummaryFile);
        } catch (const std::exception& e) {
          LogWarn("soak: no summary: {}", e.what());
        }
        const int accepted =
            summary.is_object() ? summary["deployment"]["changes_accepted"].get<int>() : -1;
        std::printf(
            "\nresident MB at minute 5 %.1f, at the end %.1f (ratio %.3f); from minute 5: min "
            "%.1f, max %.1f (spread %.1f%%, the apps' own memory included); %d swaps accepted, "
            "%lld frames, %lld "
            "dropped\n",
            samples[from], samples.back(), samples.back() / samples[from], lo, hi,
            100 * (hi - lo) / lo, accepted,
            summary.is_object()
                ? static_cast<long long>(summary["frames"]["decoded"].get<int64_t>())
                : -1LL,
            summary.is_object()
                ? static_cast<long long>(summary["frames"]["dropped"].get<int64_t>())
                : -1LL);
        std::fflush(stdout);
        results["soak"] =
            Json{{"minutes", o.soak_minutes},
                 {"rss_mb_every_10s", samples},
                 {"spread_from_minute_5", (hi - lo) / lo},
                 {"phase_drift", drift},
                 {"swaps_accepted", accepted},
                 {"summary_frames", summary.is_object() ? summary["frames"] : Json()}};
      }
    }

    // 10. Several cameras from one deployment: 4 cameras x 5 apps (mixed
    //     branchpoints) on --threads 2, planned jointly by greedy at 90% of
    //     the node's cores; every camera's branches on one shared pool vs
    //     each camera's own worker, offline (node frames/s, alternating
    //     rounds) and --realtime over o.frames frames (drops).
    if (part(10)) {
      const int threads = 2;
      std::printf(
          "\n10. several cameras from one deployment on %d threads (greedy at %d ms/s; node "
          "frames/s "
          "offline, best of alternating rounds; frames dropped in --realtime)\n",
          threads, 900 * threads);
      std::printf("%-12s %9s %10s %14s %10s %8s %14s %14s\n", "apps", "pred ms/s", "shared",
                  "shared, no dec", "own", "sh/own", "dropped shared", "dropped own");
      Json part10 = Json::array();
      // The 4 x 5, and the same 20 apps on 2 cameras unevenly (where
      // a camera's own worker leaves a core idle once the light camera is
      // done, and the shared pool does not).
      for (const std::vector<int>& layout : {std::vector<int>{5, 5, 5, 5}, {16, 4}}) {
        Json cameras = Json::array();
        size_t next = 0;
        for (size_t c = 0; c < layout.size(); ++c) {
          Json apps = Json::array();
          for (int i = 0; i < layout[c]; ++i) apps.push_back(packages[next++].string());
          cameras.push_back(
              Json{{"name", fmt::format("cam{}", c)}, {"input", o.input}, {"apps", apps}});
        }
        const fs::path dep = o.work / "cameras.json";
        WriteFileAtomic(dep, Json{{"schema_version", 1},
                                  {"kind", "mainstream.deployment"},
                                  {"profile", (o.work / "profile.json").string()},
                                  {"budget", 900 * threads},
                                  {"algorithm", "greedy"},
                                  {"x_options", {1}},
                                  {"cameras", cameras}}
                                 .dump());
        auto run_node = [&](bool shared, bool realtime, bool prefetch) {
          NodeRunConfig nc;
          nc.shared_pool = shared;
          nc.run.prefetch = prefetch;
          nc.run.deployment = dep;
          nc.run.base_dir = base_dir;
          nc.run.out_dir = o.work / "out10";
          nc.run.threads = threads;
          nc.run.realtime = realtime;
          nc.run.end_frame = o.frames;
          nc.run.progress_interval_s = 0;
          nc.run.bootstrap_resamples = 0;
          fs::remove_all(nc.run.out_dir);
          return RunNode(nc).summary;
        };
        auto node_fps = [](const Json& s) {
          return s["frames"]["decoded"].get<double>() / s["wall_seconds"].get<double>();
        };
        // The shared pool (each camera decoding ahead: the default), the
        // shared pool decoding on each camera's loop thread, each camera's
        // own worker (--own-workers).
        double best[3] = {0, 0, 0};
        Json last;
        for (int round = 0; round < std::max(1, o.rounds - 1); ++round) {
          for (int k = 0; k < 3; ++k) {
            const Json s = run_node(k != 2, false, k == 0);
            best[k] = std::max(best[k], node_fps(s));
            if (k == 0) last = s;
          }
        }
        const Json rt_shared = run_node(true, true, true);
        const Json rt_own = run_node(false, true, true);
        const std::string name = fmt::format("{}", fmt::join(layout, "+"));
        const double pred = last["cost"]["predicted"].get<double>();
        auto dropped = [](const Json& s) {
          return fmt::format("{}/{}", s["frames"]["dropped"].get<int64_t>(),
                             s["frames"]["decoded"].get<int64_t>());
        };
        std::printf("%-12s %9.1f %10.1f %14.1f %10.1f %7.2fx %14s %14s\n", name.c_str(), pred,
                    best[0], best[1], best[2], best[0] / best[2], dropped(rt_shared).c_str(),
                    dropped(rt_own).c_str());
        std::fflush(stdout);
        part10.push_back(Json{{"apps", layout},
                              {"threads", threads},
                              {"predicted_cost", pred},
                              {"fps_shared_pool", best[0]},
                              {"fps_shared_pool_no_prefetch", best[1]},
                              {"fps_own_workers", best[2]},
                              {"realtime_shared_pool", rt_shared["frames"]},
                              {"realtime_own_workers", rt_own["frames"]}});
      }
      results["cameras"] = part10;
    }

    results["load_average"] = {load_before, load_after};
    results["machine"] = DescribeMachine();
    if (!o.json.empty()) WriteJsonFileAtomic(o.json, results);
    if (!o.keep) {
      std::error_code ec;
      fs::remove_all(o.work, ec);
    } else {
      std::printf("work directory: %s\n", o.work.string().c_str());
    }
    return 0;
  });
}
