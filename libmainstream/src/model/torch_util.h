// Private helpers shared by the model module's LibTorch code.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace mainstream::detail {

// The useful line of a LibTorch exception: c10::Error messages carry a C++
// backtrace and TorchScript tracebacks; keep the final "Error: ..." line.
std::string TorchMessage(const std::exception& e);

// Shape without the batch dimension.
std::vector<int64_t> FrameShape(const at::Tensor& t);
std::vector<int64_t> ToVector(at::IntArrayRef sizes);

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b);
double MaxAbs(const at::Tensor& t);
bool AllFinite(const at::Tensor& t);

// Standard-normal tensor from its own generator (does not touch the global seed).
at::Tensor RandomTensor(const std::vector<int64_t>& shape, uint64_t seed);

// A new module type in `cu` (name mangled if taken) with the `training`
// attribute every module needs for train()/eval().
torch::jit::Module NewModule(const std::string& name,
                             const std::shared_ptr<torch::jit::CompilationUnit>& cu,
                             bool training = false);

// Runs module.forward(x) and requires a tensor result.
at::Tensor ForwardTensor(torch::jit::Module& module, const at::Tensor& x);

// "def forward(self, x):\n    x = self.a.forward(x)\n ... return x\n"
std::string ChainSource(const std::vector<std::string>& children);

}  // namespace mainstream::detail
