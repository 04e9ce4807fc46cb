// The merged-tree executor and the frame loop: scores equal each app's full
// model run on its own, batches equal single frames, and the work done equals
// the cost model (FramePlanner), also under real-time pacing and stops.
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/runtime/app_output.h"
#include "mainstream/runtime/deployment.h"
#include "mainstream/runtime/executor.h"
#include "mainstream/runtime/runtime.h"
#include "runtime_testing.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::AppSpec;
using testing::RuntimeScenario;
using testing::TempDir;

class RuntimeExecutorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetTorchThreads(1);
    tmp_ = new TempDir();
    // Every way an app can hang off the tree: fully specialized (root branch),
    // two apps sharing a stem segment, a deeper stem, the head alone.
    scenario_ =
        new RuntimeScenario(testing::MakeRuntimeScenario(tmp_->path(),
                                                         {{"full", 0, 10},
                                                          {"mid1", 3, 5},
                                                          {"mid2", 3, 10, 2},
                                                          {"deep", 5, 2.5},
                                                          {"head", 7, 10 / 3.0}},
                                                         testing::SyntheticVideoSpec{64, 48, 60}));
  }
  static void TearDownTestSuite() {
    delete scenario_;
    delete tmp_;
  }
  static RunConfig Config(const fs::path& out) {
    RunConfig c;
    c.schedule = scenario_->schedule;
    c.base_dir = scenario_->base_dir;
    c.input = scenario_->video.path.string();
    c.out_dir = out;
    c.progress_interval_s = 0;
    c.bootstrap_resamples = 50;
    return c;
  }
  static TempDir* tmp_;
  static RuntimeScenario* scenario_;
};
TempDir* RuntimeExecutorTest::tmp_ = nullptr;
RuntimeScenario* RuntimeExecutorTest::scenario_ = nullptr;

// Each app's full model, plain TorchScript: base stages [0, b), then its suffix.
at::Tensor ReferenceScores(const BaseModel& base, const DeployedApp& app,
                           const at::Tensor& frames) {
  torch::NoGradGuard ng;
  torch::jit::Module suffix = LoadModule(app.weights);
  suffix.eval();
  at::Tensor h = base.RunStages(frames, 0, app.scheduled.branchpoint);
  at::Tensor logits = suffix.forward({h}).toTensor();
  return torch::softmax(logits, 1).select(1, 1);
}

// One task per frame of `x` (contiguous [frames, C, H, W]): the nodes the
// planner runs on it and the frame's input. Root nodes run on some frames
// only, so their inputs get gathered.
std::vector<TreeExecutor::FrameTask> PlannedTasks(FramePlanner& planner, const at::Tensor& x,
                                                  size_t floats_per_frame) {
  std::vector<TreeExecutor::FrameTask> tasks;
  for (int64_t f = 0; f < x.size(0); ++f) {
    TreeExecutor::FrameTask t;
    t.nodes = planner.Next();
    t.input = x.data_ptr<float>() + static_cast<size_t>(f) * floats_per_frame;
    tasks.push_back(t);
  }
  return tasks;
}

// Scores equal bit for bit, NaN (branch not run) where `want` has NaN.
void ExpectSameScores(const std::vector<std::vector<double>>& want,
                      const std::vector<std::vector<double>>& got, const std::string& context) {
  ASSERT_EQ(got.size(), want.size()) << context;
  for (size_t f = 0; f < want.size(); ++f) {
    ASSERT_EQ(got[f].size(), want[f].size()) << context << ", frame " << f;
    for (size_t app = 0; app < want[f].size(); ++app) {
      EXPECT_EQ(std::isnan(want[f][app]), std::isnan(got[f][app]))
          << context << ", frame " << f << ", app " << app;
      if (!std::isnan(want[f][app])) {
        EXPECT_EQ(want[f][app], got[f][app]) << context << ", frame " << f << ", app " << app;
      }
    }
  }
}

// Levels from the decoded stream down to `node` (a root node is at depth 1).
int Depth(const MergedTree& tree, int node) {
  int depth = 0;
  for (int k = node; k >= 0; k = tree.nodes[static_cast<size_t>(k)].parent) ++depth;
  return depth;
}

TEST_F(RuntimeExecutorTest, MergedTreeScoresEqualEachAppsFullModel) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  TreeExecutor ex = TreeExecutor::Load(base, d);
  ASSERT_EQ(ex.num_nodes(), 3 + 5);  // stems [0,3) [3,5) [5,7); five branches
  const int frames = 4;
  at::Tensor x = base.DummyInput(frames, 5).contiguous();
  const std::vector<TreeExecutor::FrameTask> tasks =
      testing::EveryNodeTasks(ex, x.data_ptr<float>(), frames);
  std::vector<std::vector<double>> scores;
  ex.Run(tasks, &scores);
  ASSERT_EQ(scores.size(), static_cast<size_t>(frames));
  double worst = 0;
  for (size_t a = 0; a < d.apps.size(); ++a) {
    at::Tensor ref = ReferenceScores(base, d.apps[a], x);
    for (int f = 0; f < frames; ++f) {
      worst = std::max(worst, std::fabs(scores[static_cast<size_t>(f)][a] - ref[f].item<double>()));
    }
  }
  EXPECT_LT(worst, 1e-4);
  // Every node ran once, on all frames.
  for (int k = 0; k < ex.num_nodes(); ++k) {
    EXPECT_EQ(ex.node_calls(k), 1);
    EXPECT_EQ(ex.node_frames(k), frames);
  }
}

TEST_F(RuntimeExecutorTest, BatchesEqualSingleFramesForAnyNodeSubsets) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  TreeExecutor ex = TreeExecutor::Load(base, d);
  FramePlanner planner(d.schedule.tree, d.schedule.stream_fps, 9);
  const int frames = 12;
  at::Tensor x = base.DummyInput(frames, 6).contiguous();
  const std::vector<TreeExecutor::FrameTask> tasks =
      PlannedTasks(planner, x, ex.preprocess().floats_per_frame());
  std::vector<std::vector<double>> batched, single;
  ex.Run(tasks, &batched);
  for (int f = 0; f < frames; ++f) {
    ex.Run({tasks[static_cast<size_t>(f)]}, &single);
    for (size_t a = 0; a < d.apps.size(); ++a) {
      const double b = batched[static_cast<size_t>(f)][a], s = single[0][a];
      EXPECT_EQ(std::isnan(b), std::isnan(s)) << "frame " << f << " app " << a;
      if (!std::isnan(b)) {
        EXPECT_NEAR(b, s, 1e-4) << "frame " << f << " app " << a;
      }
    }
  }
}

TEST_F(RuntimeExecutorTest, WorkerThreadsGiveTheSameScoresAndCounts) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  TreeExecutor one = TreeExecutor::Load(base, d);
  ExecutorOptions eo;
  eo.workers = 3;
  TreeExecutor three = TreeExecutor::Load(base, d, eo);
  EXPECT_EQ(one.workers(), 1);
  EXPECT_EQ(three.workers(), 3);
  FramePlanner planner(d.schedule.tree, d.schedule.stream_fps, 4);
  const int frames = 16;
  at::Tensor x = base.DummyInput(frames, 8).contiguous();
  const std::vector<TreeExecutor::FrameTask> tasks =
      PlannedTasks(planner, x, one.preprocess().floats_per_frame());
  // Frame by frame and as one batch: every score bit for bit the same (the
  // stems run on the calling thread in both; each branch on one thread).
  for (int batch : {1, frames}) {
    for (int f0 = 0; f0 < frames; f0 += batch) {
      std::vector<TreeExecutor::FrameTask> part(tasks.begin() + f0, tasks.begin() + f0 + batch);
      std::vector<std::vector<double>> a, b;
      one.Run(part, &a);
      three.Run(part, &b);
      ExpectSameScores(a, b, fmt::format("batch {} from frame {}", batch, f0));
    }
  }
  for (int k = 0; k < one.num_nodes(); ++k) {
    EXPECT_EQ(one.node_calls(k), three.node_calls(k)) << "node " << k;
    EXPECT_EQ(one.node_frames(k), three.node_frames(k)) << "node " << k;
    EXPECT_GT(three.node_ms(k), 0.0) << "node " << k;
  }
  EXPECT_GT(three.branch_phase_ms(), 0.0);
}

// Several cameras: trees sharing one pool, run from threads of their own at
// once, score as each alone.
// RunOverlapped hands each batch back one call late, in order, with Run's
// scores bit for bit, whether its stems overlap the branches of the batch
// before (own pool) or not. Each batch's inputs are overwritten as soon as
// its scores are back, as msrun reuses its two input buffers.
TEST_F(RuntimeExecutorTest, OverlappedBatchesComeBackOneCallLateWithRunsScores) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  TreeExecutor reference = TreeExecutor::Load(base, d);
  FramePlanner planner(d.schedule.tree, d.schedule.stream_fps, 5);
  const int frames = 14;
  at::Tensor x = base.DummyInput(frames, 9).contiguous();
  const size_t floats = reference.preprocess().floats_per_frame();
  const std::vector<TreeExecutor::FrameTask> tasks = PlannedTasks(planner, x, floats);
  for (int workers : {1, 2, 3}) {
    ExecutorOptions eo;
    eo.workers = workers;
    TreeExecutor ex = TreeExecutor::Load(base, d, eo);
    EXPECT_EQ(ex.overlaps(), workers > 1);
    EXPECT_EQ(ex.workers(), workers);
    for (int batch : {1, 3}) {
      std::vector<std::vector<double>> want, got, back;
      std::vector<float> buffers[2];
      int filling = 0;
      size_t held = 0;  // frames in the batch the executor holds
      for (int f0 = 0; f0 < frames; f0 += batch) {
        const int n = std::min(batch, frames - f0);
        std::vector<TreeExecutor::FrameTask> part(tasks.begin() + f0, tasks.begin() + f0 + n);
        std::vector<std::vector<double>> expected;
        reference.Run(part, &expected);
        want.insert(want.end(), expected.begin(), expected.end());
        buffers[filling].assign(x.data_ptr<float>() + f0 * floats,
                                x.data_ptr<float>() + (f0 + n) * floats);
        for (int i = 0; i < n; ++i) {
          part[static_cast<size_t>(i)].input = buffers[filling].data() + i * floats;
        }
        const bool returned = ex.RunOverlapped(part, &back);
        EXPECT_EQ(returned, f0 > 0) << "batch at frame " << f0;
        if (returned) {
          EXPECT_EQ(back.size(), held);
          got.insert(got.end(), back.begin(), back.end());
        }
        held = part.size();
        filling = 1 - filling;
        std::fill(buffers[filling].begin(), buffers[filling].end(), 1e6f);  // returned: reused
      }
      ASSERT_TRUE(ex.Drain(&back));
      got.insert(got.end(), back.begin(), back.end());
      EXPECT_FALSE(ex.Drain(&back));
      ExpectSameScores(want, got, fmt::format("{} workers, batch {}", workers, batch));
    }
    // Run works again once nothing is held.
    std::vector<std::vector<double>> again;
    ex.Run(tasks, &again);
    EXPECT_EQ(again.size(), static_cast<size_t>(frames));
  }
}

// When the stems are most of a frame's work, their tail (whole nodes, or a
// node cut at a stage) runs on the workers before the branches while the
// calling thread runs the next batch's first stems: scores, calls and
// frames stay Run's on 1 worker, bit for bit, wherever the cut falls.
TEST_F(RuntimeExecutorTest, StemsTailOnTheWorkersKeepsScoresAndCounts) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  TreeExecutor reference = TreeExecutor::Load(base, d);
  // Stems 30x as costly as profiled: most of the work, so a tail is planned.
  Deployment heavy = d;
  MergedTree& tree = heavy.schedule.tree;
  tree.stem_cost = 0;
  for (TreeNode& node : tree.nodes) {
    if (node.kind != TreeNode::Kind::kStem) continue;
    node.latency_ms *= 30;
    tree.stem_cost += node.cost();
  }
  const std::vector<double> even(static_cast<size_t>(base.num_stages()), 1.0);
  std::vector<double> front = even;  // stage 0 the costliest: cuts fall late
  front[0] = 20;
  FramePlanner planner(d.schedule.tree, d.schedule.stream_fps, 3);
  const int frames = 13;
  at::Tensor x = base.DummyInput(frames, 12).contiguous();
  const size_t floats = reference.preprocess().floats_per_frame();
  const std::vector<TreeExecutor::FrameTask> tasks = PlannedTasks(planner, x, floats);
  std::vector<std::vector<double>> want;
  reference.Run(tasks, &want);
  std::set<std::vector<int>> cuts;
  for (int workers : {2, 3}) {
    for (const std::vector<double>& stage_ms : {even, front}) {
      ExecutorOptions eo;
      eo.workers = workers;
      eo.stage_ms = stage_ms;
      TreeExecutor ex = TreeExecutor::Load(base, heavy, eo);
      const StemSplit& split = ex.stem_split();
      ASSERT_FALSE(split.empty()) << workers << " workers";
      EXPECT_LE(split.tail_cost, tree.stem_cost);
      cuts.insert(split.tail_from);
      for (int batch : {1, 2}) {
        ex.ResetCounters();
        std::vector<std::vector<double>> got, back;
        for (int f0 = 0; f0 < frames; f0 += batch) {
          const int n = std::min(batch, frames - f0);
          std::vector<TreeExecutor::FrameTask> part(tasks.begin() + f0, tasks.begin() + f0 + n);
          if (ex.RunOverlapped(part, &back)) got.insert(got.end(), back.begin(), back.end());
        }
        ASSERT_TRUE(ex.Drain(&back));
        got.insert(got.end(), back.begin(), back.end());
        const std::string what = fmt::format("{} workers, cuts {}, batch {}", workers,
                                             fmt::join(split.tail_from, ","), batch);
        ExpectSameScores(want, got, what);
        EXPECT_GT(ex.tail_ms(), 0.0) << what;
        for (int k = 0; k < ex.num_nodes(); ++k) {
          EXPECT_EQ(ex.node_frames(k), reference.node_frames(k)) << what << ", node " << k;
        }
      }
      // Run (no overlap) runs the tail on the calling thread: same scores.
      std::vector<std::vector<double>> again;
      ex.Run(tasks, &again);
      ExpectSameScores(want, again, "Run with a tail");
    }
  }
  EXPECT_GE(cuts.size(), 2u) << "the stage timings should move the cut";
  // Without stage timings, or on 1 worker, no tail.
  ExecutorOptions none;
  none.workers = 2;
  EXPECT_TRUE(TreeExecutor::Load(base, heavy, none).stem_split().empty());
  none.workers = 1;
  none.stage_ms = even;
  EXPECT_TRUE(TreeExecutor::Load(base, heavy, none).stem_split().empty());
}

TEST_F(RuntimeExecutorTest, TreesSharingOnePoolScoreAsEachAlone) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  TreeExecutor alone = TreeExecutor::Load(base, d);
  ExecutorOptions eo;
  eo.pool = MakeBranchPool(2);
  EXPECT_EQ(BranchPoolSize(*eo.pool), 2);
  std::vector<TreeExecutor> trees;
  for (int k = 0; k < 3; ++k) trees.push_back(TreeExecutor::Load(base, d, eo));
  EXPECT_EQ(trees[0].workers(), 2);
  FramePlanner planner(d.schedule.tree, d.schedule.stream_fps, 4);
  const int frames = 12;
  at::Tensor x = base.DummyInput(frames, 8).contiguous();
  const std::vector<TreeExecutor::FrameTask> tasks =
      PlannedTasks(planner, x, alone.preprocess().floats_per_frame());
  std::vector<std::vector<std::vector<double>>> expected(frames);
  for (int f = 0; f < frames; ++f) alone.Run({tasks[static_cast<size_t>(f)]}, &expected[f]);
  // Each tree on its own thread, frame by frame, 5 passes: their branch jobs
  // interleave on the two workers.
  std::vector<std::thread> threads;
  std::vector<std::string> errors(trees.size());
  for (size_t t = 0; t < trees.size(); ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int pass = 0; pass < 5; ++pass) {
          for (int f = 0; f < frames; ++f) {
            std::vector<std::vector<double>> got;
            trees[t].Run({tasks[static_cast<size_t>(f)]}, &got);
            for (size_t app = 0; app < d.apps.size(); ++app) {
              const double a = expected[f][0][app], b = got[0][app];
              if (std::isnan(a) != std::isnan(b) || (!std::isnan(a) && a != b)) {
                errors[t] = fmt::format("tree {} frame {} app {}: {} vs {}", t, f, app, b, a);
                return;
              }
            }
          }
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const std::string& e : errors) EXPECT_EQ(e, "");
  for (int k = 0; k < alone.num_nodes(); ++k) {
    for (const TreeExecutor& t : trees) EXPECT_EQ(t.node_calls(k), 5 * alone.node_calls(k));
  }
}

TEST_F(RuntimeExecutorTest, AFailingBranchOnAWorkerFailsTheRun) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  BaseModel base = BaseModel::Load(scenario_->base_dir);
  ExecutorOptions eo;
  eo.workers = 2;
  TreeExecutor ex = TreeExecutor::Load(base, d, eo);
  // Frame 0 runs the first stem and the branches below it; frame 1 runs
  // only the root branch ("full") and has no input: that branch fails on a
  // worker while others run.
  int root_branch = -1;
  std::vector<int> first;
  for (int k = 0; k < ex.num_nodes(); ++k) {
    const TreeNode& n = ex.tree().nodes[static_cast<size_t>(k)];
    if (n.kind == TreeNode::Kind::kBranch && n.parent < 0) root_branch = k;
    if (n.kind == TreeNode::Kind::kStem && n.parent < 0) first.push_back(k);
  }
  ASSERT_GE(root_branch, 0);
  ASSERT_EQ(first.size(), 1u);
  for (int k = 0; k < ex.num_nodes(); ++k) {
    const TreeNode& n = ex.tree().nodes[static_cast<size_t>(k)];
    if (n.kind == TreeNode::Kind::kBranch && n.parent == first[0]) first.push_back(k);
  }
  ASSERT_GE(first.size(), 2u);
  at::Tensor x = base.DummyInput(1, 3).contiguous();
  std::vector<TreeExecutor::FrameTask> tasks(2);
  tasks[0].input = x.data_ptr<float>();
  tasks[0].nodes = first;
  tasks[1].nodes = {root_branch};
  std::vector<std::vector<double>> scores;
  try {
    ex.Run(tasks, &scores);
    FAIL() << "a root branch without input ran";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("no preprocessed input"), std::string::npos) << e.what();
  }
  // The pool survives: the next call runs.
  tasks[1].input = x.data_ptr<float>();
  ex.Run(tasks, &scores);
  EXPECT_FALSE(std::isnan(
      scores[1][static_cast<size_t>(ex.tree().nodes[static_cast<size_t>(root_branch)].app)]));
}

// The summary says how fast the machine ran the base's stages before and
// after the run beside the schedule's profile, and which stems' tail ran on
// the workers (the tail msrun plans from the schedule's stage timings).
TEST_F(RuntimeExecutorTest, SummaryReportsTheSpeedProbeAndTheStemTail) {
  Deployment d = LoadDeployment(scenario_->schedule, scenario_->base_dir);
  double profiled = 0;
  for (double v : d.schedule.costs.stage_ms) profiled += v;
  ASSERT_GT(profiled, 0.0);
  TempDir a, b;
  RunConfig c = Config(a.path());
  c.threads = 2;
  ASSERT_EQ(Runtime::Prepare(c).Run(nullptr).status, RunStatus::kCompleted);
  const Json s = ReadJsonFile(a.path() / kRunSummaryFile);
  const Json& probe = s["machine"]["speed_probe"];
  ASSERT_TRUE(probe.is_object()) << s["machine"].dump();
  EXPECT_NEAR(probe["profile_ms"].get<double>(), profiled, 1e-9 * profiled);
  const double start = probe["start_ms"].get<double>(), end = probe["end_ms"].get<double>();
  EXPECT_GT(start, 0.0);
  EXPECT_GT(end, 0.0);
  const double factor = probe["factor"].get<double>();
  EXPECT_NEAR(factor, (start + end) / 2 / profiled, 1e-9 * factor);
  const Json& cost = s["cost"];
  EXPECT_NEAR(cost["dnn_ratio_at_probe_speed"].get<double>(),
              cost["dnn_ratio"].get<double>() / factor, 1e-6);
  // Decoded ahead on two threads: the tail planned without decode on the loop.
  const double tail =
      PlanStemSplit(d.schedule.tree, d.schedule.costs.stage_ms, 2, /*decode_on_loop=*/false)
          .tail_cost;
  EXPECT_NEAR(s["machine"]["stem_tail"].get<double>(), tail, 1e-9);
  EXPECT_GE(cost["measured"]["stem_tail"].get<double>(), 0.0);
  EXPECT_EQ(cost["measured"]["stem_tail"].get<double>() > 0, tail > 0);
  // --no-speed-probe, --no-stem-split: neither.
  c = Config(b.path());
  c.threads = 2;
  c.speed_probe = false;
  c.stem_split = false;
  ASSERT_EQ(Runtime::Prepare(c).Run(nullptr).status, RunStatus::kCompleted);
  const Json t = ReadJsonFile(b.path() / kRunSummaryFile);
  EXPECT_TRUE(t["machine"]["speed_probe"].is_null());
  EXPECT_TRUE(t["cost"]["dnn_ratio_at_probe_speed"].is_null());
  EXPECT_EQ(t["machine"]["stem_tail"].get<double>(), 0.0);
  EXPECT_EQ(t["cost"]["measured"]["stem_tail"].get<double>(), 0.0);
}

TEST_F(RuntimeExecutorTest, ThreadsDoNotChangeEventsOrScores) {
  auto run = [&](int threads, const fs::path& out, bool prefetch = true) {
    RunConfig c = Config(out);
    c.threads = threads;
    c.prefetch = prefetch;
    c.write_frames = true;
    c.labels = {{scenario_->apps[0].name, scenario_->labels}};
    RunResult r = Runtime::Prepare(c).Run(nullptr);
    EXPECT_EQ(r.status, RunStatus::kCompleted);
    return ReadJsonFile(out / kRunSummaryFile);
  };
  TempDir a, b;
  Json s1 = run(1, a.path()), s2 = run(2, b.path());
  EXPECT_EQ(s1["machine"]["branch_workers"].get<int>(), 1);
  EXPECT_EQ(s2["machine"]["branch_workers"].get<int>(), 2);
  // Two workers decode ahead on a thread of their own (a video file); the
  // same frames reach the tree as read on the loop thread.
  EXPECT_FALSE(s1["machine"]["prefetch"].get<bool>());
  EXPECT_TRUE(s2["machine"]["prefetch"].get<bool>());
  TempDir c;
  Json s3 = run(2, c.path(), /*prefetch=*/false);
  EXPECT_FALSE(s3["machine"]["prefetch"].get<bool>());
  EXPECT_EQ(s2["frames"], s3["frames"]);
  for (const auto& app : scenario_->apps) {
    EXPECT_EQ(testing::ReadText(b.path() / (app.name + ".frames.csv")),
              testing::ReadText(c.path() / (app.name + ".frames.csv")))
        << app.name;
  }
  ASSERT_FALSE(s1["evaluation"].is_null());
  EXPECT_EQ(s1["evaluation"], s2["evaluation"]);
  for (const auto& app : scenario_->apps) {
    const std::vector<ReportedEvent> e1 = ReadEventsFile(a.path() / (app.name + kEventsSuffix));
    const std::vector<ReportedEvent> e2 = ReadEventsFile(b.path() / (app.name + kEventsSuffix));
    ASSERT_EQ(e1.size(), e2.size()) << app.name;
    for (size_t i = 0; i < e1.size(); ++i) {
      EXPECT_EQ(e1[i].event.start, e2[i].event.start) << app.name;
      EXPECT_EQ(e1[i].event.end, e2[i].event.end) << app.name;
      EXPECT_EQ(e1[i].event.samples, e2[i].event.samples) << app.name;
    }
    // Per-frame scores: every thread runs one LibTorch thread, so they are
    // equal; a tolerance keeps the test about events if that changes.
    std::ifstream f1(a.path() / (app.name + ".frames.csv")),
        f2(b.path() / (app.name + ".frames.csv"));
    std::string l1, l2;
    int lines = 0;
    while (std::getline(f1, l1)) {
      ASSERT_TRUE(static_cast<bool>(std::getline(f2, l2))) << app.name;
      ++lines;
      if (l1 == l2) continue;
      // frame,time_s,score,positive: all but the score equal.
      auto cols = [](const std::string& l) {
        std::vector<std::string> c;
        std::stringstream ss(l);
        for (std::string x; std::getline(ss, x, ',');) c.push_back(x);
        return c;
      };
      const std::vector<std::string> c1 = cols(l1), c2 = cols(l2);
      ASSERT_EQ(c1.size(), 4u) << l1;
      ASSERT_EQ(c2.size(), 4u) << l2;
      EXPECT_EQ(c1[0], c2[0]) << app.name;
      EXPECT_EQ(c1[3], c2[3]) << app.name;
      EXPECT_NEAR(std::stod(c1[2]), std::stod(c2[2]), 1e-5)
          << app.name << ": " << l1 << " vs " << l2;
    }
    EXPECT_FALSE(static_cast<bool>(std::getline(f2, l2))) << app.name;
    EXPECT_GT(lines, 1) << app.name;
  }
}

TEST_F(RuntimeExecutorTest, ExecutedWorkEqualsTheCostModel) {
  TempDir out;
  RunConfig c = Config(out.path());
  c.seed = 4;
  c.batch = 3;
  Runtime rt = Runtime::Prepare(c);
  RunResult r = rt.Run();
  ASSERT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.ExitCode(), 0);
  const Json& s = r.summary;
  const ScheduleDoc& sched = rt.deployment().schedule;
  const int64_t decoded = s["frames"]["decoded"].get<int64_t>();
  ASSERT_EQ(decoded, 60);
  // The same planner, independently: identical executions per node.
  FramePlanner planner(sched.tree, sched.stream_fps, 4);
  for (int f = 0; f < decoded; ++f) planner.Next();
  double work = 0, slack = 0;
  for (size_t k = 0; k < sched.tree.nodes.size(); ++k) {
    const Json& n = s["nodes"][k];
    const TreeNode& node = sched.tree.nodes[k];
    EXPECT_EQ(n["executions"].get<int64_t>(), planner.executions()[k]) << "node " << k;
    EXPECT_EQ(n["planned"].get<int64_t>(), planner.executions()[k]) << "node " << k;
    // fps_k x seconds, up to one frame per tree level at the start.
    EXPECT_NEAR(static_cast<double>(planner.executions()[k]), node.fps / sched.stream_fps * decoded,
                Depth(sched.tree, static_cast<int>(k)) + 1.0)
        << "node " << k;
    work += static_cast<double>(planner.executions()[k]) * node.latency_ms;
    slack += 2 * node.latency_ms;
  }
  // The work priced with the schedule's latencies is the cost model's DNN cost.
  const double video_s = s["frames"]["video_seconds"].get<double>();
  EXPECT_NEAR(video_s, 6.0, 1e-9);
  const double dnn = sched.tree.stem_cost + sched.tree.branch_cost;
  EXPECT_NEAR(work, dnn * video_s, slack);
  EXPECT_DOUBLE_EQ(s["cost"]["predicted"]["dnn"].get<double>(), dnn);
  EXPECT_GT(s["cost"]["measured"]["dnn"].get<double>(), 0);
  for (size_t a = 0; a < sched.apps.size(); ++a) {
    const Json& app = s["apps"][a];
    const int depth = Depth(sched.tree, sched.tree.branch_of_app[a]);
    EXPECT_NEAR(app["achieved_fps"].get<double>(), sched.apps[a].fps, (depth + 1.0) / video_s)
        << sched.apps[a].app;
    EXPECT_EQ(app["samples_dropped"].get<int64_t>(), 0);
    EXPECT_EQ(app["events"].get<int64_t>(),
              static_cast<int64_t>(ReadEventsFile(app["events_file"]).size()));
  }
  EXPECT_EQ(s["frames"]["dropped"].get<int64_t>(), 0);
  EXPECT_EQ(s["batch"].get<int>(), 3);
}

TEST_F(RuntimeExecutorTest, RealTimePacingDropsLateFramesWithoutQueueing) {
  TempDir out;
  RunConfig c = Config(out.path());
  c.realtime = true;
  c.fps_override = 1000;  // 1 ms per frame: compute cannot keep up
  Runtime rt = Runtime::Prepare(c);
  RunResult r = rt.Run();
  ASSERT_EQ(r.status, RunStatus::kCompleted);
  const Json& s = r.summary;
  EXPECT_EQ(s["frames"]["decoded"].get<int64_t>(), 60);
  EXPECT_GT(s["frames"]["dropped"].get<int64_t>(), 0);
  int64_t lost = 0;
  for (const Json& a : s["apps"]) {
    EXPECT_LE(a["frames_analyzed"].get<int64_t>(), a["samples_planned"].get<int64_t>());
    lost += a["samples_dropped"].get<int64_t>();
  }
  EXPECT_GT(lost, 0);
  // Nothing queued: the run ends about when the stream does (60 frames at
  // 1000 fps = 60 ms), not after processing every frame.
  EXPECT_LT(s["wall_seconds"].get<double>(), 1.0);

  // With --max-lag 10 s the same stream (60 ms of frames, each a fraction of
  // a millisecond of compute) keeps every frame: late, but within the lag.
  TempDir out3;
  RunConfig c3 = Config(out3.path());
  c3.realtime = true;
  c3.fps_override = 1000;
  c3.max_lag_ms = 10000;
  RunResult r3 = Runtime::Prepare(c3).Run();
  ASSERT_EQ(r3.status, RunStatus::kCompleted);
  EXPECT_EQ(r3.summary["frames"]["dropped"].get<int64_t>(), 0);
  EXPECT_EQ(r3.summary["frames"]["decoded"].get<int64_t>(), 60);
  EXPECT_EQ(r3.summary["config"]["max_lag_ms"].get<double>(), 10000);
  RunConfig bad = c3;
  bad.realtime = false;
  EXPECT_THROW(bad.Validate(), InputError);  // a lag without --realtime means nothing

  // At a rate it can follow it paces: 20 frames at 40 fps last 0.5 s.
  TempDir out2;
  RunConfig c2 = Config(out2.path());
  c2.realtime = true;
  c2.fps_override = 40;
  c2.end_frame = 20;
  RunResult r2 = Runtime::Prepare(c2).Run();
  EXPECT_GE(r2.summary["wall_seconds"].get<double>(), 19 / 40.0 - 0.01);
}

TEST_F(RuntimeExecutorTest, AStopRequestEndsTheRunWithValidOutputs) {
  TempDir out;
  std::atomic<int> stop{SIGTERM};
  RunResult r = Runtime::Prepare(Config(out.path())).Run(&stop);
  EXPECT_EQ(r.status, RunStatus::kStopped);
  EXPECT_EQ(r.ExitCode(), 128 + SIGTERM);
  Json s = ReadJsonFile(out.path() / kRunSummaryFile);
  EXPECT_EQ(s["status"], "stopped");
  EXPECT_EQ(s["stop_signal"].get<int>(), SIGTERM);
  EXPECT_EQ(s["frames"]["decoded"].get<int64_t>(), 0);
  for (const auto& a : scenario_->apps) {
    EXPECT_TRUE(fs::exists(out.path() / (a.name + kEventsSuffix)));
    EXPECT_TRUE(ReadEventsFile(out.path() / (a.name + kEventsSuffix)).empty());
  }
}

}  // namespace
}  // namespace mainstream
