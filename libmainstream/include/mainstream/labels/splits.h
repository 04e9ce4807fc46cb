// Temporal splits of one labelled sequence that avoid leakage between
// neighbouring frames: contiguous blocks separated by unused gaps, and temporal
// k-fold cross-validation. See docs/labels.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mainstream/labels/events.h"

namespace mainstream {

enum class SplitRole : uint8_t { kGap = 0, kTrain = 1, kValidation = 2, kTest = 3 };
const char* SplitRoleName(SplitRole role);  // "gap", "train", "validation", "test"

struct SplitOptions {
  double train = 0.7;  // fractions of the usable frames (all minus gaps); sum to 1
  double validation = 0.15;
  double test = 0.15;
  int64_t gap = 0;             // unused frames between neighbouring blocks
  bool shuffle_order = false;  // false: train, validation, test in time order
  uint64_t seed = 0;           // picks the block order when shuffle_order

  // Throws InputError naming the field when a value is out of range.
  void Validate() const;
};

struct TemporalSplit {
  int64_t num_frames = 0;
  int64_t gap = 0;
  FrameInterval train, validation, test;  // empty when the fraction is 0
  std::vector<SplitRole> order;           // non-empty blocks in time order

  const FrameInterval& Block(SplitRole role) const;
  // Role of every frame (index = frame - 1); gap frames are kGap.
  std::vector<SplitRole> Roles() const;
  // "train [1, 553] | gap 10 | validation [564, 679] | gap 10 | test [690, 795]".
  std::string ToString() const;
};

// Splits frames 1..num_frames into contiguous blocks. Usable frames are
// num_frames - gap * (non-empty blocks - 1); block sizes are the fractions of
// that, rounded by largest remainder, and every block with a positive fraction
// gets at least one frame. Throws InputError when the frames do not suffice.
TemporalSplit MakeTemporalSplit(int64_t num_frames, const SplitOptions& options);

// One fold of temporal k-fold cross-validation.
struct TemporalFold {
  int index = 0;                     // 0..k-1, in time order
  FrameInterval test;                // the fold's own contiguous block
  std::vector<FrameInterval> train;  // frames outside [test.start - gap, test.end + gap]
  int64_t train_frames() const;
};

// k contiguous folds covering 1..num_frames (sizes differ by at most one, the
// earlier folds being longer). Fold i's training frames exclude its block and
// `gap` frames on each side of it. Throws InputError for k < 2, k > num_frames
// or when a fold would have no training frames.
std::vector<TemporalFold> TemporalKFold(int64_t num_frames, int k, int64_t gap);

struct TrainValidation {
  std::vector<FrameInterval> train;
  FrameInterval validation;
};

// Carves a validation block for early stopping out of training blocks (e.g. a
// fold's): the last round(fraction * total) frames (at least one) of the
// longest block, separated from the rest of that block by `gap` frames.
// Throws InputError when that block is too short.
TrainValidation SplitOffValidation(const std::vector<FrameInterval>& train_blocks, double fraction,
                                   int64_t gap);

struct TrainValidationBlocks {
  std::vector<FrameInterval> train;
  std::vector<FrameInterval> validation;
};

// Like SplitOffValidation, but spreads validation over the training frames:
// the training frames (in time order) are cut into `blocks` parts of equal
// frame count and the last round(fraction * part) frames of each part become
// validation, with `gap` unused frames on each side of every validation block
// that has training frames beside it. More places in time means more and more
// varied events behind the per-frame rates measured on validation. blocks = 1
// is SplitOffValidation on a single block. Throws InputError when a part is
// too short for its validation block and gaps.
TrainValidationBlocks SplitOffValidationBlocks(const std::vector<FrameInterval>& train_blocks,
                                               double fraction, int64_t gap, int blocks);

// Temporal k-fold cross-validation inside a set of (training) blocks, for
// out-of-fold estimates: the blocks' frames, in time order, are cut into k
// parts of equal frame count (the earlier parts longer by at most one); fold
// i holds out its part and trains on every other frame of the blocks except
// those within `gap` frames (by frame number) of the held-out part. Throws
// InputError when k < 2, a part would be empty or a fold has no training
// frames left.
struct BlockFold {
  int index = 0;
  std::vector<FrameInterval> held_out;  // the fold's part (may span a hole between blocks)
  std::vector<FrameInterval> train;
};
std::vector<BlockFold> KFoldOverBlocks(const std::vector<FrameInterval>& blocks, int k,
                                       int64_t gap);

}  // namespace mainstream
