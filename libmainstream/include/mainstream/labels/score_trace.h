// The out-of-fold score trace of an M-Package (`trace.csv`): for every frame
// mstrain estimated on, its label, the fold whose model scored it, and each
// candidate's score (probability of "event") from a model that never saw
// that frame. msschedule replays it through the runtime's sampling and
// X-voting to predict event F1 (schedule/trace_model.h). Format:
// docs/formats.md ("Score trace").
//
//   frame,label,fold,bp0,bp3,bp7,mc2
//   1,0,0,0.0123,0.2,0.05,0.4
//   ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mainstream/labels/events.h"
#include "mainstream/package/mpackage.h"

namespace mainstream {

inline constexpr const char* kScoreTraceFile = "trace.csv";

struct ScoreTrace {
  std::vector<int64_t> frames;             // 1-based, strictly increasing
  std::vector<uint8_t> labels;             // 0/1 per row
  std::vector<int> folds;                  // 0-based fold per row
  std::vector<std::string> columns;        // candidate keys ("bp3", "mc2"), unique
  std::vector<std::vector<float>> scores;  // [column][row], each in [0, 1]

  size_t rows() const { return frames.size(); }
  // Column of a candidate key (Candidate::key()), or -1.
  int Column(const std::string& key) const;
  int num_folds() const;  // 1 + the largest fold index (0 when empty)
  // Row ranges [begin, end) of consecutive frames (the trace may skip frames,
  // e.g. the gap around a cross-validation fold).
  std::vector<std::pair<size_t, size_t>> Segments() const;
  // True events: maximal runs of label 1 inside each segment (a run cut by a
  // segment edge counts with its visible length).
  std::vector<FrameInterval> Events() const;

  // Throws InputError "<origin>: <problem>" when the columns disagree in
  // length, frames do not increase, a label is not 0/1, a fold is negative or
  // a score is outside [0, 1] or not finite.
  void Validate(const std::string& origin) const;
};

std::string FormatScoreTrace(const ScoreTrace& trace);
// Errors name the origin and line ("pk/trace.csv:12: score 'x' of column bp3 ...").
ScoreTrace ParseScoreTrace(std::string_view text, const std::string& origin);
ScoreTrace ReadScoreTrace(const std::filesystem::path& file);

// The package's trace, checked against its manifest: the file named by
// $.trace.file exists inside the package, its SHA-256 and row count match
// $.trace, and it has a column for every candidate. Throws InputError naming
// the file and field otherwise. Requires pkg.trace.
ScoreTrace LoadPackageTrace(const MPackage& pkg);

}  // namespace mainstream
