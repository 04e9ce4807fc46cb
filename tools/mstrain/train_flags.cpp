// mstrain train/plan's flags (TrainFlags::Finish, in flags.cpp, turns them into a TrainConfig).
#include "flags.h"

namespace mainstream::cli {

void AddTrainFlags(CLI::App* cmd, TrainFlags& f, bool with_config) {
  TrainConfig& c = f.config;
  if (with_config) {
    cmd->add_option("--config", f.config_file,
                    "A config.json written by 'mstrain plan' (replaces the flags below)");
  }
  cmd->add_option("--base", c.base_dir, "Base directory (model.pt + base.json)");
  cmd->add_option("--video", c.video, "Labeled video");
  cmd->add_option("--labels", c.labels, "Per-frame label CSV 'frame,label' (docs/labels.md)");
  cmd->add_option("--images", c.images, "Image folder DIR/<class>/*.jpg instead of a video");
  cmd->add_option("--positive", c.positive_class, "Images: the class directory that is the event");
  cmd->add_option("--app", c.app, "Application name");
  cmd->add_option("-o,--output", c.output, "M-Package directory to write");
  cmd->add_option("--fps", c.fps, "Stream frame rate (overrides the container's)");
  cmd->add_option("--branchpoints", f.branchpoints,
                  "Branchpoints to train, e.g. 0,2,4-7 (default: all)");
  cmd->add_option("--micro-layers", f.micro_layers,
                  "Also train microclassifiers on crops of the base's feature maps at these "
                  "layers, e.g. 2,3 (candidates mc<layer>; video with --folds >= 2)");
  cmd->add_option("--micro-crops", c.micro_crops, "Random crops searched per microclassifier layer")
      ->capture_default_str();
  cmd->add_option("--micro-channels", c.micro_channels, "Channels of a microclassifier's 1x1 conv")
      ->capture_default_str();
  cmd->add_option("--micro-region", f.micro_region,
                  "The app's region x0,y0,x1,y1 in video pixels (e.g. its --roi): its crop joins "
                  "the random ones");
  cmd->add_option("--train-frames", f.train_frames,
                  "Training frames, e.g. 1-308,488-795 (1-based, inclusive)");
  cmd->add_option("--val-frames", f.val_frames,
                  "Validation frames (default: end of the training frames)");
  cmd->add_option("--test-frames", f.test_frames,
                  "Held-out frames to report accuracy on (never used to choose)");
  cmd->add_option("--split", f.split,
                  "Automatic split fractions train,val,test (default 0.7,0.15,0.15)");
  cmd->add_option("--gap", c.gap, "Unused frames between blocks")->capture_default_str();
  cmd->add_option("--folds", c.folds,
                  "Video: estimate every candidate out of fold over all training frames in K "
                  "temporal folds (the "
                  "package keeps the score trace); 1: validation blocks instead")
      ->capture_default_str();
  cmd->add_option("--deploy", c.deploy,
                  "The model each candidate deploys: fold (with --folds >= 2: the fold model "
                  "trained on the latest frames, exactly what the score trace describes, and its "
                  "own fold's figures weigh in its prediction), retrain (one more model on every "
                  "training frame), or auto: fold with out-of-fold estimates, else retrain")
      ->check(CLI::IsMember({"auto", "retrain", "fold"}))
      ->capture_default_str();
  cmd->add_option("--val-blocks", c.val_blocks,
                  "With --folds 1, without --val-frames: take validation from K places spread over "
                  "the training frames")
      ->capture_default_str();
  cmd->add_option("--train-stride", c.train_stride, "Use every k-th training frame")
      ->capture_default_str();
  cmd->add_option("--epochs", c.epochs, "Maximum epochs per candidate")->capture_default_str();
  cmd->add_option("--patience", c.patience,
                  "Early stopping: epochs without a better validation balanced accuracy")
      ->capture_default_str();
  cmd->add_option("--batch", c.batch, "Frames per step")->capture_default_str();
  cmd->add_option("--lr", c.lr, "Adam learning rate of the copied base stages")
      ->capture_default_str();
  cmd->add_option("--head-lr", c.head_lr, "Adam learning rate of the new head")
      ->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "Weight decay")->capture_default_str();
  cmd->add_option("--dropout", c.dropout, "Dropout before the head's linear layer")
      ->capture_default_str();
  cmd->add_option("--balance", c.balance, "Class imbalance: weight (class-weighted loss) or none")
      ->capture_default_str();
  cmd->add_option("--head", c.head,
                  "New head: spatial (1x1 conv + flatten + linear) or pool (average + linear)")
      ->capture_default_str();
  cmd->add_option("--head-channels", c.head_channels, "Channels of the spatial head's 1x1 conv")
      ->capture_default_str();
  cmd->add_option("--batchnorm", c.batchnorm,
                  "BatchNorm of the copied stages: frozen (base statistics) or train")
      ->capture_default_str();
  cmd->add_option("--augment-copies", c.augment_copies,
                  "Augmented copies per training frame (cached)")
      ->capture_default_str();
  cmd->add_flag("--no-augment", f.no_augment, "No augmentation");
  cmd->add_option("--threshold", c.threshold, "Score threshold for a positive frame")
      ->capture_default_str();
  cmd->add_flag("--no-cache", f.no_cache, "Recompute the frozen prefix every batch (benchmarks)");
  cmd->add_option("--corr-strides", f.corr_strides,
                  "Strides to measure the correlation at (default 1..fps, <= 8)");
  cmd->add_option("--pareto-tolerance", c.pareto_tolerance,
                  "Prune a candidate if one sharing more is within this (predicted F1 at every "
                  "rate; accuracy with "
                  "--folds 1)")
      ->capture_default_str();
  cmd->add_option("--pareto-x", f.pareto_x, "X-voting values the predicted-F1 pruning considers")
      ->capture_default_str();
  cmd->add_option("--trace-prior", c.trace_prior,
                  "Prediction shrinkage for pruning: events of evidence the trace needs to weigh "
                  "as much as the model")
      ->capture_default_str();
  cmd->add_option("--event-length", c.event_length, "Override the mean event length (frames)");
  cmd->add_option("--event-frequency", c.event_frequency, "Override the event frequency");
  cmd->add_option("--correlation", c.correlation, "Override the inter-frame correlation");
  cmd->add_option("--work-dir", c.work_dir,
                  "Where finished candidates are kept (default: .<output>.mstrain beside it)");
  cmd->add_flag("--keep-work", c.keep_work, "Keep the work directory after packing");
}

}  // namespace mainstream::cli
