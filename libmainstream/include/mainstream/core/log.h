// Minimal leveled logging to stderr. Results go to files/stdout, never here.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace mainstream {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kQuiet = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn", "error", "quiet"; throws InputError otherwise.
LogLevel ParseLogLevel(std::string_view name);
void LogLine(LogLevel level, std::string_view message);

template <typename... Args>
void LogDebug(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kDebug)
    LogLine(LogLevel::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void LogInfo(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kInfo)
    LogLine(LogLevel::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void LogWarn(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kWarn)
    LogLine(LogLevel::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void LogError(fmt::format_string<Args...> f, Args&&... args) {
  if (GetLogLevel() <= LogLevel::kError)
    LogLine(LogLevel::kError, fmt::format(f, std::forward<Args>(args)...));
}

// Progress reporter for long loops: prints "label i/n, rate, ETA" to stderr at
// most every `interval_s` seconds (and at the end), only at info level.
class Progress {
 public:
  Progress(std::string label, long total, double interval_s = 1.0);
  void Update(long done, std::string_view extra = {});
  void Finish(std::string_view extra = {});

 private:
  std::string label_;
  long total_;
  double interval_s_;
  double start_s_;
  double last_s_;
};

// Monotonic seconds since an arbitrary epoch.
double NowSeconds();

}  // namespace mainstream
