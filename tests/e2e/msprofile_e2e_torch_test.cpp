// End-to-end: run the msprofile binary on a tiny base and a tiny non-chain
// model made here.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <filesystem>
#include <opencv2/videoio.hpp>
#include <string>

#include "mainstream/core/json_io.h"
#include "mainstream/core/sha256.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/default_base.h"
#include "mainstream/profile/profile.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::RunTool;
using testing::TempDir;

const char* kFast = " --threads 1 --warmup 1 --repeats 5 --decode-frames 5 --log-level warn";

fs::path TinyBase(const TempDir& tmp) {
  DefaultBaseOptions o;
  o.name = "tiny";
  o.width = 64;
  o.height = 48;
  o.width_mult = 0.25;
  o.last_channel = 64;
  o.num_classes = 3;
  CreateDefaultBase(tmp / "tiny", o);
  return tmp / "tiny";
}

TEST(E2EMsprofile, ProfilesEveryStageAndTheWholeModel) {
  TempDir tmp;
  fs::path base = TinyBase(tmp);
  fs::path out = tmp / "out" / "profile.json";
  auto r = RunTool("msprofile",
                   "--base " + base.string() + " -o " + out.string() + " --size 96x72" + kFast);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, out.string() + "\n");
  Profile p = ReadProfile(out);
  BaseInfo info = ReadBaseInfo(base);
  EXPECT_EQ(p.base.sha256, info.sha256);
  EXPECT_EQ(p.base.id, "tiny");
  ASSERT_EQ(p.stages.size(), 8u);
  double reference = 0;
  for (size_t k = 0; k < 8; ++k) {
    EXPECT_EQ(p.stages[k].name, info.stages[k].name);
    EXPECT_GT(p.stages[k].p50_ms, 0);
    EXPECT_GE(p.stages[k].p95_ms, p.stages[k].p50_ms);
    // Charged: the mean of the frame passes' samples, winsorized at their p95.
    const Json& in_run = p.extra["stages"][k]["in_run"];
    EXPECT_EQ(p.stages[k].ms, in_run["mean_w95_ms"].get<double>());
    EXPECT_LE(p.stages[k].ms, p.stages[k].p95_ms);
    EXPECT_LE(p.stages[k].ms, in_run["mean_ms"].get<double>() + 1e-12);
    EXPECT_EQ(in_run["samples"].get<int>(), 5);  // kFast's repeats
    // The cold timing: among copies streaming their weights, at least ms.
    EXPECT_GE(p.stages[k].cold_p50_ms, p.stages[k].ms);
    reference += p.extra["stages"][k]["chained"]["p50_ms"].get<double>();
  }
  EXPECT_NEAR(p.speed_reference_ms, reference, 1e-9);
  // An app's own stages: the base's but the last, which is the app's new
  // two-class head (model/suffix.h), timed in the same frame passes. The
  // tiny base's own head has more outputs than an app's two.
  ASSERT_EQ(p.BranchLatencies().size(), 8u);
  for (size_t k = 0; k + 1 < 8; ++k) EXPECT_EQ(p.stages[k].branch_p50_ms, p.stages[k].ms);
  const Json& app_head = p.extra["stages"][7]["app_head"];
  EXPECT_EQ(app_head["samples"].get<int>(), 5);
  EXPECT_EQ(p.stages[7].branch_p50_ms, app_head["mean_w95_ms"].get<double>());
  EXPECT_NE(r.err.find("an app's head"), std::string::npos) << r.err;
  EXPECT_GT(p.decode_after_dnn_ms, 0);
  EXPECT_EQ(p.extra["decode"]["in_run"]["decode"]["samples"].get<int>(), 5);
  EXPECT_GT(p.whole_model_p50_ms, 0);
  EXPECT_GT(p.decode_ms, 0);
  EXPECT_EQ(p.input, "size:96x72");
  EXPECT_EQ(p.threads, 1);
  EXPECT_EQ(p.machine["torch_threads"].get<int>(), 1);
  EXPECT_FALSE(p.machine["cpu_model"].get<std::string>().empty());
  const Json& sum = p.extra["sum_check"];
  EXPECT_NEAR(sum["sum_stage_p50_ms"].get<double>(), p.speed_reference_ms, 1e-9);
  EXPECT_TRUE(sum.contains("within_10_percent"));
  EXPECT_EQ(p.extra["whole_model_fusion"]["batch_norms_left"].get<int>(), 0);
  EXPECT_GT(p.extra["whole_model_fusion"]["mkldnn_convs"].get<int>(), 0);
  EXPECT_NE(r.err.find("sum of stages"), std::string::npos) << r.err;
  // Cold timings among copies of each stage, and the probe (docs/model.md,
  // "Caches"): each stage's copies streamed at least two copies' bytes, and
  // with the pad after each run --cold-mb (64 MiB) between two runs of one
  // copy however small the stage (the tiny base's stages are KBs: 32
  // copies alone would stream well under 1 MiB).
  ASSERT_TRUE(p.HasCache());
  for (const StageTiming& st : p.stages) {
    EXPECT_GT(st.cold_p50_ms, 0);
    EXPECT_GE(st.cold_reuse_bytes, 2 * (st.param_bytes + st.activation_bytes) - 1e-6);
    EXPECT_GE(st.cold_reuse_bytes, 64.0 * (1 << 20) - 32 * 8);
    EXPECT_LE(st.cold_reuse_bytes, 64.0 * (1 << 20) + 32 * (st.param_bytes + st.activation_bytes));
  }
  ASSERT_GE(p.cache.bytes.size(), 2u);
  for (size_t i = 1; i < p.cache.bytes.size(); ++i)
    EXPECT_GT(p.cache.bytes[i], p.cache.bytes[i - 1]);
  EXPECT_NE(r.err.find("timed among copies of itself"), std::string::npos) << r.err;

  // Batches and a real video work too.
  fs::path clip = tmp / "clip.avi";
  {
    cv::VideoWriter w(clip.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10,
                      cv::Size(80, 60));
    ASSERT_TRUE(w.isOpened());
    for (int i = 0; i < 12; ++i)
      w.write(cv::Mat(60, 80, CV_8UC3, cv::Scalar(i * 20, 100, 200 - i * 10)));
  }
  auto v = RunTool("msprofile", "--base " + base.string() + " -o " + (tmp / "p2.json").string() +
                                    " --batch 3 --no-cold --input " + clip.string() + kFast);
  ASSERT_EQ(v.exit_code, 0) << v.err;
  Profile p2 = ReadProfile(tmp / "p2.json");
  EXPECT_EQ(p2.batch, 3);
  EXPECT_EQ(p2.input, "video:" + clip.string());
  EXPECT_GT(p2.decode_ms, 0);
  EXPECT_FALSE(p2.HasCache());  // --no-cold: the cache-blind model
  EXPECT_TRUE(p2.cache.empty());
}

// The passes decode more frames than the clip holds: the feed starts over
// (a fresh source's first frame untimed) and every pass is timed.
TEST(E2EMsprofile, FramePassesStartTheVideoOverAtItsEnd) {
  TempDir tmp;
  fs::path base = TinyBase(tmp);
  fs::path out = tmp / "profile.json";
  auto r = RunTool("msprofile", "--base " + base.string() + " -o " + out.string() +
                                    " --size 64x48 --no-cold --threads 1 --warmup 0 --repeats 9 "
                                    "--decode-frames 1 --log-level warn");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Profile p = ReadProfile(out);
  const Json& in_run = p.extra["decode"]["in_run"]["decode"];
  EXPECT_EQ(in_run["samples"].get<int>(), 9);  // 10 frames read from a 4-frame clip
  EXPECT_GT(in_run["min_ms"].get<double>(), 0);
  EXPECT_GT(p.decode_after_dnn_ms, 0);
}

TEST(E2EMsprofile, BadInputExitsTwoAndWritesNothing) {
  TempDir tmp;
  fs::path base = TinyBase(tmp);
  fs::path out = tmp / "profile.json";
  auto run = [&](const fs::path& b, const std::string& extra = "") {
    return RunTool("msprofile", "--base " + b.string() + " -o " + out.string() + extra + kFast);
  };
  for (const std::string flag : {" --cold-copies 1", " --cold-mb 0", " --cold-mb 9000"}) {
    auto bad = run(base, flag);
    EXPECT_EQ(bad.exit_code, 2) << flag;
    EXPECT_NE(bad.err.find(flag.substr(1, flag.find(' ', 1) - 1)), std::string::npos) << bad.err;
    EXPECT_FALSE(fs::exists(out));
  }
  auto missing = run(tmp / "nope");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope: no such base directory"), std::string::npos) << missing.err;

  // Corrupt model file (hash updated so that loading is what fails).
  fs::copy(base, tmp / "corrupt", fs::copy_options::recursive);
  testing::WriteText(tmp / "corrupt" / "model.pt", "PK\x03\x04 truncated");
  Json j = ReadJsonFile(tmp / "corrupt" / "base.json");
  j["sha256"] = Sha256File(tmp / "corrupt" / "model.pt");
  WriteJsonFileAtomic(tmp / "corrupt" / "base.json", j);
  auto corrupt = run(tmp / "corrupt");
  EXPECT_EQ(corrupt.exit_code, 2);
  EXPECT_NE(corrupt.err.find("corrupt/model.pt: cannot load as TorchScript"), std::string::npos)
      << corrupt.err;

  // base.json disagreeing with the module.
  fs::copy(base, tmp / "disagree", fs::copy_options::recursive);
  j = ReadJsonFile(tmp / "disagree" / "base.json");
  j["stages"][4]["output_shape"] = {7, 7, 7};
  WriteJsonFileAtomic(tmp / "disagree" / "base.json", j);
  auto disagree = run(tmp / "disagree");
  EXPECT_EQ(disagree.exit_code, 2);
  EXPECT_NE(disagree.err.find("disagree/base.json: $.stages[4].output_shape is [7, 7, 7]"),
            std::string::npos)
      << disagree.err;

  // A model with NaN outputs.
  fs::copy(base, tmp / "nan", fs::copy_options::recursive);
  {
    torch::jit::Module m = torch::jit::load((tmp / "nan" / "model.pt").string());
    for (const auto& p : m.named_parameters()) {
      if (p.name.rfind("block4.", 0) == 0) {
        torch::NoGradGuard ng;
        p.value.fill_(NAN);
        break;
      }
    }
    SaveModule(m, tmp / "nan" / "model.pt");
    j = ReadJsonFile(tmp / "nan" / "base.json");
    j["sha256"] = Sha256File(tmp / "nan" / "model.pt");
    WriteJsonFileAtomic(tmp / "nan" / "base.json", j);
  }
  auto nan = run(tmp / "nan");
  EXPECT_EQ(nan.exit_code, 2);
  EXPECT_NE(nan.err.find("nan/model.pt: stage 3 'block4' outputs NaN or Inf"), std::string::npos)
      << nan.err;

  auto video = run(base, " --input " + (tmp / "missing.avi").string());
  EXPECT_EQ(video.exit_code, 2);
  EXPECT_NE(video.err.find("missing.avi"), std::string::npos) << video.err;
  auto usage = RunTool("msprofile", "-o " + out.string());
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--base"), std::string::npos) << usage.err;
  auto both = RunTool("msprofile", "--base x --input a.avi --size 10x10 -o " + out.string());
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST(E2EMsprofile, ListsBranchpointsAndExportsAChainToProfile) {
  TempDir tmp;
  torch::jit::Module m("__torch__.test.Residual");
  m.register_attribute("training", c10::BoolType::get(), false);
  m.register_parameter("w1", torch::randn({8, 3, 3, 3}) * 0.2, false);
  m.register_parameter("w2", torch::randn({8, 8, 3, 3}) * 0.2, false);
  m.register_parameter("fc", torch::randn({4, 8}) * 0.2, false);
  m.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w1, None, [2, 2], [1, 1]))
    y = y + torch.relu(torch.conv2d(y, self.w2, None, [1, 1], [1, 1]))
    return torch.linear(torch.mean(y, [2, 3]), self.fc, None)
)");
  SaveModule(m, tmp / "res.pt");
  auto list = RunTool("msprofile",
                      "--list-branchpoints " + (tmp / "res.pt").string() + " --size 32x24 --json");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  Json j = ParseJson(list.out, "stdout");
  ASSERT_EQ(j["num_cuts"].get<int>(), 4)
      << list.out;  // conv, relu, add, mean; none inside the residual
  EXPECT_EQ(j["cuts"][2]["op"], "aten::add");
  EXPECT_EQ(j["cuts"][2]["shape"], Json({8, 12, 16}));
  auto text = RunTool("msprofile", "--list-branchpoints " + (tmp / "res.pt").string());
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("4 valid single-tensor cut points"), std::string::npos) << text.out;

  fs::path chain = tmp / "bases" / "res";
  auto exp = RunTool("msprofile", "--list-branchpoints " + (tmp / "res.pt").string() +
                                      " --size 32x24 --cuts 1,2" + " --name res --export-chain " +
                                      chain.string());
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_EQ(ReadBaseInfo(chain).num_stages(), 3);
  auto prof =
      RunTool("msprofile", "--base " + chain.string() + " -o " + (tmp / "p.json").string() + kFast);
  ASSERT_EQ(prof.exit_code, 0) << prof.err;
  EXPECT_EQ(ReadProfile(tmp / "p.json").stages.size(), 3u);

  auto no_size = RunTool("msprofile", "--list-branchpoints " + (tmp / "res.pt").string() +
                                          " --export-chain " + (tmp / "x").string());
  EXPECT_EQ(no_size.exit_code, 2);
  EXPECT_NE(no_size.err.find("--size"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "x"));
}

}  // namespace
}  // namespace mainstream
