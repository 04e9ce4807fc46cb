// Reading frames in order from a video file, a network stream or a camera.
//
//   VideoSourceOptions opts;
//   opts.fps_override = 7;
//   VideoSource src("pets.avi", opts);
//   Frame f;
//   while (src.Read(&f)) { ... f.index, f.timestamp_s, f.image ... }
//
// Each frame is decoded once. Errors distinguish what the user can fix from
// what went wrong in the middle of a stream:
//   * InputError (at construction): the input cannot be opened, reports no
//     frame rate, or the requested frame range lies outside the video.
//   * VideoEndedEarlyError: the stream ended before the frames it promised
//     (a truncated file, or an undecodable frame that stops FFmpeg).
//   * CorruptFrameError: a frame decoded to nothing, to an unexpected type,
//     or to a different size than the first frame.
// Both of the latter derive from RuntimeError. See docs/video.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/video/image.h"

namespace mainstream {

enum class SourceKind { kFile, kStream, kCamera };

// What an input string names: a file path ("file://" prefix allowed), a
// network URL (rtsp, rtsps, rtmp, http, https, udp, tcp, srt) or "camera:N".
struct VideoInput {
  SourceKind kind = SourceKind::kFile;
  std::string location;  // path, URL, or "/dev/videoN" for a camera
  int camera_index = -1;
};
// Throws InputError for an empty string, "camera:" without a non-negative
// integer, or an unsupported URL scheme.
VideoInput ParseVideoInput(const std::string& input);

struct VideoSourceOptions {
  // > 0: use this frame rate instead of the one the stream reports (the
  // container may be wrong: vtest.avi says 10 fps, it was captured at 7).
  double fps_override = 0;
  // Frames [start_frame, end_frame) are delivered; end_frame = -1 reads to the
  // end of the stream. Leading frames are decoded and dropped (exact, no seek).
  int64_t start_frame = 0;
  int64_t end_frame = -1;
  // When the container reports a frame count and end_frame is -1, delivering
  // fewer frames than it reports is a VideoEndedEarlyError. Set to false for
  // containers whose count is only an estimate (e.g. .mkv without an index);
  // a shortfall is then logged as a warning.
  bool strict_count = true;
  // Network streams only (FFmpeg backend): give up opening/reading after this.
  int open_timeout_ms = 10000;
  int read_timeout_ms = 10000;

  // Throws InputError naming the offending field.
  void Validate() const;
  std::string ToString() const;
};

// The stream stopped before the frames it promised.
class VideoEndedEarlyError : public RuntimeError {
 public:
  VideoEndedEarlyError(std::string message, int64_t expected, int64_t got)
      : RuntimeError(std::move(message)), expected_(expected), got_(got) {}
  int64_t expected_frames() const { return expected_; }  // in the requested range
  int64_t frames_read() const { return got_; }           // delivered from that range

 private:
  int64_t expected_;
  int64_t got_;
};

// One frame could not be used.
class CorruptFrameError : public RuntimeError {
 public:
  CorruptFrameError(std::string message, int64_t frame_index)
      : RuntimeError(std::move(message)), frame_index_(frame_index) {}
  int64_t frame_index() const { return frame_index_; }

 private:
  int64_t frame_index_;
};

// Not thread-safe: one reader at a time. Movable, not copyable.
class VideoSource {
 public:
  // Opens the input and decodes the first frame of the range (so an
  // undecodable file fails here, before any work starts).
  explicit VideoSource(const std::string& input, const VideoSourceOptions& options = {});
  ~VideoSource();
  VideoSource(VideoSource&&) noexcept;
  VideoSource& operator=(VideoSource&&) noexcept;
  VideoSource(const VideoSource&) = delete;
  VideoSource& operator=(const VideoSource&) = delete;

  // Fills `frame` with the next frame of the range, reusing its buffer when
  // the size matches. Returns false at the end of the range.
  bool Read(Frame* frame);

  const std::string& input() const;
  SourceKind kind() const;
  const VideoSourceOptions& options() const;
  std::string backend() const;  // OpenCV backend name, e.g. "FFMPEG"
  double fps() const;           // override if given, else the reported rate
  double reported_fps() const;  // what the stream says (0 if nothing usable)
  int64_t frame_count() const;  // frames in the whole video; -1 if unknown
  int64_t start_frame() const;
  int64_t end_frame() const;        // exclusive; -1 if unknown (to the end)
  int64_t expected_frames() const;  // frames the range will deliver; -1 if unknown
  int64_t next_index() const;       // index of the frame the next Read returns
  int64_t frames_read() const;      // frames delivered so far
  int width() const;
  int height() const;
  // "vtest.avi: 768x576, 7 fps (container says 10), 795 frames, FFMPEG".
  std::string Describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mainstream
