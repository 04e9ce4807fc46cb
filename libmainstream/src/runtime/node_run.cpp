#include "mainstream/runtime/node_run.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "mainstream/model/machine.h"
#include "mainstream/runtime/executor.h"
#include "mainstream/schedule/node_plan.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double At(const Json& j, std::initializer_list<const char*> path) {
  const Json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return 0;
    p = &(*p)[k];
  }
  return p->is_number() ? p->get<double>() : 0;
}

int Severity(RunStatus s) { return s == RunStatus::kFailed ? 2 : s == RunStatus::kStopped ? 1 : 0; }

}  // namespace

int NodeRunResult::ExitCode() const {
  RunResult r;
  r.status = status;
  r.stop_signal = stop_signal;
  return r.ExitCode();
}

NodeRunResult RunNode(const NodeRunConfig& config, const std::atomic<int>* stop) {
  const double t_prepare = Seconds();
  const bool live = config.plan.empty();
  MS_CHECK(!live || !config.run.deployment.empty(),
           "--plan: a plan directory (msschedule plan) or --deployment (a live deployment file "
           "with cameras) is required");
  MS_CHECK(config.run.schedule.empty() && (live || config.run.deployment.empty()),
           "--plan runs a node plan: give it without --schedule or --deployment");
  MS_CHECK(config.run.phases == 1,
           "--phases cannot be combined with {} (run one camera's schedule with --phases "
           "instead)",
           live ? "a deployment of several cameras" : "--plan");
  MS_CHECK(!config.run.out_dir.empty(), "--out: an output directory is required");
  // A live node: planned now by the planner every camera re-plans with.
  std::shared_ptr<NodePlanner> planner;
  NodePlan plan;
  fs::path plan_dir;
  std::string plan_origin;
  if (live) {
    planner = std::make_shared<NodePlanner>(config.run.deployment);
    plan = *planner->Plan(ReadDeploymentText(config.run.deployment));
    plan_origin = config.run.deployment.string();
  } else {
    plan = ReadNodePlan(config.plan);
    plan_dir = fs::is_directory(config.plan) ? config.plan : config.plan.parent_path();
    plan_origin = (plan_dir / "node.json").string();
  }

  std::map<std::string, std::string> inputs;
  for (const std::string& a : config.inputs) {
    auto [cam, input] = ParseAssignment(a, "--camera-input", "CAMERA=INPUT (e.g. gate=rtsp://...)");
    const bool known = std::any_of(plan.cameras.begin(), plan.cameras.end(),
                                   [&](const NodeCamera& c) { return c.name == cam; });
    if (!known) ThrowInput("--camera-input {}: {} has no camera '{}'", a, plan_origin, cam);
    inputs[cam] = input;
  }
  std::map<std::string, std::vector<LabelsArg>> labels;
  for (const std::string& l : config.labels) {
    auto [key, file] = ParseAssignment(l, "--labels", "CAMERA/APP=LABELS.csv with several cameras");
    const auto slash = key.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == key.size())
      ThrowInput("--labels {}: with several cameras, name the camera too: CAMERA/APP=LABELS.csv",
                 l);
    const std::string cam = key.substr(0, slash), app = key.substr(slash + 1);
    const auto it = std::find_if(plan.cameras.begin(), plan.cameras.end(),
                                 [&](const NodeCamera& c) { return c.name == cam; });
    if (it == plan.cameras.end())
      ThrowInput("--labels {}: {} has no camera '{}'", l, plan_origin, cam);
    labels[cam].push_back(LabelsArg{app, file});
  }

  // Each camera an ordinary run into DIR/<camera>/; prepared one after the
  // other (every check before any output), run together.
  const int cameras = static_cast<int>(plan.cameras.size());
  // Branch workers: one pool of --threads shared by every camera's tree
  // (a camera with more branches due uses the cores another does not), or
  // each camera's own max(1, threads / cameras).
  const bool shared = config.shared_pool && config.run.threads >= 2;
  const int per_camera = shared ? config.run.threads : std::max(1, config.run.threads / cameras);
  std::shared_ptr<BranchPool> pool;
  if (shared) pool = MakeBranchPool(config.run.threads);
  std::vector<Runtime> runtimes;
  std::vector<RunConfig> configs;
  for (const NodeCamera& cam : plan.cameras) {
    RunConfig c = config.run;
    if (!live) c.schedule = plan_dir / cam.schedule_file;
    c.input = inputs.count(cam.name) ? inputs[cam.name] : cam.input;
    if (c.input.empty()) {
      ThrowInput("camera '{}' has no input in {}: give its stream with --camera-input {}=VIDEO|URL",
                 cam.name, plan_origin, cam.name);
    }
    c.out_dir = config.run.out_dir / cam.name;
    c.labels = labels[cam.name];
    c.threads = per_camera;
    // As many cameras as cores: their loop threads already decode side by
    // side, and a decoding thread per camera more only takes turns with them
    // (bench_runtime part 10: 4 cameras on 2 cores, 4-6% fewer frames/s).
    if (cameras >= config.run.threads) c.prefetch = false;
    LogInfo("camera {}: {} -> {}", cam.name, c.input, c.out_dir.string());
    try {
      runtimes.push_back(Runtime::Prepare(c, NodeCameraLink{planner, pool, cam.name}));
      if (config.frame_hook) {
        runtimes.back().SetFrameHook(
            [hook = config.frame_hook, name = cam.name](int64_t n) { hook(name, n); });
      }
    } catch (const InputError& e) {
      ThrowInput("camera '{}': {}", cam.name, e.what());
    }
    configs.push_back(std::move(c));
  }
  const double prepare_seconds = Seconds() - t_prepare;

  // A node directory holds its cameras and its summary only.
  fs::create_directories(config.run.out_dir);
  std::error_code ec;
  fs::remove(config.run.out_dir / kNodeRunFile, ec);

  struct Outcome {
    std::optional<RunResult> result;
    std::string error;
    double wall = 0;
  };
  std::vector<Outcome> outcomes(runtimes.size());
  const double t0 = Seconds();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < runtimes.size(); ++c) {
    threads.emplace_back([&, c] {
      // LibTorch's thread count is per thread (OpenMP): one per camera
      // thread, the branch workers set their own.
      SetTorchThreads(1);
      const double start = Seconds();
      try {
        outcomes[c].result = runtimes[c].Run(stop);
      } catch (const std::exception& e) {
        // The camera's outputs are complete up to its fault (Runtime::Run);
        // the other cameras go on.
        outcomes[c].error = e.what();
        LogError("camera {}: {}", plan.cameras[c].name, e.what());
      }
      outcomes[c].wall = Seconds() - start;
    });
  }
  for (std::thread& t : threads) t.join();
  const double wall = Seconds() - t0;

  NodeRunResult out;
  Json cams = Json::array();
  double predicted = 0, measured = 0, measured_cpu = 0, video_seconds_min = -1;
  double f1_sum = 0;
  int f1_apps = 0;
  int64_t decoded = 0, dropped = 0;
  double accepted = 0, rejected = 0, unchanged = 0, max_pause = 0;
  for (size_t c = 0; c < runtimes.size(); ++c) {
    const NodeCamera& cam = plan.cameras[c];
    const Outcome& o = outcomes[c];
    RunStatus status = RunStatus::kFailed;
    Json s = Json::object();
    if (o.result) {
      status = o.result->status;
      s = o.result->summary;
      if (status == RunStatus::kStopped) out.stop_signal = o.result->stop_signal;
    } else {
      // The summary the failed run wrote, when it got that far.
      try {
        s = ReadJsonFile(configs[c].out_dir / kRunSummaryFile);
      } catch (const Error&) {
      }
    }
    if (Severity(status) > Severity(out.status)) out.status = status;
    const double video_s = At(s, {"frames", "video_seconds"});
    const double p = At(s, {"cost", "predicted", "total"});
    const double m = At(s, {"cost", "measured", "total"});
    const double mc = At(s, {"cost", "measured_cpu", "total"});
    predicted += p;
    measured += m;
    measured_cpu += mc;
    decoded += static_cast<int64_t>(At(s, {"frames", "decoded"}));
    dropped += static_cast<int64_t>(At(s, {"frames", "dropped"}));
    if (video_seconds_min < 0 || video_s < video_seconds_min) video_seconds_min = video_s;
    Json cj{{"name", cam.name},
            {"input", configs[c].input},
            {"status", RunStatusName(status)},
            {"error", o.error.empty() ? Json(nullptr) : Json(o.error)},
            {"out", cam.name},
            {"share", cam.share},
            {"frames_decoded", At(s, {"frames", "decoded"})},
            {"frames_dropped", At(s, {"frames", "dropped"})},
            {"video_seconds", video_s},
            {"wall_seconds", o.wall},
            {"cost", Json{{"predicted", p}, {"measured", m}, {"measured_cpu", mc}}}};
    if (live) {
      const double a = At(s, {"deployment", "changes_accepted"});
      const double r = At(s, {"deployment", "changes_rejected"});
      const double u = At(s, {"deployment", "changes_unchanged"});
      const double p_ms = At(s, {"deployment", "max_swap_pause_ms"});
      accepted += a;
      rejected += r;
      unchanged += u;
      max_pause = std::max(max_pause, p_ms);
      cj["deployment"] = Json{{"log", (fs::path(cam.name) / kDeploymentLogFile).string()},
                              {"changes_accepted", a},
                              {"changes_rejected", r},
                              {"changes_unchanged", u},
                              {"max_swap_pause_ms", p_ms}};
    }
    if (s.contains("evaluation") && s["evaluation"].is_object()) {
      const Json& e = s["evaluation"];
      cj["evaluation"] = e;
      const int n = e.value("apps", 0);
      f1_sum += e.value("mean_f1", 0.0) * n;
      f1_apps += n;
    }
    cams.push_back(std::move(cj));
  }
  out.summary =
      Json{{"schema_version", kNodeRunSchemaVersion},
           {"kind", "mainstream.node_run"},
           {"status", RunStatusName(out.status)},
           {"plan", live ? Json(nullptr) : Json(plan_origin)},
           {"deployment",
            live ? Json{{"file", plan_origin},
                        {"changes_accepted", accepted},
                        {"changes_rejected", rejected},
                        {"changes_unchanged", unchanged},
                        {"max_swap_pause_ms", max_pause},
                        {"note",
                         "counted per camera: one change of the file is one entry in each "
                         "camera's log; algorithm, budget and predicted_mean_f1 are the first "
                         "plan's"}}
                 : Json(nullptr)},
           {"algorithm", plan.algorithm},
           {"budget", plan.budget},
           {"threads", config.run.threads},
           {"threads_per_camera", per_camera},
           {"shared_pool", shared},
           {"prepare_seconds", prepare_seconds},
           {"wall_seconds", wall},
           {"frames", Json{{"decoded", decoded}, {"dropped", dropped}}},
           {"video_seconds", std::max(0.0, video_seconds_min)},  // the shortest camera's
           // Costs in ms of compute per second of video, summed over cameras
           // (each camera's second of video counts once: they run side by side).
           {"cost", Json{{"predicted", predicted},
                         {"measured", measured},
                         {"measured_cpu", measured_cpu},
                         {"cpu_ratio", predicted > 0 ? measured_cpu / predicted : 0.0}}},
           {"predicted_mean_f1", plan.mean_f1},
           {"evaluation",
            f1_apps > 0 ? Json{{"apps", f1_apps}, {"mean_f1", f1_sum / f1_apps}} : Json(nullptr)},
           {"cameras", std::move(cams)}};
  WriteJsonFileAtomic(config.run.out_dir / kNodeRunFile, out.summary);
  out.tables = fmt::format(
      "msrun {}: {} camera(s) {} in {:.1f} s wall ({} thread(s), {})\n",
      live ? "--deployment" : "--plan", cameras, RunStatusName(out.status), wall,
      config.run.threads,
      shared ? "branch workers shared by the cameras" : fmt::format("{} per camera", per_camera));
  if (live) {
    out.tables += fmt::format(
        "deployment changes per camera: {:g} swapped, {:g} unchanged, {:g} rejected; longest "
        "swap pause {:.1f} ms\n",
        accepted, unchanged, rejected, max_pause);
  }
  out.tables += fmt::format("{:<16} {:>10} {:>8} {:>8} {:>11} {:>11} {:>9}\n", "camera", "status",
                            "frames", "dropped", "pred ms/s", "cpu ms/s", "F1");
  for (const Json& c : out.summary["cameras"]) {
    out.tables += fmt::format(
        "{:<16} {:>10} {:>8} {:>8} {:>11.3f} {:>11.3f} {:>9}\n", c["name"].get<std::string>(),
        c["status"].get<std::string>(), c["frames_decoded"].get<double>(),
        c["frames_dropped"].get<double>(), c["cost"]["predicted"].get<double>(),
        c["cost"]["measured_cpu"].get<double>(),
        c.contains("evaluation") ? fmt::format("{:.3f}", c["evaluation"].value("mean_f1", 0.0))
                                 : std::string("-"));
  }
  out.tables += fmt::format("{:<16} {:>10} {:>8} {:>8} {:>11.3f} {:>11.3f} {:>9}\n", "node", "",
                            decoded, dropped, predicted, measured_cpu,
                            f1_apps > 0 ? fmt::format("{:.3f}", f1_sum / f1_apps) : "-");
  return out;
}

}  // namespace mainstream
