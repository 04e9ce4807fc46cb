// A complete tiny deployment for the runtime tests: a 64x48 default base,
// one M-Package per app with a TorchScript suffix at its branchpoint
// (BuildSuffix + SaveModule), a schedule written by hand, and a synthetic
// video with known labels. Defined in runtime_testing_torch_test.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/base_info.h"
#include "mainstream/model/default_base.h"
#include "mainstream/model/micro_head.h"
#include "mainstream/runtime/executor.h"
#include "mainstream/schedule/schedule_doc.h"
#include "testing/video_fixtures.h"

namespace mainstream::testing {

struct AppSpec {
  std::string name;
  int branchpoint = 0;
  double fps = 10;
  int x_vote = 1;
  double threshold = 0.5;
};

struct RuntimeScenario {
  std::filesystem::path dir;
  std::filesystem::path base_dir;
  BaseInfo base;
  std::vector<AppSpec> apps;
  std::vector<std::filesystem::path> packages;  // one directory per app
  std::filesystem::path schedule;               // schedule.json
  SyntheticVideo video;                         // video.path, labels
  std::filesystem::path labels;                 // label CSV of the video (frame,label)
};

// The tiny base of the model tests: 8 stages, width 0.25, 64x48 input.
DefaultBaseOptions TinyBaseOptions();

// Writes everything under `dir`. Stage latencies of the schedule are 1 ms
// each and decode 0.5 ms (the schedule's cost is what these imply). Each
// package has a second candidate at another branchpoint with null weights
// (simulation only). The suffix heads are scaled so scores spread over [0, 1].
RuntimeScenario MakeRuntimeScenario(const std::filesystem::path& dir,
                                    const std::vector<AppSpec>& apps,
                                    const SyntheticVideoSpec& video = {});

// Writes a schedule for `apps` of an existing scenario's packages (same
// directory layout), e.g. to change rates or branchpoints.
void WriteScenarioSchedule(const RuntimeScenario& s, const std::vector<AppSpec>& apps,
                           const std::filesystem::path& file);

// For planning on the scenario (msrun --deployment): drops every package's
// simulation-only candidate (so any plan can run) and writes
// <dir>/profile.json for the base (stages 1 ms, decode 0.5 ms). Returns the
// profile's path.
std::filesystem::path PrepareScenarioForPlanning(const RuntimeScenario& s);

// A deployment file's text (DeploymentSpec::ToJson) for msrun --deployment:
// `packages` at a budget of `budget` ms/s, rates from `fps_options`. Paths
// are written as given (relative ones resolve against the file's directory).
std::string DeploymentText(const std::filesystem::path& profile,
                           const std::vector<std::filesystem::path>& packages,
                           const std::vector<double>& fps_options, double budget = 1000);

// Makes the first candidate of the package manifest a microclassifier with
// this crop and channel count (its weights file is left as it is).
void MakeFirstCandidateMicro(const std::filesystem::path& manifest, const MicroCrop& crop,
                             int channels);
// Rewrites the schedule with app `app` scheduled as a microclassifier (kind,
// own cost and bytes, tree, total cost and memory recomputed).
void ScheduleAppAsMicro(const std::filesystem::path& schedule, size_t app);

// One task per frame of `frames` consecutive preprocessed inputs at `data`,
// each running every node of the executor's tree.
std::vector<TreeExecutor::FrameTask> EveryNodeTasks(const TreeExecutor& ex, const float* data,
                                                    int frames);

// One row of <app>.frames.csv (msrun --frames).
struct ScoredFrame {
  int64_t frame = 0;
  double score = 0;
  int positive = 0;
};
std::vector<ScoredFrame> ReadScoredFrames(const std::filesystem::path& file);

// Every line of a JSON Lines file (e.g. deployment.jsonl).
std::vector<Json> ReadJsonLines(const std::filesystem::path& file);

}  // namespace mainstream::testing
