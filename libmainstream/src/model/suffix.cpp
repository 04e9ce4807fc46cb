#include "mainstream/model/suffix.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include "mainstream/core/error.h"
#include "torch_util.h"

namespace mainstream {

void SuffixOptions::Validate() const {
  MS_CHECK(num_outputs >= 1 && num_outputs <= 1 << 20, "suffix: num_outputs {} outside [1, 2^20]",
           num_outputs);
  MS_CHECK(dropout >= 0 && dropout < 1, "suffix: dropout {} outside [0, 1)", dropout);
}

Json SuffixOptions::ToJson() const {
  return Json{{"num_outputs", num_outputs}, {"dropout", dropout}, {"seed", seed}};
}

torch::jit::Module BuildHead(const std::vector<int64_t>& in_shape, const SuffixOptions& options) {
  options.Validate();
  MS_CHECK(in_shape.size() == 3 || in_shape.size() == 1,
           "a head takes a feature map [C, H, W] or a vector [C] per frame, got {}",
           ShapeToString(in_shape));
  const int64_t in = in_shape[0];
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module m = detail::NewModule("AppHead", cu);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  m.register_parameter(
      "weight", (at::randn({options.num_outputs, in}, gen) * 0.01).set_requires_grad(true), false);
  m.register_parameter("bias", at::zeros({options.num_outputs}).set_requires_grad(true), false);
  std::string src = "def forward(self, x):\n";
  if (in_shape.size() == 3) src += "    x = torch.mean(x, [2, 3])\n";
  src += fmt::format("    x = torch.dropout(x, {:.6f}, self.training)\n", options.dropout);
  src += "    return torch.linear(x, self.weight, self.bias)\n";
  m.define(src);
  return m;
}

torch::jit::Module BuildSuffix(const BaseModel& base, int branchpoint,
                               const SuffixOptions& options) {
  const int n = base.num_stages();
  MS_CHECK(branchpoint >= 0 && branchpoint < n, "{}: branchpoint {} outside [0, {})", base.origin(),
           branchpoint, n);
  const BaseInfo& info = base.info();
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module m = detail::NewModule("Suffix", cu);
  std::vector<std::string> names;
  {
    torch::NoGradGuard no_grad;  // copies are leaves, not outputs of a clone
    for (int k = branchpoint; k < n - 1; ++k) {
      names.push_back(info.stages[static_cast<size_t>(k)].name);
      m.register_module(names.back(), base.stage(k).deepcopy());
    }
  }
  const std::string head =
      info.FindStage("head") >= branchpoint && info.FindStage("head") < n - 1 ? "app_head" : "head";
  m.register_module(head, BuildHead(info.ShapeAt(n - 1), options));
  names.push_back(head);
  m.define(detail::ChainSource(names));
  for (at::Tensor p : m.parameters()) p.set_requires_grad(true);
  m.eval();
  return m;
}

at::Tensor EventScores(const at::Tensor& logits) {
  return torch::softmax(logits, 1).select(1, 1).contiguous();
}

}  // namespace mainstream
