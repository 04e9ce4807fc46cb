// Forward declarations of the two LibTorch types the model headers mention,
// so that code which only passes them along (tools, the scheduler side, other
// modules' headers) does not pay ~35 s per file for LibTorch's headers.
// Code that calls methods on them includes <torch/script.h> itself.
#pragma once

namespace at {
class Tensor;
}  // namespace at

namespace torch::jit {
struct Module;
}  // namespace torch::jit
