#include "mainstream/runtime/app_output.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "mainstream/core/error.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

std::FILE* OpenForWriting(const fs::path& file) {
  if (!file.parent_path().empty()) fs::create_directories(file.parent_path());
  std::FILE* f = std::fopen(file.c_str(), "w");
  if (f == nullptr)
    ThrowRuntime("{}: cannot open for writing: {}", file.string(), std::strerror(errno));
  return f;
}

void WriteLine(std::FILE* f, const std::string& line, const fs::path& file) {
  if (std::fwrite(line.data(), 1, line.size(), f) != line.size() || std::fflush(f) != 0) {
    ThrowRuntime("{}: write failed: {}", file.string(), std::strerror(errno));
  }
}

double Seconds(int64_t frame, double fps) {
  return fps > 0 ? static_cast<double>(frame - 1) / fps : 0.0;
}

}  // namespace

Json ReportedEvent::ToJson() const {
  Json j{{"app", app},
         {"event", index},
         {"start_frame", event.start},
         {"end_frame", event.end},
         {"start_s", Seconds(event.start, fps)},
         {"end_s", Seconds(event.end, fps)},
         {"reported_frame", reported_frame},
         {"reported_s", Seconds(reported_frame, fps)},
         {"samples", event.samples},
         {"peak_score", event.peak_score ? Json(*event.peak_score) : Json(nullptr)},
         {"peak_frame", event.peak_frame},
         {"cut", cut}};
  return j;
}

ReportedEvent ReportedEvent::FromJson(const JsonView& v) {
  ReportedEvent e;
  e.app = v.Field("app").AsNonEmptyString();
  e.index = v.IntIn("event", 0, INT64_MAX);
  e.event.start = v.IntIn("start_frame", 1, INT64_MAX);
  e.event.end = v.IntIn("end_frame", e.event.start, INT64_MAX);
  e.reported_frame = v.IntIn("reported_frame", e.event.start, e.event.end);
  e.event.samples = v.IntIn("samples", 1, INT64_MAX);
  if (auto p = v.OptionalField("peak_score")) e.event.peak_score = p->AsNumberIn(0, 1);
  e.event.peak_frame = v.IntIn("peak_frame", 0, e.event.end);
  e.cut = v.Bool("cut");
  // The times are derived (frame k at (k - 1) / fps); recover the rate from one.
  const double end_s = v.Number("end_s");
  if (e.event.end > 1 && end_s > 0) e.fps = static_cast<double>(e.event.end - 1) / end_s;
  return e;
}

AppOutput::AppOutput(std::string app, int x_vote, double threshold, double fps,
                     const fs::path& events_file, const fs::path& frames_file)
    : app_(std::move(app)),
      threshold_(threshold),
      fps_(fps),
      detector_(x_vote),
      events_file_(events_file),
      frames_file_(frames_file) {
  events_fp_ = OpenForWriting(events_file_);
  if (!frames_file_.empty()) {
    frames_fp_ = OpenForWriting(frames_file_);
    WriteLine(frames_fp_, "frame,time_s,score,positive\n", frames_file_);
  }
}

AppOutput::~AppOutput() {
  if (events_fp_ != nullptr) std::fclose(events_fp_);
  if (frames_fp_ != nullptr) std::fclose(frames_fp_);
}

AppOutput::AppOutput(AppOutput&& o) noexcept
    : app_(std::move(o.app_)),
      threshold_(o.threshold_),
      fps_(o.fps_),
      detector_(o.detector_),
      events_file_(std::move(o.events_file_)),
      frames_file_(std::move(o.frames_file_)),
      events_fp_(o.events_fp_),
      frames_fp_(o.frames_fp_),
      events_(std::move(o.events_)),
      reported_frame_(o.reported_frame_),
      samples_(o.samples_),
      positives_(o.positives_),
      first_frame_(o.first_frame_),
      finished_(o.finished_) {
  o.events_fp_ = nullptr;
  o.frames_fp_ = nullptr;
}

void AppOutput::Write(const ReportedEvent& e) {
  WriteLine(events_fp_, e.ToJson().dump() + "\n", events_file_);
}

void AppOutput::Add(int64_t frame, double score) {
  MS_CHECK_RT(!finished_, "{}: a frame was added after the output was finished", app_);
  MS_CHECK_RT(std::isfinite(score),
              "app {}: the score of frame {} is not finite ({}); the model is broken", app_, frame,
              score);
  const bool positive = score >= threshold_;
  if (first_frame_ == 0) first_frame_ = frame;
  ++samples_;
  positives_ += positive ? 1 : 0;
  if (frames_fp_ != nullptr) {
    // Buffered: per-frame lines are flushed with the events and at the end.
    if (std::fprintf(frames_fp_, "%lld,%.6f,%.6g,%d\n", static_cast<long long>(frame),
                     Seconds(frame, fps_), score, positive ? 1 : 0) < 0 ||
        std::ferror(frames_fp_)) {
      ThrowRuntime("{}: write failed: {}", frames_file_.string(), std::strerror(errno));
    }
  }
  DetectorStep step = detector_.Add(frame, positive, score);
  if (step.started) reported_frame_ = frame;
  if (step.ended) {
    ReportedEvent e{app_, static_cast<int64_t>(events_.size()), *step.ended, reported_frame_, fps_,
                    false};
    Write(e);
    if (frames_fp_ != nullptr && std::fflush(frames_fp_) != 0) {
      ThrowRuntime("{}: write failed: {}", frames_file_.string(), std::strerror(errno));
    }
    events_.push_back(std::move(e));
  }
}

void AppOutput::Reconfigure(int x_vote, double threshold) {
  detector_.set_x(x_vote);
  threshold_ = threshold;
}

void AppOutput::Cut() {
  MS_CHECK_RT(!finished_, "{}: cut after the output was finished", app_);
  if (auto open = detector_.Flush()) {
    ReportedEvent e{app_, static_cast<int64_t>(events_.size()), *open, reported_frame_, fps_, true};
    Write(e);
    events_.push_back(std::move(e));
  }
  if (std::fflush(events_fp_) != 0 || (frames_fp_ != nullptr && std::fflush(frames_fp_) != 0)) {
    ThrowRuntime("{}: write failed: {}", events_file_.string(), std::strerror(errno));
  }
}

void AppOutput::Finish() {
  if (finished_) return;
  finished_ = true;
  if (auto open = detector_.Flush()) {
    ReportedEvent e{app_, static_cast<int64_t>(events_.size()), *open, reported_frame_, fps_, true};
    Write(e);
    events_.push_back(std::move(e));
  }
  if (frames_fp_ != nullptr && std::fflush(frames_fp_) != 0) {
    ThrowRuntime("{}: write failed: {}", frames_file_.string(), std::strerror(errno));
  }
}

std::vector<ReportedEvent> ReadEventsFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) ThrowInput("{}: cannot read", file.string());
  std::vector<ReportedEvent> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    const std::string origin = fmt::format("{}:{}", file.string(), n);
    Json j = ParseJson(line, origin);
    out.push_back(ReportedEvent::FromJson(JsonView(j, origin)));
  }
  return out;
}

}  // namespace mainstream
