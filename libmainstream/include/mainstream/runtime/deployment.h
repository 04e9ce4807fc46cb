// A schedule resolved against the files it names: the base manifest, every
// app's M-Package, its candidate and the candidate's weights, and the label
// files of a run. Everything that can be checked before a frame is decoded is
// checked here, with errors naming the file and the problem (no LibTorch).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/labels/label_file.h"
#include "mainstream/model/base_info.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/runtime/run_config.h"
#include "mainstream/schedule/schedule_doc.h"

namespace mainstream {

struct DeployedApp {
  ScheduledApp scheduled;         // as the schedule gives it (fps, X, threshold, prediction)
  MPackage package;               // its M-Package
  Candidate candidate;            // the scheduled candidate
  std::filesystem::path weights;  // the candidate's TorchScript suffix (bp<b>.pt)
};

struct Deployment {
  std::filesystem::path schedule_file;
  ScheduleDoc schedule;
  std::filesystem::path base_dir;
  BaseInfo base;  // base.json of base_dir (the model file is hashed by BaseModel::Load)
  std::vector<DeployedApp> apps;  // in schedule order (= app indices of schedule.tree)

  int FindApp(const std::string& name) const;  // index, or -1
};

// Reads the schedule and the base manifest and resolves every app. Throws
// InputError when the schedule's base differs from base_dir's (sha256, stage
// count or names), when a package is missing, names another app, was trained
// on another base or for another stream rate, when the scheduled candidate is
// missing or disagrees with the package (branchpoint, threshold, weights; the
// package changed after scheduling), when it is simulation-only (weights
// null), or when its weights file is missing.
Deployment LoadDeployment(const std::filesystem::path& schedule_file,
                          const std::filesystem::path& base_dir);
// Same for a schedule already in memory (msrun --deployment plans its own);
// `schedule_file` names it in messages.
Deployment ResolveDeployment(ScheduleDoc schedule, const std::filesystem::path& schedule_file,
                             const std::filesystem::path& base_dir);

struct AppLabels {
  int app = -1;      // index into Deployment::apps (-1: not in it, with any_app)
  std::string name;  // the app
  std::filesystem::path file;
  FrameLabels labels;  // labels[k - 1] is frame k
};

// Reads `--labels` files. Throws InputError for an app the schedule does not
// run, an app given twice, or an unreadable/malformed file. `video_frames`
// (the video's frame count, -1 if unknown) must equal each file's row count;
// with an unknown count, the files must cover `last_frame` (1-based, 0: not
// known either). `any_app`: labels may name apps the deployment does not run
// yet (msrun --deployment: apps arrive later).
std::vector<AppLabels> LoadRunLabels(const Deployment& deployment,
                                     const std::vector<LabelsArg>& args, int64_t video_frames,
                                     const std::string& video_origin, int64_t last_frame,
                                     bool any_app = false);

}  // namespace mainstream
