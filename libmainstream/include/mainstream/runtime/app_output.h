// One app's live output: X-voting over its sampled frames (labels/detector.h)
// and the events it reports, appended to <dir>/<app>.events.jsonl and flushed
// as each event ends, plus optionally every sampled frame's score in
// <dir>/<app>.frames.csv. Frame numbers are 1-based (label-file rows). No
// LibTorch. Formats: docs/runtime.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/detector.h"

namespace mainstream {

inline constexpr const char* kEventsSuffix = ".events.jsonl";
inline constexpr const char* kFramesSuffix = ".frames.csv";

// One reported event (one line of <app>.events.jsonl).
struct ReportedEvent {
  std::string app;
  int64_t index = 0;           // 0, 1, ... per app
  DetectedEvent event;         // start/end frames (1-based), samples, peak
  int64_t reported_frame = 0;  // the sample that completed X positives (detection time)
  double fps = 0;              // for the times (frame k is at (k - 1) / fps seconds)
  bool cut = false;            // still open when the run ended (end of range, stop, fault)

  Json ToJson() const;
  static ReportedEvent FromJson(const JsonView& v);
};

class AppOutput {
 public:
  // Creates (truncates) the files. events_file is required; frames_file may be
  // empty (no per-frame output). fps converts frames to seconds.
  AppOutput(std::string app, int x_vote, double threshold, double fps,
            const std::filesystem::path& events_file,
            const std::filesystem::path& frames_file = {});
  ~AppOutput();
  AppOutput(AppOutput&&) noexcept;
  AppOutput& operator=(AppOutput&&) = delete;
  AppOutput(const AppOutput&) = delete;
  AppOutput& operator=(const AppOutput&) = delete;

  // One sampled frame (frames strictly increasing); positive iff score >= threshold.
  void Add(int64_t frame, double score);
  // End of the run: reports the open event (marked cut) and flushes files.
  void Finish();
  // The app leaves a live deployment (msrun --deployment): reports its open
  // event marked cut and flushes, but frames may follow if it comes back
  // (later than its last sample so far).
  void Cut();
  // The app is re-planned with another X or candidate threshold: from the next
  // sample on; an open event stays open (XVotingDetector::set_x).
  void Reconfigure(int x_vote, double threshold);

  const std::string& app() const { return app_; }
  const std::vector<ReportedEvent>& events() const { return events_; }
  int64_t samples() const { return samples_; }
  int64_t positives() const { return positives_; }
  int64_t first_frame() const { return first_frame_; }  // 0 before the first sample
  const std::filesystem::path& events_file() const { return events_file_; }
  const std::filesystem::path& frames_file() const { return frames_file_; }

 private:
  void Write(const ReportedEvent& e);

  std::string app_;
  double threshold_;
  double fps_;
  XVotingDetector detector_;
  std::filesystem::path events_file_, frames_file_;
  std::FILE* events_fp_ = nullptr;
  std::FILE* frames_fp_ = nullptr;
  std::vector<ReportedEvent> events_;
  int64_t reported_frame_ = 0;
  int64_t samples_ = 0;
  int64_t positives_ = 0;
  int64_t first_frame_ = 0;
  bool finished_ = false;
};

// Reads an events file back (every line must be a valid event); errors name
// the file and line.
std::vector<ReportedEvent> ReadEventsFile(const std::filesystem::path& file);

}  // namespace mainstream
