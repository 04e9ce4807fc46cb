#include "mainstream/runtime/runtime.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <exception>
#include <future>
#include <list>
#include <map>
#include <optional>
#include <thread>
#include <tuple>

#include "frame_prefetch.h"
#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/log.h"
#include "mainstream/core/rss.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/profiler.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/runtime/executor.h"
#include "mainstream/runtime/run_report.h"
#include "mainstream/schedule/deployment_spec.h"
#include "mainstream/schedule/node_plan.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"

namespace fs = std::filesystem;

namespace mainstream {

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kStopped:
      return "stopped";
    case RunStatus::kFailed:
      return "failed";
  }
  return "?";
}

int RunResult::ExitCode() const {
  switch (status) {
    case RunStatus::kCompleted:
      return 0;
    case RunStatus::kStopped:
      return stop_signal > 0 ? 128 + stop_signal : 1;
    case RunStatus::kFailed:
      return 1;
  }
  return 1;
}

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool IsPhaseDirName(const std::string& name) {
  return name.size() > 6 && name.rfind("phase-", 0) == 0 &&
         std::all_of(name.begin() + 6, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A file name msrun writes into an output directory.
bool IsRunOutputName(const std::string& name) {
  return name == kRunSummaryFile || name == kPooledSummaryFile || name == kDeploymentLogFile ||
         EndsWith(name, kEventsSuffix) || EndsWith(name, kFramesSuffix);
}

// Removes what an earlier run left in `dir` that this run will not rewrite
// (other apps' events, frames files, phase directories and summaries of
// another --phases), so that the directory describes this run only (issue
// 15, item 7). Only msrun's own names are touched: a phase directory goes
// only if everything in it is msrun's; the user's other files stay.
void RemoveStaleOutputs(const fs::path& dir, const std::vector<std::string>& keep) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (std::find(keep.begin(), keep.end(), name) != keep.end()) continue;
    if (e.is_directory(ec) && IsPhaseDirName(name)) {
      bool only_ours = true;
      for (const auto& f : fs::directory_iterator(e.path(), ec)) {
        only_ours =
            only_ours && f.is_regular_file(ec) && IsRunOutputName(f.path().filename().string());
      }
      if (only_ours) stale.push_back(e.path());
    } else if (e.is_regular_file(ec) && IsRunOutputName(name)) {
      stale.push_back(e.path());
    }
  }
  for (const fs::path& p : stale) {
    fs::remove_all(p, ec);
    if (ec) LogWarn("{}: cannot remove an earlier run's output: {}", p.string(), ec.message());
  }
  if (!stale.empty()) {
    LogWarn("{}: removed {} output(s) of an earlier run that this one does not rewrite",
            dir.string(), stale.size());
  }
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

bool Stopping(const std::atomic<int>* stop) { return stop != nullptr && stop->load() != 0; }

// Sleeps until `until` (NowSeconds) in short steps so that a stop request is
// noticed. Returns the time slept.
double SleepUntil(double until, const std::atomic<int>* stop) {
  const double start = NowSeconds();
  for (double now = start; now < until && !Stopping(stop); now = NowSeconds()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(0.05, until - now)));
  }
  return NowSeconds() - start;
}

// What the frame loop counted.
struct LoopStats {
  int64_t decoded = 0, with_work = 0, preprocessed = 0, dropped = 0;
  int64_t first = 0, last = 0;              // 1-based frames decoded (0: none)
  double decode_ms = 0, preprocess_ms = 0;  // wall
  double decode_wait_ms = 0;  // the loop waiting for a frame (decode_ms unless decoded ahead)
  double decode_cpu_ms = 0, preprocess_cpu_ms = 0;  // CPU time of the loop thread
  double sleep_s = 0;                               // waiting for frames (real time)
  double wall_s = 0, process_cpu_s = 0;
  std::vector<int64_t> first_frame;  // per node, its first frame (0: never ran)
  int64_t reconnects = 0;            // a live source reopened after it dropped (--reconnect)
  bool prefetch = false;             // frames decoded ahead on a thread of their own
  double outage_s = 0;               // time spent reconnecting
  int64_t epoch_decoded = 0;         // st.decoded when the current tree started (live deployments)
  RunStatus status = RunStatus::kCompleted;
  int stop_signal = 0;
  std::string error;
  // The speed probe's sum of stage medians before and after the loop (ms per
  // frame; 0: not measured).
  double probe_start_ms = 0, probe_end_ms = 0;
};

// A re-plan of a live deployment, made off the frame loop: the new schedule
// resolved against its packages and its tree loaded, or why not.
struct PlannedTree {
  std::string error;       // non-empty: the change is rejected
  std::string key;         // TreeKey of the planned deployment
  bool unchanged = false;  // the same tree as the running one: nothing loaded, no swap
  std::optional<Deployment> deployment;
  std::optional<TreeExecutor> executor;
  double plan_ms = 0, load_ms = 0;
  double seen_at = 0;      // NowSeconds() when the change was seen
  int64_t seen_frame = 0;  // frames decoded then
};

// What makes two deployments the same tree: every app's package, candidate,
// rate, X and threshold, its weights file as it is on disk, and the costs.
// (A re-plan of several cameras leaves most cameras' schedules as they were.)
std::string TreeKey(const Deployment& d) {
  std::string key = fmt::format("{:.9g}", d.schedule.total_cost);
  for (const DeployedApp& a : d.apps) {
    std::error_code ec;
    const auto stamp = [&](const fs::path& f) {
      const auto t = fs::last_write_time(f, ec);
      return fmt::format("{}:{}", ec ? -1 : t.time_since_epoch().count(),
                         ec ? 0 : fs::file_size(f, ec));
    };
    key += fmt::format("|{}@{}#{}:{:.9g}fps:x{}:t{:.9g}:{}:{}:{}", a.scheduled.app,
                       a.package.dir.string(), a.scheduled.candidate, a.scheduled.fps,
                       a.scheduled.x_vote, a.scheduled.threshold, a.weights.string(),
                       stamp(a.weights), stamp(a.package.dir / kMPackageManifest));
  }
  return key;
}

// Watches the deployment file at frame boundaries (at most every poll
// seconds): a content change starts a re-plan on a background thread; Poll
// returns it once done. With `wait` (offline runs) the loop waits for the
// re-plan at the frame where the change was seen, so swaps are reproducible.
class DeploymentWatcher {
 public:
  using PlanFn = std::function<PlannedTree(const std::string& text)>;
  DeploymentWatcher(fs::path file, std::string text, double poll_s, bool wait, PlanFn plan)
      : file_(std::move(file)),
        last_text_(std::move(text)),
        poll_s_(poll_s),
        wait_(wait),
        plan_(std::move(plan)) {}
  ~DeploymentWatcher() {
    if (job_.valid()) job_.wait();  // the loader's executor must not outlive the base
  }

  std::optional<PlannedTree> Poll(int64_t frame) {
    const double now = NowSeconds();
    if (!job_.valid() && now >= next_check_) {
      next_check_ = now + poll_s_;
      std::string text;
      try {
        text = ReadDeploymentText(file_);
      } catch (const InputError& e) {
        if (missing_) return std::nullopt;  // said once
        missing_ = true;
        PlannedTree p;
        p.error = fmt::format("{} (removed? the running tree goes on)", e.what());
        p.seen_at = now;
        p.seen_frame = frame;
        return p;
      }
      missing_ = false;
      if (text != last_text_) {
        last_text_ = text;
        job_ = std::async(std::launch::async, [this, text = std::move(text), now, frame] {
          PlannedTree p = plan_(text);
          p.seen_at = now;
          p.seen_frame = frame;
          return p;
        });
      }
    }
    if (job_.valid() &&
        (wait_ || job_.wait_for(std::chrono::seconds(0)) == std::future_status::ready)) {
      return job_.get();
    }
    return std::nullopt;
  }

 private:
  fs::path file_;
  std::string last_text_;  // the content last planned (accepted or rejected)
  double poll_s_;
  bool wait_;
  PlanFn plan_;
  std::future<PlannedTree> job_;
  double next_check_ = 0;
  bool missing_ = false;
};

// Per app (by name) over a live deployment's trees.
struct AppTally {
  int64_t planned_before = 0;  // samples planned by earlier trees
  int64_t baseline = 0;        // the current planner's count for its branch when it joined
  int64_t joined = 0;          // first frame it could sample (0: from the start)
  int64_t left = 0;            // last frame before it left (0: present)
};

// An app that left a live deployment: its last placement and its output.
struct DepartedApp {
  DeployedApp app;
  AppOutput output;
};

// What earlier trees of a live deployment did, for the summary's cost.
struct EarlierTrees {
  double stem_ms = 0, branch_ms = 0, stem_cpu_ms = 0, branch_cpu_ms = 0, branch_phase_ms = 0,
         tail_ms = 0;
  // Predicted costs (ms/s) times the frames each tree ran.
  double decode = 0, preprocess = 0, stem = 0, branch = 0, elapsed = 0;
  int64_t frames = 0;
};

}  // namespace

struct Runtime::Impl {
  RunConfig config;
  Deployment deployment;
  BaseModel base;
  std::optional<TreeExecutor> executor;
  std::optional<StageProbe> probe;  // --speed-probe: the base's stages as msprofile times them
  double last_probe_ms = 0;         // the last phase's end probe: the next phase's start
  bool speed_warned = false;        // the probe's warning, once per run (not per phase)
  std::optional<VideoSource> source;
  VideoSourceOptions source_options;  // to re-open the input for another phase
  std::vector<AppLabels> labels;
  int torch_threads = 1;
  double prepare_seconds = 0;
  bool ran = false;
  // Resident bytes before the base and the branches were loaded, and after.
  double rss_before_models = 0, rss_after_load = 0;
  std::unique_ptr<FramePlanner> planner;  // of the current tree
  std::function<void(int64_t)> frame_hook;

  // msrun --deployment (docs/runtime.md, "Live deployments").
  NodeCameraLink node;          // a camera of several: plans come from the node's planner
  std::string tree_key;         // TreeKey(deployment)
  std::string deployment_text;  // the file's content the current tree was planned from
  std::unique_ptr<DeploymentWatcher> watcher;
  std::future<void> retired;  // the replaced tree, being freed off the frame loop
  std::FILE* deployment_log = nullptr;
  std::map<std::string, AppTally> tallies;
  std::list<DepartedApp> departed;        // (AppOutput is not assignable)
  std::vector<int64_t> planner_baseline;  // planner->executions() when the tree started
  EarlierTrees earlier;
  int changes_accepted = 0, changes_rejected = 0, changes_unchanged = 0;
  double max_swap_pause_ms = 0;

  bool live() const { return !config.deployment.empty(); }
  // Frames are decoded on a thread of their own (the loop's frame
  // prefetcher): with branch workers, a video file and --prefetch.
  bool DecodesAhead() const {
    return config.prefetch && config.threads >= 2 && source && source->kind() == SourceKind::kFile;
  }
  // The schedule a deployment file's text plans for this run's camera.
  ScheduleDoc PlanSchedule(const std::string& text) const;
  // A live source that stopped delivering: reopens it with back-off for up to
  // config.reconnect_s; false when it did not come back (or a stop request).
  bool Reconnect(const std::atomic<int>* stop, const std::string& why, LoopStats& st);
  // Plans a deployment file's text into a loaded tree (on the watcher's thread).
  PlannedTree PlanTree(const std::string& text) const;
  // At a frame boundary: replaces the tree by a re-planned one (or logs why not).
  void Swap(PlannedTree& planned, LoopStats& st, std::vector<AppOutput>& outputs);
  // One line of out/deployment.jsonl (and stderr).
  void LogChange(Json entry);
  Json ChangeJson(const ScheduleDoc& doc) const;

  // Runs frames until the end of the range or a stop request; throws on a
  // fault (the caller finishes the outputs).
  void Loop(const std::atomic<int>* stop, std::vector<AppOutput>& outputs, LoopStats& st);
  Json CostJson(const LoopStats& st, double video_s) const;
  // The machine's speed now beside the profile's (null without a probe):
  // the profile's speed reference, the probe's before and after, their mean
  // over the profile's.
  Json SpeedJson(const LoopStats& st) const;
  // What the schedule's profile measured in the passes the speed probe repeats.
  double ProfiledSpeedMs() const;
  double SpeedFactor(const LoopStats& st) const;
  Json MemoryJson() const;
  Json NodesJson(const LoopStats& st, const FramePlanner& planner, double video_s) const;
  Json AppsJson(const LoopStats& st, const FramePlanner& planner,
                const std::vector<AppOutput>& outputs, double video_s, Json* evaluation) const;
  Json Summary(const LoopStats& st, const FramePlanner& planner,
               const std::vector<AppOutput>& outputs) const;
  // One pass over the range with config.seed into config.out_dir.
  RunResult RunPhase(const std::atomic<int>* stop);
  // config.phases passes (seeds seed, seed + 1, ...) into out_dir/phase-<k>,
  // then the pooled scores in out_dir/pooled.json.
  RunResult RunPhases(const std::atomic<int>* stop);
};

Runtime::Runtime() : impl_(std::make_unique<Impl>()) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

const RunConfig& Runtime::config() const { return impl_->config; }
void Runtime::SetFrameHook(std::function<void(int64_t)> hook) {
  impl_->frame_hook = std::move(hook);
}
const Deployment& Runtime::deployment() const { return impl_->deployment; }
std::string Runtime::DescribeInput() const {
  return impl_->source ? impl_->source->Describe() : "";
}

Runtime Runtime::Prepare(const RunConfig& config, const NodeCameraLink& node) {
  const double t0 = NowSeconds();
  config.Validate();
  MS_CHECK_RT(!node.planner || (!config.deployment.empty() && !node.camera.empty()),
              "Runtime::Prepare: a node's camera needs a deployment and a name");
  Runtime rt;
  Impl& m = *rt.impl_;
  m.config = config;
  m.node = node;
  // One LibTorch thread per thread: --threads N becomes N branch workers
  // (below). Intra-op threads for the stems measured worse: OpenMP's idle
  // team spins after each stem and takes a core from the workers (10 apps
  // sharing all but the head: 0.76x the frames/s of one thread).
  m.torch_threads = SetTorchThreads(1);
  SetVideoThreads(config.threads);
  LogInfo("msrun: {}", config.ToString());

  // Cheap checks first: schedule, base manifest, packages, weights files.
  if (m.live()) {
    // A live deployment: planned here like msschedule would, re-planned when
    // the file changes (Impl::Swap).
    m.deployment_text = ReadDeploymentText(config.deployment);
    m.deployment =
        ResolveDeployment(m.PlanSchedule(m.deployment_text), config.deployment, config.base_dir);
    m.tree_key = TreeKey(m.deployment);
  } else {
    m.deployment = LoadDeployment(config.schedule, config.base_dir);
  }
  const ScheduleDoc& sched = m.deployment.schedule;
  if (fs::exists(config.out_dir) && !fs::is_directory(config.out_dir)) {
    ThrowInput("--out {}: exists and is not a directory", config.out_dir.string());
  }

  // The input (decodes its first frame of the range).
  VideoSourceOptions vo;
  vo.fps_override = config.fps_override;
  vo.start_frame = config.start_frame - 1;  // 1-based inclusive -> 0-based
  vo.end_frame =
      config.end_frame > 0 ? config.end_frame : -1;  // inclusive 1-based = exclusive 0-based
  m.source_options = vo;
  m.source.emplace(config.input, vo);
  const VideoSource& src = *m.source;
  LogInfo("input: {}", src.Describe());
  if (std::fabs(src.fps() - sched.stream_fps) > 0.01 * sched.stream_fps) {
    LogWarn(
        "{} runs at {:g} fps but {} was planned for a {:g} fps stream: apps sample every k-th "
        "frame as "
        "scheduled, but times and --realtime follow {:g} fps (pass --fps-override {:g} if the "
        "container's "
        "rate is wrong)",
        config.input, src.fps(), config.schedule.string(), sched.stream_fps, src.fps(),
        sched.stream_fps);
  }
  const int64_t last_frame = config.end_frame > 0    ? config.end_frame
                             : src.frame_count() > 0 ? src.frame_count()
                                                     : 0;
  m.labels = LoadRunLabels(m.deployment, config.labels, src.frame_count(), src.input(), last_frame,
                           m.live());

  // The base (model.pt must hash to base.json's sha256, which is the schedule's).
  m.rss_before_models = ResidentBytes();
  m.base = BaseModel::Load(config.base_dir);
  // --threads N: the stems on the loop thread, then the branches over N
  // threads of one LibTorch thread each, the loop thread one of them, which
  // runs the next frame's stems meanwhile (docs/runtime.md, "Threads").
  ExecutorOptions eo;
  eo.workers = config.threads;
  eo.pool = node.pool;
  eo.overlap = config.overlap;
  if (config.stem_split) eo.stage_ms = m.deployment.schedule.costs.stage_ms;
  eo.decode_on_loop = !m.DecodesAhead();
  m.executor.emplace(TreeExecutor::Load(m.base, m.deployment, eo));
  m.rss_after_load = ResidentBytes();
  if (config.speed_probe) {
    if (static_cast<int>(sched.costs.stage_ms.size()) == m.base.num_stages()) {
      const double t0 = NowSeconds();
      m.probe.emplace(m.base);
      LogDebug("speed probe: {} stages built in {:.2f} s", m.base.num_stages(), NowSeconds() - t0);
    } else {
      LogWarn(
          "{}: the schedule's profile has {} stage timings for the base's {} stages: no speed "
          "probe",
          config.schedule.string(), sched.costs.stage_ms.size(), m.base.num_stages());
    }
  }
  for (int k = 0; k < m.executor->num_nodes(); ++k) {
    LogDebug("node {}: {}", k, m.executor->NodeInfo(k).dump());
  }
  if (const double wall = sched.tree.WallCost(m.executor->workers(), m.executor->overlaps(),
                                              m.executor->stem_split().tail_cost);
      wall > 1000) {
    LogWarn(
        "the schedule needs {:.0f} ms per second of video on {} thread(s) (stems, then the largest "
        "branch or the branches' sum over the workers): {}",
        wall, m.executor->workers(),
        config.realtime ? "in real time frames will be dropped"
                        : "the run will be slower than real time");
  }
  if (m.live()) {
    Impl* self = &m;
    m.watcher = std::make_unique<DeploymentWatcher>(
        config.deployment, m.deployment_text, config.deployment_poll_ms / 1000, !config.realtime,
        [self](const std::string& text) { return self->PlanTree(text); });
  }
  m.prepare_seconds = NowSeconds() - t0;
  LogInfo(
      "loaded {} apps on base '{}' as {} segments in {:.1f} s ({} LibTorch threads, {} branch "
      "workers)",
      m.deployment.apps.size(), m.base.info().name, m.executor->num_nodes(), m.prepare_seconds,
      m.torch_threads, m.executor->workers());
  return rt;
}

void Runtime::Impl::Loop(const std::atomic<int>* stop, std::vector<AppOutput>& outputs,
                         LoopStats& st) {
  const RunConfig& cfg = config;
  const double stream_fps = deployment.schedule.stream_fps;  // a swap keeps it
  TreeExecutor* ex = &*executor;                             // these change at a swap
  size_t num_apps = deployment.apps.size();
  size_t num_nodes = deployment.schedule.tree.nodes.size();
  const PreprocessConfig pre = ex->preprocess();  // the base's: the same for every tree
  const size_t floats = pre.floats_per_frame();
  // Two input buffers: the batch being collected fills one while the batch
  // before it may still be in its branches (RunOverlapped) reading the other.
  std::vector<float> inputs[2] = {std::vector<float>(floats * static_cast<size_t>(cfg.batch)),
                                  std::vector<float>(floats * static_cast<size_t>(cfg.batch))};
  int filling = 0;                             // the buffer `tasks` point into
  std::vector<TreeExecutor::FrameTask> tasks;  // the batch being collected
  std::vector<int64_t> task_frames;
  std::vector<int64_t> in_flight;  // frame numbers of the batch the executor holds
  std::vector<std::vector<double>> scores;
  std::vector<char> pending(num_nodes, 0);  // planned, not yet run (carried over dropped frames)
  bool any_pending = false;

  const double wall0 = NowSeconds();
  double last_progress = wall0;
  const int64_t expected = source->expected_frames();
  const double period = 1.0 / source->fps();
  const double max_lag = cfg.max_lag_ms > 0 ? cfg.max_lag_ms / 1000 : period;
  int64_t first_index = -1;
  // Live sources that reconnect: frame indices restart at 0 on a new
  // connection; pacing restarts after the gap.
  const bool live_source = source->kind() != SourceKind::kFile;
  int64_t index_offset = 0;
  double pace_t0 = wall0;
  int64_t pace_i0 = 0;

  // The executor runs a batch's stems while the batch before it is in its
  // branches, so scores come back one batch late, in order; drain() takes
  // the last one (before a swap and at the end).
  auto take = [&] {
    for (size_t f = 0; f < in_flight.size(); ++f) {
      for (size_t a = 0; a < num_apps; ++a) {
        if (!std::isnan(scores[f][a])) outputs[a].Add(in_flight[f], scores[f][a]);
      }
    }
    in_flight.clear();
  };
  auto flush = [&] {
    if (tasks.empty()) return;
    std::vector<TreeExecutor::FrameTask> batch;
    std::vector<int64_t> frames;
    batch.swap(tasks);  // a batch that fails is not retried
    frames.swap(task_frames);
    if (ex->RunOverlapped(batch, &scores)) take();
    in_flight.swap(frames);
    filling = 1 - filling;
  };
  auto drain = [&] {
    if (ex->Drain(&scores)) take();
    in_flight.clear();
  };
  auto progress = [&](bool force) {
    const double now = NowSeconds();
    if (cfg.progress_interval_s <= 0 || (!force && now - last_progress < cfg.progress_interval_s))
      return;
    last_progress = now;
    const double elapsed = now - wall0;
    const double fps = elapsed > 0 ? static_cast<double>(st.decoded) / elapsed : 0;
    std::string of =
        expected > 0 ? fmt::format("/{} ({:.0f}%)", expected, 100.0 * st.decoded / expected) : "";
    std::string eta =
        expected > 0 && fps > 0 ? fmt::format(", ETA {:.0f} s", (expected - st.decoded) / fps) : "";
    LogInfo("{}: frame {}{}, {:.1f} frames/s ({:.1f}x real time), {} dropped{}",
            node.camera.empty() ? "msrun" : "camera " + node.camera, st.decoded, of, fps,
            fps / stream_fps, st.dropped, eta);
  };

  // With branch workers (--threads >= 2) and a video file, a thread decodes
  // ahead (--no-prefetch: on the loop thread). Live sources are read here:
  // a read blocked on a dead stream must not hold up a stop.
  std::optional<FramePrefetcher> prefetcher;
  if (DecodesAhead()) prefetcher.emplace(&source, 2);
  st.prefetch = prefetcher.has_value();
  Frame frame;
  try {
    while (true) {
      if (Stopping(stop)) {
        st.status = RunStatus::kStopped;
        st.stop_signal = stop->load();
        break;
      }
      if (frame_hook) frame_hook(st.decoded);
      if (watcher) {
        // A live deployment: between frames, swap to a re-planned tree once it
        // is loaded (the current one ran until now). The batch so far runs on
        // the tree it was planned for; pending work of dropped frames is
        // dropped with the old tree.
        if (std::optional<PlannedTree> planned = watcher->Poll(st.decoded)) {
          flush();
          drain();
          Swap(*planned, st, outputs);
          ex = &*executor;
          num_apps = deployment.apps.size();
          num_nodes = deployment.schedule.tree.nodes.size();
          pending.assign(num_nodes, 0);
          any_pending = false;
        }
      }
      // The next frame: read here, or already read ahead (decoding timed
      // on the thread that did it).
      const double wait0 = NowSeconds();
      FramePrefetcher::Item read = prefetcher ? prefetcher->Next() : ReadFrameNow(*source);
      st.decode_wait_ms += (NowSeconds() - wait0) * 1e3;
      st.decode_ms += read.ms;
      st.decode_cpu_ms += read.cpu_ms;
      if (read.error && !(read.runtime_error && live_source && cfg.reconnect_s > 0))
        std::rethrow_exception(read.error);
      const bool ok = read.ok;
      if (ok) frame = std::move(read.frame);
      if (!ok && live_source && cfg.reconnect_s > 0 && !Stopping(stop)) {
        // A camera or stream that drops: reopen it with back-off for up to
        // --reconnect seconds; frame numbers go on from the last one, and
        // real-time pacing restarts from the first frame after the gap.
        if (Reconnect(stop, read.lost, st)) {
          index_offset = st.last;
          pace_t0 = NowSeconds();
          pace_i0 = index_offset;
          if (prefetcher) prefetcher->Resume();
          continue;
        }
      }
      if (!ok) break;
      ++st.decoded;
      const int64_t index = frame.index + index_offset;  // across reconnections
      const int64_t number = index + 1;                  // 1-based, like label rows
      if (st.first == 0) st.first = number;
      st.last = number;
      if (first_index < 0) {
        first_index = index;
        pace_i0 = index;
      }
      for (int k : planner->Next()) {
        pending[static_cast<size_t>(k)] = 1;
        any_pending = true;
      }
      progress(false);
      if (!any_pending) continue;
      if (cfg.realtime) {
        // Frame k is due (k - first) periods after the first one; it is stale
        // (dropped, its work carried to the next frame) when the loop gets to
        // it --max-lag late (default: one period, i.e. the next frame is due).
        const double due = pace_t0 + static_cast<double>(index - pace_i0) * period;
        st.sleep_s += SleepUntil(due, stop);
        if (NowSeconds() >= due + max_lag) {
          ++st.dropped;
          continue;
        }
      }
      TreeExecutor::FrameTask task;
      for (size_t k = 0; k < num_nodes; ++k) {
        if (!pending[k]) continue;
        task.nodes.push_back(static_cast<int>(k));
        pending[k] = 0;
        if (st.first_frame[k] == 0) st.first_frame[k] = number;
      }
      any_pending = false;
      ++st.with_work;
      if (ex->NeedsInput(task.nodes)) {
        const double t = NowSeconds(), c = ThreadCpuSeconds();
        float* slot = inputs[filling].data() + tasks.size() * floats;
        Preprocess(frame.image, pre, slot);
        st.preprocess_ms += (NowSeconds() - t) * 1e3;
        st.preprocess_cpu_ms += (ThreadCpuSeconds() - c) * 1e3;
        ++st.preprocessed;
        task.input = slot;
      }
      tasks.push_back(std::move(task));
      task_frames.push_back(number);
      if (static_cast<int>(tasks.size()) >= cfg.batch) flush();
    }
    flush();
    drain();
  } catch (...) {
    // Keep the frames already decoded and analyzed: run the collected batch.
    try {
      flush();
      drain();
    } catch (const std::exception& e) {
      LogWarn("while finishing after the fault: {}", e.what());
    }
    st.wall_s = NowSeconds() - wall0;
    throw;
  }
  st.wall_s = NowSeconds() - wall0;
  progress(true);
}

bool Runtime::Impl::Reconnect(const std::atomic<int>* stop, const std::string& why, LoopStats& st) {
  const double t0 = NowSeconds();
  LogWarn("{}: lost the stream after frame {} ({}); reconnecting for up to {:g} s", config.input,
          st.last, why, config.reconnect_s);
  double wait = 0.25;
  for (int attempt = 1; !Stopping(stop); ++attempt) {
    SleepUntil(std::min(NowSeconds() + wait, t0 + config.reconnect_s), stop);
    if (Stopping(stop)) break;
    try {
      VideoSourceOptions vo = source_options;
      vo.start_frame = 0;  // a live source starts where it is
      vo.end_frame = -1;
      VideoSource reopened(config.input, vo);  // the old source stays if this throws
      source = std::move(reopened);
      ++st.reconnects;
      st.outage_s += NowSeconds() - t0;
      LogWarn("{}: reconnected after {:.1f} s (attempt {})", config.input, NowSeconds() - t0,
              attempt);
      return true;
    } catch (const std::exception& e) {
      LogDebug("{}: reconnect attempt {} failed: {}", config.input, attempt, e.what());
    }
    if (NowSeconds() - t0 >= config.reconnect_s) break;
    wait = std::min(wait * 2, 8.0);  // back-off: 0.25, 0.5, 1, ... 8 s
  }
  st.outage_s += NowSeconds() - t0;
  LogWarn("{}: gave up reconnecting after {:.1f} s", config.input, NowSeconds() - t0);
  return false;
}

ScheduleDoc Runtime::Impl::PlanSchedule(const std::string& text) const {
  if (node.planner) return node.planner->ScheduleFor(text, node.camera);
  return PlanDeployment(ParseDeploymentSpec(text, config.deployment));
}

PlannedTree Runtime::Impl::PlanTree(const std::string& text) const {
  PlannedTree p;
  try {
    // One LibTorch (OpenMP) thread here too: the thread count is per thread,
    // and a loader with a full team would take the cores the loop runs on.
    SetTorchThreads(1);
    const double t0 = NowSeconds();
    p.deployment = ResolveDeployment(PlanSchedule(text), config.deployment, config.base_dir);
    const double t1 = NowSeconds();
    p.plan_ms = (t1 - t0) * 1e3;
    // tree_key changes only at a swap, which waits for this plan.
    p.key = TreeKey(*p.deployment);
    if (p.key == tree_key) {
      p.unchanged = true;
      return p;
    }
    ExecutorOptions eo;
    eo.workers = config.threads;
    eo.pool = node.pool;
    eo.overlap = config.overlap;
    if (config.stem_split) eo.stage_ms = p.deployment->schedule.costs.stage_ms;
    eo.decode_on_loop = !DecodesAhead();
    p.executor.emplace(TreeExecutor::Load(base, *p.deployment, eo));
    p.load_ms = (NowSeconds() - t1) * 1e3;
  } catch (const std::exception& e) {
    p.error = e.what();
    p.executor.reset();
    p.deployment.reset();
  }
  return p;
}

Json Runtime::Impl::ChangeJson(const ScheduleDoc& doc) const {
  Json apps = Json::array();
  for (const ScheduledApp& a : doc.apps) {
    apps.push_back(Json{{"app", a.app},
                        {"candidate", a.candidate},
                        {"kind", CandidateKindName(a.kind)},
                        {"branchpoint", a.branchpoint},
                        {"fps", a.fps},
                        {"x_vote", a.x_vote},
                        {"predicted_f1", a.predicted.f1}});
  }
  return Json{{"algorithm", doc.algorithm},
              {"budget", doc.budget},
              {"predicted_mean_f1", doc.mean_f1},
              {"predicted_cost", doc.total_cost},
              {"apps", apps}};
}

void Runtime::Impl::LogChange(Json entry) {
  entry["time_s"] = NowSeconds();  // as the frame loop's clock
  const std::string status = entry.value("status", "");
  const std::string who = node.camera.empty() ? "" : fmt::format("camera {}: ", node.camera);
  if (node.planner) entry["camera"] = node.camera;
  if (status == "rejected") {
    LogWarn("{}deployment change at frame {} rejected, the running tree goes on: {}", who,
            entry.value("frame", int64_t{0}), entry.value("reason", ""));
  } else {
    std::string apps;
    for (const Json& a : entry["apps"]) {
      apps += fmt::format("{}{} (bp {}, {:g} fps, X {})", apps.empty() ? "" : ", ",
                          a["app"].get<std::string>(), a["branchpoint"].get<int>(),
                          a["fps"].get<double>(), a["x_vote"].get<int>());
    }
    LogInfo("{}deployment {} at frame {}: {}; predicted F1 {:.3f}, cost {:.1f} ms/s{}", who, status,
            entry.value("frame", int64_t{0}), apps, entry.value("predicted_mean_f1", 0.0),
            entry.value("predicted_cost", 0.0),
            status == "swapped"
                ? fmt::format(" (plan {:.0f} ms, load {:.0f} ms, pause {:.1f} ms)",
                              entry.value("plan_ms", 0.0), entry.value("load_ms", 0.0),
                              entry.value("swap_pause_ms", 0.0))
                : "");
  }
  if (deployment_log == nullptr) return;
  const std::string line = entry.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), deployment_log) != line.size() ||
      std::fflush(deployment_log) != 0) {
    ThrowRuntime("{}: write failed: {}", (config.out_dir / kDeploymentLogFile).string(),
                 std::strerror(errno));
  }
}

void Runtime::Impl::Swap(PlannedTree& planned, LoopStats& st, std::vector<AppOutput>& outputs) {
  const double t0 = NowSeconds();
  if (planned.error.empty() &&
      std::fabs(planned.deployment->schedule.stream_fps - deployment.schedule.stream_fps) >
          1e-6 * deployment.schedule.stream_fps) {
    planned.error = fmt::format(
        "{}: the packages watch a {:g} fps stream but this run's is {:g} fps; a deployment keeps "
        "its camera",
        config.deployment.string(), planned.deployment->schedule.stream_fps,
        deployment.schedule.stream_fps);
  }
  if (!planned.error.empty()) {
    ++changes_rejected;
    LogChange(Json{{"status", "rejected"},
                   {"reason", planned.error},
                   {"seen_frame", planned.seen_frame},
                   {"frame", st.last}});
    return;
  }
  if (planned.unchanged) {
    // The change leaves this tree as it is (another camera's apps, or an
    // edit that plans the same): nothing to load, nothing swapped.
    ++changes_unchanged;
    Json entry = ChangeJson(planned.deployment->schedule);
    entry["status"] = "unchanged";
    entry["seen_frame"] = planned.seen_frame;
    entry["frame"] = st.last;
    entry["plan_ms"] = planned.plan_ms;
    LogChange(std::move(entry));
    return;
  }

  // Outputs follow their app by name: an app present before and after keeps
  // its event state; a leaving app's open event is reported as cut; an
  // arriving app (or one coming back) samples from the next frame on. What
  // can fail (creating a new app's files) comes before anything changes, the
  // cuts (writing events) after the swap is complete.
  std::map<std::string, AppOutput> fresh;
  for (const DeployedApp& a : planned.deployment->apps) {
    const std::string& name = a.scheduled.app;
    if (deployment.FindApp(name) >= 0 ||
        std::any_of(departed.begin(), departed.end(),
                    [&](const DepartedApp& d) { return d.app.scheduled.app == name; }))
      continue;
    fresh.emplace(std::piecewise_construct, std::forward_as_tuple(name),
                  std::forward_as_tuple(
                      name, a.scheduled.x_vote, a.scheduled.threshold, source->fps(),
                      config.out_dir / (name + kEventsSuffix),
                      config.write_frames ? config.out_dir / (name + kFramesSuffix) : fs::path()));
  }

  // Close the current tree's books (after what can fail: a failure above
  // leaves them open, and the summary counts the old tree once).
  const MergedTree& old_tree = deployment.schedule.tree;
  const auto frames = static_cast<double>(st.decoded - st.epoch_decoded);
  for (int k = 0; k < executor->num_nodes(); ++k) {
    const bool is_stem = old_tree.nodes[static_cast<size_t>(k)].kind == TreeNode::Kind::kStem;
    (is_stem ? earlier.stem_ms : earlier.branch_ms) += executor->node_ms(k);
    (is_stem ? earlier.stem_cpu_ms : earlier.branch_cpu_ms) += executor->node_cpu_ms(k);
  }
  earlier.branch_phase_ms += executor->branch_phase_ms();
  earlier.tail_ms += executor->tail_ms();
  earlier.decode += old_tree.decode_cost * frames;
  earlier.preprocess += old_tree.preprocess_cost * frames;
  earlier.stem += old_tree.stem_cost * frames;
  earlier.branch += old_tree.branch_cost * frames;
  earlier.elapsed += old_tree.WallCost(executor->workers(), executor->overlaps(),
                                       executor->stem_split().tail_cost) *
                     frames;
  earlier.frames += st.decoded - st.epoch_decoded;
  for (size_t a = 0; a < deployment.apps.size(); ++a) {
    AppTally& t = tallies[deployment.apps[a].scheduled.app];
    t.planned_before +=
        planner->executions()[static_cast<size_t>(old_tree.branch_of_app[a])] - t.baseline;
  }

  std::vector<AppOutput> next;
  next.reserve(planned.deployment->apps.size());
  std::vector<char> kept(outputs.size(), 0);
  std::vector<std::string> arrived, left;
  for (const DeployedApp& a : planned.deployment->apps) {
    const std::string& name = a.scheduled.app;
    const int old = deployment.FindApp(name);
    auto back = std::find_if(departed.begin(), departed.end(),
                             [&](const DepartedApp& d) { return d.app.scheduled.app == name; });
    if (old >= 0) {
      next.push_back(std::move(outputs[static_cast<size_t>(old)]));
      kept[static_cast<size_t>(old)] = 1;
    } else if (back != departed.end()) {
      next.push_back(std::move(back->output));
      departed.erase(back);
      arrived.push_back(name);
    } else {
      next.push_back(std::move(fresh.at(name)));
      arrived.push_back(name);
    }
    next.back().Reconfigure(a.scheduled.x_vote, a.scheduled.threshold);
  }
  std::vector<AppOutput*> leaving;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (kept[i]) continue;
    const std::string& name = deployment.apps[i].scheduled.app;
    tallies[name].left = st.last;
    left.push_back(name);
    departed.push_back(DepartedApp{deployment.apps[i], std::move(outputs[i])});
    leaving.push_back(&departed.back().output);
  }
  outputs = std::move(next);

  // The new tree, its planner where a planner started at the first frame
  // would be now (the same samples from here on as a run of this schedule
  // from the start).
  std::optional<TreeExecutor> old_executor = std::move(executor);
  executor = std::move(planned.executor);
  deployment = std::move(*planned.deployment);
  tree_key = planned.key;
  planner = std::make_unique<FramePlanner>(deployment.schedule.tree, deployment.schedule.stream_fps,
                                           config.seed);
  for (int64_t k = 0; k < st.decoded; ++k) planner->Next();
  planner_baseline = planner->executions();
  for (size_t a = 0; a < deployment.apps.size(); ++a) {
    const std::string& name = deployment.apps[a].scheduled.app;
    AppTally& t = tallies[name];
    if (std::find(arrived.begin(), arrived.end(), name) != arrived.end()) {
      if (t.joined == 0) t.joined = st.last + 1;
      t.left = 0;
    }
    t.baseline = planner_baseline[static_cast<size_t>(deployment.schedule.tree.branch_of_app[a])];
  }
  st.first_frame.assign(deployment.schedule.tree.nodes.size(), 0);
  st.epoch_decoded = st.decoded;
  for (AppOutput* o : leaving) o->Cut();
  // Freeing the old tree (its weights and oneDNN primitives) took 60-150 ms
  // of the loop's pause with 10 apps: it happens on a helper thread instead,
  // which then hands the freed pages back to the system (without it, a soak
  // kept the allocator's high-water mark of two trees: +6% resident memory).
  if (retired.valid()) retired.wait();
  retired =
      std::async(std::launch::async,
                 [old = std::make_shared<std::optional<TreeExecutor>>(std::move(old_executor))] {
                   old->reset();
#ifdef __GLIBC__
                   malloc_trim(0);
#endif
                 });
  const double pause_ms = (NowSeconds() - t0) * 1e3;
  max_swap_pause_ms = std::max(max_swap_pause_ms, pause_ms);
  ++changes_accepted;
  Json entry = ChangeJson(deployment.schedule);
  entry["status"] = "swapped";
  entry["seen_frame"] = planned.seen_frame;
  entry["frame"] = st.last;
  entry["first_frame_of_new_tree"] = st.last + 1;
  entry["arrived"] = arrived;
  entry["left"] = left;
  entry["plan_ms"] = planned.plan_ms;
  entry["load_ms"] = planned.load_ms;
  entry["ready_after_ms"] = (t0 - planned.seen_at) * 1e3;
  entry["swap_pause_ms"] = pause_ms;
  entry["dropped_so_far"] = st.dropped;
  LogChange(std::move(entry));
}

double Runtime::Impl::ProfiledSpeedMs() const {
  const ScheduleDoc& s = deployment.schedule;
  return s.speed_reference_ms > 0 ? s.speed_reference_ms : s.costs.Total();
}

double Runtime::Impl::SpeedFactor(const LoopStats& st) const {
  const double profiled = ProfiledSpeedMs();
  if (!(profiled > 0) || st.probe_start_ms <= 0 || st.probe_end_ms <= 0) return 0;
  return (st.probe_start_ms + st.probe_end_ms) / 2 / profiled;
}

Json Runtime::Impl::SpeedJson(const LoopStats& st) const {
  if (st.probe_start_ms <= 0) return nullptr;
  const double factor = SpeedFactor(st);
  return Json{{"profile_ms", ProfiledSpeedMs()},
              {"start_ms", st.probe_start_ms},
              {"end_ms", st.probe_end_ms > 0 ? Json(st.probe_end_ms) : Json(nullptr)},
              {"factor", factor > 0 ? Json(factor) : Json(nullptr)}};
}

Json Runtime::Impl::CostJson(const LoopStats& st, double video_s) const {
  const MergedTree& tree = deployment.schedule.tree;
  const TreeExecutor& ex = *executor;
  // A live deployment sums its trees: measured over all of them, predicted
  // weighted by the frames each ran (earlier is empty for a fixed schedule).
  double stem = earlier.stem_ms, branch = earlier.branch_ms;
  double stem_cpu = earlier.stem_cpu_ms, branch_cpu = earlier.branch_cpu_ms;
  const double branch_phase = earlier.branch_phase_ms + ex.branch_phase_ms();
  const double tail = earlier.tail_ms + ex.tail_ms();
  const auto current_frames = static_cast<double>(st.decoded - st.epoch_decoded);
  auto weighted = [&](double earlier_sum, double current) {
    return st.decoded > 0
               ? (earlier_sum + current * current_frames) / static_cast<double>(st.decoded)
               : current;
  };
  const double pred_decode = weighted(earlier.decode, tree.decode_cost);
  const double pred_preprocess = weighted(earlier.preprocess, tree.preprocess_cost);
  const double pred_stem = weighted(earlier.stem, tree.stem_cost);
  const double pred_branch = weighted(earlier.branch, tree.branch_cost);
  const double pred_total = pred_decode + pred_preprocess + pred_stem + pred_branch;
  const double pred_elapsed = weighted(
      earlier.elapsed, tree.WallCost(ex.workers(), ex.overlaps(), ex.stem_split().tail_cost));
  for (int k = 0; k < ex.num_nodes(); ++k) {
    const bool is_stem = tree.nodes[static_cast<size_t>(k)].kind == TreeNode::Kind::kStem;
    (is_stem ? stem : branch) += ex.node_ms(k);
    (is_stem ? stem_cpu : branch_cpu) += ex.node_cpu_ms(k);
  }
  auto per_s = [&](double ms) { return video_s > 0 ? ms / video_s : 0.0; };
  auto ratio = [&](double ms, double predicted) {
    return predicted > 0 ? per_s(ms) / predicted : 0.0;
  };
  const double pred_dnn = pred_stem + pred_branch;
  const double speed = SpeedFactor(st);
  const double total = st.decode_ms + st.preprocess_ms + stem + branch;
  // The loop's compute time: the branches and the stems' tail count once,
  // as their phase's wall time, and decoding as the loop's wait for frames
  // (decoded ahead, it overlaps the tree).
  const double elapsed = total - branch - tail + branch_phase - st.decode_ms + st.decode_wait_ms;
  const double total_cpu = st.decode_cpu_ms + st.preprocess_cpu_ms + stem_cpu + branch_cpu;
  return Json{
      {"unit", "ms of compute per second of video"},
      {"predicted",
       {{"decode", pred_decode},
        {"preprocess", pred_preprocess},
        {"stem", pred_stem},
        {"branch", pred_branch},
        {"dnn", pred_dnn},
        {"total", pred_total},
        {"elapsed", pred_elapsed}}},
      {"measured",
       {{"decode", per_s(st.decode_ms)},
        {"preprocess", per_s(st.preprocess_ms)},
        {"decode_preprocess", per_s(st.decode_ms + st.preprocess_ms)},
        {"decode_wait", per_s(st.decode_wait_ms)},
        {"stem", per_s(stem)},
        {"branch", per_s(branch)},
        {"dnn", per_s(stem + branch)},
        {"total", per_s(total)},
        {"branch_phase_wall", per_s(branch_phase)},
        {"stem_tail", per_s(tail)},
        {"elapsed", per_s(elapsed)},
        {"loop_overhead", per_s(std::max(0.0, (st.wall_s - st.sleep_s) * 1e3 - elapsed))},
        {"process_cpu", per_s(st.process_cpu_s * 1e3)}}},
      {"measured_cpu",
       {{"decode", per_s(st.decode_cpu_ms)},
        {"preprocess", per_s(st.preprocess_cpu_ms)},
        {"decode_preprocess", per_s(st.decode_cpu_ms + st.preprocess_cpu_ms)},
        {"stem", per_s(stem_cpu)},
        {"branch", per_s(branch_cpu)},
        {"dnn", per_s(stem_cpu + branch_cpu)},
        {"total", per_s(total_cpu)}}},
      {"dnn_ratio", ratio(stem + branch, pred_dnn)},
      {"dnn_cpu_ratio", ratio(stem_cpu + branch_cpu, pred_dnn)},
      // dnn_ratio with the prediction scaled by the speed probe's factor: the
      // cost model's error apart from the machine's drift since profiling.
      {"dnn_ratio_at_probe_speed",
       speed > 0 && pred_dnn > 0 ? Json(per_s(stem + branch) / (pred_dnn * speed)) : Json(nullptr)},
      {"total_ratio", ratio(total, pred_total)},
      {"note",
       "measured: wall time (per node, on the thread that ran it: with --threads N > 1 branches "
       "overlap, and 'elapsed' is the loop's compute time); measured_cpu: CPU time of the thread "
       "that ran each part, decoding on the prefetch thread when frames are decoded ahead (the "
       "compute itself on one LibTorch thread, unaffected by other "
       "processes; FFmpeg's decoder threads are never in it). As in the cost model, decode is "
       "charged for every "
       "stream frame and preprocessing at the tree's highest app rate"}};
}

Json Runtime::Impl::NodesJson(const LoopStats& st, const FramePlanner& planner,
                              double video_s) const {
  const ScheduleDoc& sched = deployment.schedule;
  const TreeExecutor& ex = *executor;
  const Json tree_json = sched.tree.ToJson(sched.AppNames());
  const double tree_s =
      video_s * (st.decoded > 0 ? static_cast<double>(st.decoded - st.epoch_decoded) /
                                      static_cast<double>(st.decoded)
                                : 1.0);
  Json nodes = Json::array();
  for (size_t k = 0; k < sched.tree.nodes.size(); ++k) {
    const TreeNode& node = sched.tree.nodes[k];
    const int ik = static_cast<int>(k);
    const double ms = ex.node_ms(ik), cpu_ms = ex.node_cpu_ms(ik);
    const int64_t runs = ex.node_frames(ik);
    Json j = tree_json["nodes"][k];
    // Since the tree started (a live deployment's last tree: its last swap).
    j["planned"] = planner.executions()[k] - planner_baseline[k];
    j["executions"] = runs;
    j["expected_executions"] =
        node.fps / sched.stream_fps * static_cast<double>(st.decoded - st.epoch_decoded);
    j["first_frame"] = st.first_frame[k];
    j["calls"] = ex.node_calls(ik);
    j["ms"] = ms;
    j["cpu_ms"] = cpu_ms;
    j["ms_per_frame"] = runs > 0 ? ms / static_cast<double>(runs) : 0.0;
    j["cpu_ms_per_frame"] = runs > 0 ? cpu_ms / static_cast<double>(runs) : 0.0;
    j["predicted_cost"] = node.cost();
    j["measured_cost"] = tree_s > 0 ? ms / tree_s : 0.0;
    j.update(ex.NodeInfo(ik));
    nodes.push_back(std::move(j));
  }
  return nodes;
}

Json Runtime::Impl::AppsJson(const LoopStats& st, const FramePlanner& planner,
                             const std::vector<AppOutput>& outputs, double video_s,
                             Json* evaluation) const {
  // Every app of the run: the current tree's, then those that left a live
  // deployment (their last placement).
  struct Row {
    const DeployedApp* app;
    const AppOutput* output;
    int64_t planned;
    AppTally tally;
    bool present;
  };
  std::vector<Row> rows;
  for (size_t a = 0; a < deployment.apps.size(); ++a) {
    const std::string& name = deployment.apps[a].scheduled.app;
    const auto branch = static_cast<size_t>(deployment.schedule.tree.branch_of_app[a]);
    auto it = tallies.find(name);
    const AppTally t = it != tallies.end() ? it->second : AppTally{};
    rows.push_back(Row{&deployment.apps[a], &outputs[a],
                       t.planned_before + planner.executions()[branch] - t.baseline, t, true});
  }
  for (const DepartedApp& d : departed) {
    const AppTally& t = tallies.at(d.app.scheduled.app);
    rows.push_back(Row{&d.app, &d.output, t.planned_before, t, false});
  }

  // Scoring against labels over the frames decoded while the app ran (a
  // live deployment's apps: from the frame they arrived to the frame they left).
  BootstrapOptions bo;
  bo.resamples = config.bootstrap_resamples;
  bo.seed = config.seed;
  std::vector<Json> evaluations(rows.size(), Json(nullptr));
  double sum_f1 = 0, sum_recall = 0, sum_precision = 0, sum_pred = 0;
  int evaluated = 0;
  for (const AppLabels& l : labels) {
    auto row = std::find_if(rows.begin(), rows.end(),
                            [&](const Row& r) { return r.app->scheduled.app == l.name; });
    if (row == rows.end()) continue;  // a live deployment's app that never arrived
    const int64_t first = std::max(st.first, row->tally.joined);
    const int64_t last = row->tally.left > 0 ? row->tally.left : st.last;
    const FrameInterval range{first,
                              std::min<int64_t>(last, static_cast<int64_t>(l.labels.size()))};
    if (st.decoded == 0 || range.empty()) continue;
    std::vector<FrameInterval> reports;
    for (const ReportedEvent& e : row->output->events()) reports.push_back(e.event.interval());
    const DeployedApp& d = *row->app;
    AppEvaluation ev =
        EvaluateApp(d.scheduled.app, l.file, l.labels, reports, range, d.scheduled.predicted, bo);
    evaluations[static_cast<size_t>(row - rows.begin())] = ev.ToJson();
    sum_f1 += ev.measured.f1;
    sum_recall += ev.measured.recall;
    sum_precision += ev.measured.precision;
    sum_pred += ev.predicted.f1;
    ++evaluated;
  }
  *evaluation = nullptr;
  if (evaluated > 0) {
    *evaluation = Json{{"apps", evaluated},
                       {"mean_f1", sum_f1 / evaluated},
                       {"mean_recall", sum_recall / evaluated},
                       {"mean_precision", sum_precision / evaluated},
                       {"predicted_mean_f1", sum_pred / evaluated}};
  }

  Json apps = Json::array();
  for (size_t i = 0; i < rows.size(); ++i) {
    const DeployedApp& d = *rows[i].app;
    const AppOutput& o = *rows[i].output;
    Json j{
        {"app", d.scheduled.app},
        {"package", d.package.dir.string()},
        {"candidate", d.scheduled.candidate},
        {"weights", d.weights.string()},
        {"kind", CandidateKindName(d.scheduled.kind)},
        {"branchpoint", d.scheduled.branchpoint},
        {"x_vote", d.scheduled.x_vote},
        {"threshold", d.scheduled.threshold},
        {"fps", d.scheduled.fps},
        {"achieved_fps", video_s > 0 ? static_cast<double>(o.samples()) / video_s : 0.0},
        {"frames_analyzed", o.samples()},
        {"samples_planned", rows[i].planned},
        {"samples_dropped", rows[i].planned - o.samples()},
        {"first_sample", o.first_frame()},
        {"positives", o.positives()},
        {"events", static_cast<int64_t>(o.events().size())},
        {"events_file", o.events_file().string()},
        {"frames_file", o.frames_file().empty() ? Json(nullptr) : Json(o.frames_file().string())},
        {"predicted", d.scheduled.predicted.ToJson()},
        {"evaluation", evaluations[i]}};
    if (live()) {
      j["present"] = rows[i].present;
      j["joined_frame"] = std::max(st.first, rows[i].tally.joined);
      j["left_frame"] = rows[i].tally.left > 0 ? Json(rows[i].tally.left) : Json(nullptr);
    }
    apps.push_back(std::move(j));
  }
  return apps;
}

// Measured model memory: the process's peak resident bytes less those before
// the models were loaded (the decoder and labels were already in memory).
Json Runtime::Impl::MemoryJson() const {
  const ScheduleDoc& sched = deployment.schedule;
  const double peak = PeakResidentBytes();
  const double measured = peak > rss_before_models ? peak - rss_before_models : 0.0;
  const double predicted = sched.memory.empty() ? 0.0 : sched.predicted_memory.total();
  return Json{{"rss_before_models", rss_before_models},
              {"rss_after_load", rss_after_load},
              {"peak_rss", peak},
              {"measured_model_bytes", measured},
              {"predicted", sched.memory.empty() ? Json(nullptr) : sched.predicted_memory.ToJson()},
              {"ratio", predicted > 0 ? Json(measured / predicted) : Json(nullptr)}};
}

Json Runtime::Impl::Summary(const LoopStats& st, const FramePlanner& planner,
                            const std::vector<AppOutput>& outputs) const {
  const ScheduleDoc& sched = deployment.schedule;
  const VideoSource& src = *source;
  const double video_s = static_cast<double>(st.decoded) / sched.stream_fps;
  Json evaluation;
  Json apps = AppsJson(st, planner, outputs, video_s, &evaluation);
  return Json{
      {"schema_version", kRunSummarySchemaVersion},
      {"kind", "mainstream.run"},
      {"status", RunStatusName(st.status)},
      {"error", st.error.empty() ? Json(nullptr) : Json(st.error)},
      {"stop_signal", st.stop_signal},
      {"config", config.ToJson()},
      {"schedule",
       {{"file", deployment.schedule_file.string()},
        {"algorithm", sched.algorithm},
        {"budget", sched.budget},
        {"stream_fps", sched.stream_fps},
        {"total_cost", sched.total_cost},
        {"predicted",
         {{"mean_f1", sched.mean_f1},
          {"min_f1", sched.min_f1},
          {"mean_recall", sched.mean_recall},
          {"mean_precision", sched.mean_precision}}}}},
      {"base", base.ref().ToJson()},
      {"input",
       {{"input", config.input},
        {"description", src.Describe()},
        {"fps", src.fps()},
        {"reported_fps", src.reported_fps()},
        {"frame_count", src.frame_count()},
        {"frame_numbers", "1-based, inclusive (label-file rows); frame k is video index k - 1"},
        {"first_frame", st.first},
        {"last_frame", st.last}}},
      {"frames",
       {{"decoded", st.decoded},
        {"with_work", st.with_work},
        {"preprocessed", st.preprocessed},
        {"dropped", st.dropped},
        {"reconnects", st.reconnects},
        {"outage_seconds", st.outage_s},
        {"video_seconds", video_s}}},
      {"sampling",
       {{"seed", config.seed},
        {"note",
         "FramePlanner phases are drawn from the seed; nodes[].first_frame is each node's first "
         "sample"}}},
      {"realtime", config.realtime},
      {"batch", config.batch},
      {"wall_seconds", st.wall_s},
      {"prepare_seconds", prepare_seconds},
      {"sleep_seconds", st.sleep_s},
      {"speed", st.wall_s > 0 ? video_s / st.wall_s : 0.0},
      {"frames_per_second", st.wall_s > 0 ? static_cast<double>(st.decoded) / st.wall_s : 0.0},
      {"machine",
       {{"torch_threads", torch_threads},
        {"branch_workers", executor->workers()},
        {"torch_interop_threads", GetTorchInteropThreads()},
        {"video_threads", GetVideoThreads()},
        {"prefetch", st.prefetch},
        {"overlap", executor->overlaps()},
        {"stem_tail", executor->stem_split().tail_cost},
        {"speed_probe", SpeedJson(st)},
        {"process_cpu_seconds", st.process_cpu_s},
        {"description", DescribeMachine()}}},
      {"cost", CostJson(st, video_s)},
      {"memory", MemoryJson()},
      {"nodes", NodesJson(st, planner, video_s)},
      {"apps", apps},
      {"evaluation", evaluation},
      {"deployment",
       live() ? Json{{"file", config.deployment.string()},
                     {"camera", node.planner ? Json(node.camera) : Json(nullptr)},
                     {"log", (config.out_dir / kDeploymentLogFile).string()},
                     {"changes_accepted", changes_accepted},
                     {"changes_rejected", changes_rejected},
                     {"changes_unchanged", changes_unchanged},
                     {"max_swap_pause_ms", max_swap_pause_ms},
                     {"current_tree_first_frame", st.first > 0 ? st.first + st.epoch_decoded : 0},
                     {"note",
                      "nodes are the last tree's (since its swap); cost sums every tree, "
                      "predicted weighted by the frames each ran; apps lists the apps that left "
                      "with present false"}}
              : Json(nullptr)}};
}

RunResult Runtime::Run(const std::atomic<int>* stop) {
  Impl& m = *impl_;
  MS_CHECK_RT(!m.ran, "Runtime::Run can be called once");
  m.ran = true;
  return m.config.phases > 1 ? m.RunPhases(stop) : m.RunPhase(stop);
}

RunResult Runtime::Impl::RunPhases(const std::atomic<int>* stop) {
  const RunConfig all = config;
  fs::create_directories(all.out_dir);
  const fs::path pooled_file = all.out_dir / kPooledSummaryFile;
  std::error_code ec;
  fs::remove(pooled_file, ec);  // never beside phases it does not describe
  std::vector<std::string> keep;
  for (int k = 0; k < all.phases; ++k) keep.push_back(fmt::format("phase-{}", k + 1));
  RemoveStaleOutputs(all.out_dir, keep);
  std::vector<Json> summaries;
  RunResult last;
  for (int k = 0; k < all.phases; ++k) {
    config = all;
    config.phases = 1;
    config.seed = all.seed + static_cast<uint64_t>(k);
    config.out_dir = all.out_dir / fmt::format("phase-{}", k + 1);
    if (k > 0) source.emplace(config.input, source_options);  // back to the start of the range
    LogInfo("phase {}/{}: seed {} -> {}", k + 1, all.phases, config.seed, config.out_dir.string());
    last = RunPhase(stop);  // a fault propagates; the phases so far stay complete
    // A stopped phase keeps its (complete so far) directory but is not pooled:
    // it covers fewer frames than the others.
    if (last.status != RunStatus::kCompleted) break;
    summaries.push_back(last.summary);
  }
  config = all;
  if (summaries.empty()) return last;
  std::vector<LabeledApp> labeled;
  for (const AppLabels& l : labels) {
    labeled.push_back(
        LabeledApp{deployment.apps[static_cast<size_t>(l.app)].scheduled.app, l.file, &l.labels});
  }
  BootstrapOptions bo;
  bo.resamples = all.bootstrap_resamples;
  bo.seed = all.seed;
  RunResult r;
  r.status = last.status;
  r.stop_signal = last.stop_signal;
  r.summary = PoolRunSummaries(summaries, labeled, bo);
  r.summary["config"] = all.ToJson();
  r.summary["status"] = RunStatusName(last.status);  // "stopped" when a signal cut the phases short
  WriteJsonFileAtomic(pooled_file, r.summary);
  r.tables = FormatPooledTables(r.summary);
  return r;
}

RunResult Runtime::Impl::RunPhase(const std::atomic<int>* stop) {
  Impl& m = *this;
  const RunConfig& cfg = m.config;

  // Outputs: a stale summary from an earlier run must not sit beside new events.
  fs::create_directories(cfg.out_dir);
  const fs::path summary_file = cfg.out_dir / kRunSummaryFile;
  std::error_code ec;
  fs::remove(summary_file, ec);
  std::vector<std::string> keep;
  if (m.live()) keep.push_back(kDeploymentLogFile);
  for (const DeployedApp& a : m.deployment.apps) {
    keep.push_back(a.scheduled.app + kEventsSuffix);
    if (cfg.write_frames) keep.push_back(a.scheduled.app + kFramesSuffix);
  }
  RemoveStaleOutputs(cfg.out_dir, keep);
  std::vector<AppOutput> outputs;
  for (const DeployedApp& a : m.deployment.apps) {
    const std::string& name = a.scheduled.app;
    outputs.emplace_back(name, a.scheduled.x_vote, a.scheduled.threshold, m.source->fps(),
                         cfg.out_dir / (name + kEventsSuffix),
                         cfg.write_frames ? cfg.out_dir / (name + kFramesSuffix) : fs::path());
  }

  m.planner = std::make_unique<FramePlanner>(m.deployment.schedule.tree,
                                             m.deployment.schedule.stream_fps, cfg.seed);
  m.planner_baseline.assign(m.deployment.schedule.tree.nodes.size(), 0);
  m.executor->ResetCounters();
  LoopStats st;
  st.first_frame.assign(m.deployment.schedule.tree.nodes.size(), 0);
  if (m.live()) {
    const fs::path log_file = cfg.out_dir / kDeploymentLogFile;
    m.deployment_log = std::fopen(log_file.string().c_str(), "w");
    if (m.deployment_log == nullptr) {
      ThrowRuntime("{}: cannot write: {}", log_file.string(), std::strerror(errno));
    }
    Json first = m.ChangeJson(m.deployment.schedule);
    first["status"] = "initial";
    first["frame"] = 0;
    first["plan_ms"] = m.prepare_seconds * 1e3;
    m.LogChange(std::move(first));
  }
  std::exception_ptr fault;
  bool fault_is_input = false;
  // With --phases, a phase's end probe is the next one's start.
  constexpr int kProbeRepeats = 10, kProbeWarmup = 2;
  if (m.probe) {
    st.probe_start_ms =
        m.last_probe_ms > 0 ? m.last_probe_ms : m.probe->MeasureMs(kProbeRepeats, kProbeWarmup);
  }
  const double cpu0 = ProcessCpuSeconds();
  try {
    m.Loop(stop, outputs, st);
  } catch (const std::exception& e) {
    // A mid-stream fault (the video ends early or has a corrupt frame, a model
    // fails, an output cannot be written): finish the outputs, write the
    // summary, then report it.
    st.status = RunStatus::kFailed;
    st.error = e.what();
    fault = std::current_exception();
    fault_is_input = dynamic_cast<const InputError*>(&e) != nullptr;
    LogWarn("run failed after {} frames; writing the outputs so far to {}", st.decoded,
            cfg.out_dir.string());
  }
  st.process_cpu_s = ProcessCpuSeconds() - cpu0;
  if (m.probe && !fault) {
    st.probe_end_ms = m.probe->MeasureMs(kProbeRepeats, kProbeWarmup);
    m.last_probe_ms = st.probe_end_ms;
    const double factor = m.SpeedFactor(st);
    if (factor > 0 && std::abs(factor - 1) > 0.15 && !m.speed_warned) {
      m.speed_warned = true;
      LogWarn(
          "this machine ran the base's stages in {:.2f}x the time of the schedule's profile "
          "(speed probe before and after the run): measured costs differ from the predictions "
          "by as much; profile again on this machine in the same conditions (msprofile), or "
          "calibrate (msprofile --calibrate)",
          factor);
    }
  }
  std::vector<AppOutput*> all_outputs;
  for (auto& o : outputs) all_outputs.push_back(&o);
  for (auto& d : m.departed) all_outputs.push_back(&d.output);
  for (AppOutput* o : all_outputs) {
    try {
      o->Finish();
    } catch (const std::exception& e) {  // e.g. the last buffered lines meet a full disk
      if (!fault) {
        st.status = RunStatus::kFailed;
        st.error = e.what();
        fault = std::current_exception();
        fault_is_input = false;
      }
    }
  }

  RunResult r;
  r.status = st.status;
  r.stop_signal = st.stop_signal;
  if (m.deployment_log != nullptr) {
    std::fclose(m.deployment_log);
    m.deployment_log = nullptr;
  }
  r.summary = m.Summary(st, *m.planner, outputs);
  try {
    WriteJsonFileAtomic(summary_file, r.summary);
  } catch (const std::exception& e) {
    // Keep the run's own fault first (a full disk fails both): issue 15, item 7.
    if (!fault) throw;
    throw RuntimeError(
        fmt::format("{}; the summary could not be written either: {}", st.error, e.what()));
  }
  r.tables = FormatRunTables(r.summary);
  if (st.status == RunStatus::kStopped) {
    LogWarn("stopped{} after {} frames; outputs in {} are complete up to frame {}",
            st.stop_signal > 0 ? fmt::format(" by signal {}", st.stop_signal) : "", st.decoded,
            cfg.out_dir.string(), st.last);
  }
  // Mid-stream, even bad input is a failure of the run (exit 1, not 2).
  if (fault && fault_is_input) throw RuntimeError(st.error);
  if (fault) std::rethrow_exception(fault);
  return r;
}

}  // namespace mainstream
