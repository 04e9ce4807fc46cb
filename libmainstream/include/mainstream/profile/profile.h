// The profile: how long each stage of a base DNN takes on one machine.
// Written by msprofile, read by msschedule and msrun. See docs/formats.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/package/mpackage.h"

namespace mainstream {

inline constexpr int kProfileSchemaVersion = 1;

struct StageTiming {
  std::string name;
  // Percentiles of the stage's latency per frame, as msprofile timed it
  // (after decoding and preprocessing a frame, as msrun runs it).
  double p50_ms = 0;
  double p95_ms = 0;
  // An app's own (specialized) copy of the stage, when a calibration measured
  // it apart from the shared base's (0 = same as p50_ms).
  double branch_p50_ms = 0;
  // Memory (msprofile; -1 = not recorded): bytes of the stage's parameters
  // and buffers, and of its output activation for one frame.
  double param_bytes = -1;
  double activation_bytes = -1;
  // Resident bytes one optimized copy of the stage adds to the process
  // (msprofile; -1 = not measured): what a branch's copy really holds.
  double resident_bytes = -1;
  // The stage timed among copies of itself (msprofile; 0 = not measured):
  // what it costs when cold_reuse_bytes pass through the caches between two
  // of its runs, as many apps' weights do (docs/model.md, "Caches").
  double cold_p50_ms = 0;
  double cold_reuse_bytes = 0;
  // What the cost model charges per frame: the mean of the same samples,
  // winsorized at p95 (0 = not recorded, as in profiles before it: p50_ms).
  double ms = 0;

  double cost_ms() const { return ms > 0 ? ms : p50_ms; }
};

// msprofile's probe of the memory hierarchy: ns per cache line of a read
// loop over working sets of growing size.
struct CacheProbe {
  std::vector<double> bytes;        // working-set sizes, ascending
  std::vector<double> ns_per_line;  // one per size
  double reported_llc_bytes = 0;    // the last-level cache the OS reports (0: unknown)
  bool empty() const { return bytes.empty(); }
};

struct Profile {
  BaseRef base;
  Json machine = Json::object();  // cpu model, cores, library versions (free-form)
  int threads = 1;
  int batch = 1;
  std::string input;                // what decode was measured on ("video:...", "size:WxH")
  std::vector<StageTiming> stages;  // one per base stage, in order
  double whole_model_p50_ms = 0;    // 0 when not measured
  // The sum of the stages' medians in msprofile's reference passes (each
  // stage chained on a fixed input, no decoding between): what msrun's speed
  // probe measures, so the two compare like with like (0: not recorded).
  double speed_reference_ms = 0;
  double decode_ms = 0;  // decoding one stream frame after another (every frame is decoded)
  // Decoding a frame right after the DNN ran on the one before, as msprofile's
  // passes do (0: not measured): the DNN evicts the decoder's state, so it
  // costs more (docs/model.md, "Cost model").
  double decode_after_dnn_ms = 0;
  double preprocess_ms = 0;          // resizing + normalizing one frame for the DNN (ms)
  double input_bytes = 0;            // the preprocessed frame, bytes (with the stages' memory)
  double memory_overhead_bytes = 0;  // fitted by msprofile --calibrate: memory every run adds once
  double memory_segment_bytes = 0;   // fitted likewise: memory each node of the tree adds
  Json extra = Json::object();       // tool-specific details (warmup, repeats, fusion notes)
  // What msprofile --calibrate corrected and by how much (null: measured as is).
  Json calibration = nullptr;
  CacheProbe cache;  // empty when not probed

  std::vector<double> StageLatencies() const;  // cost_ms() per stage
  // branch_p50_ms per stage; empty when the profile does not set them.
  std::vector<double> BranchLatencies() const;
  double TotalStageMs() const;  // the sum of StageLatencies()
  // speed_reference_ms when recorded, else the stage sum (older profiles,
  // whose stage figures were the reference passes' medians).
  double SpeedReferenceMs() const;
  // What decoding after the DNN costs beyond decoding frame after frame,
  // at least 0 (0 when decode_after_dnn_ms is not recorded).
  double DecodeExtraMs() const;
  bool HasMemory() const;  // every stage's param_bytes and activation_bytes recorded
  // Every stage's cold_p50_ms, the probe and the stages' bytes recorded.
  bool HasCache() const;

  Json ToJson() const;
  static Profile FromJson(const JsonView& v);
};

Profile ReadProfile(const std::filesystem::path& file);
void WriteProfile(const Profile& profile, const std::filesystem::path& file);

}  // namespace mainstream
