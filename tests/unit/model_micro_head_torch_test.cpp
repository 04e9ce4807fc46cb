// Microclassifiers as plain loops (MicroHead): the same logits as the
// TorchScript module mstrain trains, on dense and blocked maps, one frame or
// a batch; modules of another form are refused; msrun's executor runs them
// so, with the same scores as through the module.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/micro_head.h"
#include "mainstream/model/suffix.h"
#include "mainstream/runtime/deployment.h"
#include "mainstream/runtime/executor.h"
#include "runtime_testing.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

// A module with every parameter random (the built one has zero biases).
torch::jit::Module RandomMicro(const std::vector<int64_t>& shape, const MicroCrop& crop, int k,
                               uint64_t seed) {
  torch::jit::Module m = BuildMicroModule(shape, crop, k, 0.2, seed);
  torch::NoGradGuard ng;
  torch::manual_seed(seed);
  for (at::Tensor p : m.parameters()) p.copy_(torch::randn_like(p) * 0.5);
  return m;
}

using testing::ExpectInputError;

TEST(MicroHead, ComputesWhatItsModuleComputes) {
  torch::NoGradGuard ng;
  const std::vector<int64_t> shape{16, 7, 9};
  // Crops at the edges and in the middle, odd sizes; 1 and 8 channels.
  const std::vector<std::pair<MicroCrop, int>> cases{
      {{0, 0, 9, 7}, 8}, {{2, 1, 7, 5}, 4}, {{8, 6, 9, 7}, 1}, {{0, 3, 3, 7}, 8}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [crop, k] = cases[i];
    torch::jit::Module module = RandomMicro(shape, crop, k, 11 + i);
    const MicroHead head = MicroHead::FromModule(module, crop, shape, "test");
    EXPECT_EQ(head.channels(), k);
    EXPECT_EQ(head.macs(), int64_t{k} * crop.width() * crop.height() * (16 + 2));
    const at::Tensor x = torch::randn({3, 16, 7, 9});
    const at::Tensor want = module.forward({x}).toTensor();
    const at::Tensor got = head.Forward(x);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-4 * (1 + want.abs().max().item<double>()))
        << "case " << i;
    // A blocked map (as the stem leaves it) and a strided view give the same.
    EXPECT_LT((head.Forward(x.to_mkldnn()) - got).abs().max().item<double>(), 1e-6);
    const at::Tensor wide = torch::randn({3, 16, 7, 12});
    const at::Tensor view = wide.narrow(3, 2, 9);
    EXPECT_LT((head.Forward(view) - module.forward({view}).toTensor()).abs().max().item<double>(),
              1e-4 * (1 + want.abs().max().item<double>()));
    // One frame at a time: the batch rows.
    float logits[2];
    const at::Tensor f1 = x[1].contiguous();
    head.Run(f1.data_ptr<float>(), logits);
    EXPECT_FLOAT_EQ(logits[0], got[1][0].item<float>());
    EXPECT_FLOAT_EQ(logits[1], got[1][1].item<float>());
  }
}

TEST(MicroHead, RefusesWhatItCannotRun) {
  const std::vector<int64_t> shape{16, 7, 9};
  const MicroCrop crop{2, 1, 7, 5};
  torch::jit::Module module = RandomMicro(shape, crop, 4, 3);
  ExpectInputError(
      [&] {
        MicroHead::FromModule(module, {2, 1, 10, 5}, shape, "m.pt");
      },
      {"m.pt", "does not lie inside the 9x7 feature map"});
  // Another crop of another area: the linear layer does not fit it.
  ExpectInputError(
      [&] {
        MicroHead::FromModule(module, {2, 1, 6, 5}, shape, "m.pt");
      },
      {"m.pt", "app_head.weight", "[2, 80]", "[2, 64]"});
  ExpectInputError(
      [&] {
        MicroHead::FromModule(module, crop, {8, 7, 9}, "m.pt");
      },
      {"app_head.reduce_weight", "[4, 16, 1, 1]"});
  ExpectInputError(
      [&] {
        MicroHead::FromModule(module, crop, {16, 7}, "m.pt");
      },
      {"feature map [C, H, W]"});
  // A branch's suffix is not a microclassifier.
  torch::jit::Module other("__torch__.Other");
  other.register_parameter("weight", torch::zeros({2, 3}), false);
  ExpectInputError([&] { MicroHead::FromModule(other, crop, shape, "bp3.pt"); },
                   {"bp3.pt", "not a microclassifier"});
  const MicroHead head = MicroHead::FromModule(module, crop, shape, "m.pt");
  ExpectInputError(
      [&] {
        head.Forward(torch::zeros({1, 16, 9, 7}));
      },
      {"[1, 16, 9, 7]", "[batch, 16, 7, 9]"});
}

// The executor runs a microclassifier app as loops, with the scores its
// module gives; with native_micro off it runs the module.
TEST(MicroHead, ExecutorRunsMicroclassifiersAsLoops) {
  SetTorchThreads(1);
  testing::TempDir tmp;
  testing::RuntimeScenario s = testing::MakeRuntimeScenario(
      tmp.path(), {{"ped", 3, 5}, {"car", 3, 10}}, testing::SyntheticVideoSpec{64, 48, 10});
  BaseModel base = BaseModel::Load(s.base_dir);
  const std::vector<int64_t> shape = base.info().ShapeAt(3);
  ASSERT_EQ(shape.size(), 3u);
  const MicroCrop crop{0, 1, static_cast<int>(shape[2]), static_cast<int>(shape[1]) - 1};
  SaveModule(RandomMicro(shape, crop, 8, 5), s.packages[0] / "bp3.pt");
  testing::MakeFirstCandidateMicro(s.packages[0] / "mpackage.json", crop, 8);
  testing::ScheduleAppAsMicro(s.schedule, 0);

  Deployment d = LoadDeployment(s.schedule, s.base_dir);
  ExecutorOptions module_opts;
  module_opts.native_micro = false;
  TreeExecutor native = TreeExecutor::Load(base, d);
  TreeExecutor reference = TreeExecutor::Load(base, d, module_opts);
  int micro_nodes = 0;
  for (int k = 0; k < native.num_nodes(); ++k) {
    const TreeNode& node = native.tree().nodes[static_cast<size_t>(k)];
    const bool is_micro = node.kind == TreeNode::Kind::kBranch && node.app == 0;
    EXPECT_EQ(native.IsNativeMicro(k), is_micro) << "node " << k;
    EXPECT_FALSE(reference.IsNativeMicro(k));
    micro_nodes += is_micro;
  }
  ASSERT_EQ(micro_nodes, 1);
  const int frames = 3;
  at::Tensor x = base.DummyInput(frames, 9).contiguous();
  const std::vector<TreeExecutor::FrameTask> tasks =
      testing::EveryNodeTasks(native, x.data_ptr<float>(), frames);
  std::vector<std::vector<double>> a, b;
  native.Run(tasks, &a);
  reference.Run(tasks, &b);
  for (int f = 0; f < frames; ++f) {
    for (size_t app = 0; app < 2; ++app) {
      EXPECT_NEAR(a[static_cast<size_t>(f)][app], b[static_cast<size_t>(f)][app], 1e-5)
          << "frame " << f << " app " << app;
      EXPECT_FALSE(std::isnan(a[static_cast<size_t>(f)][app]));
    }
  }
  // The module's scores: the base to layer 3, then the module.
  torch::NoGradGuard ng;
  torch::jit::Module m = LoadModule(s.packages[0] / "bp3.pt");
  m.eval();
  const at::Tensor want =
      torch::softmax(m.forward({base.RunStages(x, 0, 3)}).toTensor(), 1).select(1, 1);
  for (int f = 0; f < frames; ++f)
    EXPECT_NEAR(a[static_cast<size_t>(f)][0], want[f].item<double>(), 1e-4);
}

}  // namespace
}  // namespace mainstream
