// msrun: run a schedule's merged tree on a video, a stream or a camera: the
// shared stem once per frame, each app's branch at its own rate; per-app
// events as JSON Lines, a summary, and event-level scores against labels.
// Logic lives in libmainstream (runtime/).
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "mainstream/core/error.h"
#include "mainstream/runtime/node_run.h"
#include "mainstream/runtime/runtime.h"
#include "mainstream/schedule/deployment_spec.h"

using namespace mainstream;

int main(int argc, char** argv) {
  CLI::App app{
      "msrun: run a schedule on video (shared stem once per frame, each branch at its rate)"};
  app.footer(
      "Frame numbers are 1-based and inclusive, like label-file rows: --start-frame 600\n"
      "--end-frame 795 runs rows 600..795 (video indices 599..794).\n\n"
      "Outputs in --out DIR: <app>.events.jsonl (a line per event, written as it ends),\n"
      "<app>.frames.csv (--frames: every sampled frame's score), summary.json; with\n"
      "--phases K, one such directory per phase (DIR/phase-<k>) and DIR/pooled.json.\n"
      "Exit codes: 0 done; 2 bad input (nothing run); 1 a fault mid-stream and 130/143\n"
      "Ctrl-C/SIGTERM (outputs complete up to that frame in both cases).\n\n"
      "Examples:\n"
      "  msrun --schedule s.json --base bases/msnet-s --input vtest.avi --fps-override 7 --out "
      "run\n"
      "  msrun --schedule s.json --base b --input vtest.avi --out run --frames --seed 3 \\\n"
      "        --labels ped=ped.csv car=car.csv --start-frame 600 --end-frame 795\n"
      "  msrun --schedule s.json --base b --input rtsp://cam/stream --out live --realtime\n"
      "  msrun --deployment node.json --base b --input rtsp://cam/stream --out live --realtime\n"
      "      (edit node.json by writing a new file and renaming it over the old one: msrun\n"
      "      re-plans, loads the new branches in the background and swaps between frames;\n"
      "      every change is logged in DIR/deployment.jsonl)\n"
      "  msrun --deployment cams.json --base b --out node --realtime   (a \"cameras\" deployment:\n"
      "      every camera on its own thread, re-planned jointly; DIR/<camera>/ and\n"
      "      DIR/node_summary.json)\n"
      "  msrun --plan plan --base b --out node --realtime   (msschedule plan: every camera)\n"
      "  /usr/bin/python3 scripts/plot_timeline.py run -o run/timeline.png");
  cli::CommonFlags common;
  cli::AddCommonFlags(app, common);

  RunConfig cfg;
  std::vector<std::string> labels;
  auto* schedule = app.add_option("--schedule", cfg.schedule,
                                  "Schedule from msschedule (schedule.json), run as it is");
  auto* deployment =
      app.add_option("--deployment", cfg.deployment,
                     "Live deployment file (budget, search, apps' M-Packages): msrun plans it and "
                     "re-plans when the file changes, swapping trees between frames "
                     "(docs/runtime.md, Live deployments); with several cameras, each camera "
                     "on its own thread as with --plan, planned jointly");
  schedule->excludes(deployment);
  deployment->excludes(schedule);
  NodeRunConfig node;
  auto* plan = app.add_option("--plan", node.plan,
                              "A node plan (msschedule plan's directory): every camera's schedule "
                              "on its own thread over its own stream, outputs in --out/<camera>/ "
                              "and --out/node_summary.json (docs/runtime.md, Several cameras)");
  plan->excludes(schedule)->excludes(deployment);
  app.add_option("--camera-input", node.inputs,
                 "With several cameras (--plan, --deployment): CAMERA=VIDEO|URL, a camera's stream "
                 "(default: its input in the plan or deployment)")
      ->expected(1, -1);
  app.add_flag(
      "--own-workers", [&node](int64_t) { node.shared_pool = false; },
      "With several cameras: each camera gets its own max(1, threads/cameras) branch workers "
      "(default: every camera's branches share one pool of --threads workers)");
  app.add_option("--poll", cfg.deployment_poll_ms,
                 "With --deployment: ms between checks of the file for a change")
      ->capture_default_str();
  app.add_option("--base", cfg.base_dir,
                 "Base directory (model.pt + base.json) the packages were trained on")
      ->required();
  app.add_option("--input", cfg.input,
                 "Video file, stream URL (rtsp://, http://, ...) or camera:N (several cameras: "
                 "--camera-input)");
  app.add_option("--out", cfg.out_dir, "Output directory (created)")->required();
  app.add_option("--labels", labels,
                 "Ground truth per app for event-level scoring: APP=labels.csv (frame,label); with "
                 "several cameras CAMERA/APP=labels.csv")
      ->expected(1, -1);
  app.add_flag(
      "--realtime", cfg.realtime,
      "Frames arrive at the stream's rate; frames that arrive while busy are dropped (counted)");
  app.add_option("--max-lag", cfg.max_lag_ms,
                 "With --realtime: ms a frame may wait behind busy ones before it is dropped "
                 "(default 0: one frame interval)")
      ->capture_default_str();
  app.add_flag("--frames", cfg.write_frames,
               "Also write <app>.frames.csv with every sampled frame's score");
  app.add_option("--start-frame", cfg.start_frame, "First frame to run on (1-based, inclusive)")
      ->capture_default_str();
  app.add_option("--end-frame", cfg.end_frame,
                 "Last frame to run on (1-based, inclusive; 0 = to the end)")
      ->capture_default_str();
  app.add_option("--fps-override", cfg.fps_override,
                 "The stream's true frame rate when the container's is wrong")
      ->check(CLI::Range(1e-3, 1000.0));
  app.add_option("--reconnect", cfg.reconnect_s,
                 "Live sources: when the stream or camera drops, keep reopening it with back-off "
                 "for this many seconds (0: the run ends with the stream)")
      ->capture_default_str();
  app.add_flag(
      "--no-prefetch", [&cfg](int64_t) { cfg.prefetch = false; },
      "Decode on the loop thread (default with --threads >= 2 and a video file: a thread "
      "decodes the next frames while the tree runs)");
  app.add_flag(
      "--no-overlap", [&cfg](int64_t) { cfg.overlap = false; },
      "With --threads N >= 2: N branch workers and the loop thread waits for them (default: the "
      "loop thread is one of the N and runs the next frame's stems while the others finish the "
      "frame before)");
  app.add_flag(
      "--no-stem-split", [&cfg](int64_t) { cfg.stem_split = false; },
      "With the overlap: the stems stay on the loop thread (default: when they are more than its "
      "share of a frame's work, their last stages run on the workers before the branches)");
  app.add_flag(
      "--no-speed-probe", [&cfg](int64_t) { cfg.speed_probe = false; },
      "Skip timing the base's stages before and after the run (default: the summary compares "
      "this machine's speed now with the schedule's profile)");
  app.add_option("--batch", cfg.batch,
                 "Frames per forward call (offline runs; profile with the same batch)")
      ->capture_default_str();
  app.add_option("--bootstrap", cfg.bootstrap_resamples,
                 "Bootstrap resamples for confidence intervals")
      ->capture_default_str();
  app.add_option("--phases", cfg.phases,
                 "Run the range K times at sampling phases seed..seed+K-1 (DIR/phase-<k>/) and "
                 "pool the scores in DIR/pooled.json")
      ->capture_default_str();
  app.add_option("--progress", cfg.progress_interval_s,
                 "Seconds between progress lines on stderr (0: none)")
      ->capture_default_str();

  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("msrun", [&]() -> int {
    cli::ApplyCommonFlags(common);
    cfg.threads = common.ResolvedThreads();
    cfg.seed = common.seed;
    InstallStopHandlers();
    // Several cameras: a node plan, or a deployment in the "cameras" form.
    bool several = !node.plan.empty();
    if (!cfg.deployment.empty()) {
      const DeploymentSpec spec = ReadDeploymentSpec(cfg.deployment);
      several = spec.several_cameras();
      // One camera in the "cameras" form: its input unless --input is given.
      if (spec.cameras.size() == 1 && cfg.input.empty()) cfg.input = spec.cameras[0].input;
    }
    if (several) {
      MS_CHECK(cfg.input.empty(),
               "--input: with several cameras each camera has its own stream (the {}'s "
               "inputs, or --camera-input CAMERA=INPUT)",
               node.plan.empty() ? "deployment" : "plan");
      node.labels = labels;
      node.run = cfg;
      NodeRunResult result = RunNode(node, StopSignal());
      std::fputs(result.tables.c_str(), stdout);
      std::printf("%s\n", (cfg.out_dir / kNodeRunFile).string().c_str());
      return result.ExitCode();
    }
    MS_CHECK(node.inputs.empty(),
             "--camera-input needs several cameras (--plan, or a deployment with \"cameras\")");
    for (const auto& l : labels) cfg.labels.push_back(ParseLabelsArg(l));
    Runtime runtime = Runtime::Prepare(cfg);
    RunResult result = runtime.Run(StopSignal());
    std::fputs(result.tables.c_str(), stdout);
    std::printf(
        "%s\n",
        (cfg.out_dir / (cfg.phases > 1 ? kPooledSummaryFile : kRunSummaryFile)).string().c_str());
    return result.ExitCode();
  });
}
