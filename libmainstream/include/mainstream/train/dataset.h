// Training data for one application: frames resized to the base's input and
// their binary labels, from a labeled video (video + per-frame label CSV) or
// an image folder (DIR/<class>/*.jpg), and how they split into training,
// validation and test items without leakage between neighbouring frames.
// No LibTorch here. See docs/training.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mainstream/labels/events.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/labels/mot.h"
#include "mainstream/labels/splits.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/video/image.h"
#include "mainstream/video/preprocess.h"

namespace mainstream {

struct BaseInfo;
struct TrainConfig;

// Which items (indices into Dataset) play which role.
struct DataSplit {
  std::vector<int64_t> train, validation, test;
  // Video: the frame blocks behind each role (1-based, inclusive); empty for images.
  std::vector<FrameInterval> train_blocks, validation_blocks, test_blocks;
  std::string description;  // for logs and the manifest's log
};

struct Dataset {
  std::string origin;                     // the video or the image folder
  std::string labels_origin;              // the label file (video) or the folder (images)
  bool temporal = false;                  // video: frames in time order, blocks are contiguous
  double fps = 0;                         // stream fps (video)
  int64_t num_frames = 0;                 // video: frames in the video (= label rows)
  FrameLabels all_labels;                 // video: every frame's label (index = frame - 1)
  int frame_width = 0, frame_height = 0;  // video: the decoded frames' size (pixels)
  // Items kept in memory (resized to the base input): video frames of the
  // split's blocks, or every image.
  std::vector<Image> images;
  std::vector<uint8_t> labels;     // per item
  std::vector<int64_t> frames;     // per item: 1-based frame number (video) or 1-based image number
  std::vector<std::string> names;  // images: file path per item
  DataSplit split;

  size_t size() const { return images.size(); }
  // Items of `role_items` with label `label`.
  int64_t Count(const std::vector<int64_t>& role_items, int label) const;
};

// Reads the label file and the video header, checks that they agree and
// plans the split (no decoding). Throws InputError naming the file and line,
// flag or field.
struct VideoPlan {
  FrameLabels labels;
  int64_t num_frames = 0;
  double fps = 0;
  std::string video_description;
  DataSplit split;  // blocks only (items filled by LoadVideoDataset)
};
VideoPlan PlanVideoDataset(const TrainConfig& config);

// Decodes the frames of the split's blocks (every train_stride-th training
// frame), resized for `pre`.
Dataset LoadVideoDataset(const TrainConfig& config, const PreprocessConfig& pre);

// Out-of-fold folds over the training items of a video dataset
// (KFoldOverBlocks over data.split.train_blocks, config.folds and config.gap):
// positions are indices into data.split.train.
struct FoldPlan {
  std::vector<BlockFold> folds;
  std::vector<std::vector<int64_t>>
      train;  // per fold: what its model trains on (every train_stride-th)
  std::vector<std::vector<int64_t>> held_out;  // per fold: what it scores
  std::vector<int> fold_of;                    // per position: the fold that holds it out
  std::vector<int64_t> all;  // every train_stride-th position (the deployed model)
};
// Throws InputError naming the label file when a fold's training frames lack
// a class (nothing to learn) or a held-out part is shorter than 2 x gap + 1
// frames (use fewer folds); warns when a held-out part has no event.
FoldPlan PlanFolds(const Dataset& data, const TrainConfig& config);

// Reads DIR/<class>/*.{jpg,jpeg,png,bmp}; `positive_class` is the event.
// Split: seeded shuffle, then the configured fractions (stratified by class).
Dataset LoadImageFolder(const TrainConfig& config, const PreprocessConfig& pre);

// Either of the above.
Dataset LoadDataset(const TrainConfig& config, const PreprocessConfig& pre);

// Throws InputError "<labels>: the training frames [...] have no positive
// frames (label 1) ..." when a role lacks a class.
void CheckClasses(const Dataset& data);

// Event statistics of the application from the labels of the frames mstrain
// may look at (training and validation blocks; events cut by a block edge
// count with their visible length); correlation left at 0. Throws
// InputError when there are no events.
EventStats EventStatsFromBlocks(const FrameLabels& labels, const std::vector<FrameInterval>& blocks,
                                const std::string& origin);

// The `mstrain labels` command: MOT ground truth + rule -> per-frame labels.
struct MotLabelOptions {
  std::string mot;  // gt.txt
  PersonRuleArgs rule;
  int64_t frames = 0;      // > 0: sequence length (else seqinfo.ini)
  int64_t smooth_gap = 0;  // fill gaps of at most this many frames
  int64_t min_event = 1;   // then drop events shorter than this
};
FrameLabels MakeMotLabels(const MotLabelOptions& options, std::string* summary = nullptr);

// Sampled prediction outcomes for the analytical model's correlation:
// per validation block, every stride in `strides` and every phase.
struct OutcomeStrata {
  std::vector<std::vector<uint8_t>> events;  // outcomes inside true events
  std::vector<std::vector<uint8_t>> gaps;    // outcomes between events
};
OutcomeStrata CollectOutcomes(const FrameLabels& labels, const FrameLabels& predictions,
                              const std::vector<int>& strides);

}  // namespace mainstream
