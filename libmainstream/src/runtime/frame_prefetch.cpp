#include "frame_prefetch.h"

#include <chrono>

#include "mainstream/core/error.h"
#include "mainstream/runtime/executor.h"

namespace mainstream {

namespace {
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

FramePrefetcher::Item ReadFrameNow(VideoSource& source) {
  FramePrefetcher::Item it;
  const double t = Now(), c = ThreadCpuSeconds();
  try {
    it.ok = source.Read(&it.frame);
    if (!it.ok) it.lost = "the stream ended";
  } catch (const RuntimeError& e) {
    it.lost = e.what();
    it.error = std::current_exception();
    it.runtime_error = true;
  } catch (const std::exception& e) {
    it.lost = e.what();
    it.error = std::current_exception();
  }
  it.ms = (Now() - t) * 1e3;
  it.cpu_ms = (ThreadCpuSeconds() - c) * 1e3;
  return it;
}

FramePrefetcher::FramePrefetcher(std::optional<VideoSource>* source, size_t depth)
    : source_(source), depth_(depth < 1 ? 1 : depth) {
  thread_ = std::thread([this] { Run(); });
}

FramePrefetcher::~FramePrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void FramePrefetcher::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return quit_ || (!paused_ && queue_.size() < depth_); });
      if (quit_) return;
    }
    Item it = ReadFrameNow(**source_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!it.ok) paused_ = true;  // until the caller says (a reconnect, or never)
      queue_.push_back(std::move(it));
    }
    cv_.notify_all();
  }
}

FramePrefetcher::Item FramePrefetcher::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty(); });
  Item it = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  return it;
}

void FramePrefetcher::Resume() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
  }
  cv_.notify_all();
}

}  // namespace mainstream
