#include "mainstream/model/default_base.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/model/base_model.h"
#include "torch_util.h"

namespace mainstream {
namespace {

using torch::jit::Module;

// MobileNetV2's channel rounding: a multiple of 8, at least 8, never below
// 90% of the unrounded value.
int MakeDivisible(double v, int divisor = 8) {
  int out = std::max(divisor, static_cast<int>(v + divisor / 2.0) / divisor * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

class Builder {
 public:
  explicit Builder(uint64_t seed)
      : cu_(std::make_shared<torch::jit::CompilationUnit>()),
        gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

  // conv k x k (no bias) + BatchNorm (+ ReLU6), as torchvision's Conv2dNormActivation.
  Module ConvBN(int in, int out, int k, int stride, int groups, bool relu6) {
    Module m = detail::NewModule("ConvBN", cu_, true);
    // Kaiming normal, fan_out mode (torchvision's MobileNetV2 init).
    const double std = std::sqrt(2.0 / (static_cast<double>(out) * k * k));
    m.register_parameter("weight", Param(at::randn({out, in / groups, k, k}, gen_) * std), false);
    m.register_parameter("bn_weight", Param(at::ones({out})), false);
    m.register_parameter("bn_bias", Param(at::zeros({out})), false);
    m.register_buffer("running_mean", at::zeros({out}));
    m.register_buffer("running_var", at::ones({out}));
    const int pad = (k - 1) / 2;
    std::string src = fmt::format(
        "def forward(self, x):\n"
        "    x = torch.conv2d(x, self.weight, None, [{0}, {0}], [{1}, {1}], [1, 1], {2})\n"
        "    x = torch.batch_norm(x, self.bn_weight, self.bn_bias, self.running_mean, "
        "self.running_var,\n"
        "                         self.training, 0.1, 1e-05, True)\n",
        stride, pad, groups);
    src += relu6 ? "    return torch.hardtanh(x, 0.0, 6.0)\n" : "    return x\n";
    m.define(src);
    return m;
  }

  // MobileNetV2's inverted residual: expand 1x1 (t != 1), depthwise 3x3,
  // project 1x1 (linear), residual when shapes allow.
  Module InvertedResidual(int in, int out, int stride, int t) {
    Module m = detail::NewModule("InvertedResidual", cu_, true);
    const int hidden = in * t;
    std::string src = "def forward(self, x):\n";
    std::string y = "x";
    if (t != 1) {
      m.register_module("expand", ConvBN(in, hidden, 1, 1, 1, true));
      src += "    y = self.expand.forward(x)\n";
      y = "y";
    }
    m.register_module("dw", ConvBN(hidden, hidden, 3, stride, hidden, true));
    m.register_module("project", ConvBN(hidden, out, 1, 1, 1, false));
    src += "    y = self.dw.forward(" + y + ")\n";
    src += "    y = self.project.forward(y)\n";
    src += (stride == 1 && in == out) ? "    return x + y\n" : "    return y\n";
    m.define(src);
    return m;
  }

  // A module chaining `children` (named b0, b1, ... unless named).
  Module Sequence(const std::vector<std::pair<std::string, Module>>& children) {
    Module m = detail::NewModule("Sequence", cu_, true);
    std::vector<std::string> names;
    for (const auto& [name, child] : children) {
      m.register_module(name, child);
      names.push_back(name);
    }
    m.define(detail::ChainSource(names));
    return m;
  }

  Module Head(int in, int classes, double dropout) {
    Module m = detail::NewModule("Head", cu_, true);
    // torchvision: Linear weight ~ N(0, 0.01), bias 0.
    m.register_parameter("weight", Param(at::randn({classes, in}, gen_) * 0.01), false);
    m.register_parameter("bias", Param(at::zeros({classes})), false);
    m.define(
        fmt::format("def forward(self, x):\n"
                    "    x = torch.mean(x, [2, 3])\n"
                    "    x = torch.dropout(x, {:.6f}, self.training)\n"
                    "    return torch.linear(x, self.weight, self.bias)\n",
                    dropout));
    return m;
  }

  Module NewTop() { return detail::NewModule("MsNet", cu_, true); }

 private:
  static at::Tensor Param(at::Tensor t) { return t.contiguous().set_requires_grad(true); }

  std::shared_ptr<torch::jit::CompilationUnit> cu_;
  at::Generator gen_;
};

}  // namespace

void DefaultBaseOptions::Validate() const {
  MS_CHECK(!name.empty(), "default base: name must not be empty");
  MS_CHECK(width >= 16 && width <= 4096 && height >= 16 && height <= 4096,
           "default base: input size {}x{} outside [16, 4096]", width, height);
  MS_CHECK(width_mult > 0 && width_mult <= 4, "default base: width_mult {} outside (0, 4]",
           width_mult);
  MS_CHECK(last_channel >= 8 && last_channel <= 8192,
           "default base: last_channel {} outside [8, 8192]", last_channel);
  MS_CHECK(num_classes >= 1, "default base: num_classes must be >= 1, got {}", num_classes);
  MS_CHECK(class_names.empty() || class_names.size() == static_cast<size_t>(num_classes),
           "default base: {} class names for {} classes", class_names.size(), num_classes);
  MS_CHECK(dropout >= 0 && dropout < 1, "default base: dropout {} outside [0, 1)", dropout);
}

Json DefaultBaseOptions::ToJson() const {
  return Json{{"name", name},
              {"width", width},
              {"height", height},
              {"width_mult", width_mult},
              {"last_channel", last_channel},
              {"num_classes", num_classes},
              {"dropout", dropout},
              {"seed", seed}};
}

std::string DefaultBaseOptions::ToString() const {
  return fmt::format(
      "{}: MobileNetV2-style, width {}, input {}x{}, last channel {}, {} classes, seed {}", name,
      width_mult, width, height, last_channel, num_classes, seed);
}

BaseInfo BuildDefaultBase(const DefaultBaseOptions& options, torch::jit::Module* out) {
  options.Validate();
  Builder b(options.seed);
  const double a = options.width_mult;
  // MobileNetV2's inverted residual settings: expansion t, channels c, repeats n, stride s.
  struct Setting {
    int t, c, n, s;
  };
  const Setting settings[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  const char* stage_names[] = {"stem", "block2", "block3", "block4", "block5", "block6", "block7"};

  BaseInfo info;
  info.name = options.name;
  info.description = options.ToString();
  info.input.width = options.width;
  info.input.height = options.height;
  info.num_classes = options.num_classes;
  info.class_names = options.class_names;
  info.source = Json{{"tool", "mainstream::CreateDefaultBase"},
                     {"architecture", "mobilenet_v2"},
                     {"weights", "random"},
                     {"options", options.ToJson()}};

  Module top = b.NewTop();
  std::vector<std::string> top_names;
  int in = MakeDivisible(32 * a);
  int feature = 1;  // torchvision's features.N index, for "covers"
  for (size_t i = 0; i < std::size(settings); ++i) {
    std::vector<std::pair<std::string, Module>> children;
    StageInfo st;
    st.name = stage_names[i];
    if (i == 0) {
      children.emplace_back("conv", b.ConvBN(3, in, 3, 2, 1, true));
      st.covers.push_back("features.0");
    }
    const Setting& s = settings[i];
    const int c = MakeDivisible(s.c * a);
    for (int r = 0; r < s.n; ++r) {
      children.emplace_back("b" + std::to_string(r),
                            b.InvertedResidual(in, c, r == 0 ? s.s : 1, s.t));
      st.covers.push_back("features." + std::to_string(feature++));
      in = c;
    }
    if (i + 1 == std::size(settings)) {
      const int last = MakeDivisible(options.last_channel * std::max(1.0, a));
      children.emplace_back("conv", b.ConvBN(in, last, 1, 1, 1, true));
      st.covers.push_back("features." + std::to_string(feature++));
      in = last;
    }
    top.register_module(st.name, b.Sequence(children));
    top_names.push_back(st.name);
    info.stages.push_back(std::move(st));
  }
  top.register_module("head", b.Head(in, options.num_classes, options.dropout));
  top_names.push_back("head");
  info.stages.push_back(StageInfo{"head", {"classifier"}, {}});
  top.define(detail::ChainSource(top_names));
  *out = top;
  return info;
}

BaseInfo CreateDefaultBase(const std::filesystem::path& dir, const DefaultBaseOptions& options) {
  Module m;
  BaseInfo info = BuildDefaultBase(options, &m);
  return SaveBase(m, std::move(info), dir);
}

}  // namespace mainstream
