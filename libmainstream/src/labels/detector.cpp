#include "mainstream/labels/detector.h"

#include <cmath>

#include "mainstream/core/error.h"

namespace mainstream {

XVotingDetector::XVotingDetector(int x) : x_(x) {
  MS_CHECK(x >= 1, "X-voting needs X >= 1, got {}", x);
}

DetectorStep XVotingDetector::Add(int64_t frame, bool positive) {
  return Step(frame, positive, nullptr);
}

DetectorStep XVotingDetector::Add(int64_t frame, bool positive, double score) {
  MS_CHECK_RT(std::isfinite(score), "event detector: score of frame {} is not finite", frame);
  return Step(frame, positive, &score);
}

DetectorStep XVotingDetector::Step(int64_t frame, bool positive, const double* score) {
  MS_CHECK_RT(seen_ == 0 || frame > last_frame_,
              "event detector: frames must increase, got frame {} after frame {}", frame,
              last_frame_);
  last_frame_ = frame;
  ++seen_;
  DetectorStep step;
  if (!positive) {
    if (in_event_) step.ended = run_;
    in_event_ = false;
    run_ = DetectedEvent{};
    return step;
  }
  if (run_.samples == 0) run_.start = frame;
  run_.end = frame;
  ++run_.samples;
  if (score != nullptr && (!run_.peak_score || *score > *run_.peak_score)) {
    run_.peak_score = *score;
    run_.peak_frame = frame;
  }
  if (!in_event_ && run_.samples >= x_) {
    in_event_ = true;
    step.started = run_;
  }
  return step;
}

void XVotingDetector::set_x(int x) {
  MS_CHECK(x >= 1, "X (positives to confirm an event) must be >= 1, got {}", x);
  x_ = x;
}

std::optional<DetectedEvent> XVotingDetector::Flush() {
  std::optional<DetectedEvent> out;
  if (in_event_) out = run_;
  in_event_ = false;
  run_ = DetectedEvent{};
  return out;
}

std::vector<DetectedEvent> DetectEvents(const std::vector<int64_t>& frames,
                                        const std::vector<uint8_t>& positives, int x) {
  MS_CHECK(frames.size() == positives.size(), "event detection: {} frames but {} outcomes",
           frames.size(), positives.size());
  XVotingDetector detector(x);
  std::vector<DetectedEvent> events;
  for (size_t i = 0; i < frames.size(); ++i) {
    DetectorStep step = detector.Add(frames[i], positives[i] != 0);
    if (step.ended) events.push_back(*step.ended);
  }
  if (auto last = detector.Flush()) events.push_back(*last);
  return events;
}

std::vector<FrameInterval> EventIntervals(const std::vector<DetectedEvent>& events) {
  std::vector<FrameInterval> out;
  out.reserve(events.size());
  for (const DetectedEvent& e : events) out.push_back(e.interval());
  return out;
}

}  // namespace mainstream
