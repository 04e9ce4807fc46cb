// msrun --plan DIR: every camera of a node plan (msschedule plan) in one
// process, each camera's tree on its own thread over its own stream, the
// cameras' outputs in DIR/<camera>/ (each an ordinary run directory) and a
// node summary beside them (docs/runtime.md, "Several cameras").
// msrun --deployment FILE with several cameras: the same, planned from the
// deployment file and re-planned jointly when it changes; each camera swaps
// to its part of the new plan at its own frame boundary.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/runtime/run_config.h"
#include "mainstream/runtime/runtime.h"

namespace mainstream {

inline constexpr int kNodeRunSchemaVersion = 1;
inline constexpr const char* kNodeRunFile = "node_summary.json";

struct NodeRunConfig {
  // A plan directory or its node.json; or (empty) run.deployment, a live
  // deployment file in the "cameras" form.
  std::filesystem::path plan;
  // "camera=input": the stream of a camera (default: the plan's "input").
  std::vector<std::string> inputs;
  // "camera/app=labels.csv": ground truth of one camera's app.
  std::vector<std::string> labels;
  // Everything else as one msrun's: base, out_dir (the node's directory),
  // realtime, seed, frames, range, ... `threads` is the node's: the cameras
  // run on their own threads (decoding, stems), their branches on one pool
  // of `threads` workers (threads >= 2).
  RunConfig run;
  // false: each camera gets its own max(1, threads / cameras) branch
  // workers instead of the shared pool (msrun --own-workers).
  bool shared_pool = true;
  // Called on each camera's frame loop at every frame boundary (Runtime::
  // SetFrameHook), e.g. a test rewriting the deployment at a given frame.
  std::function<void(const std::string& camera, int64_t frames_decoded)> frame_hook;
};

struct NodeRunResult {
  RunStatus status = RunStatus::kCompleted;  // the worst of the cameras'
  int stop_signal = 0;
  Json summary;        // what node_summary.json holds
  std::string tables;  // one line per camera and the node's totals
  int ExitCode() const;
};

// Reads the plan (or plans the deployment), checks every camera's input and
// labels, and prepares every
// camera's run (Runtime::Prepare: InputError before any output), then runs
// them together until each ends or *stop becomes non-zero. A camera that
// fails mid-stream finishes its outputs and the others go on; its error is
// in the node summary (status "failed").
NodeRunResult RunNode(const NodeRunConfig& config, const std::atomic<int>* stop = nullptr);

}  // namespace mainstream
