// Closing the loop between the profile and what msrun measured
// (msprofile --calibrate; docs/model.md, "Calibration").
//
// A profile times each stage of the shared base hot, one model at a time.
// msrun's summaries record, per node of the merged tree it ran, the compute
// it measured (ms per second of video). Calibration reads those summaries and
// fits four factors by ratio of sums over every node of every run:
//   stem     measured / predicted over the shared stem nodes (base weights)
//   branch   the same over the apps' own branches (specialized weights, one
//            copy per app: colder in the caches as apps grow)
//   decode, preprocess   over the runs' decode and preprocessing costs
// and writes a profile whose stage latencies are the measured ones times the
// stem factor, with branch_p50_ms = measured times the branch factor. The
// report says, per run, measured / predicted total cost before calibration,
// after it (fitted on every run), and out of sample (fitted on the others).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/profile/profile.h"

namespace mainstream {

// One component's cost, ms of compute per second of video: predicted by the
// profile being calibrated (not the run's schedule) and measured.
// Measured/predicted cost factors outside this range are an InputError.
inline constexpr double kMinCalibrationFactor = 1e-3;
inline constexpr double kMaxCalibrationFactor = 1e3;

struct CostShare {
  double predicted = 0, measured = 0;
  void Add(const CostShare& o) {
    predicted += o.predicted;
    measured += o.measured;
  }
  double Ratio() const { return predicted > 0 ? measured / predicted : 1.0; }  // 1: not exercised
};

// What one msrun summary contributes.
struct CalibrationRun {
  std::string file;
  int64_t frames = 0;
  CostShare stem, branch, decode, preprocess;
  int stem_nodes = 0, branch_nodes = 0;
  // The run's speed probe (machine.speed_probe) over this profile's stage
  // sum: how much slower than when profiled the machine ran the stages
  // then; the stem and branch costs above are divided by it (0: the run
  // has no probe, its costs are taken as measured).
  double speed = 0;
  // Memory (when the profile records it and the run measured it), bytes:
  // measured model memory, and the profile's prediction split into the
  // copies of stages the run's nodes held and the rest (base, activations,
  // overhead).
  double memory_measured = -1;
  double memory_copies = 0, memory_other = 0;
  int memory_nodes = 0;  // nodes of the run's tree (stem segments + branches)
  bool has_memory() const { return memory_measured >= 0; }
  double PredictedTotal() const {
    return stem.predicted + branch.predicted + decode.predicted + preprocess.predicted;
  }
  double MeasuredTotal() const {
    return stem.measured + branch.measured + decode.measured + preprocess.measured;
  }
};

struct CalibrationFactors {
  double stem = 1, branch = 1, decode = 1, preprocess = 1;
  // Total cost of `run` predicted with these factors.
  double Predict(const CalibrationRun& run) const;
  Json ToJson() const;
};

// Memory calibration (docs/model.md, "Memory model"): measured model memory
// = overhead + copy_factor x (predicted bytes of the stage copies) +
// segment x (the tree's nodes) + the rest, fitted by least squares over the
// runs (every term >= 0; fewer terms when the runs cannot tell them apart).
struct MemoryCalibration {
  bool fitted = false;
  double overhead = 0;     // bytes every run adds once (LibTorch and oneDNN state, ...)
  double copy_factor = 1;  // measured / predicted bytes per stage copy
  double segment = 0;      // bytes each node of the tree adds (module, graphs, kernels)
  double Predict(const CalibrationRun& run) const {
    return overhead + copy_factor * run.memory_copies +
           segment * static_cast<double>(run.memory_nodes) + run.memory_other;
  }
  Json ToJson() const;
};
MemoryCalibration FitMemoryCalibration(const std::vector<CalibrationRun>& runs);

struct CalibrationResult {
  Profile profile;  // the calibrated profile (profile.calibration filled)
  CalibrationFactors factors;
  std::vector<CalibrationRun> runs;
  std::vector<double> ratio_before;    // per run: measured / predicted total, uncalibrated
  std::vector<double> ratio_after;     // fitted on every run
  std::vector<double> ratio_held_out;  // fitted on the other runs (empty with one run)
  MemoryCalibration memory;            // fitted when runs measured memory
  // Per run, measured / predicted model memory (NaN where not measured).
  std::vector<double> memory_before, memory_after, memory_held_out;
  std::vector<std::string> warnings;
  std::string ToText() const;  // a table for the terminal
};

// Reads one msrun summary.json against `profile`: InputError (naming the file
// and field) for a run of another base, on another CPU, with another number
// of LibTorch threads, a failed run or one with too few frames; a stopped run
// or one whose branches ran on several workers is used with a warning. With
// a speed probe in the run, its measured stem and branch costs are brought
// to the profile's speed (divided by CalibrationRun::speed), so that the
// factors fit the cost model's error, not the machine's drift between the
// profile and the runs (docs/model.md, "Calibration"). The speed is against
// what msprofile measured: a calibrated profile's stage sum over its
// calibrations' stem factors.
CalibrationRun ReadCalibrationRun(const Profile& profile, const std::filesystem::path& summary,
                                  std::vector<std::string>* warnings);

// Fits the factors (ratio of sums; a component no run exercised keeps 1).
CalibrationFactors FitCalibration(const std::vector<CalibrationRun>& runs);

// The summary.json files under each path (a file itself, or every
// summary.json below a directory, sorted): InputError when a path holds none.
std::vector<std::filesystem::path> FindRunSummaries(
    const std::vector<std::filesystem::path>& paths);

// Reads every summary, fits, and builds the calibrated profile.
CalibrationResult Calibrate(const Profile& profile,
                            const std::vector<std::filesystem::path>& summaries);

}  // namespace mainstream
