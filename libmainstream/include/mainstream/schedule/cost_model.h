// The cost model and the merged tree, in one place for the scheduler and the
// runtime (docs/model.md, "Cost model").
//
// A schedule assigns each app a branchpoint b (stages [0, b) are the shared,
// frozen stem; [b, n) are its own) and a frame rate. A stem stage shared by
// several apps runs once per frame at the highest rate among the apps that
// need it; an app's own stages run at its rate; decoding and preprocessing run
// once per frame at the highest rate of all (preprocessing); the stream itself
// is decoded in full (every frame, at the stream rate). Cost is in ms of
// compute per second of video. The merged tree below executes exactly that: each node's
// frames are a subset of its parent's frames (see Sampler).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"

namespace mainstream {

// How much slower a stage runs when many apps' weights pass through the
// caches between two of its runs (docs/model.md, "Caches"). msprofile times
// every stage hot (one model's bytes between two runs) and cold (among
// copies of itself that stream cold_reuse[k] bytes between its runs), and
// probes the memory hierarchy with a read loop over growing working sets.
// Stage k, with `reuse` bytes streamed between two of its runs, pays
// hot + Fraction(k, reuse) x (cold - hot).
struct CacheModel {
  std::vector<double> cold_ms;     // per stage, >= 0 (empty: the cache-blind model)
  std::vector<double> cold_reuse;  // per stage: bytes streamed between two cold runs
  std::vector<double> bytes;       // per stage: parameters + output activation, one run
  // The probe: working-set bytes (ascending) and ns per cache line read.
  std::vector<double> curve_bytes, curve_ns;
  double hot_bytes = 0;  // streamed between two hot runs of a stage (one model)
  bool enabled() const { return !cold_ms.empty(); }
  // Throws InputError naming the first bad value (`stages` = the base's).
  void Validate(size_t stages) const;
  // In [0, kMaxFraction]: how far `reuse_bytes` lies from the hot timing
  // towards stage k's cold one on the probe's curve (interpolated in log
  // bytes; 0 at or below hot_bytes; beyond the cold timing extrapolated, at
  // most kMaxFraction). 0 for a stage whose cold timing streamed too little
  // to be told from hot on the curve.
  double Fraction(size_t stage, double reuse_bytes) const;
  static constexpr double kMaxFraction = 2;
  static constexpr double kMinSpan = 0.1;  // of the probe's normalized rise
};

struct StageCosts {
  std::vector<double> stage_ms;  // per-stage latency (ms per frame) of the shared base
  // Per-stage latency of an app's own (specialized) copy of the stage, when
  // it differs from the shared one (a calibrated profile: its weights are
  // another copy, colder in the caches); empty = stage_ms.
  std::vector<double> branch_stage_ms;
  double preprocess_ms = 0;  // per frame the DNN processes (at the highest app rate)
  double decode_ms = 0;      // per stream frame (every frame is decoded)
  double stream_fps = 0;     // rate decode_ms is charged at
  // What decoding a frame right after the DNN ran costs beyond decode_ms,
  // charged once per analyzed frame (at the highest app rate): the frame
  // after an analyzed one is decoded with the decoder's state evicted
  // (docs/model.md, "Cost model"; 0: not profiled).
  double decode_extra_ms = 0;
  StageCosts() = default;
  // Preprocessing only (no stream decode charge).
  StageCosts(std::vector<double> stages, double preprocess);
  StageCosts(std::vector<double> stages, double preprocess, double decode, double stream_fps);
  // Cost that does not depend on the schedule: decoding the whole stream.
  double FixedCost() const { return decode_ms * stream_fps; }
  // Decoding the stream when the DNN runs max_fps of its frames.
  double DecodeCost(double max_fps) const {
    return FixedCost() + decode_extra_ms * std::min(max_fps, stream_fps);
  }
  // What each frame the DNN analyzes costs besides the stages: preprocessing
  // it, and decoding the next frame after the DNN.
  // (max_fps <= stream_fps in any schedule, so DecodeCost agrees with it.)
  double PerAnalyzedFrameMs() const {
    return preprocess_ms + (stream_fps > 0 ? decode_extra_ms : 0.0);
  }
  int num_stages() const { return static_cast<int>(stage_ms.size()); }
  // Latency of stages [begin, end).
  double Range(int begin, int end) const {
    return prefix_[static_cast<size_t>(end)] - prefix_[static_cast<size_t>(begin)];
  }
  double Total() const { return prefix_.back(); }
  // Sets branch_stage_ms (one value per stage, each finite and >= 0; empty
  // clears it).
  void SetBranchStages(std::vector<double> stages);
  bool HasBranchStages() const { return !branch_stage_ms.empty(); }
  // Sets the cold timings (validated); BuildMergedTree then charges every
  // node by its reuse distance.
  void SetCache(CacheModel cache);
  const CacheModel& cache() const { return cache_; }
  // What cold costs over hot for stages [begin, end) (>= 0): the fraction 1.
  double ColdExtra(int begin, int end) const {
    if (cold_extra_prefix_.empty()) return 0;
    return cold_extra_prefix_[static_cast<size_t>(end)] -
           cold_extra_prefix_[static_cast<size_t>(begin)];
  }
  // Bytes stages [begin, end) stream per run (0 without a cache model).
  double Bytes(int begin, int end) const {
    if (bytes_prefix_.empty()) return 0;
    return bytes_prefix_[static_cast<size_t>(end)] - bytes_prefix_[static_cast<size_t>(begin)];
  }
  // What stages [begin, end) pay over hot with `reuse_bytes` streamed
  // between two runs (each stage at its own Fraction).
  double CacheExtra(int begin, int end, double reuse_bytes) const;
  // The cache-blind costs a search works with for one cache regime: every
  // shared stage at hot + stem x (cold - hot), every specialized one at its
  // own latency + branch x (cold - hot); no cache model. Fractions in
  // [0, CacheModel::kMaxFraction].
  StageCosts AtFractions(double stem, double branch) const;
  // Latency of an app's own stages [begin, end).
  double BranchRange(int begin, int end) const {
    const std::vector<double>& p = branch_prefix_.empty() ? prefix_ : branch_prefix_;
    return p[static_cast<size_t>(end)] - p[static_cast<size_t>(begin)];
  }

 private:
  std::vector<double> prefix_{0.0};
  std::vector<double> branch_prefix_;
  CacheModel cache_;
  std::vector<double> cold_extra_prefix_, bytes_prefix_;
};

struct AppRequest {
  int branchpoint = 0;  // frozen base stages (0 = fully specialized)
  double fps = 0;       // > 0
  // A microclassifier (package/mpackage.h, MicroSpec) instead of stages
  // [b, n): its own latency per frame (>= 0) and bytes. < 0: a branch.
  double own_ms = -1;
  double own_bytes = -1;
  bool is_micro() const { return own_ms >= 0; }
};

struct TreeNode {
  enum class Kind { kStem, kBranch };
  int id = 0;
  Kind kind = Kind::kStem;
  int begin = 0, end = 0;  // base stages [begin, end) (a microclassifier's branch: begin == end)
  double fps = 0;          // rate this node runs at
  int parent = -1;         // -1: fed by the decoded stream
  int app = -1;            // branch: index of its app
  std::vector<int> apps;   // apps served by this node (itself or downstream)
  double cost() const;     // filled by BuildMergedTree: latency x fps
  double latency_ms = 0;
  // With a cache model: bytes streamed between two runs of this node (all
  // nodes' bytes x their rates / this node's rate) and what it is charged
  // over hot as a fraction of its stages' cold - hot.
  double reuse_bytes = 0;
  double cache_fraction = 0;
};

struct MergedTree {
  std::vector<TreeNode> nodes;     // stem segments first (in order), then branches
  std::vector<int> branch_of_app;  // node id of each app's branch
  double max_fps = 0;
  double decode_cost = 0;      // decode_ms x stream fps
  double preprocess_cost = 0;  // preprocess_ms x max_fps
  double stem_cost = 0;
  double branch_cost = 0;
  bool cache_aware = false;  // built with a cache model
  double traffic_bytes = 0;  // with one: bytes all nodes stream per second of video
  double total_cost() const { return decode_cost + preprocess_cost + stem_cost + branch_cost; }
  // Elapsed ms per second of video when the branches run on `workers`
  // threads after the stems (msrun --threads): decode, preprocessing and
  // stems in sequence, then the branches, which take at least their sum
  // over the workers and at least the largest branch alone. Equals
  // total_cost() for 1 worker; above 1000 the stream cannot be kept up with.
  // overlapped (msrun's own pool: the loop thread is one of the workers and
  // runs a frame's preprocessing and stems while the workers finish the
  // frame before): decode, then preprocessing, stems and branches spread
  // over the workers, but no less than preprocessing and stems in sequence
  // nor than the largest branch. tail_cost: the stems' tail that runs on
  // the workers before the branches (StemSplit): the loop thread's sequence
  // is shorter by it, and the tail and the largest branch run in sequence.
  double WallCost(int workers, bool overlapped = false, double tail_cost = 0) const;
  // The branch (node id) with the highest cost; -1 without branches.
  int LargestBranch() const;
  Json ToJson(const std::vector<std::string>& app_names) const;
};

// Builds the tree: stem segments split at the distinct branchpoints, each
// running at the highest rate among the apps that branch at or after its end;
// one branch per app for stages [b, n) at the app's rate (a microclassifier's
// branch holds no base stage and costs its own latency). With a cache model
// every node's latency adds its cache fraction of its stages' cold extra.
MergedTree BuildMergedTree(const StageCosts& costs, const std::vector<AppRequest>& apps);

// How msrun's loop thread shares the stems with its branch workers when
// they are more than its share of a frame's work (docs/runtime.md,
// "Threads"): the last stems (the tail; all stem children of a tail node
// are in it too) run on the workers before the frame's branches, while the
// loop thread preprocesses the next frame and runs its stems' first part.
// A node may be cut at a stage boundary: stages [begin, tail_from) on the
// loop thread, [tail_from, end) in the tail.
struct StemSplit {
  std::vector<int> tail_from;  // per node: its end when none of it is in the tail
  double tail_cost = 0;        // ms per second of video moved to the tail
  bool empty() const { return tail_cost <= 0; }
};
// The tail with the shortest frame period, the largest of: the loop
// thread's part (preprocessing, the stems left to it, and decoding when
// decode_on_loop), the tail followed by the largest branch, and the
// 1/workers share of all the work, decoding included (decoded ahead, it
// shares the cores). Taken from the last stems, a node whole or cut after a
// stage, while the loop thread's part is above its share. A cut node's tail
// is charged its stages' share of its latency (stage_ms, one per base
// stage). Empty for 1 worker, when the loop thread's part is no more than
// its share, or when stage_ms does not fit the tree.
StemSplit PlanStemSplit(const MergedTree& tree, const std::vector<double>& stage_ms, int workers,
                        bool decode_on_loop = true);

// Total cost (same as BuildMergedTree(...).total_cost()).
double ScheduleCost(const StageCosts& costs, const std::vector<AppRequest>& apps);

// Picks frames for a node from the frames its parent processes. A node at
// rate r under a parent at rate R >= r (the decoded stream for the root
// nodes, rate = stream fps) takes the parent's k-th frame for each k in
// floor(phase + j * R/r), j = 0, 1, ...: exactly r/R of the parent's frames,
// evenly spread, always a subset of them. Rates compose exactly down the tree,
// so executed work equals the cost model.
class Sampler {
 public:
  // stride = parent rate / own rate (>= 1); phase in [0, stride).
  Sampler(double stride, double phase);
  // Called once per frame the parent processed, in order; true to take it.
  bool Offer();
  double stride() const { return stride_; }

 private:
  double stride_;
  double phase_;
  double next_;
  int64_t offered_ = 0;
  int64_t taken_ = 0;
};

// Decides, frame by frame, which nodes of a merged tree execute: each node has
// a Sampler over its parent's frames with a seeded random phase. The root
// nodes sample the *analyzed* frames: a Sampler over the decoded stream at the
// highest root rate (the highest app rate), so that the frames preprocessed
// are exactly that many, as the cost model charges, however many roots the
// tree has (No-Sharing's whole-model branches are all roots; sampling the
// stream each on a phase of its own, they preprocessed up to one frame per
// root sample). A root at the highest rate takes every analyzed frame, so a
// tree of one root runs the frames it ran when it sampled the stream itself.
// Over T seconds node k executes fps_k * T frames (up to one frame per tree
// level at the start), so the work equals the cost model.
class FramePlanner {
 public:
  FramePlanner(const MergedTree& tree, double stream_fps, uint64_t seed);
  // The nodes to execute on the next decoded frame, parents before children
  // (empty when no node needs it).
  const std::vector<int>& Next();
  int64_t frames() const { return frames_; }
  // Executions per node so far.
  const std::vector<int64_t>& executions() const { return executions_; }
  // Each node's sampling phase, in units of its parent's frames (a root
  // node's: of the analyzed frames).
  const std::vector<double>& phases() const { return phases_; }

 private:
  const MergedTree* tree_;
  Sampler analyzed_{1, 0};  // the decoded stream -> the analyzed frames
  std::vector<Sampler> samplers_;
  std::vector<double> phases_;
  std::vector<int> order_;  // nodes in parent-before-child order
  std::vector<char> ran_;
  std::vector<int> current_;
  std::vector<int64_t> executions_;
  int64_t frames_ = 0;
};

}  // namespace mainstream
