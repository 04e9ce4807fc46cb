// The M-Package: one application's fine-tuned candidates (one per kept
// branchpoint) and the metadata the scheduler needs. See docs/formats.md.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"

namespace mainstream {

// 2: out-of-fold estimates with a score trace ($.trace), candidates' no_skill.
// 3: candidates have a kind: "branch" (stages [b, n) fine-tuned) or "micro"
// (a microclassifier on a crop of the base's activation at b).
// Version 1 and 2 manifests (every candidate a branch) are still read.
inline constexpr int kMPackageSchemaVersion = 3;
inline constexpr const char* kMPackageManifest = "mpackage.json";

// Identifies the base DNN a package, profile or schedule was built for.
struct BaseRef {
  std::string id;      // human name, e.g. "msnet-s"
  std::string sha256;  // content hash of the base model file
  int num_stages = 0;  // stages in the chain; branchpoints are 0..num_stages-1

  Json ToJson() const;
  static BaseRef FromJson(const JsonView& v);
};

// Event statistics of an application, in stream frames.
// Bounds on event statistics read from packages and given to mstrain: the
// analytical model walks every sample of the longest event (docs/model.md),
// and event gaps grow as 1 / frequency.
inline constexpr double kMaxEventLengthFrames = 1e6;  // 9 h at 30 fps
inline constexpr double kMinEventFrequency = 1e-9;
// Frame rates accepted anywhere (packages, schedules, --fps options).
inline constexpr double kMinFps = 1e-6;
inline constexpr double kMaxFps = 1000;

struct EventStats {
  double mean_length = 0;       // mean event length (frames), > 0
  double min_length = 0;        // shortest event (frames), > 0
  std::vector<double> lengths;  // every event length if known (frames)
  double frequency = 0;         // fraction of stream frames inside events, [1e-9, 1]
  double correlation = 0;       // inter-frame correlation c in [0, 1)

  Json ToJson() const;
  static EventStats FromJson(const JsonView& v);
  // Throws InputError "<what>: <problem>" if a value is out of range.
  void Validate(const std::string& what) const;
};

// A microclassifier (docs/training.md, "Microclassifiers"): a small
// classifier (1x1 convolution + linear) on a crop of the unmodified base's
// activation at its candidate's branchpoint. The stem [0, b) is shared like
// any stem; nothing of the base is copied, so the app pays only for this.
struct MicroSpec {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // crop: cells [x0, x1) x [y0, y1) of the feature map
  int channels = 0;                    // outputs of its 1x1 convolution
  // Its latency per frame and the whole base's, measured side by side by
  // mstrain (optimized, batch 1): the scheduler charges cost_ms scaled by
  // the profile's whole-model latency over reference_ms.
  double cost_ms = 0;
  double reference_ms = 0;
  double param_bytes = 0;  // its parameters (the memory model's copy)

  Json ToJson() const;
  static MicroSpec FromJson(const JsonView& v);
  // This microclassifier's latency on a machine whose whole base takes
  // `whole_model_ms` per frame.
  double LatencyOn(double whole_model_ms) const { return cost_ms * whole_model_ms / reference_ms; }
};

enum class CandidateKind { kBranch, kMicro };

// "branch" / "micro", as the formats write a kind.
const char* CandidateKindName(CandidateKind kind);
// A "kind" field of a package or schedule: kBranch when absent (files of
// earlier schema versions); any other string than the two names fails,
// naming the field.
CandidateKind ParseCandidateKind(const JsonView& parent);

struct Candidate {
  CandidateKind kind = CandidateKind::kBranch;
  int branchpoint = 0;     // number of frozen base stages (shared stem length)
  double accuracy = 0;     // per-frame accuracy on validation data
  double tpr = 0;          // P(positive | frame inside an event)
  double fpr = 0;          // P(positive | frame outside events)
  double threshold = 0.5;  // score threshold at which tpr/fpr were measured
  std::string weights;     // file relative to the package dir; empty: simulation only
  double train_seconds = 0;
  // True when the candidate's out-of-fold scores separate events from gaps no
  // better than chance (docs/training.md, "Estimates"): the scheduler predicts
  // it as a classifier whose detections ignore the events.
  bool no_skill = false;
  Json extra = Json::object();  // free-form training details (epochs, losses, ...)
  MicroSpec micro;              // kind kMicro only

  bool is_micro() const { return kind == CandidateKind::kMicro; }
  // Unique within a package: "bp<b>" for a branch, "mc<b>" for a
  // microclassifier (one per layer); names its weights, trace column and record.
  std::string key() const;
  Json ToJson() const;
  static Candidate FromJson(const JsonView& v);
};

// "bp<b>" / "mc<b>".
std::string CandidateKey(CandidateKind kind, int branchpoint);
// The keys of branches at these branchpoints ({"bp0", "bp3"}).
std::vector<std::string> BranchKeys(const std::vector<int>& branchpoints);
// True when a candidate of kind `ak` at branchpoint `ab` (a microclassifier:
// own latency `a_ms`, as measured by mstrain) costs no more than one of
// kind `bk` at `bb` (`b_ms`) in any schedule at the same frame rate
// (docs/model.md, "Microclassifiers"): a branch sharing at least as much of
// the base; a microclassifier than any branch (mstrain keeps only
// microclassifiers cheaper than the base's last stage); a microclassifier
// than one at the same or a later layer that costs at least as much itself.
bool NoCostlier(CandidateKind ak, int ab, double a_ms, CandidateKind bk, int bb, double b_ms);
bool NoCostlier(const Candidate& a, const Candidate& b);
// Package order: by branchpoint, a branch before the microclassifier at the same one.
bool CandidateOrder(const Candidate& a, const Candidate& b);

// The package's out-of-fold score trace (labels/score_trace.h): a file inside
// the package directory, tied to the manifest by its hash and size.
struct TraceRef {
  std::string file;  // relative to the package directory
  std::string sha256;
  int64_t rows = 0;    // frames in the trace
  int64_t events = 0;  // true events in it
  int folds = 0;

  Json ToJson() const;
  static TraceRef FromJson(const JsonView& v);
};

struct MPackage {
  std::string app;
  BaseRef base;
  double stream_fps = 0;
  EventStats events;
  std::vector<Candidate> candidates;  // in CandidateOrder, unique keys
  std::optional<TraceRef> trace;      // absent in packages without out-of-fold estimates
  Json estimation = Json::object();   // how tpr/fpr/events were estimated (written by mstrain)
  Json head = Json::object();         // how the specialized suffix is built (written by mstrain)
  Json log = Json::array();           // training log: pruned candidates and why
  std::filesystem::path dir;          // directory it was read from (not serialized)

  Json ToJson() const;
  static MPackage FromJson(const JsonView& v);
  void Validate(const std::string& origin) const;
  // The branch candidate at `branchpoint` (nullptr if none).
  const Candidate* FindBranchpoint(int branchpoint) const;
  // The candidate with this key ("bp3", "mc2"; nullptr if none).
  const Candidate* FindKey(const std::string& key) const;
};

// A file a manifest or schedule names inside a package directory (weights,
// trace): a non-empty relative path without "..", checked before anything
// opens it; InputError naming the field otherwise. Returns the name.
std::string FileInsidePackage(const JsonView& field);

// Reads `<dir>/mpackage.json` (or the file itself if `path` is a file) and
// validates it; errors name the file and JSON path.
MPackage ReadMPackage(const std::filesystem::path& path);
// Writes the manifest atomically into `dir`.
void WriteMPackageManifest(const MPackage& pkg, const std::filesystem::path& dir);

}  // namespace mainstream
