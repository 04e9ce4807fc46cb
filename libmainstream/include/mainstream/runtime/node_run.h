// msrun --plan DIR: every camera of a node plan (msschedule plan) in one
// process, each camera's tree on its own thread over its own stream, the
// cameras' outputs in DIR/<camera>/ (each an ordinary run directory) and a
// node summary beside them (docs/runtime.md, "Several cameras").
#pragma once

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/runtime/run_config.h"
#include "mainstream/runtime/runtime.h"

namespace mainstream {

inline constexpr int kNodeRunSchemaVersion = 1;
inline constexpr const char* kNodeRunFile = "node_summary.json";

struct NodeRunConfig {
  std::filesystem::path plan;  // a plan directory or its node.json
  // "camera=input": the stream of a camera (default: the plan's "input").
  std::vector<std::string> inputs;
  // "camera/app=labels.csv": ground truth of one camera's app.
  std::vector<std::string> labels;
  // Everything else as one msrun's: base, out_dir (the node's directory),
  // realtime, seed, frames, range, ... `threads` is the node's: the cameras
  // run on their own threads, each with max(1, threads / cameras) branch
  // workers.
  RunConfig run;
};

struct NodeRunResult {
  RunStatus status = RunStatus::kCompleted;  // the worst of the cameras'
  int stop_signal = 0;
  Json summary;        // what node_summary.json holds
  std::string tables;  // one line per camera and the node's totals
  int ExitCode() const;
};

// Reads the plan, checks every camera's input and labels, and prepares every
// camera's run (Runtime::Prepare: InputError before any output), then runs
// them together until each ends or *stop becomes non-zero. A camera that
// fails mid-stream finishes its outputs and the others go on; its error is
// in the node summary (status "failed").
NodeRunResult RunNode(const NodeRunConfig& config, const std::atomic<int>* stop = nullptr);

}  // namespace mainstream
