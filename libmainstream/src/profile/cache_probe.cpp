#include "mainstream/profile/cache_probe.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "mainstream/core/error.h"

namespace mainstream {
namespace {

constexpr size_t kLine = 64;
constexpr size_t kWordsPerLine = kLine / sizeof(uint64_t);

uint64_t ReadLines(const std::vector<uint64_t>& buffer) {
  uint64_t sum = 0;
  for (size_t i = 0; i < buffer.size(); i += kWordsPerLine) sum += buffer[i];
  return sum;
}

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "32768K" or "8M" (sysfs cache size) -> bytes; 0 when unparsable.
double ParseCacheSize(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return 0;
  }
  const std::string unit = text.substr(used);
  if (unit.rfind('K', 0) == 0) return v * 1024;
  if (unit.rfind('M', 0) == 0) return v * 1024 * 1024;
  return unit.empty() || unit == "\n" ? v : 0;
}

}  // namespace

double ReportedLlcBytes() {
#ifdef _SC_LEVEL3_CACHE_SIZE
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0) return static_cast<double>(l3);
#endif
  double best = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string text;
    if (in >> text) best = std::max(best, ParseCacheSize(text));
  }
  return best;
}

Json ProbeCurveToJson(const std::vector<double>& bytes, const std::vector<double>& ns_per_line) {
  Json probe = Json::array();
  for (size_t i = 0; i < bytes.size(); ++i)
    probe.push_back(Json{{"bytes", bytes[i]}, {"ns_per_line", ns_per_line.at(i)}});
  return probe;
}

void ReadProbeCurve(const JsonView& probe, std::vector<double>* bytes,
                    std::vector<double>* ns_per_line) {
  if (probe.Size() < 2 || probe.Size() > 64)
    probe.Fail("expected 2..64 points, got {}", probe.Size());
  bytes->clear();
  ns_per_line->clear();
  for (const JsonView& pt : probe.Elements()) {
    const double b = pt.NumberIn("bytes", 1, 1e13);
    if (!bytes->empty() && b <= bytes->back())
      pt.Field("bytes").Fail("sizes must ascend ({} after {})", b, bytes->back());
    bytes->push_back(b);
    ns_per_line->push_back(pt.NumberIn("ns_per_line", 1e-6, 1e6));
  }
}

CacheProbe ProbeCaches(double max_bytes, double seconds_per_point) {
  MS_CHECK(max_bytes >= 512 * 1024 && max_bytes <= 1e11,
           "cache probe: the largest working set must be 512 KiB..100 GB, got {}", max_bytes);
  MS_CHECK(seconds_per_point > 0 && seconds_per_point <= 10,
           "cache probe: seconds per point must be in (0, 10], got {}", seconds_per_point);
  CacheProbe probe;
  probe.reported_llc_bytes = ReportedLlcBytes();
  std::vector<double> sizes;
  for (double b = 256 * 1024; b < max_bytes; b *= 2) sizes.push_back(b);
  sizes.push_back(max_bytes);
  volatile uint64_t sink = 0;
  for (double size : sizes) {
    std::vector<uint64_t> buffer(static_cast<size_t>(size) / sizeof(uint64_t), 1);
    const double lines = static_cast<double>(buffer.size() / kWordsPerLine);
    sink = sink + ReadLines(buffer);  // resident and warm
    double best = 1e300;
    for (int sweep = 0; sweep < 3; ++sweep) {
      const double t0 = Seconds();
      int64_t reads = 0;
      do {
        sink = sink + ReadLines(buffer);
        ++reads;
      } while (Seconds() - t0 < seconds_per_point / 3);
      best = std::min(best, (Seconds() - t0) * 1e9 / (lines * static_cast<double>(reads)));
    }
    probe.bytes.push_back(static_cast<double>(buffer.size() * sizeof(uint64_t)));
    probe.ns_per_line.push_back(std::max(best, 1e-6));
  }
  return probe;
}

}  // namespace mainstream
