// msrun's library half: load a schedule and its packages onto a base, open
// the input, then run the merged tree frame by frame (FramePlanner decides
// which nodes run on each frame, so the work done equals the cost model),
// writing per-app events as they happen and a summary at the end.
//
//   Runtime rt = Runtime::Prepare(config);   // all checks; InputError before any output
//   InstallStopHandlers();                   // Ctrl-C / SIGTERM stop cleanly
//   RunResult r = rt.Run(StopSignal());      // DIR/<app>.events.jsonl, DIR/summary.json
//
// See docs/runtime.md for the outputs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/core/stop.h"
#include "mainstream/runtime/deployment.h"
#include "mainstream/runtime/run_config.h"

namespace mainstream {

inline constexpr int kRunSummarySchemaVersion = 1;
inline constexpr const char* kRunSummaryFile = "summary.json";
inline constexpr const char* kPooledSummaryFile = "pooled.json";       // RunConfig::phases > 1
inline constexpr const char* kDeploymentLogFile = "deployment.jsonl";  // RunConfig::deployment

enum class RunStatus { kCompleted, kStopped, kFailed };
const char* RunStatusName(RunStatus status);  // "completed", "stopped", "failed"

struct RunResult {
  RunStatus status = RunStatus::kCompleted;
  int stop_signal = 0;  // the signal that stopped the run (kStopped), or 0
  Json summary;         // what summary.json holds
  std::string tables;   // FormatRunTables(summary)

  // 0 completed, 128 + signal when stopped by a signal (130 for Ctrl-C,
  // 143 for SIGTERM), 1 when stopped otherwise.
  int ExitCode() const;
};

class NodePlanner;  // mainstream/schedule/node_plan.h
class BranchPool;   // mainstream/runtime/executor.h

// One camera of several (RunNode). With a planner (a live deployment), its
// trees come from the node's joint plans, shared with the other cameras'
// runs; with a pool, its branches run on the node's workers (shared with
// the other cameras; config.threads is then not this camera's own); the
// camera's name prefixes its log lines.
struct NodeCameraLink {
  std::shared_ptr<NodePlanner> planner;
  std::shared_ptr<BranchPool> pool;
  std::string camera;
};

class Runtime {
 public:
  // Validates the config, resolves the schedule (LoadDeployment), loads and
  // checks the base (its model file must hash to the schedule's sha256),
  // opens the input (decoding its first frame), reads the labels and builds
  // every segment. Throws InputError naming the file and problem; nothing is
  // written before this returns. With `node`, this run is node.camera's of
  // several; with node.planner (config.deployment holds several cameras), it
  // plans and re-plans through it.
  static Runtime Prepare(const RunConfig& config, const NodeCameraLink& node = {});

  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;
  ~Runtime();

  // Runs until the end of the range or until *stop becomes non-zero (a
  // signal number, see StopSignal()). Creates the output directory. A
  // mid-stream fault (VideoEndedEarlyError, CorruptFrameError, ...) finishes
  // the outputs (open events reported as cut, summary.json with status
  // "failed" and the error) and is then rethrown. Call once.
  // With config.phases = K > 1: K passes over the range with seeds seed ..
  // seed + K - 1 into out_dir/phase-1 .. phase-K (each a complete run
  // directory), then out_dir/pooled.json (PoolRunSummaries); the result's
  // summary is the pooled one.
  RunResult Run(const std::atomic<int>* stop = nullptr);

  // Called on the frame loop's thread at each frame boundary with the number
  // of frames decoded so far, before a live deployment's file is checked (an
  // embedder's or a test's hook: e.g. rewrite the deployment at frame N).
  void SetFrameHook(std::function<void(int64_t frames_decoded)> hook);

  const RunConfig& config() const;
  const Deployment& deployment() const;
  // "vtest.avi: 768x576, 7 fps (...), 795 frames, FFMPEG"
  std::string DescribeInput() const;

 private:
  Runtime();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// InstallStopHandlers() and StopSignal(): mainstream/core/stop.h.

}  // namespace mainstream
