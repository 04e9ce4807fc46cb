// The work directory of one training configuration: finished candidates,
// each a suffix weights file plus a record, keyed by a hash of everything
// they depend on (base, data, training options). A killed run resumes from
// the last finished candidate; `mstrain plan` hands each candidate to a
// separate process and `mstrain pack` assembles them. No LibTorch here.
//
//   <root>/<hash>/config.json   the TrainConfig (for plan / pack / train --config)
//   <root>/<hash>/<key>.pt      weights (written atomically); key "bp<b>"
//                               for a branch, "mc<b>" for a microclassifier
//   <root>/<hash>/<key>.json    the record, written last: a candidate is
//                               finished iff its record exists and matches
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/events.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/train/train_config.h"

namespace mainstream {

struct BaseInfo;

// A validation block and the candidate's predictions on it (video only), for
// the inter-frame correlation at pack time.
struct ValidationTrace {
  FrameInterval block;
  FrameLabels predictions;  // one per frame of `block`
};

// A candidate's out-of-fold scores over every training frame (video with
// --folds >= 2): the score of each frame from the fold model that did not
// train on it. Becomes one column of the package's trace.csv.
struct OutOfFoldScores {
  std::vector<int64_t> frames;  // 1-based, increasing
  std::vector<int> folds;       // fold that held each frame out
  std::vector<float> scores;    // P(event) per frame
};

struct CandidateRecord {
  Candidate candidate;  // weights: file name inside the work directory
  std::string weights_sha256;
  BaseRef base;
  std::string config_hash;
  std::vector<ValidationTrace> validation;
  std::optional<OutOfFoldScores> oof;

  Json ToJson() const;
  static CandidateRecord FromJson(const JsonView& v);
};

// Hash of the base (sha256), the data (label file content, video path, size
// and modification time; or the image folder's listing) and
// config.TrainingJson(). 16 hex digits.
std::string TrainConfigHash(const TrainConfig& config, const BaseInfo& base);

// "<output parent>/.<output name>.mstrain" (hidden, so `pk/*` globs skip it).
std::filesystem::path DefaultWorkRoot(const std::filesystem::path& output);

class CandidateStore {
 public:
  // <root>/<hash>; root = config.work_dir or DefaultWorkRoot(config.output).
  CandidateStore(const TrainConfig& config, const std::string& hash);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& hash() const { return hash_; }
  std::filesystem::path ConfigPath() const { return dir_ / "config.json"; }
  // By candidate key (Candidate::key(): "bp3", "mc2").
  std::filesystem::path WeightsPath(const std::string& key) const;
  std::filesystem::path RecordPath(const std::string& key) const;
  static std::string WeightsName(const std::string& key);  // "<key>.pt"

  // Writes config.json (atomically) unless an identical one exists.
  void WriteConfig(const TrainConfig& config) const;
  // The finished candidate `key`, or nullopt when it is not
  // finished (no record, or a record/weights pair that does not match, e.g.
  // after a crash between the two writes: logged and treated as unfinished).
  // A record for another base is an InputError (base hash mismatch).
  std::optional<CandidateRecord> Find(const std::string& key, const BaseRef& base) const;
  // Writes the record atomically (the weights must already be in place).
  void Commit(const CandidateRecord& record) const;
  // Removes the hash directory (and the root if it becomes empty).
  void Remove() const;

 private:
  std::filesystem::path root_;
  std::filesystem::path dir_;
  std::string hash_;
};

// Reads a config.json written by CandidateStore::WriteConfig / `mstrain plan`.
TrainConfig ReadTrainConfig(const std::filesystem::path& file);

}  // namespace mainstream
