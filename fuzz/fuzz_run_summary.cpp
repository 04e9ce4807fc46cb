// msprofile --calibrate (schedule/calibrate.h): the profile it corrects and
// the msrun summary.json files it reads (docs/formats.md, "Run summary"),
// through Calibrate as the tool calls it; the calibrated profile it writes
// must read back with ReadProfile (msschedule's reader).
//
// Input: profile.json, a "----" line, then one or more summary.json files
// separated by "----" lines.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/profile/profile.h"
#include "mainstream/schedule/calibrate.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
constexpr size_t kMaxRuns = 4;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts =
      fuzz::SplitParts(fuzz::AsText(data, size), 1 + kMaxRuns);
  if (parts.size() < 2) return 0;
  const std::filesystem::path dir = fuzz::Scratch::Fresh("calibrate");
  fuzz::WriteFile(dir / "profile.json", parts[0]);
  std::vector<std::filesystem::path> runs;
  for (size_t i = 1; i < parts.size(); ++i) {
    runs.push_back(dir / ("run" + std::to_string(i)) / "summary.json");
    std::filesystem::create_directories(runs.back().parent_path());
    fuzz::WriteFile(runs.back(), parts[i]);
  }
  CalibrationResult r;
  if (!fuzz::Accepts(
          [&] { r = Calibrate(ReadProfile(dir / "profile.json"), FindRunSummaries({dir})); }))
    return 0;
  if (r.runs.size() != runs.size()) fuzz::Finding("calibrate: not every summary was read");
  r.ToText();
  WriteProfile(r.profile, dir / "calibrated.json");
  ReadProfile(dir / "calibrated.json");
  return 0;
}
