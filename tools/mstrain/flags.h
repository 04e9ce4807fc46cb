// mstrain's flag registration: declared once here, parsed into the
// library's config structs (TrainConfig, PretrainConfig, MotLabelOptions).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "mainstream/train/dataset.h"
#include "mainstream/train/pretrain.h"
#include "mainstream/train/train_config.h"

namespace mainstream::cli {

// Raw texts of list-valued flags, converted by Finish().
struct TrainFlags {
  TrainConfig config;
  std::string branchpoints, split, corr_strides, config_file, pareto_x = "1,2,3";
  std::string micro_layers, micro_region;
  std::vector<std::string> train_frames, val_frames, test_frames;
  bool no_augment = false, no_cache = false;
  // Turns the raw texts into `config` (or loads --config); `threads` and
  // `seed` come from the common flags when given.
  TrainConfig Finish(int threads, uint64_t seed, bool seed_given) const;
};

// The running executable's absolute path (for the commands `plan` prints).
std::string SelfPath(const char* argv0);

// `mstrain pretrain`'s flags: raw texts, and the command to ask which flags
// were given (the task decides the defaults of the others).
struct PretrainFlags {
  PretrainConfig config;
  std::string task = "occupancy", grid = "8x6", size = "160x120";
  const CLI::App* cmd = nullptr;
  // The config: `task`'s defaults (PretrainDefaults) for --epochs and --lr
  // when they were not given, then the flags.
  PretrainConfig Finish(int threads, uint64_t seed) const;
};

void AddLabelsFlags(CLI::App* cmd, MotLabelOptions& options);
void AddPretrainFlags(CLI::App* cmd, PretrainFlags& flags);
// `with_config`: the command may take --config FILE instead of the data flags.
void AddTrainFlags(CLI::App* cmd, TrainFlags& flags, bool with_config);

}  // namespace mainstream::cli
