#include "mainstream/core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "mainstream/core/error.h"

namespace mainstream {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mutex;
const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    default:
      return "";
  }
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

LogLevel ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "quiet") return LogLevel::kQuiet;
  ThrowInput("--log-level: unknown level '{}' (expected debug, info, warn, error or quiet)", name);
}

void LogLine(LogLevel level, std::string_view message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "[%s] %.*s\n", LevelName(level), static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
}

double NowSeconds() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

Progress::Progress(std::string label, long total, double interval_s)
    : label_(std::move(label)), total_(total), interval_s_(interval_s) {
  start_s_ = NowSeconds();
  last_s_ = start_s_;
}

void Progress::Update(long done, std::string_view extra) {
  double now = NowSeconds();
  if (now - last_s_ < interval_s_) return;
  last_s_ = now;
  double elapsed = now - start_s_;
  double rate = elapsed > 0 ? done / elapsed : 0.0;
  double eta = (rate > 0 && total_ > done) ? (total_ - done) / rate : 0.0;
  LogInfo("{} {}/{} ({:.1f}%), {:.1f}/s, ETA {:.0f}s{}{}", label_, done, total_,
          total_ > 0 ? 100.0 * done / total_ : 100.0, rate, eta, extra.empty() ? "" : ", ", extra);
}

void Progress::Finish(std::string_view extra) {
  double elapsed = NowSeconds() - start_s_;
  LogInfo("{} done: {} in {:.2f}s{}{}", label_, total_, elapsed, extra.empty() ? "" : ", ", extra);
}

}  // namespace mainstream
