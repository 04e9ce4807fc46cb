// Decoding ahead of msrun's frame loop (private to the runtime): a thread
// reads the next frames of a video file into a small queue while the loop
// runs the tree on the current one, so decoding overlaps the stems and
// branches instead of adding to them (docs/runtime.md, "Threads").
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "mainstream/video/video_source.h"

namespace mainstream {

class FramePrefetcher {
 public:
  // One read, in order: a frame, or the end of the stream / a failure (the
  // exception, and whether it was a RuntimeError: a live source's lost
  // connection). ms and cpu_ms time the read on the prefetching thread.
  struct Item {
    bool ok = false;
    Frame frame;
    std::string lost;  // why no frame: "the stream ended" or the error's message
    std::exception_ptr error;
    bool runtime_error = false;
    double ms = 0, cpu_ms = 0;
  };

  // Starts reading `*source` ahead, at most `depth` frames. The source must
  // outlive the prefetcher and is read only by it until the reading stops.
  FramePrefetcher(std::optional<VideoSource>* source, size_t depth = 2);
  ~FramePrefetcher();  // stops reading and joins
  FramePrefetcher(const FramePrefetcher&) = delete;
  FramePrefetcher& operator=(const FramePrefetcher&) = delete;

  // The next read (blocks until it is done). After an item without a frame
  // the reading pauses: the caller may replace *source and Resume().
  Item Next();
  void Resume();

 private:
  void Run();

  std::optional<VideoSource>* source_;
  size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool paused_ = false, quit_ = false;
  std::thread thread_;
};

// One read done on the calling thread, timed like the prefetcher's.
FramePrefetcher::Item ReadFrameNow(VideoSource& source);

}  // namespace mainstream
