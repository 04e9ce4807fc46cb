// Per-frame label files (CSV "frame,label"; docs/labels.md), read by mstrain
// and msrun --labels: ParseLabelFile as ReadLabelFile calls it, the events
// and event statistics mstrain derives from them, and a format/parse round
// trip of what it accepted.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/labels/events.h"
#include "mainstream/labels/label_file.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FrameLabels labels;
  if (!fuzz::Accepts([&] { labels = ParseLabelFile(fuzz::AsText(data, size), "labels.csv"); }))
    return 0;
  if (labels.empty()) fuzz::Finding("labels.csv: accepted a file without frames");
  const auto frames = static_cast<int64_t>(labels.size());
  const std::vector<FrameInterval> events = EventsFromLabels(labels);
  if (LabelsFromEvents(events, frames) != labels)
    fuzz::Finding("labels.csv: the events do not give the labels back");
  // No event is a documented InputError of the statistics.
  fuzz::Accepts([&] { EventStatsFromLabels(labels, "labels.csv").Validate("labels.csv"); });
  if (ParseLabelFile(FormatLabelFile(labels), "formatted.csv") != labels)
    fuzz::Finding("labels.csv: a formatted label file reads back differently");
  return 0;
}
