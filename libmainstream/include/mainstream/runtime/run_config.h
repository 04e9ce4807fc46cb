// What `msrun` needs: the schedule, the base, the input stream, where to
// write, and how to run (pacing, threads, sampling seed, frame range).
// See docs/runtime.md.
//
// Frame numbers here are 1-based, like the rows of a label file
// (docs/labels.md): frame k is the video's 0-based frame index k - 1.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mainstream/core/json_io.h"

namespace mainstream {

// One `--labels app=labels.csv` argument.
struct LabelsArg {
  std::string app;
  std::filesystem::path file;
};
// Parses "app=path"; errors name the flag and the text.
LabelsArg ParseLabelsArg(const std::string& text);

struct RunConfig {
  std::filesystem::path schedule;  // schedule.json (msschedule); or:
  // a live deployment file (deployment_spec.h): msrun plans it, watches it
  // every deployment_poll_ms and re-plans on a change (docs/runtime.md)
  std::filesystem::path deployment;
  double deployment_poll_ms = 500;  // 0: at every frame boundary
  std::filesystem::path base_dir;   // the base the packages were trained on
  std::string input;                // video file, stream URL or camera:N
  std::filesystem::path out_dir;    // events, per-frame scores, summary.json
  std::vector<LabelsArg> labels;    // ground truth per app, for event-level scoring
  bool realtime = false;            // frames arrive at the stream's rate; late frames are dropped
  double max_lag_ms = 0;      // realtime: a frame this late is dropped (0: one frame interval)
  int threads = 1;            // branch workers and OpenCV threads (docs/runtime.md)
  uint64_t seed = 1;          // sampling phases of the merged tree (FramePlanner)
  bool write_frames = false;  // also write <app>.frames.csv (every sampled frame's score)
  int64_t start_frame = 1;    // first frame to run on (1-based, inclusive)
  int64_t end_frame = 0;      // last frame to run on (1-based, inclusive); 0: to the end
  double fps_override = 0;    // > 0: the stream's frame rate (container rates can be wrong)
  double reconnect_s = 0;     // live sources: keep reopening a dropped stream this long (0: end)
  int batch = 1;              // frames per forward call (offline runs only)
  // With threads >= 2 and a video file: decode ahead on a thread of its own
  // (docs/runtime.md, "Threads"); false: on the loop thread.
  bool prefetch = true;
  // With threads >= 2 (one camera): the loop thread is one of the branch
  // workers and runs a frame's stems while the others finish the frame
  // before (docs/runtime.md, "Threads"); false: N workers, the loop waits.
  bool overlap = true;
  // With the overlap: when the stems are more than the loop thread's share
  // of a frame's work, their last part runs on the workers before the
  // branches (PlanStemSplit, docs/runtime.md, "Threads"); false: the stems
  // stay on the loop thread.
  bool stem_split = true;
  // Time the base's stages as msprofile does before and after the run and
  // report the machine's speed beside the schedule's profile
  // (docs/runtime.md, "Speed probe"); false: --no-speed-probe.
  bool speed_probe = true;
  int bootstrap_resamples = 2000;  // for the confidence intervals of measured figures
  double progress_interval_s = 2;  // progress lines on stderr; 0 disables them
  int phases = 1;                  // > 1: run the range once per seed seed..seed+phases-1 into
                                   // out_dir/phase-<k> and pool the scores (out_dir/pooled.json)

  // Throws InputError naming the flag.
  void Validate() const;
  Json ToJson() const;
  static RunConfig FromJson(const JsonView& v);
  std::string ToString() const;
};

}  // namespace mainstream
