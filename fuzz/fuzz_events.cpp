// msrun's events files (<app>.events.jsonl; docs/formats.md, "Events"),
// read back by msrun --phases to pool the phases: ReadEventsFile, then the
// event-level scoring and bootstrap the pooling applies to the reports
// (against fixed true events), and a write/read round trip of every event.
// ReadEventsFile takes a path: the input is written to a scratch file first.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/runtime/app_output.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path file = fuzz::Scratch::Fresh("events") / "app.events.jsonl";
  fuzz::WriteFile(file, fuzz::AsText(data, size));
  std::vector<ReportedEvent> events;
  if (!fuzz::Accepts([&] { events = ReadEventsFile(file); })) return 0;

  std::vector<FrameInterval> reports;
  for (const ReportedEvent& e : events) {
    const Json j = e.ToJson();
    const ReportedEvent back = ReportedEvent::FromJson(JsonView(j, "written event"));
    if (back.app != e.app || back.index != e.index || back.event.interval() != e.event.interval() ||
        back.event.samples != e.event.samples || back.event.peak_frame != e.event.peak_frame ||
        back.reported_frame != e.reported_frame || back.cut != e.cut)
      fuzz::Finding("events.jsonl: a written event reads back differently");
    reports.push_back(e.event.interval());
  }
  const std::vector<FrameInterval> truth = {{5, 20}, {40, 41}, {100, 180}};
  ScoreEvents(truth, reports);
  BootstrapOptions options;
  options.resamples = 50;
  BootstrapEventScoreRuns(truth, {reports, reports}, options);
  return 0;
}
