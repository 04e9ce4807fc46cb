// `mstrain pretrain`: create the embedded default base (model/default_base.h)
// and pretrain it without downloads on a generic task every fresh Debian
// machine has. Two tasks (docs/training.md, "Pretraining the default base"):
//
//  - occupancy (default): multi-label person occupancy of a coarse grid over
//    the frames of a MOT-annotated video (by default the PETS 2009 S2.L1
//    sequence from Debian's opencv-doc with the ground truth in
//    ../shared/data/pets09-s2l1). Cell (r, c) of frame t is 1 when the feet
//    point (x + w/2, y + h) of some person box lies in it. Only the frames
//    given as training frames are used, so later applications can be
//    evaluated on the rest.
//  - fashion-mnist: 10-way classification of one Fashion-MNIST item
//    (train/fmnist.h; Debian's dataset-fashion-mnist) drawn on a canvas of
//    the base's input size, so the base never sees the apps' labels. With a
//    video, the BatchNorm statistics are then re-estimated on its frames.
//
// Either task can start from an existing base's weights (`init`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/model/default_base.h"
#include "mainstream/train/fmnist.h"
#include "mainstream/video/augment.h"

namespace mainstream {

enum class PretrainTask { kOccupancy, kFashionMnist };
std::string PretrainTaskName(PretrainTask task);  // "occupancy", "fashion-mnist"
// Throws InputError naming `what` (e.g. "--task") for other names.
PretrainTask ParsePretrainTask(const std::string& name, const std::string& what);

// The defaults below are the occupancy task's; PretrainDefaults gives each
// task's own epochs and lr.
struct PretrainConfig {
  PretrainTask task = PretrainTask::kOccupancy;
  // Occupancy: the video (frames 1-based = MOT frames). Fashion-MNIST:
  // optional, the frames to re-estimate the BatchNorm statistics on.
  std::string video;
  std::string mot;     // MOT ground truth (gt.txt); occupancy only
  std::string output;  // base directory to write
  // A base directory to start from instead of random weights: same stages
  // and shapes required; a head with another number of classes starts fresh.
  std::string init;
  double fps = 0;            // > 0: fps override (recorded only)
  std::string train_frames;  // "a-b,c-d"; empty: the first 70% of the video
  int grid_cols = 8;
  int grid_rows = 6;
  int epochs =
      20;  // 0: no pretraining (random weights, BatchNorm statistics estimated), for comparisons
  int batch = 32;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  int64_t stride = 2;          // use every k-th training frame (fresh augmentation every epoch)
  double val_fraction = 0.15;  // of the training frames, for reporting and picking the best epoch
  int64_t gap = 10;
  AugmentConfig augment;
  int recalibrate_passes =
      8;  // forward passes over the frames re-estimating BatchNorm statistics at the end
  // Auxiliary 1x1-conv occupancy heads on two feature maps during
  // pretraining (not saved): spatially meaningful features for region tasks.
  bool dense_heads = true;
  // Fashion-MNIST: where the idx.gz files are, how many training items (the
  // first ones) and held-out t10k items (the first ones) to use, the canvas,
  // and how many fresh canvases re-estimate the BatchNorm statistics when
  // there is no video.
  std::string fmnist_dir = kFashionMnistDir;
  int64_t images = 3000;
  int64_t val_images = 1000;
  CanvasOptions canvas;
  int64_t recalibrate_canvases = 1024;
  DefaultBaseOptions base;  // architecture and input size (num_classes = the task's)
  uint64_t seed = 1;
  int threads = 1;

  void Validate() const;
  Json ToJson() const;
  std::string ToString() const;
};

// A config with `task`'s defaults (epochs and lr; the rest as
// PretrainConfig{}).
PretrainConfig PretrainDefaults(PretrainTask task);

struct PretrainReport {
  PretrainTask task = PretrainTask::kOccupancy;
  double seconds = 0;
  int epochs_run = 0;
  int best_epoch = 0;  // epoch with the best validation F1 (the weights kept are the last epoch's)
  double train_loss = 0;
  double val_loss = 0;
  double val_cell_accuracy = 0;      // per cell and frame, at 0.5
  double val_cell_f1 = 0;            // over positive cells
  double val_baseline_accuracy = 0;  // always predicting each cell's majority class
  std::vector<double> val_dense_f1;  // per auxiliary dense head
  // Fashion-MNIST: items used, the held-out accuracy after the last epoch
  // (statistics from training) and of the saved base (its final BatchNorm
  // statistics: re-estimated on the canvases or on the video's frames).
  int64_t train_images = 0;
  int64_t val_images = 0;
  double val_accuracy = 0;
  double val_accuracy_saved = 0;
  double seconds_per_epoch = 0;
  Json ToJson() const;  // the task's fields
};

// Builds (or, with config.init, loads), pretrains and saves the base;
// base.json's source records the task, data, epochs, validation figures and
// where the BatchNorm statistics come from. Throws InputError naming the
// flag or file for bad input.
PretrainReport Pretrain(const PretrainConfig& config);

}  // namespace mainstream
