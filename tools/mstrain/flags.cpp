#include "flags.h"

#include <filesystem>

#include "mainstream/core/error.h"
#include "mainstream/core/parse.h"
#include "mainstream/train/candidate_store.h"

namespace mainstream::cli {

namespace {

std::string Join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ",") + p;
  return s;
}

}  // namespace

std::string SelfPath(const char* argv0) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) p = std::filesystem::absolute(argv0, ec);
  return p.string();
}

void AddLabelsFlags(CLI::App* cmd, MotLabelOptions& o) {
  cmd->add_option("--mot", o.mot, "MOT ground truth (frame,id,x,y,w,h,conf,...)")->required();
  cmd->add_option("--roi", o.rule.roi, "Region x0,y0,x1,y1 (pixels) the feet point must lie in");
  cmd->add_option("--polygon", o.rule.polygon, "Region as a polygon 'x1,y1;x2,y2;x3,y3;...'");
  cmd->add_option("--min-count", o.rule.min_count,
                  "K: positive when at least K people match (default 1)");
  cmd->add_option("--min-height", o.rule.min_height, "Minimum box height in pixels (default 0)");
  cmd->add_option("--classes", o.rule.classes, "Allowed MOT classes, e.g. 1,2,7 (9-field files)");
  cmd->add_flag("--include-ignored", o.rule.include_ignored, "Also count boxes with conf == 0");
  cmd->add_option("--frames", o.frames, "Sequence length (default: seqinfo.ini beside gt.txt)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--smooth-gap", o.smooth_gap, "Fill gaps of at most G frames between events")
      ->capture_default_str();
  cmd->add_option("--min-event", o.min_event, "Then drop events shorter than L frames")
      ->capture_default_str();
}

TrainConfig TrainFlags::Finish(int threads, uint64_t seed, bool seed_given) const {
  if (!config_file.empty()) {
    MS_CHECK(config.base_dir.empty() && config.video.empty() && config.images.empty() &&
                 config.app.empty(),
             "--config {} replaces --base/--video/--images/--app and the training flags; give one "
             "or the other",
             config_file);
    TrainConfig c = ReadTrainConfig(config_file);
    if (threads > 0) c.threads = threads;
    MS_CHECK(!seed_given || seed == c.seed, "--seed {} differs from the seed {} in {}", seed,
             c.seed, config_file);
    return c;
  }
  TrainConfig c = config;
  if (!branchpoints.empty()) c.branchpoints = ParseIntList(branchpoints, "--branchpoints");
  if (!micro_layers.empty()) c.micro_layers = ParseIntList(micro_layers, "--micro-layers");
  if (!micro_region.empty()) c.micro_region = ParseDoubleList(micro_region, "--micro-region");
  if (!train_frames.empty()) c.train_frames = Join(train_frames);
  if (!val_frames.empty()) c.val_frames = Join(val_frames);
  if (!test_frames.empty()) c.test_frames = Join(test_frames);
  if (!split.empty()) {
    std::vector<double> s = ParseDoubleList(split, "--split");
    MS_CHECK(s.size() == 3, "--split: expected three fractions train,val,test, got '{}'", split);
    c.train_fraction = s[0];
    c.val_fraction = s[1];
    c.test_fraction = s[2];
  }
  if (!corr_strides.empty()) c.corr_strides = ParseIntList(corr_strides, "--corr-strides");
  c.pareto_x = ParseIntList(pareto_x, "--pareto-x");
  if (no_augment) c.augment_copies = 0;
  if (no_cache) c.cache = false;
  c.threads = threads > 0 ? threads : 1;
  c.seed = seed;
  return c;
}

}  // namespace mainstream::cli
