#include "torch_util.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"

namespace mainstream::detail {

std::string TorchMessage(const std::exception& e) {
  std::string msg;
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) {
    msg = c->what_without_backtrace();
  } else {
    msg = e.what();
  }
  // TorchScript interpreter errors end with the original "RuntimeError: ...".
  for (const char* tag : {"RuntimeError: ", "ValueError: ", "AssertionError: ", "TypeError: "}) {
    auto pos = msg.rfind(tag);
    if (pos != std::string::npos) {
      msg = msg.substr(pos);
      break;
    }
  }
  auto nl = msg.find('\n');
  std::string line = msg.substr(0, nl);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.empty() && nl != std::string::npos)
    return TorchMessage(std::runtime_error(msg.substr(nl + 1)));
  if (line.size() > 400) line = line.substr(0, 397) + "...";
  return line;
}

std::vector<int64_t> ToVector(at::IntArrayRef sizes) {
  return std::vector<int64_t>(sizes.begin(), sizes.end());
}

std::vector<int64_t> FrameShape(const at::Tensor& t) {
  auto s = ToVector(t.sizes());
  if (!s.empty()) s.erase(s.begin());
  return s;
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

double MaxAbs(const at::Tensor& t) { return t.numel() ? t.abs().max().item<double>() : 0.0; }

bool AllFinite(const at::Tensor& t) { return t.numel() == 0 || t.isfinite().all().item<bool>(); }

at::Tensor RandomTensor(const std::vector<int64_t>& shape, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat));
}

torch::jit::Module NewModule(const std::string& name,
                             const std::shared_ptr<torch::jit::CompilationUnit>& cu,
                             bool training) {
  torch::jit::Module m(c10::QualifiedName("__torch__.mainstream." + name), cu,
                       /*shouldMangle=*/true);
  m.register_attribute("training", c10::BoolType::get(), training);
  return m;
}

at::Tensor ForwardTensor(torch::jit::Module& module, const at::Tensor& x) {
  c10::IValue out = module.forward({x});
  if (!out.isTensor()) ThrowInput("forward() returned {}, not a single tensor", out.tagKind());
  return out.toTensor();
}

std::string ChainSource(const std::vector<std::string>& children) {
  std::string src = "def forward(self, x):\n";
  for (const auto& c : children) src += "    x = self." + c + ".forward(x)\n";
  return src + "    return x\n";
}

}  // namespace mainstream::detail
