// Scoring a run against ground truth and the human-readable tables msrun
// prints (no LibTorch). Scoring is event-level (labels/scoring.h): a true
// event is detected when a reported event overlaps it; a report overlapping
// no true event is a false positive.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/events.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/labels/scoring.h"
#include "mainstream/schedule/prediction.h"

namespace mainstream {

// The true events inside `range` (1-based, inclusive): maximal runs of 1s of
// labels[range.start - 1 .. range.end - 1], an event crossing an end of the
// range clipped to it. Throws InputError if the range reaches past the labels.
std::vector<FrameInterval> TrueEventsInRange(const FrameLabels& labels, const FrameInterval& range);

struct AppEvaluation {
  std::string app;
  std::filesystem::path labels_file;
  FrameInterval range;      // frames scored (those the run decoded)
  EventScoreCI measured;    // point figures, counts and bootstrap CIs over true events
  AppPrediction predicted;  // the schedule's prediction for this app

  Json ToJson() const;
};

// Scores `reports` against the true events of `labels` inside `range`.
AppEvaluation EvaluateApp(const std::string& app, const std::filesystem::path& labels_file,
                          const FrameLabels& labels, const std::vector<FrameInterval>& reports,
                          const FrameInterval& range, const AppPrediction& predicted,
                          const BootstrapOptions& options);

// The tables msrun prints, made from a run summary (summary.json): per app the
// scheduled and achieved rate, samples, events; measured vs predicted cost;
// with labels, measured recall / precision / F1 with CIs and the number of
// true events beside the schedule's predictions.
std::string FormatRunTables(const Json& summary);

inline constexpr int kPooledSummarySchemaVersion = 1;

// One app's ground truth for pooling.
struct LabeledApp {
  std::string app;
  std::filesystem::path file;
  const FrameLabels* labels = nullptr;  // labels[k - 1] is frame k
};

// Pools run summaries of one schedule over the same frames at different
// sampling phases (msrun --phases): per app the mean achieved rate and, for
// apps with labels, event-level figures over all phases' reports (each
// summary's apps[].events_file is read back) with a bootstrap over true
// events (BootstrapEventScoreRuns: recall is the mean over phases, precision
// pools every phase's reports), beside the per-phase F1s and the schedule's
// prediction; cost measured (mean over phases) vs predicted. Throws
// RuntimeError when the summaries disagree (schedule, frames, apps).
// Format: docs/runtime.md ("pooled.json").
Json PoolRunSummaries(const std::vector<Json>& summaries, const std::vector<LabeledApp>& labeled,
                      const BootstrapOptions& options);

// The table msrun prints for a pooled run.
std::string FormatPooledTables(const Json& pooled);

}  // namespace mainstream
