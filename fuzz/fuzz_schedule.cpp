// schedule.json (msschedule's output, read by msrun; docs/formats.md):
// ReadSchedule, which validates every field, resolves the package paths and
// rebuilds the merged tree to check the recorded cost; then a write/read
// round trip of what it accepted. ReadSchedule takes a path: the input is
// written to a scratch file first.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/schedule/schedule_doc.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path dir = fuzz::Scratch::Fresh("schedule");
  const std::filesystem::path file = dir / "schedule.json";
  fuzz::WriteFile(file, fuzz::AsText(data, size));
  ScheduleDoc doc;
  if (!fuzz::Accepts([&] { doc = ReadSchedule(file); })) return 0;
  if (doc.apps.empty() || doc.tree.nodes.empty())
    fuzz::Finding("schedule.json: accepted a schedule without apps or tree");

  const std::filesystem::path again = dir / "again.json";
  WriteSchedule(doc, again);
  const ScheduleDoc back = ReadSchedule(again);
  if (back.ToJson(dir) != doc.ToJson(dir))
    fuzz::Finding("schedule.json: a written schedule reads back differently");
  return 0;
}
