// Executes a merged tree (schedule/cost_model.h) on LibTorch segments: one
// frozen, oneDNN-optimized Segment per stem node (base stages [begin, end)),
// one per app for its own suffix (its package's TorchScript weights). On each
// frame the caller passes the nodes to run (FramePlanner::Next(), parents
// before children); activations flow from parent to child within the frame,
// kept in oneDNN's layout between segments where possible. With
// ExecutorOptions::workers > 1 the branches run in parallel once the stems
// are done, and RunOverlapped runs one batch's stems while the batch before
// it is still in its branches (and, when the stems are most of the work,
// the last of them too: PlanStemSplit). LibTorch stays out of this header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/micro_head.h"
#include "mainstream/model/torch_fwd.h"
#include "mainstream/schedule/cost_model.h"
#include "mainstream/video/preprocess.h"

namespace mainstream {

struct Deployment;

// Worker threads that run the branches of one tree, or of several trees at
// once (msrun with several cameras: every camera's tree shares one pool).
// Each worker runs LibTorch on one intra-op thread, so W workers use W
// cores. Several threads may hand it work at once: their jobs queue in
// order.
class BranchPool;
std::shared_ptr<BranchPool> MakeBranchPool(int workers);
int BranchPoolSize(const BranchPool& pool);

struct ExecutorOptions {
  bool optimize = true;  // freeze + oneDNN (false: plain TorchScript, a reference)
  bool verify = true;    // check each optimized segment against its plain module
  // > 1: after the stems (run on the calling thread), the frame's branches
  // fan out over this many threads, each running one branch at a time on
  // one LibTorch thread, largest first: a pool of workers - 1 threads and
  // the calling thread. Scores do not depend on the count: each branch
  // writes only its own app's scores.
  int workers = 1;
  // Non-null: the branches fan out over this pool, shared with other trees
  // (`workers` is then ignored; workers() is the pool's size). The calling
  // thread only waits for them, and RunOverlapped does not overlap.
  std::shared_ptr<BranchPool> pool;
  // false: the own pool has `workers` threads and the calling thread only
  // waits for them, as before RunOverlapped existed (a reference for
  // measurements: msrun --no-overlap).
  bool overlap = true;
  // With the overlap: the per-stage latencies (the schedule's profile) from
  // which the stems' tail is planned (PlanStemSplit): the stems beyond the
  // calling thread's share of a frame's work run on the workers before the
  // branches. Empty: the stems stay on the calling thread (msrun
  // --no-stem-split). Scores do not depend on it.
  std::vector<double> stage_ms;
  // The calling thread decodes the frames too (false: a thread of its own
  // decodes ahead, msrun's default with --threads >= 2): how the tail is
  // planned.
  bool decode_on_loop = true;
  // Microclassifiers run as plain loops over their crop (MicroHead) rather
  // than through their TorchScript module; false: the module (a reference).
  bool native_micro = true;
};

// CPU time of the calling thread, in seconds.
double ThreadCpuSeconds();

class TreeExecutor {
 public:
  // suffixes[i] is app i's module (the tree's app indices); origins name them
  // in errors (e.g. the weights file). Each must map the activation at its
  // app's branchpoint to logits [batch, 2]; InputError naming the origin
  // otherwise. micro_crops (empty, or one per app; an empty crop for a
  // branch): a microclassifier's crop, with which it runs as a MicroHead
  // when its module has that form and agrees with it on a probe.
  static TreeExecutor Build(const BaseModel& base, const MergedTree& tree,
                            const std::vector<torch::jit::Module>& suffixes,
                            const std::vector<std::string>& origins,
                            const ExecutorOptions& options = {},
                            const std::vector<MicroCrop>& micro_crops = {});
  // Loads every app's weights file (Deployment::apps[i].weights).
  static TreeExecutor Load(const BaseModel& base, const Deployment& deployment,
                           const ExecutorOptions& options = {});

  TreeExecutor(TreeExecutor&&) noexcept;
  TreeExecutor& operator=(TreeExecutor&&) noexcept;
  ~TreeExecutor();

  // One frame's work: its preprocessed input (float CHW, the base's input
  // size; needed only when a root node runs) and the nodes to run, parents
  // before children, each node's parent included.
  struct FrameTask {
    const float* input = nullptr;
    std::vector<int> nodes;
  };
  // Runs several frames; every node runs once on all frames that need it
  // (as one batch). scores->at(f)[app] is the event score softmax(logits)[1]
  // of frame f for each app whose branch ran on it, NaN for the others.
  void Run(const std::vector<FrameTask>& frames, std::vector<std::vector<double>>* scores);
  // Run in a pipeline, one batch behind: runs these frames' stems, then
  // finishes the batch passed in the call before (with workers > 1 its
  // branches ran on the pool meanwhile; the calling thread now runs what is
  // left of them), writes that batch's scores to *previous and returns true
  // (false on the first call), and starts these frames' branches. Drain
  // finishes the batch in flight the same way (false when there is none).
  // Scores equal Run's. The frames' inputs must stay valid until their
  // scores are returned. Without an own pool (workers 1, or a shared pool)
  // each batch runs whole here, and is still returned one call later.
  bool RunOverlapped(const std::vector<FrameTask>& frames,
                     std::vector<std::vector<double>>* previous);
  bool Drain(std::vector<std::vector<double>>* previous);
  // True when RunOverlapped overlaps a batch's stems with its predecessor's
  // branches (workers > 1 on the executor's own pool, options.overlap).
  bool overlaps() const;
  // The stems' tail run on the workers (PlanStemSplit; empty without one)
  // and its cost, for MergedTree::WallCost.
  const StemSplit& stem_split() const;

  int num_nodes() const;
  int num_apps() const;
  bool IsRoot(int node) const;
  // True when any of `nodes` needs the preprocessed frame.
  bool NeedsInput(const std::vector<int>& nodes) const;
  const MergedTree& tree() const;
  const PreprocessConfig& preprocess() const;

  // Accumulated over Run calls: forward calls, frames run, wall time and the
  // calling thread's CPU time per node (the CPU time is the node's compute
  // with one LibTorch thread, whatever else the machine runs; with more
  // threads it misses the other threads' share; branches run by workers are
  // timed on their worker, one LibTorch thread each).
  int64_t node_calls(int node) const;
  int64_t node_frames(int node) const;
  double node_ms(int node) const;
  double node_cpu_ms(int node) const;
  // Wall time the calling thread spent in the branch phases, summed over
  // calls: from the first branch starting to the last one ending (Run), or
  // finishing what the next batch's stems left (RunOverlapped: the part of
  // the branches' time the overlap did not hide). With workers, less than
  // the sum of the branches' node_ms.
  double branch_phase_ms() const;
  // Wall time of the stems' tail (stem_split()) on the threads that ran it,
  // summed over calls; part of the stems' node_ms, and not the calling
  // thread's unless it ran the tail in a branch phase.
  double tail_ms() const;
  // The threads that run branches: `workers` (own pool, the calling thread
  // included), the shared pool's size, or 1.
  int workers() const;
  void ResetCounters();
  // The segment behind a node: name and what optimization did.
  Json NodeInfo(int node) const;
  // True when the node is a microclassifier run as a MicroHead.
  bool IsNativeMicro(int node) const;

 private:
  TreeExecutor();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mainstream
