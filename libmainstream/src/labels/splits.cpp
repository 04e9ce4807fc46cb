#include "mainstream/labels/splits.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"

namespace mainstream {

const char* SplitRoleName(SplitRole role) {
  switch (role) {
    case SplitRole::kTrain:
      return "train";
    case SplitRole::kValidation:
      return "validation";
    case SplitRole::kTest:
      return "test";
    case SplitRole::kGap:
      break;
  }
  return "gap";
}

void SplitOptions::Validate() const {
  MS_CHECK(std::isfinite(train) && train > 0 && train <= 1,
           "split: train fraction must be in (0, 1], got {}", train);
  MS_CHECK(std::isfinite(validation) && validation >= 0 && validation < 1,
           "split: validation fraction must be in [0, 1), got {}", validation);
  MS_CHECK(std::isfinite(test) && test >= 0 && test < 1,
           "split: test fraction must be in [0, 1), got {}", test);
  MS_CHECK(std::fabs(train + validation + test - 1) <= 1e-6,
           "split: fractions train {} + validation {} + test {} must sum to 1, got {}", train,
           validation, test, train + validation + test);
  MS_CHECK(gap >= 0, "split: gap must be >= 0 frames, got {}", gap);
}

const FrameInterval& TemporalSplit::Block(SplitRole role) const {
  switch (role) {
    case SplitRole::kTrain:
      return train;
    case SplitRole::kValidation:
      return validation;
    case SplitRole::kTest:
      return test;
    case SplitRole::kGap:
      break;
  }
  ThrowInput("TemporalSplit::Block: gaps are not a block");
}

std::vector<SplitRole> TemporalSplit::Roles() const {
  std::vector<SplitRole> roles(static_cast<size_t>(num_frames), SplitRole::kGap);
  for (SplitRole role : order) {
    const FrameInterval& b = Block(role);
    for (int64_t f = b.start; f <= b.end; ++f) roles[static_cast<size_t>(f - 1)] = role;
  }
  return roles;
}

std::string TemporalSplit::ToString() const {
  std::string out;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0) out += gap > 0 ? fmt::format(" | gap {} | ", gap) : " | ";
    out += fmt::format("{} {}", SplitRoleName(order[i]), Block(order[i]).ToString());
  }
  return out;
}

TemporalSplit MakeTemporalSplit(int64_t num_frames, const SplitOptions& options) {
  options.Validate();
  MS_CHECK(num_frames >= 1, "split: the sequence must have at least 1 frame, got {}", num_frames);
  const SplitRole all[3] = {SplitRole::kTrain, SplitRole::kValidation, SplitRole::kTest};
  const double fractions[3] = {options.train, options.validation, options.test};

  TemporalSplit split;
  split.num_frames = num_frames;
  split.gap = options.gap;
  std::vector<int> blocks;  // indices into all[], in time order
  for (int i = 0; i < 3; ++i) {
    if (fractions[i] > 0) blocks.push_back(i);
  }
  if (options.shuffle_order) {
    Rng rng(options.seed);
    for (size_t i = blocks.size() - 1; i > 0; --i) {
      std::swap(blocks[i], blocks[static_cast<size_t>(rng.Index(i + 1))]);
    }
  }
  const int64_t count = static_cast<int64_t>(blocks.size());
  const int64_t usable = num_frames - options.gap * (count - 1);
  MS_CHECK(usable >= count,
           "split: {} frames are too few for {} blocks separated by gaps of {} frames (need at "
           "least {})",
           num_frames, count, options.gap, count + options.gap * (count - 1));

  // Largest-remainder rounding of fraction * usable; ties go to the earlier role.
  int64_t sizes[3] = {0, 0, 0};
  double remainders[3] = {-1, -1, -1};
  int64_t assigned = 0;
  for (int i : blocks) {
    const double exact = fractions[i] * static_cast<double>(usable);
    sizes[i] = static_cast<int64_t>(std::floor(exact));
    remainders[i] = exact - static_cast<double>(sizes[i]);
    assigned += sizes[i];
  }
  while (assigned < usable) {
    int best = -1;
    for (int i : {0, 1, 2}) {
      if (fractions[i] > 0 && (best < 0 || remainders[i] > remainders[best])) best = i;
    }
    ++sizes[best];
    remainders[best] = -1;  // each block gets at most one extra frame here
    ++assigned;
    if (std::all_of(blocks.begin(), blocks.end(), [&](int i) { return remainders[i] < 0; })) {
      for (int i : blocks) remainders[i] = 0;  // only if rounding error left more than 3
    }
  }
  while (assigned > usable) {  // floating-point excess: take from the largest block
    int largest = blocks[0];
    for (int i : blocks) largest = sizes[i] > sizes[largest] ? i : largest;
    --sizes[largest];
    --assigned;
  }
  // Every requested block gets at least one frame, taken from the largest.
  for (int i : blocks) {
    if (sizes[i] > 0) continue;
    int largest = blocks[0];
    for (int j : blocks) largest = sizes[j] > sizes[largest] ? j : largest;
    --sizes[largest];
    sizes[i] = 1;
  }

  int64_t next = 1;
  for (int i : blocks) {
    FrameInterval block{next, next + sizes[i] - 1};
    next = block.end + 1 + options.gap;
    split.order.push_back(all[i]);
    if (all[i] == SplitRole::kTrain) split.train = block;
    if (all[i] == SplitRole::kValidation) split.validation = block;
    if (all[i] == SplitRole::kTest) split.test = block;
  }
  return split;
}

int64_t TemporalFold::train_frames() const {
  int64_t n = 0;
  for (const FrameInterval& b : train) n += b.length();
  return n;
}

std::vector<TemporalFold> TemporalKFold(int64_t num_frames, int k, int64_t gap) {
  MS_CHECK(k >= 2, "k-fold: need k >= 2 folds, got {}", k);
  MS_CHECK(num_frames >= k, "k-fold: {} frames are too few for {} folds", num_frames, k);
  MS_CHECK(gap >= 0, "k-fold: gap must be >= 0 frames, got {}", gap);
  std::vector<TemporalFold> folds;
  const int64_t base = num_frames / k, extra = num_frames % k;
  int64_t next = 1;
  for (int i = 0; i < k; ++i) {
    TemporalFold fold;
    fold.index = i;
    fold.test = {next, next + base + (i < extra ? 1 : 0) - 1};
    next = fold.test.end + 1;
    const FrameInterval before{1, fold.test.start - gap - 1};
    const FrameInterval after{fold.test.end + gap + 1, num_frames};
    if (!before.empty()) fold.train.push_back(before);
    if (!after.empty()) fold.train.push_back(after);
    MS_CHECK(!fold.train.empty(),
             "k-fold: fold {} of {} ({} of {} frames) has no training frames left with a gap of {} "
             "frames",
             i + 1, k, fold.test.ToString(), num_frames, gap);
    folds.push_back(std::move(fold));
  }
  return folds;
}

TrainValidation SplitOffValidation(const std::vector<FrameInterval>& train_blocks, double fraction,
                                   int64_t gap) {
  MS_CHECK(std::isfinite(fraction) && fraction > 0 && fraction < 1,
           "validation fraction must be in (0, 1), got {}", fraction);
  MS_CHECK(gap >= 0, "validation gap must be >= 0 frames, got {}", gap);
  MS_CHECK(!train_blocks.empty(), "no training blocks to take a validation block from");
  int64_t total = 0;
  size_t longest = 0;
  for (size_t i = 0; i < train_blocks.size(); ++i) {
    MS_CHECK(!train_blocks[i].empty(), "training block {} is empty", train_blocks[i].ToString());
    total += train_blocks[i].length();
    if (train_blocks[i].length() > train_blocks[longest].length()) longest = i;
  }
  const int64_t v = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(total)));
  const FrameInterval& b = train_blocks[longest];
  MS_CHECK(b.length() >= v + gap + 1,
           "a validation block of {} frames plus a gap of {} needs a training block of at least {} "
           "frames; "
           "the longest, {}, has {}",
           v, gap, v + gap + 1, b.ToString(), b.length());
  TrainValidation out;
  out.validation = {b.end - v + 1, b.end};
  out.train = train_blocks;
  out.train[longest].end = b.end - v - gap;
  return out;
}

TrainValidationBlocks SplitOffValidationBlocks(const std::vector<FrameInterval>& train_blocks,
                                               double fraction, int64_t gap, int blocks) {
  MS_CHECK(blocks >= 1 && blocks <= 1000, "--val-blocks: expected 1..1000, got {}", blocks);
  if (blocks == 1) {
    TrainValidation one = SplitOffValidation(train_blocks, fraction, gap);
    return TrainValidationBlocks{one.train, {one.validation}};
  }
  MS_CHECK(std::isfinite(fraction) && fraction > 0 && fraction < 1,
           "validation fraction must be in (0, 1), got {}", fraction);
  MS_CHECK(gap >= 0, "validation gap must be >= 0 frames, got {}", gap);
  std::vector<FrameInterval> sorted = train_blocks;
  std::sort(sorted.begin(), sorted.end(),
            [](const FrameInterval& a, const FrameInterval& b) { return a.start < b.start; });
  std::vector<int64_t> frames;
  for (const FrameInterval& b : sorted) {
    MS_CHECK(!b.empty(), "training block {} is empty", b.ToString());
    for (int64_t f = b.start; f <= b.end; ++f) frames.push_back(f);
  }
  const auto n = static_cast<int64_t>(frames.size());
  enum : uint8_t { kTrainRole = 0, kValRole = 1, kGapRole = 2 };
  std::vector<uint8_t> role(frames.size(), kTrainRole);
  for (int j = 0; j < blocks; ++j) {
    const int64_t lo = n * j / blocks, hi = n * (j + 1) / blocks;
    const int64_t part = hi - lo;
    const int64_t v = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(part)));
    const int64_t after = j + 1 < blocks ? gap : 0;
    MS_CHECK(
        part >= v + gap + after + 1,
        "--val-blocks {}: part {} of the training frames has {} frames, too few for a validation "
        "block of {} with gaps of {} (use fewer validation blocks or a smaller --gap)",
        blocks, j + 1, part, v, gap);
    for (int64_t i = hi - v; i < hi; ++i) role[static_cast<size_t>(i)] = kValRole;
    for (int64_t i = hi - v - gap; i < hi - v; ++i) role[static_cast<size_t>(i)] = kGapRole;
    for (int64_t i = hi; i < hi + after && i < n; ++i) role[static_cast<size_t>(i)] = kGapRole;
  }
  TrainValidationBlocks out;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (role[i] == kGapRole) continue;
    std::vector<FrameInterval>& dst = role[i] == kValRole ? out.validation : out.train;
    const bool extends = i > 0 && role[i - 1] == role[i] && frames[i - 1] + 1 == frames[i];
    if (extends && !dst.empty()) {
      dst.back().end = frames[i];
    } else {
      dst.push_back(FrameInterval{frames[i], frames[i]});
    }
  }
  MS_CHECK(!out.train.empty(), "no training frames left after taking {} validation blocks", blocks);
  return out;
}

namespace {
// Appends frame f to interval lists, merging consecutive frames.
void AppendFrame(std::vector<FrameInterval>& out, int64_t f) {
  if (!out.empty() && out.back().end + 1 == f) {
    out.back().end = f;
  } else {
    out.push_back(FrameInterval{f, f});
  }
}
}  // namespace

std::vector<BlockFold> KFoldOverBlocks(const std::vector<FrameInterval>& blocks, int k,
                                       int64_t gap) {
  MS_CHECK(k >= 2 && k <= 100, "--folds: expected 2..100 folds for out-of-fold estimates, got {}",
           k);
  MS_CHECK(gap >= 0, "--gap: expected >= 0 frames, got {}", gap);
  std::vector<FrameInterval> sorted = blocks;
  std::sort(sorted.begin(), sorted.end(),
            [](const FrameInterval& a, const FrameInterval& b) { return a.start < b.start; });
  std::vector<int64_t> frames;
  for (const FrameInterval& b : sorted) {
    MS_CHECK(!b.empty(), "training block {} is empty", b.ToString());
    MS_CHECK(frames.empty() || b.start > frames.back(), "training blocks overlap at {}",
             b.ToString());
    for (int64_t f = b.start; f <= b.end; ++f) frames.push_back(f);
  }
  const auto n = static_cast<int64_t>(frames.size());
  MS_CHECK(n >= k, "--folds {}: only {} training frames", k, n);
  std::vector<BlockFold> folds(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) {
    BlockFold& fold = folds[static_cast<size_t>(i)];
    fold.index = i;
    // The first n % k parts are one frame longer.
    const int64_t base = n / k, extra = n % k;
    const int64_t lo = i * base + std::min<int64_t>(i, extra), hi = lo + base + (i < extra ? 1 : 0);
    const int64_t first = frames[static_cast<size_t>(lo)],
                  last = frames[static_cast<size_t>(hi - 1)];
    for (int64_t j = 0; j < n; ++j) {
      const int64_t f = frames[static_cast<size_t>(j)];
      if (j >= lo && j < hi) {
        AppendFrame(fold.held_out, f);
      } else if (f < first - gap || f > last + gap) {
        AppendFrame(fold.train, f);
      }
    }
    MS_CHECK(!fold.train.empty(),
             "--folds {}: fold {} (frames {}-{}) leaves no training frames with --gap {}", k, i + 1,
             first, last, gap);
  }
  return folds;
}

}  // namespace mainstream
