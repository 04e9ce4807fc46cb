// bench_micro: what a microclassifier costs per frame as msrun runs it (plain
// loops over its crop, MicroHead) against the same module through LibTorch
// and against the cheapest branches, measured side by side in one run on the
// default base (docs/runtime.md, "Benchmarks"). Batch 1, p50 of `--repeats`
// calls, one LibTorch thread unless --threads says otherwise.
//
//   bench_micro                        # layers 2,3,4; crops of 1/4 and 1/2 of each side
//   bench_micro --layers 3 --channels 4,8,16
#include <torch/script.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli.h"
#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/core/parse.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/default_base.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/micro_head.h"
#include "mainstream/model/segment.h"
#include "mainstream/model/suffix.h"

namespace fs = std::filesystem;
using namespace mainstream;

namespace {

// A centred crop covering `fraction` of each side of a w x h map (>= 2 cells).
MicroCrop Centred(int w, int h, double fraction) {
  auto side = [&](int n) { return std::clamp(static_cast<int>(n * fraction + 0.5), 2, n); };
  const int cw = side(w), ch = side(h);
  MicroCrop c;
  c.x0 = (w - cw) / 2;
  c.y0 = (h - ch) / 2;
  c.x1 = c.x0 + cw;
  c.y1 = c.y0 + ch;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "bench_micro: a microclassifier's cost per frame as loops, through LibTorch, and against "
      "the cheapest branches"};
  cli::CommonFlags common;
  common.threads = 1;
  cli::AddCommonFlags(app, common);
  std::string work = (fs::temp_directory_path() / "mainstream-bench-micro").string();
  std::string layers_s = "2,3,4", fractions_s = "0.25,0.5", channels_s = "8";
  int repeats = 2000;
  std::string json;
  app.add_option("--work", work, "Directory for the default base (reused)")->capture_default_str();
  app.add_option("--layers", layers_s, "Layers (branchpoints) of the feature maps")
      ->capture_default_str();
  app.add_option("--crop-fractions", fractions_s, "Crop side as a fraction of the map's")
      ->capture_default_str();
  app.add_option("--channels", channels_s, "Outputs of the 1x1 convolution")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed calls per measurement")->capture_default_str();
  app.add_option("--json", json, "Also write the results as JSON");
  if (int code = cli::Parse(app, argc, argv); code >= 0) return code;
  return cli::RunMain("bench_micro", [&]() -> int {
    cli::ApplyCommonFlags(common);
    const std::vector<int> layers = ParseIntList(layers_s, "--layers");
    const std::vector<double> fractions = ParseDoubleList(fractions_s, "--crop-fractions");
    const std::vector<int> channels = ParseIntList(channels_s, "--channels");
    const int threads = SetTorchThreads(common.ResolvedThreads());
    const Json machine = DescribeMachine();
    std::printf("bench_micro: %s, LibTorch %s, %d torch thread(s), load %.2f, %d repeats\n",
                machine["cpu_model"].get<std::string>().c_str(),
                machine["libtorch"].get<std::string>().c_str(), threads,
                machine.value("load_average", Json::array({0.0}))[0].get<double>(), repeats);
    const fs::path dir = fs::path(work) / "msnet-s";
    if (!fs::exists(dir / "base.json")) CreateDefaultBase(dir);
    BaseModel base = BaseModel::Load(dir);
    const int n = base.num_stages();
    torch::NoGradGuard no_grad;
    const at::Tensor frame = base.DummyInput(1, 3);
    if (!(repeats >= 1)) ThrowInput("--repeats: {}; at least 1", repeats);
    const int warmup = std::max(10, repeats / 10);

    // The cheapest branches: the new head alone (bp<n-1>) and one base stage
    // plus the head (bp<n-2>), as msrun runs them (optimized segments fed by
    // the stem's output in its own layout).
    auto branch_ms = [&](int bp) {
      const Segment stem = Segment::Build(base, 0, bp);
      const at::Tensor x = stem.ForwardKeepLayout(frame);
      const Segment seg =
          Segment::FromModule(BuildSuffix(base, bp), x.is_mkldnn() ? x.to_dense() : x);
      return TimeForward(seg, x, warmup, repeats).p50_ms;
    };
    const double head_ms = branch_ms(n - 1), one_stage_ms = branch_ms(n - 2);
    std::printf("branch bp%d (new head only): %.4f ms; bp%d (one base stage + head): %.4f ms\n\n",
                n - 1, head_ms, n - 2, one_stage_ms);
    std::printf("%5s %9s %4s %9s %10s %10s %10s %8s %11s %11s\n", "layer", "crop", "K", "MACs",
                "loops_ms", "module_ms", "dense_ms", "module/",
                ("bp" + std::to_string(n - 2) + "/").c_str(),
                ("bp" + std::to_string(n - 1) + "/").c_str());
    std::printf("%5s %9s %4s %9s %10s %10s %10s %8s %11s %11s\n", "", "", "", "", "", "", "",
                "loops", "loops", "loops");
    Json rows = Json::array();
    for (const int layer : layers) {
      if (layer < 1 || layer >= n || base.info().ShapeAt(layer).size() != 3) {
        ThrowInput("--layers: {} is not a layer with a feature map (1..{})", layer, n - 1);
      }
      const std::vector<int64_t> shape = base.info().ShapeAt(layer);
      const Segment stem = Segment::Build(base, 0, layer);
      const at::Tensor blocked = stem.ForwardKeepLayout(frame);
      const at::Tensor dense = blocked.is_mkldnn() ? blocked.to_dense() : blocked;
      const double dense_ms =
          blocked.is_mkldnn() ? TimeCalls([&] { (void)blocked.to_dense(); }, warmup, repeats).p50_ms
                              : 0.0;
      for (const double f : fractions) {
        const MicroCrop crop = Centred(static_cast<int>(shape[2]), static_cast<int>(shape[1]), f);
        for (const int k : channels) {
          torch::jit::Module module = BuildMicroModule(shape, crop, k, 0.2, 7);
          const MicroHead head = MicroHead::FromModule(module, crop, shape, "bench");
          const double loops_ms =
              TimeCalls([&] { (void)head.Forward(dense); }, warmup, repeats).p50_ms;
          const Segment seg = Segment::FromModule(module, dense);
          const double module_ms = TimeForward(seg, blocked, warmup, repeats).p50_ms;
          const std::string crop_s = fmt::format("{}x{}", crop.width(), crop.height());
          std::printf("%5d %9s %4d %9lld %10.4f %10.4f %10.4f %7.1fx %10.1fx %10.1fx\n", layer,
                      crop_s.c_str(), k, static_cast<long long>(head.macs()), loops_ms, module_ms,
                      dense_ms, module_ms / loops_ms, one_stage_ms / loops_ms, head_ms / loops_ms);
          rows.push_back(Json{{"layer", layer},
                              {"map", shape},
                              {"crop", {crop.x0, crop.y0, crop.x1, crop.y1}},
                              {"channels", k},
                              {"macs", head.macs()},
                              {"loops_ms", loops_ms},
                              {"module_ms", module_ms},
                              {"dense_conversion_ms", dense_ms}});
        }
      }
    }
    std::printf(
        "\nloops: MicroHead on the dense map (msrun); module: the same microclassifier as an "
        "optimized TorchScript segment fed the stem's blocked output (msrun before); dense: the "
        "stem output's conversion, once per frame for all microclassifiers at that layer.\n");
    if (!json.empty()) {
      WriteJsonFileAtomic(json,
                          Json{{"machine", machine},
                               {"threads", threads},
                               {"repeats", repeats},
                               {"branch_ms", {{"head_only", head_ms}, {"one_stage", one_stage_ms}}},
                               {"rows", rows}});
    }
    return 0;
  });
}
