#include "mainstream/schedule/cost_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"
#include "mainstream/schedule/profile_costs.h"
#include "testing/testing.h"

namespace mainstream {
namespace {

// Per-stage definition of the cost model, written independently of the tree.
double ReferenceCost(const StageCosts& c, const std::vector<AppRequest>& apps) {
  double max_fps = 0;
  for (const auto& a : apps) max_fps = std::max(max_fps, a.fps);
  double cost = c.preprocess_ms * max_fps + c.decode_ms * c.stream_fps;
  for (int k = 0; k < c.num_stages(); ++k) {
    double shared = 0, own = 0;
    for (const auto& a : apps) {
      if (a.branchpoint > k)
        shared = std::max(shared, a.fps);  // frozen: runs once at the max rate
      else
        own += a.fps;  // specialized: its own rate
    }
    cost += c.stage_ms[static_cast<size_t>(k)] * (shared + own);
  }
  return cost;
}

TEST(CostModel, PaperExample) {
  // Two apps at F fps sharing stem A and branching to B1, B2: F*C_A + 2F*C_B.
  StageCosts c({3.0, 2.0}, 0.0);
  EXPECT_DOUBLE_EQ(ScheduleCost(c, {{1, 5}, {1, 5}}), 5 * 3.0 + 2 * 5 * 2.0);
  // A third app at the same branchpoint and rate adds F*C_B.
  EXPECT_DOUBLE_EQ(ScheduleCost(c, {{1, 5}, {1, 5}, {1, 5}}), 5 * 3.0 + 3 * 5 * 2.0);
  // Different rates: the stem runs at the fastest.
  EXPECT_DOUBLE_EQ(ScheduleCost(c, {{1, 5}, {1, 2}}), 5 * 3.0 + 5 * 2.0 + 2 * 2.0);
}

// Every stream frame is decoded; the one after each analyzed frame is decoded
// after the DNN ran and costs decode_extra_ms more (docs/model.md).
TEST(CostModel, DecodingAfterTheDnnIsChargedPerAnalyzedFrame) {
  StageCosts c({3.0, 2.0}, 0.25, 1.0, 10);
  c.decode_extra_ms = 0.5;
  EXPECT_DOUBLE_EQ(c.FixedCost(), 10.0);
  EXPECT_DOUBLE_EQ(c.DecodeCost(4), 10.0 + 0.5 * 4);
  EXPECT_DOUBLE_EQ(c.PerAnalyzedFrameMs(), 0.75);
  const MergedTree tree = BuildMergedTree(c, {{1, 4}, {1, 2}});
  EXPECT_DOUBLE_EQ(tree.decode_cost, 12.0);
  EXPECT_DOUBLE_EQ(tree.preprocess_cost, 0.25 * 4);
  EXPECT_DOUBLE_EQ(tree.total_cost(), 12.0 + 1.0 + 4 * 3.0 + (4 + 2) * 2.0);
  // From a profile: the extra is what decoding after the DNN took beyond
  // decoding frame after frame, never below 0; absent, nothing.
  Profile p = testing::SyntheticProfile(2, 1, 1.0);
  EXPECT_EQ(ProfileCosts(p, 10).decode_extra_ms, 0.0);
  p.decode_after_dnn_ms = 1.7;
  EXPECT_NEAR(ProfileCosts(p, 10).decode_extra_ms, 0.7, 1e-12);
  p.decode_after_dnn_ms = 0.8;
  EXPECT_EQ(ProfileCosts(p, 10).decode_extra_ms, 0.0);
}

TEST(CostModel, TreeMatchesPerStageDefinitionOnRandomSchedules) {
  Rng rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    int n = 1 + static_cast<int>(rng.Index(12));
    std::vector<double> t;
    for (int k = 0; k < n; ++k) t.push_back(rng.Uniform(0, 5));
    StageCosts c(t, rng.Uniform(0, 2), rng.Uniform(0, 1), 15);
    std::vector<AppRequest> apps;
    int m = 1 + static_cast<int>(rng.Index(8));
    for (int i = 0; i < m; ++i)
      apps.push_back({static_cast<int>(rng.Index(static_cast<uint64_t>(n))),
                      1.0 + static_cast<double>(rng.Index(15))});
    MergedTree tree = BuildMergedTree(c, apps);
    EXPECT_NEAR(tree.total_cost(), ReferenceCost(c, apps), 1e-9);
    // Structure: stems form a chain with non-increasing rates; each branch
    // runs no faster than its parent; every stage of each app is covered once.
    for (const auto& node : tree.nodes) {
      if (node.parent >= 0) {
        const auto& parent = tree.nodes[static_cast<size_t>(node.parent)];
        EXPECT_LE(node.fps, parent.fps + 1e-12);
        EXPECT_EQ(parent.end, node.begin);
      } else {
        EXPECT_EQ(node.begin, 0);
      }
    }
    for (size_t i = 0; i < apps.size(); ++i) {
      const auto& br = tree.nodes[static_cast<size_t>(tree.branch_of_app[i])];
      EXPECT_EQ(br.begin, apps[i].branchpoint);
      EXPECT_EQ(br.end, n);
      EXPECT_DOUBLE_EQ(br.fps, apps[i].fps);
    }
  }
}

TEST(CostModel, WallCostIsStemsThenBranchesOverWorkers) {
  // Stages 1, 2, 3 ms; decode 0.5 ms at 10 fps, preprocess 0.25 ms.
  StageCosts c({1.0, 2.0, 3.0}, 0.25, 0.5, 10.0);
  // Four apps branching at 1, at 10 fps: stem 10 ms/s, branches 4 x 50.
  MergedTree t = BuildMergedTree(c, {{1, 10}, {1, 10}, {1, 10}, {1, 10}});
  const double fixed = 5.0 + 2.5 + 10.0;
  EXPECT_DOUBLE_EQ(t.WallCost(1), t.total_cost());
  EXPECT_DOUBLE_EQ(t.WallCost(2), fixed + 100.0);
  EXPECT_DOUBLE_EQ(t.WallCost(4), fixed + 50.0);
  EXPECT_DOUBLE_EQ(t.WallCost(8), fixed + 50.0);  // no faster than the largest branch
  // One whole-model app at 10 fps and a head at 1 fps: the large branch is
  // the critical path however many workers there are.
  MergedTree u = BuildMergedTree(c, {{0, 10}, {2, 1}});
  ASSERT_GE(u.LargestBranch(), 0);
  EXPECT_DOUBLE_EQ(u.nodes[static_cast<size_t>(u.LargestBranch())].cost(), 60.0);
  EXPECT_DOUBLE_EQ(u.WallCost(2), u.total_cost() - u.branch_cost + 60.0);
  EXPECT_LT(u.WallCost(2), u.total_cost());
  EXPECT_THROW(u.WallCost(0), std::exception);
  // Overlapped (the loop thread is a worker and runs the next frame's
  // stems meanwhile): decode, then everything else over the workers, but
  // no less than preprocessing + stems in sequence, nor the largest branch.
  const double serial = 2.5 + 10.0;
  EXPECT_DOUBLE_EQ(t.WallCost(1, true), t.total_cost());
  EXPECT_DOUBLE_EQ(t.WallCost(2, true), 5.0 + (serial + 200.0) / 2);
  EXPECT_DOUBLE_EQ(t.WallCost(8, true), 5.0 + 50.0);  // the largest branch
  EXPECT_LT(t.WallCost(2, true), t.WallCost(2));
  // A head at 10 fps: the stem (30 ms/s) is the loop thread's, in sequence,
  // and more than half of the work.
  MergedTree h = BuildMergedTree(c, {{2, 10}});
  EXPECT_DOUBLE_EQ(h.stem_cost, 30.0);
  EXPECT_DOUBLE_EQ(h.WallCost(2, true), 5.0 + 2.5 + 30.0);
}

// The stems' tail on the workers: taken from the last stems (a child whole
// before its parent is cut) while the loop thread's part is above its share,
// each step lowering the overlapped WallCost.
TEST(CostModel, StemTailLowersTheLoopThreadsPart) {
  // Stages 2, 2, 1, 1, 0.1 ms at 10 fps, preprocess 0.5 ms, decode 0.5 ms.
  StageCosts c({2.0, 2.0, 1.0, 1.0, 0.1}, 0.5, 0.5, 10.0);
  // An app at 2 (1 fps) and a head at 4: stems [0, 2) 40 and [2, 4) 20 ms/s,
  // branches 2.1 + 1, preprocessing 5: the loop thread's part 65 of 68.1.
  MergedTree t = BuildMergedTree(c, {{2, 1}, {4, 10}});
  ASSERT_EQ(t.nodes[0].end, 2);
  ASSERT_EQ(t.nodes[1].begin, 2);
  const StemSplit s = PlanStemSplit(t, c.stage_ms, 2);
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.tail_from[1], 2);  // the child whole,
  EXPECT_EQ(s.tail_from[0], 1);  // the parent after its first stage
  for (size_t k = 2; k < t.nodes.size(); ++k) EXPECT_EQ(s.tail_from[k], t.nodes[k].end);
  EXPECT_DOUBLE_EQ(s.tail_cost, 40.0);
  // 5 + the tail and the largest branch (2.1) in sequence; 5 + 65 without.
  EXPECT_DOUBLE_EQ(t.WallCost(2, true, s.tail_cost), 5.0 + 42.1);
  EXPECT_DOUBLE_EQ(t.WallCost(2, true), 5.0 + 65.0);
  EXPECT_THROW(t.WallCost(2, true, 61.0), std::exception);  // more than the stems
  // One stem [0, 4) of 60 ms/s, five heads of 1: cut where the bound is
  // lowest, after stage 0 (the loop thread 5 + 20, the tail 40 and a head 1;
  // after stage 1: the loop thread 5 + 40).
  MergedTree h = BuildMergedTree(c, {{4, 10}, {4, 10}, {4, 10}, {4, 10}, {4, 10}});
  const StemSplit hs = PlanStemSplit(h, c.stage_ms, 2);
  ASSERT_EQ(h.nodes[0].end, 4);
  EXPECT_EQ(hs.tail_from[0], 1);
  EXPECT_DOUBLE_EQ(hs.tail_cost, 40.0);
  EXPECT_DOUBLE_EQ(h.WallCost(2, true, hs.tail_cost), 5.0 + 41.0);
  EXPECT_DOUBLE_EQ(h.WallCost(2, true), 5.0 + 65.0);
  // No tail: 1 worker; stage timings of another base; branches that are
  // most of the work.
  EXPECT_TRUE(PlanStemSplit(h, c.stage_ms, 1).empty());
  EXPECT_TRUE(PlanStemSplit(h, {1.0, 1.0}, 2).empty());
  MergedTree b = BuildMergedTree(c, {{0, 10}, {0, 10}, {1, 10}});
  EXPECT_TRUE(PlanStemSplit(b, c.stage_ms, 2).empty());
}

TEST(CostModel, RejectsBadRequests) {
  StageCosts c({1, 1, 1}, 0);
  EXPECT_THROW(BuildMergedTree(c, {{3, 1}}), InputError);
  EXPECT_THROW(BuildMergedTree(c, {{-1, 1}}), InputError);
  EXPECT_THROW(BuildMergedTree(c, {{1, 0}}), InputError);
  EXPECT_THROW(StageCosts({1, -2}, 0), InputError);
}

// The runtime's sampling: each node takes frames offered by its parent at
// its own rate; children's frames are subsets of their parent's.
TEST(Sampler, ChainRunsAtExactRatesAndNests) {
  Rng rng(7);
  const double stream_fps = 15;
  for (int trial = 0; trial < 50; ++trial) {
    // A chain of decreasing rates (like stem -> stem -> branch).
    std::vector<double> rates;
    for (int k = 0; k < 4; ++k) rates.push_back(1.0 + static_cast<double>(rng.Index(15)));
    std::sort(rates.rbegin(), rates.rend());
    std::vector<Sampler> chain;
    double parent_rate = stream_fps;
    for (double r : rates) {
      double stride = parent_rate / r;
      chain.emplace_back(stride, rng.Uniform() * stride);
      parent_rate = r;
    }
    const int frames = 15 * 200;
    std::vector<std::set<int64_t>> taken(chain.size());
    for (int64_t f = 0; f < frames; ++f) {
      for (size_t k = 0; k < chain.size(); ++k) {
        if (!chain[k].Offer()) break;  // a node is offered only the frames its parent took
        taken[k].insert(f);
      }
    }
    for (size_t k = 0; k < chain.size(); ++k) {
      double expected = rates[k] * frames / stream_fps;
      EXPECT_NEAR(static_cast<double>(taken[k].size()), expected, 1.0) << "rate " << rates[k];
      if (k > 0) {
        for (int64_t f : taken[k]) EXPECT_TRUE(taken[k - 1].count(f));
      }
    }
  }
}

TEST(FramePlanner, ExecutedWorkEqualsTheCostModel) {
  Rng rng(99);
  const double stream_fps = 15;
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<double> t;
    for (int k = 0; k < 8; ++k) t.push_back(rng.Uniform(0.5, 3));
    StageCosts c(t, 0.7);
    std::vector<AppRequest> apps;
    for (int i = 0; i < 6; ++i)
      apps.push_back({static_cast<int>(rng.Index(8)), 1.0 + static_cast<double>(rng.Index(15))});
    MergedTree tree = BuildMergedTree(c, apps);
    FramePlanner planner(tree, stream_fps, 1234 + static_cast<uint64_t>(trial));
    const int64_t seconds = 400;
    double work = 0;
    int64_t analyzed = 0;
    for (int64_t f = 0; f < seconds * 15; ++f) {
      const auto& run = planner.Next();
      if (!run.empty()) ++analyzed;
      std::set<int> done;
      for (int k : run) {
        const auto& node = tree.nodes[static_cast<size_t>(k)];
        if (node.parent >= 0) {
          EXPECT_TRUE(done.count(node.parent)) << "child before parent";
        }
        done.insert(k);
        work += node.latency_ms;
      }
    }
    double per_second = work / static_cast<double>(seconds);
    double model = tree.stem_cost + tree.branch_cost;
    EXPECT_NEAR(per_second, model, 0.002 * model + 0.1);
    // Frames with work are preprocessed: the cost model charges the highest rate.
    EXPECT_NEAR(static_cast<double>(analyzed), tree.max_fps * seconds, 2.0);
    for (size_t k = 0; k < tree.nodes.size(); ++k) {
      EXPECT_NEAR(static_cast<double>(planner.executions()[k]), tree.nodes[k].fps * seconds, 6.0);
    }
  }
}

// No-Sharing's tree: every app a whole-model branch, so every node a root.
// Sampling the stream on phases of their own, six roots at 2-3 fps ran on
// up to 15 distinct frames a second; the analyzed frames are the highest
// rate's, and every root's frames are a subset of them.
TEST(FramePlanner, RootsShareTheAnalyzedFramesOfTheHighestRate) {
  StageCosts c(std::vector<double>(8, 1.0), 0.7);
  std::vector<AppRequest> apps;
  for (double fps : {3.0, 2.0, 2.5, 3.0, 1.0, 2.0}) apps.push_back({0, fps});
  MergedTree tree = BuildMergedTree(c, apps);
  int roots = 0;
  for (const TreeNode& node : tree.nodes) roots += node.parent < 0 ? 1 : 0;
  ASSERT_EQ(roots, 6);
  const double stream_fps = 7;
  const int64_t seconds = 300;
  for (uint64_t seed : {1, 2, 3}) {
    FramePlanner planner(tree, stream_fps, seed);
    std::set<int64_t> analyzed;
    std::vector<std::set<int64_t>> taken(tree.nodes.size());
    for (int64_t f = 0; f < seconds * 7; ++f) {
      for (int k : planner.Next()) {
        analyzed.insert(f);
        taken[static_cast<size_t>(k)].insert(f);
      }
    }
    EXPECT_NEAR(static_cast<double>(analyzed.size()), 3.0 * seconds, 1.0) << "seed " << seed;
    for (size_t k = 0; k < tree.nodes.size(); ++k) {
      EXPECT_NEAR(static_cast<double>(taken[k].size()), tree.nodes[k].fps * seconds, 2.0);
      // A root at the highest rate takes every analyzed frame.
      if (tree.nodes[k].fps == 3.0) EXPECT_EQ(taken[k], analyzed) << "node " << k;
    }
  }
}

// One root: the analyzed frames are that root's, the frames a sampler of
// the stream with the root's own phase takes (runs keep their sampling).
TEST(FramePlanner, ATreeOfOneRootSamplesTheStreamAsBefore) {
  StageCosts c(std::vector<double>(8, 1.0), 0.7);
  MergedTree tree = BuildMergedTree(c, {{3, 2.5}, {5, 1.5}, {3, 2.0}});
  ASSERT_EQ(tree.nodes[0].parent, -1);
  const double stream_fps = 7;
  FramePlanner planner(tree, stream_fps, 11);
  Sampler alone(stream_fps / tree.nodes[0].fps,
                planner.phases()[0] * stream_fps / tree.nodes[0].fps);
  for (int64_t f = 0; f < 2000; ++f) {
    const auto& run = planner.Next();
    const bool root_ran = !run.empty() && run.front() == 0;
    ASSERT_EQ(root_ran, alone.Offer()) << "frame " << f;
  }
}

}  // namespace
}  // namespace mainstream
