// A loaded, validated base DNN: its TorchScript chain of stages and base.json.
//
//   BaseModel base = BaseModel::Load("bases/msnet-s");
//   Segment stem = Segment::Build(base, 0, 4);     // segment.h
//   at::Tensor x = base.DummyInput(8);
//
// Loading checks everything a later step would otherwise trip over, and
// names the file and the problem: base.json fields, the model.pt hash, that
// the module loads, that its top-level children are the stages listed in
// base.json, that a dummy frame flows through the stages with the recorded
// shapes and finite values, and that forward() equals running the stages in
// order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "mainstream/model/base_info.h"
#include "mainstream/model/torch_fwd.h"

namespace mainstream {

struct LoadOptions {
  bool check_hash = true;   // model.pt must match base.json's sha256
  bool check_chain = true;  // run a dummy frame through the stages and forward()
  uint64_t seed = 1;        // of the dummy frame
};

class BaseModel {
 public:
  // Loads <dir>/base.json and its model file. Throws InputError naming the
  // file and what is wrong.
  static BaseModel Load(const std::filesystem::path& dir, const LoadOptions& options = {});
  // An in-memory chain with its manifest (origin names it in messages);
  // validated like Load except for the hash; stage output shapes missing
  // from the manifest are filled in. The BaseModel shares `chain` and puts
  // it in eval mode.
  static BaseModel FromModule(const torch::jit::Module& chain, BaseInfo info,
                              const std::string& origin, const LoadOptions& options = {});

  const BaseInfo& info() const;
  int num_stages() const;
  BaseRef ref() const;
  const std::filesystem::path& dir() const;  // empty for FromModule
  const std::string& origin() const;         // e.g. "bases/msnet-s/model.pt"

  // The module in eval mode (a handle: copies share parameters).
  torch::jit::Module module() const;
  // Stage k (0 <= k < num_stages), a handle into module().
  torch::jit::Module stage(int k) const;

  // A deterministic random batch shaped like normalized frames: [batch, C, H, W].
  at::Tensor DummyInput(int batch, uint64_t seed = 1) const;
  // Runs stages [begin, end) of the plain (unoptimized) module without autograd.
  at::Tensor RunStages(const at::Tensor& x, int begin, int end) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// Writes `chain` and its manifest as a base directory: model.pt, then
// base.json with the sha256 and each stage's output shape filled in from a
// dummy frame. The chain is checked as by Load first; the directory appears
// complete or not at all (an existing one is replaced). Returns the manifest.
BaseInfo SaveBase(const torch::jit::Module& chain, BaseInfo info, const std::filesystem::path& dir);

// Saves any module to `file` atomically (temp file + rename).
void SaveModule(const torch::jit::Module& module, const std::filesystem::path& file);
// Loads a TorchScript file; InputError naming the file when missing or corrupt.
torch::jit::Module LoadModule(const std::filesystem::path& file);

}  // namespace mainstream
