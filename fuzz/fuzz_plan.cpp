// What `msschedule schedule` reads (schedule/schedule_doc.h, PlanSchedule):
// a profile and M-Packages with their score traces, checked against each
// other, predicted (trace replay + analytical model) and searched (greedy;
// exhaustive and maxmin within a node limit) at 1.5x the cheapest schedule's
// cost; the schedule it writes must read back with ReadSchedule (msrun's
// reader).
//
// Input: profile.json, then per package its mpackage.json and trace.csv,
// separated by "----" lines. The packages are written as pkg0, pkg1, ...; a
// manifest whose $.trace is an object gets the real SHA-256 of its trace
// written into $.trace.sha256 (the fuzzer cannot forge a hash).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/core/sha256.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/schedule/schedule_doc.h"

using namespace mainstream;
namespace fs = std::filesystem;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
constexpr size_t kMaxPackages = 3;

// The manifest with $.trace.sha256 set to the trace's hash (as it is if it
// is not JSON or has no trace object); *fps gets its $.stream_fps.
std::string FixTraceHash(std::string_view manifest, std::string_view trace, double* fps) {
  Json j = Json::parse(manifest.begin(), manifest.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::string(manifest);
  auto s = j.find("stream_fps");
  if (s != j.end() && s->is_number()) *fps = s->get<double>();
  auto t = j.find("trace");
  if (t == j.end() || !t->is_object()) return std::string(manifest);
  (*t)["sha256"] = Sha256Hex(trace);
  return j.dump();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts =
      fuzz::SplitParts(fuzz::AsText(data, size), 1 + 2 * kMaxPackages);
  if (parts.size() < 3) return 0;
  const fs::path dir = fuzz::Scratch::Fresh("plan");
  ScheduleConfig config;
  config.profile = dir / "profile.json";
  fuzz::WriteFile(config.profile, parts[0]);
  double stream_fps = 0;
  for (size_t k = 1; k + 1 < parts.size(); k += 2) {
    const fs::path pkg = dir / ("pkg" + std::to_string(k / 2));
    fs::create_directories(pkg);
    double fps = 0;
    fuzz::WriteFile(pkg / kMPackageManifest, FixTraceHash(parts[k], parts[k + 1], &fps));
    fuzz::WriteFile(pkg / kScoreTraceFile, parts[k + 1]);
    if (k == 1) stream_fps = fps;
    config.packages.push_back(pkg);
  }
  // A few rates of the stream (every integer rate of a 1000 fps stream would
  // make single inputs slow, not wrong).
  if (!(stream_fps > 0 && stream_fps <= 1000)) stream_fps = 1;
  config.fps_options = {stream_fps / 3, stream_fps / 2, stream_fps};
  config.x_options = {1, 2};
  config.budget_factor = 1.5;

  for (const char* algorithm : {"greedy", "exhaustive", "maxmin"}) {
    config.algorithm = algorithm;
    config.limits.max_nodes = 2000;
    ScheduleDoc doc;
    if (!fuzz::Accepts([&] { doc = PlanSchedule(config); })) return 0;
    if (doc.apps.size() != config.packages.size())
      fuzz::Finding("plan: a schedule without every app");
    WriteSchedule(doc, dir / "schedule.json");
    const ScheduleDoc back = ReadSchedule(dir / "schedule.json");
    if (back.apps.size() != doc.apps.size() || back.total_cost != doc.total_cost)
      fuzz::Finding("plan: a written schedule reads back differently");
  }
  return 0;
}
