// `mstrain pretrain`: create the embedded default base (model/default_base.h)
// and pretrain it without downloads on a generic task every fresh Debian
// machine has: multi-label person occupancy of a coarse grid over the frames
// of a MOT-annotated video (by default the PETS 2009 S2.L1 sequence from
// Debian's opencv-doc with the ground truth in ../shared/data/pets09-s2l1).
// Cell (r, c) of frame t is 1 when the feet point (x + w/2, y + h) of some
// person box lies in it. Only the frames given as training frames are used,
// so later applications can be evaluated on the rest. See docs/training.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/default_base.h"
#include "mainstream/video/augment.h"

namespace mainstream {

struct PretrainConfig {
  std::string video;    // the video (frames 1-based = MOT frames)
  std::string mot;      // MOT ground truth (gt.txt)
  std::string output;   // base directory to write
  double fps = 0;       // > 0: fps override (recorded only)
  std::string train_frames;  // "a-b,c-d"; empty: the first 70% of the video
  int grid_cols = 8;
  int grid_rows = 6;
  int epochs = 20;      // 0: no pretraining (random weights, BatchNorm statistics estimated), for comparisons
  int batch = 32;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  int64_t stride = 2;   // use every k-th training frame (fresh augmentation every epoch)
  double val_fraction = 0.15;  // of the training frames, for reporting and picking the best epoch
  int64_t gap = 10;
  AugmentConfig augment;
  int recalibrate_passes = 8;
  // Auxiliary 1x1-conv occupancy heads on two feature maps during
  // pretraining (not saved): spatially meaningful features for region tasks.
  bool dense_heads = true;  // forward passes re-estimating BatchNorm statistics at the end
  DefaultBaseOptions base;  // architecture and input size (num_classes = grid cells)
  uint64_t seed = 1;
  int threads = 1;

  void Validate() const;
  Json ToJson() const;
  std::string ToString() const;
};

struct PretrainReport {
  double seconds = 0;
  int epochs_run = 0;
  int best_epoch = 0;  // epoch with the best validation F1 (the weights kept are the last epoch's)
  double train_loss = 0;
  double val_loss = 0;
  double val_cell_accuracy = 0;  // per cell and frame, at 0.5
  double val_cell_f1 = 0;        // over positive cells
  double val_baseline_accuracy = 0;  // always predicting each cell's majority class
  std::vector<double> val_dense_f1;  // per auxiliary dense head
  Json ToJson() const;
};

// Builds, pretrains and saves the base; base.json's source records the task,
// frames, epochs and validation figures.
PretrainReport Pretrain(const PretrainConfig& config);

}  // namespace mainstream
