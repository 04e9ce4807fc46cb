// A package's out-of-fold score trace (trace.csv; docs/formats.md, "Score
// trace"), read by msschedule through LoadPackageTrace: ParseScoreTrace, the
// segments and events the trace replay uses, and a format/parse round trip
// of what it accepted.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/labels/score_trace.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ScoreTrace t;
  if (!fuzz::Accepts([&] { t = ParseScoreTrace(fuzz::AsText(data, size), "trace.csv"); })) return 0;
  size_t rows = 0;
  for (const auto& [begin, end] : t.Segments()) {
    if (begin >= end || end > t.rows()) fuzz::Finding("trace.csv: a segment outside the rows");
    rows += end - begin;
  }
  if (rows != t.rows()) fuzz::Finding("trace.csv: the segments do not cover the rows");
  for (const FrameInterval& e : t.Events()) {
    if (e.empty()) fuzz::Finding("trace.csv: an empty event");
  }
  for (const std::string& key : t.columns) {
    if (t.Column(key) < 0) fuzz::Finding("trace.csv: a candidate without its column");
  }
  if (t.num_folds() < 1) fuzz::Finding("trace.csv: no fold");

  const ScoreTrace back = ParseScoreTrace(FormatScoreTrace(t), "formatted.csv");
  if (back.frames != t.frames || back.labels != t.labels || back.folds != t.folds ||
      back.columns != t.columns)
    fuzz::Finding("trace.csv: a formatted trace reads back differently");
  return 0;
}
