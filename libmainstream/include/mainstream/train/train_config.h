// What `mstrain train` needs to turn one application's labeled data into an
// M-Package: inputs, split, optimization, statistics. Declared once here,
// checked once (Validate), printable (ToString) and stored as JSON in the
// work directory so that `plan`/`pack` and resumed runs see the same
// configuration. See docs/training.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/labels/events.h"
#include "mainstream/video/augment.h"

namespace mainstream {

inline constexpr int kTrainConfigSchemaVersion = 1;

struct TrainConfig {
  // Inputs. Exactly one of `video` (with `labels`) or `images`.
  std::string base_dir;  // base directory (model.pt + base.json)
  std::string video;     // video file
  std::string labels;    // per-frame label CSV (frame,label; docs/labels.md)
  std::string images;    // image folder DIR/<class>/*.jpg|png
  std::string
      positive_class;    // images: the class directory that is the event (default "1" or "pos")
  double fps = 0;        // > 0: stream fps override (vtest.avi says 10, was captured at 7)
  std::string app;       // application name (letters, digits, '_', '-', '.')
  std::string output;    // package directory
  std::string work_dir;  // finished candidates live in <work_dir>/<hash>/; empty: default
  std::vector<int> branchpoints;  // empty: every branchpoint of the base

  // Split (video: 1-based inclusive frame ranges "a-b,c-d"; empty: automatic).
  std::string train_frames;
  std::string val_frames;       // empty: the last val_fraction of the training frames, after a gap
  std::string test_frames;      // reported only (extra.test), never used for choices
  double train_fraction = 0.7;  // automatic split (no train_frames): train / validation / test
  double val_fraction = 0.15;
  double test_fraction = 0.15;
  int64_t gap = 10;    // unused frames between blocks
  int val_blocks = 1;  // without val_frames: validation spread over this many places (folds <= 1)
  // Video: >= 2 estimates every candidate out of fold over all training
  // frames (temporal k-fold, `gap` frames dropped around each held-out part;
  // the package keeps the score trace); 1: the older validation-block
  // estimates (no trace). Image folders always use their validation split.
  int folds = 4;
  // The model a candidate deploys: "retrain" trains one more on every
  // training frame for the chosen number of epochs; "fold" (folds >= 2)
  // deploys the fold model trained on the latest frames, exactly what the
  // score trace describes (docs/training.md, "The deployed model"); "auto"
  // (the default) is "fold" with out-of-fold estimates, else "retrain".
  std::string deploy = "auto";
  std::string EffectiveDeploy() const;
  int64_t train_stride = 1;  // keep every k-th training frame (neighbours are near-duplicates)

  // Optimization of one candidate.
  int epochs = 8;
  int patience = 3;  // stop after this many epochs without a better validation balanced accuracy
  int batch = 32;
  double lr = 1e-4;       // Adam, copied base stages (pretrained: small steps)
  double head_lr = 1e-3;  // Adam, the new head
  double weight_decay = 1e-4;
  double dropout = 0.2;  // before the head's linear layer
  // The new head: "pool" = global average pooling + linear (model/suffix.h,
  // BuildSuffix); "spatial" = 1x1 conv to head_channels + flatten + linear,
  // which keeps where things are (fixed cameras, region tasks).
  std::string head = "spatial";
  int head_channels = 16;
  // Microclassifiers (docs/training.md, "Microclassifiers"; video with
  // folds only): for each layer (a branchpoint >= 1) a random search over
  // crops of the base's feature map there, each a 1x1 conv to
  // micro_channels + ReLU + linear; the crop is chosen out of fold and the
  // best becomes candidate "mc<layer>". Not part of the hash: a micro record
  // keeps the settings it was trained with (MicroJson) and is retrained
  // when they change.
  std::vector<int> micro_layers;  // empty: no microclassifiers
  int micro_crops = 8;            // random crops per layer (plus the region's, if given)
  int micro_channels = 8;
  // The app's region in video pixels (x0, y0, x1, y1), e.g. the labelling
  // rule's --roi; empty: none. Its crop joins the random ones.
  std::vector<double> micro_region;
  std::string balance = "weight";  // "weight": class-weighted loss; "none"
  // "frozen": BatchNorm layers of the copied stages keep the base's running
  // statistics (train and inference see the same normalization; right for
  // small data); "train": batch statistics while training, running averages
  // updated (needs many steps to settle).
  std::string batchnorm = "frozen";
  int augment_copies = 1;  // augmented copies per training frame (cached), 0: none
  AugmentConfig augment;
  double threshold = 0.5;  // score threshold for a positive frame
  bool cache = true;  // cache prefix activations (false: recompute every batch; for benchmarks)
  uint64_t seed = 1;

  // Package statistics (pack time; not part of the hash).
  std::vector<int>
      corr_strides;  // strides at which c is measured; empty: 1..ceil(stream fps), at most 8
  double pareto_tolerance =
      0;  // a candidate is pruned if one with more sharing is within this (F1 or accuracy)
  std::vector<int> pareto_x{1, 2, 3};  // X-voting values the predicted-F1 pruning considers
  double trace_prior = 4;      // shrinkage of trace-driven predictions (schedule/prediction.h)
  double event_length = 0;     // > 0: override mean event length (frames)
  double event_frequency = 0;  // > 0: override event frequency
  double correlation = -1;     // >= 0: override inter-frame correlation

  // Run (not part of the hash).
  int threads = 1;
  bool keep_work = false;  // keep the work directory after packing

  bool uses_images() const { return !images.empty(); }
  // Out-of-fold estimates (video with folds >= 2).
  bool uses_folds() const { return !uses_images() && folds >= 2; }
  // Throws InputError naming the flag (e.g. "--epochs: expected >= 1, got 0").
  void Validate() const;
  Json ToJson() const;
  static TrainConfig FromJson(const JsonView& v);
  std::string ToString() const;
  // The training-relevant fields only (what the candidates depend on besides
  // the data and the base): no paths of outputs, threads, branchpoints or
  // pack-time statistics.
  Json TrainingJson() const;
  // What a microclassifier depends on besides TrainingJson (its record keeps it).
  Json MicroJson() const;
  // Paths made absolute (so commands printed by `plan` work from any directory).
  void MakePathsAbsolute();
};

// "1-543" or "1-308,488-795" (1-based, inclusive) into intervals, sorted and
// checked not to overlap. Errors name `flag` and quote the offending piece.
std::vector<FrameInterval> ParseFrameRanges(const std::string& text, const std::string& flag);
std::string FormatFrameRanges(const std::vector<FrameInterval>& ranges);

}  // namespace mainstream
