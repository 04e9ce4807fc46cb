// mstrain's library half: one application's labeled data -> an M-Package.
//
//   TrainConfig cfg;  cfg.base_dir = "bases/msnet-s";  cfg.video = "pets.avi";
//   cfg.labels = "ped.csv";  cfg.app = "ped";  cfg.output = "pk/ped";
//   TrainReport r = RunTrain(cfg);        // trains what is missing, then packs
//
// For every branchpoint b (or the configured subset) a suffix (stages b..n-2
// of the base + a new 2-way head, model/suffix.h) is fine-tuned on the frozen
// stem's activations at b, which are computed once per branchpoint with the
// optimized frozen Segment and cached (each branchpoint's cache is computed
// from the previous one's, so every base stage runs once per frame).
// Candidates are stored in a work directory as they finish (resumable), then
// Pareto-pruned and written as the package (manifest + bp<b>.pt), atomically.
// See docs/training.md.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mainstream/package/mpackage.h"
#include "mainstream/train/candidate_store.h"
#include "mainstream/train/train_config.h"

namespace mainstream {

struct TrainRunOptions {
  // Train only these candidates (keys "bp3", "mc2"; ParseCandidateKeys) and
  // do not pack (one `plan` command).
  std::vector<std::string> only;
  bool pack = true;
  // Called after each candidate is committed to the work directory (tests use
  // it to simulate a crash by throwing).
  std::function<void(const CandidateRecord&)> on_candidate_done;
};

struct TrainReport {
  MPackage package;  // empty candidates when !pack
  std::filesystem::path work_dir;
  int trained = 0;  // candidates trained by this run
  int resumed = 0;  // candidates found finished in the work directory
  double seconds = 0;
  double prefix_seconds = 0;  // computing cached activations
  double decode_seconds = 0;  // decoding and resizing frames
  std::string summary;        // table of candidates for stderr
};

// "3,mc2,bp5" (a bare number is a branch) into keys; errors name `flag`.
std::vector<std::string> ParseCandidateKeys(const std::string& text, const std::string& flag);

// Loads and checks everything (base, labels, video or images, split, class
// balance), trains the missing candidates, and packs unless options say
// otherwise. Bad input throws InputError naming the file and line or field
// before any training starts; a failed package write leaves an earlier
// package at config.output intact.
TrainReport RunTrain(const TrainConfig& config, const TrainRunOptions& options = {});

// Assembles the finished candidates of `config` into the package at
// config.output: event statistics from the labels, the correlation pooled over
// the kept candidates' validation predictions, Pareto pruning (logged), then
// manifest + weights staged beside the output and swapped in. Throws
// InputError naming the missing candidates (and the command that trains
// them), a record built from another base, or an output that cannot be written.
MPackage PackCandidates(const TrainConfig& config);

// Writes the configuration to its work directory and returns one shell
// command per candidate ("<exe> train --config <work>/config.json
// --branchpoint b --threads t"), plus the pack command in *pack_command.
std::vector<std::string> PlanCommands(const TrainConfig& config, const std::string& exe,
                                      std::string* pack_command = nullptr);

// Quotes a word for POSIX shells when needed.
std::string ShellQuote(const std::string& word);

}  // namespace mainstream
