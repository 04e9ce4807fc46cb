#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/splits.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

using testing::InputErrorOf;

TEST(TemporalSplit, DefaultIsChronologicalWithGaps) {
  SplitOptions o;
  o.gap = 10;
  TemporalSplit s = MakeTemporalSplit(795, o);
  // 775 usable frames: 542.5 / 116.25 / 116.25 -> 543 / 116 / 116.
  EXPECT_EQ(s.train, (FrameInterval{1, 543}));
  EXPECT_EQ(s.validation, (FrameInterval{554, 669}));
  EXPECT_EQ(s.test, (FrameInterval{680, 795}));
  EXPECT_EQ(s.order,
            (std::vector<SplitRole>{SplitRole::kTrain, SplitRole::kValidation, SplitRole::kTest}));
  EXPECT_EQ(s.ToString(),
            "train [1, 543] | gap 10 | validation [554, 669] | gap 10 | test [680, 795]");
  std::vector<SplitRole> roles = s.Roles();
  EXPECT_EQ(roles[0], SplitRole::kTrain);
  EXPECT_EQ(roles[542], SplitRole::kTrain);
  EXPECT_EQ(roles[543], SplitRole::kGap);
  EXPECT_EQ(roles[552], SplitRole::kGap);
  EXPECT_EQ(roles[553], SplitRole::kValidation);
  EXPECT_EQ(roles[794], SplitRole::kTest);
}

TEST(TemporalSplit, ZeroFractionDropsTheBlockAndItsGap) {
  SplitOptions o;
  o.train = 0.8;
  o.validation = 0;
  o.test = 0.2;
  o.gap = 5;
  TemporalSplit s = MakeTemporalSplit(105, o);
  EXPECT_EQ(s.train, (FrameInterval{1, 80}));
  EXPECT_TRUE(s.validation.empty());
  EXPECT_EQ(s.test, (FrameInterval{86, 105}));
  EXPECT_EQ(s.ToString(), "train [1, 80] | gap 5 | test [86, 105]");
}

TEST(TemporalSplit, RandomOptionsKeepTheInvariants) {
  Rng rng(3);
  std::set<std::vector<SplitRole>> orders;
  for (int trial = 0; trial < 500; ++trial) {
    SplitOptions o;
    o.train = rng.Uniform(0.05, 1);
    double rest = 1 - o.train;
    o.validation = rng.Bernoulli(0.2) ? 0 : rest * rng.Uniform(0, 1);
    o.test = rest - o.validation;
    if (o.test < 1e-9) {
      o.test = 0;
      o.validation = rest;
    }
    if (o.validation >= 1 || o.test >= 1) continue;
    o.gap = static_cast<int64_t>(rng.Index(20));
    o.shuffle_order = rng.Bernoulli(0.5);
    o.seed = rng.Next();
    const int64_t n = 3 + 2 * o.gap + static_cast<int64_t>(rng.Index(2000));
    TemporalSplit s = MakeTemporalSplit(n, o);
    const double fractions[4] = {0, o.train, o.validation, o.test};
    const int64_t blocks = static_cast<int64_t>(s.order.size());
    const int64_t usable = n - o.gap * (blocks - 1);
    // Blocks appear in `order`, back to back with exactly `gap` frames between.
    int64_t next = 1, covered = 0;
    double min_exact = 1e18;
    for (SplitRole role : s.order)
      min_exact = std::min(min_exact, fractions[static_cast<int>(role)] * usable);
    // Off by at most one frame, unless a tiny block was raised to one frame.
    const double slack = min_exact >= 1 ? 1.0 : 3.0;
    for (SplitRole role : s.order) {
      const FrameInterval& b = s.Block(role);
      ASSERT_FALSE(b.empty());
      EXPECT_EQ(b.start, next);
      next = b.end + 1 + o.gap;
      covered += b.length();
      const double exact = fractions[static_cast<int>(role)] * static_cast<double>(usable);
      EXPECT_LE(std::abs(static_cast<double>(b.length()) - exact), slack + 1e-9)
          << SplitRoleName(role) << " of " << s.ToString();
    }
    EXPECT_EQ(next - 1 - o.gap, n) << s.ToString();  // the last block ends on the last frame
    EXPECT_EQ(covered, usable);
    for (int r = 1; r <= 3; ++r) {
      const bool wanted = fractions[r] > 0;
      EXPECT_EQ(!s.Block(static_cast<SplitRole>(r)).empty(), wanted);
    }
    // Roles agree with the blocks.
    std::vector<SplitRole> roles = s.Roles();
    for (int64_t f = 1; f <= n; ++f) {
      SplitRole expect = SplitRole::kGap;
      for (SplitRole role : s.order) {
        if (s.Block(role).Contains(f)) expect = role;
      }
      ASSERT_EQ(roles[static_cast<size_t>(f - 1)], expect);
    }
    if (o.shuffle_order && blocks == 3) orders.insert(s.order);
    if (!o.shuffle_order) {
      for (size_t i = 1; i < s.order.size(); ++i) EXPECT_LT(s.order[i - 1], s.order[i]);
    }
  }
  EXPECT_EQ(orders.size(), 6u);  // every permutation shows up across seeds
}

TEST(TemporalSplit, ShuffleIsDeterministicPerSeed) {
  SplitOptions o;
  o.shuffle_order = true;
  o.gap = 3;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    o.seed = seed;
    TemporalSplit a = MakeTemporalSplit(500, o), b = MakeTemporalSplit(500, o);
    EXPECT_EQ(a.order, b.order);
    EXPECT_EQ(a.ToString(), b.ToString());
  }
}

TEST(TemporalSplit, TinySequencesGiveEveryBlockAFrame) {
  SplitOptions o;
  o.train = 0.98;
  o.validation = 0.01;
  o.test = 0.01;
  o.gap = 1;
  TemporalSplit s = MakeTemporalSplit(7, o);  // 5 usable: 3 / 1 / 1
  EXPECT_EQ(s.train, (FrameInterval{1, 3}));
  EXPECT_EQ(s.validation, (FrameInterval{5, 5}));
  EXPECT_EQ(s.test, (FrameInterval{7, 7}));
}

TEST(TemporalSplit, Errors) {
  SplitOptions o;
  o.gap = 10;
  std::string few = InputErrorOf([&] { MakeTemporalSplit(22, o); });
  EXPECT_NE(
      few.find(
          "22 frames are too few for 3 blocks separated by gaps of 10 frames (need at least 23)"),
      std::string::npos)
      << few;
  SplitOptions sum;
  sum.test = 0.3;
  EXPECT_NE(InputErrorOf([&] { MakeTemporalSplit(100, sum); }).find("must sum to 1"),
            std::string::npos);
  SplitOptions gap;
  gap.gap = -1;
  EXPECT_NE(InputErrorOf([&] { MakeTemporalSplit(100, gap); }).find("gap must be >= 0"),
            std::string::npos);
  SplitOptions no_train;
  no_train.train = 0;
  no_train.validation = 0.5;
  no_train.test = 0.5;
  EXPECT_NE(InputErrorOf([&] {
              MakeTemporalSplit(100, no_train);
            }).find("train fraction must be in (0, 1]"),
            std::string::npos);
}

TEST(TemporalKFold, HandChecked) {
  std::vector<TemporalFold> folds = TemporalKFold(795, 5, 10);
  ASSERT_EQ(folds.size(), 5u);
  EXPECT_EQ(folds[0].test, (FrameInterval{1, 159}));
  EXPECT_EQ(folds[0].train, (std::vector<FrameInterval>{{170, 795}}));
  EXPECT_EQ(folds[2].test, (FrameInterval{319, 477}));
  EXPECT_EQ(folds[2].train, (std::vector<FrameInterval>{{1, 308}, {488, 795}}));
  EXPECT_EQ(folds[2].train_frames(), 308 + 308);
  EXPECT_EQ(folds[4].test, (FrameInterval{637, 795}));
  EXPECT_EQ(folds[4].train, (std::vector<FrameInterval>{{1, 626}}));
  // Uneven: 10 frames in 3 folds -> 4, 3, 3.
  std::vector<TemporalFold> uneven = TemporalKFold(10, 3, 0);
  EXPECT_EQ(uneven[0].test, (FrameInterval{1, 4}));
  EXPECT_EQ(uneven[1].test, (FrameInterval{5, 7}));
  EXPECT_EQ(uneven[2].test, (FrameInterval{8, 10}));
}

TEST(TemporalKFold, RandomSizesNeverLeak) {
  Rng rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const int k = 2 + static_cast<int>(rng.Index(9));
    const int64_t gap = static_cast<int64_t>(rng.Index(15));
    const int64_t n = 2 * gap + 2 * k + static_cast<int64_t>(rng.Index(1500));
    std::vector<TemporalFold> folds;
    try {
      folds = TemporalKFold(n, k, gap);
    } catch (const InputError&) {
      continue;  // a fold without training frames; covered by the error test
    }
    std::vector<int> covered(static_cast<size_t>(n) + 1, 0);
    int64_t min_len = n, max_len = 0;
    for (const TemporalFold& f : folds) {
      min_len = std::min(min_len, f.test.length());
      max_len = std::max(max_len, f.test.length());
      for (int64_t t = f.test.start; t <= f.test.end; ++t) ++covered[static_cast<size_t>(t)];
      // Training frames are exactly those farther than `gap` from the fold.
      std::vector<int> in_train(static_cast<size_t>(n) + 1, 0);
      for (const FrameInterval& b : f.train) {
        for (int64_t t = b.start; t <= b.end; ++t) ++in_train[static_cast<size_t>(t)];
      }
      for (int64_t t = 1; t <= n; ++t) {
        const bool far = t < f.test.start - gap || t > f.test.end + gap;
        ASSERT_EQ(in_train[static_cast<size_t>(t)], far ? 1 : 0)
            << "n=" << n << " k=" << k << " gap=" << gap;
      }
    }
    for (int64_t t = 1; t <= n; ++t) ASSERT_EQ(covered[static_cast<size_t>(t)], 1);
    EXPECT_LE(max_len - min_len, 1);
  }
}

TEST(TemporalKFold, Errors) {
  EXPECT_NE(InputErrorOf([] { TemporalKFold(100, 1, 0); }).find("need k >= 2"), std::string::npos);
  EXPECT_NE(InputErrorOf([] { TemporalKFold(3, 4, 0); }).find("3 frames are too few for 4 folds"),
            std::string::npos);
  std::string none = InputErrorOf([] { TemporalKFold(10, 2, 5); });
  EXPECT_NE(
      none.find("fold 1 of 2 ([1, 5] of 10 frames) has no training frames left with a gap of 5"),
      std::string::npos)
      << none;
}

TEST(SplitOffValidation, TakesTheEndOfTheLongestBlock) {
  // Fold 2 of the PETS example: [1, 308] and [488, 795] (equal: the first wins).
  TrainValidation tv = SplitOffValidation({{1, 308}, {488, 795}}, 0.15, 10);
  EXPECT_EQ(tv.validation, (FrameInterval{217, 308}));  // round(0.15 * 616) = 92
  EXPECT_EQ(tv.train, (std::vector<FrameInterval>{{1, 206}, {488, 795}}));
  TrainValidation tv2 = SplitOffValidation({{1, 100}, {150, 400}}, 0.1, 0);
  EXPECT_EQ(tv2.validation, (FrameInterval{366, 400}));
  EXPECT_EQ(tv2.train, (std::vector<FrameInterval>{{1, 100}, {150, 365}}));
  std::string err = InputErrorOf([] { SplitOffValidation({{1, 10}}, 0.5, 5); });
  EXPECT_NE(err.find("needs a training block of at least 11 frames; the longest, [1, 10], has 10"),
            std::string::npos)
      << err;
  EXPECT_NE(InputErrorOf([] {
              SplitOffValidation({{1, 10}}, 1.0, 0);
            }).find("fraction must be in (0, 1)"),
            std::string::npos);
}

TEST(SplitOffValidationBlocks, SpreadsValidationOverTheTrainingFrames) {
  // 543 training frames in 3 parts of 181: the last round(0.15 * 181) = 27 of each
  // are validation, with 10 unused frames on each side that has training beside it.
  TrainValidationBlocks tv = SplitOffValidationBlocks({{1, 543}}, 0.15, 10, 3);
  EXPECT_EQ(tv.validation, (std::vector<FrameInterval>{{155, 181}, {336, 362}, {517, 543}}));
  EXPECT_EQ(tv.train, (std::vector<FrameInterval>{{1, 144}, {192, 325}, {373, 506}}));
  // Blocks with a hole: parts are counted in training frames, intervals never cross the hole.
  TrainValidationBlocks holes = SplitOffValidationBlocks({{401, 500}, {1, 100}}, 0.2, 0, 2);
  EXPECT_EQ(holes.validation, (std::vector<FrameInterval>{{81, 100}, {481, 500}}));
  EXPECT_EQ(holes.train, (std::vector<FrameInterval>{{1, 80}, {401, 480}}));
  // Randomized: validation and training never overlap, gaps hold, shares match.
  for (int k = 1; k <= 5; ++k) {
    TrainValidationBlocks r = SplitOffValidationBlocks({{1, 300}, {330, 795}}, 0.15, 10, k);
    int64_t val = 0, train = 0;
    for (const auto& v : r.validation) {
      val += v.length();
      for (const auto& t : r.train) {
        EXPECT_TRUE(t.end < v.start - 10 || t.start > v.end + 10 || t.end < v.start ||
                    t.start > v.end)
            << k << ": " << t.ToString() << " vs " << v.ToString();
        EXPECT_FALSE(t.start <= v.end && v.start <= t.end) << k;
      }
    }
    for (const auto& t : r.train) train += t.length();
    // k blocks; one more when a block straddles the hole at 301..329 (k = 5).
    EXPECT_EQ(static_cast<int64_t>(r.validation.size()), k == 5 ? 6 : k);
    EXPECT_NEAR(static_cast<double>(val), 0.15 * 766, k + 1.0) << k;
    EXPECT_EQ(train + val + 10 * (2 * k - 1), 766) << k;
  }
  // blocks = 1 is SplitOffValidation.
  TrainValidationBlocks one = SplitOffValidationBlocks({{1, 308}, {488, 795}}, 0.15, 10, 1);
  EXPECT_EQ(one.validation, (std::vector<FrameInterval>{{217, 308}}));
  std::string err = InputErrorOf([] { SplitOffValidationBlocks({{1, 30}}, 0.2, 10, 3); });
  EXPECT_NE(err.find("too few for a validation block"), std::string::npos) << err;
}

}  // namespace
}  // namespace mainstream
