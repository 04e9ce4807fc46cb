#include "mainstream/model/base_model.h"

#include <torch/script.h>

#include <sstream>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/sha256.h"
#include "torch_util.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {
struct LoadedBase {
  BaseInfo info;
  fs::path dir;
  std::string origin;    // the model file, for messages
  std::string manifest;  // base.json, for messages
  torch::jit::Module module;
  std::vector<torch::jit::Module> stages;
};
}  // namespace

struct BaseModel::Impl : LoadedBase {};

namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return "[" + s + "]";
}

// Checks `impl.module` against `impl.info` (see the header); fills in the
// stage output shapes when `fill_shapes`.
void Validate(LoadedBase& impl, const LoadOptions& options, bool fill_shapes) {
  torch::jit::Module& m = impl.module;
  m.eval();
  std::vector<std::string> children;
  impl.stages.clear();
  for (const auto& child : m.named_children()) {
    children.push_back(child.name);
    impl.stages.push_back(child.value);
  }
  if (children != impl.info.stage_names()) {
    ThrowInput("{}: $.stages lists {} but the top-level children of {} are {}", impl.manifest,
               Join(impl.info.stage_names()), impl.origin, Join(children));
  }
  if (!m.find_method("forward")) ThrowInput("{}: the module has no forward() method", impl.origin);
  if (!options.check_chain) return;

  torch::NoGradGuard no_grad;
  const auto& in = impl.info.input;
  at::Tensor x0 = detail::RandomTensor({1, in.channels, in.height, in.width}, options.seed);
  at::Tensor x = x0;
  for (size_t k = 0; k < impl.stages.size(); ++k) {
    StageInfo& st = impl.info.stages[k];
    const std::string from =
        k == 0 ? fmt::format("the input frame {}", ShapeToString(detail::FrameShape(x)))
               : fmt::format("stage {} '{}' (shape {})", k - 1, impl.info.stages[k - 1].name,
                             ShapeToString(detail::FrameShape(x)));
    at::Tensor y;
    try {
      y = detail::ForwardTensor(impl.stages[k], x);
    } catch (const Error& e) {
      ThrowInput("{}: stage {} '{}': {}", impl.origin, k, st.name, e.what());
    } catch (const std::exception& e) {
      ThrowInput("{}: stage {} '{}' does not accept the output of {}: {}", impl.origin, k, st.name,
                 from, detail::TorchMessage(e));
    }
    if (y.dim() < 1 || y.size(0) != 1) {
      ThrowInput("{}: stage {} '{}' changed the batch dimension (output shape {})", impl.origin, k,
                 st.name, ShapeToString(detail::ToVector(y.sizes())));
    }
    if (!detail::AllFinite(y)) {
      ThrowInput("{}: stage {} '{}' outputs NaN or Inf on a dummy frame (from {})", impl.origin, k,
                 st.name, from);
    }
    auto shape = detail::FrameShape(y);
    if (fill_shapes || st.output_shape.empty()) {
      st.output_shape = shape;
    } else if (shape != st.output_shape) {
      ThrowInput("{}: $.stages[{}].output_shape is {} but stage '{}' of {} outputs {} per frame",
                 impl.manifest, k, ShapeToString(st.output_shape), st.name, impl.origin,
                 ShapeToString(shape));
    }
    x = y;
  }
  const auto& last = impl.info.stages.back().output_shape;
  if (last.size() != 1 || last[0] != impl.info.num_classes) {
    ThrowInput("{}: $.num_classes is {} but the last stage of {} outputs {} per frame",
               impl.manifest, impl.info.num_classes, impl.origin, ShapeToString(last));
  }
  at::Tensor whole;
  try {
    whole = detail::ForwardTensor(m, x0);
  } catch (const std::exception& e) {
    ThrowInput("{}: forward() fails on a dummy frame: {}", impl.origin, detail::TorchMessage(e));
  }
  double diff = whole.sizes() == x.sizes() ? detail::MaxAbsDiff(whole, x) : -1;
  if (diff < 0 || diff > 1e-4 * std::max(1.0, detail::MaxAbs(x))) {
    ThrowInput(
        "{}: forward() is not the chain of its top-level children {}: {}", impl.origin,
        Join(children),
        diff < 0 ? "the output shapes differ" : fmt::format("the outputs differ by {:.3g}", diff));
  }
}

}  // namespace

BaseModel BaseModel::Load(const fs::path& dir, const LoadOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->info = ReadBaseInfo(dir);
  impl->dir = dir;
  impl->manifest = (dir / kBaseManifest).string();
  fs::path file = dir / impl->info.model_file;
  impl->origin = file.string();
  if (!fs::exists(file)) ThrowInput("{}: missing (named by {})", file.string(), impl->manifest);
  if (options.check_hash) {
    std::string actual = Sha256File(file);
    if (actual != impl->info.sha256) {
      ThrowInput(
          "{}: $.sha256 is {}... but {} hashes to {}...: the model changed after base.json was "
          "written",
          impl->manifest, impl->info.sha256.substr(0, 12), file.string(), actual.substr(0, 12));
    }
  }
  impl->module = LoadModule(file);
  Validate(*impl, options, /*fill_shapes=*/false);
  BaseModel b;
  b.impl_ = std::move(impl);
  return b;
}

BaseModel BaseModel::FromModule(const torch::jit::Module& chain, BaseInfo info,
                                const std::string& origin, const LoadOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->info = std::move(info);
  impl->origin = origin;
  impl->manifest = origin + " (manifest)";
  impl->module = chain;
  Validate(*impl, options, /*fill_shapes=*/false);
  BaseModel b;
  b.impl_ = std::move(impl);
  return b;
}

const BaseInfo& BaseModel::info() const { return impl_->info; }
int BaseModel::num_stages() const { return impl_->info.num_stages(); }
BaseRef BaseModel::ref() const { return impl_->info.ref(); }
const fs::path& BaseModel::dir() const { return impl_->dir; }
const std::string& BaseModel::origin() const { return impl_->origin; }
torch::jit::Module BaseModel::module() const { return impl_->module; }

torch::jit::Module BaseModel::stage(int k) const {
  MS_CHECK(k >= 0 && k < num_stages(), "{}: stage {} outside [0, {})", impl_->origin, k,
           num_stages());
  return impl_->stages[static_cast<size_t>(k)];
}

at::Tensor BaseModel::DummyInput(int batch, uint64_t seed) const {
  const auto& in = impl_->info.input;
  return detail::RandomTensor({batch, in.channels, in.height, in.width}, seed);
}

at::Tensor BaseModel::RunStages(const at::Tensor& x, int begin, int end) const {
  MS_CHECK(0 <= begin && begin <= end && end <= num_stages(),
           "{}: stage range [{}, {}) outside [0, {}]", impl_->origin, begin, end, num_stages());
  torch::NoGradGuard no_grad;
  at::Tensor y = x;
  for (int k = begin; k < end; ++k) {
    torch::jit::Module s = impl_->stages[static_cast<size_t>(k)];
    y = detail::ForwardTensor(s, y);
  }
  return y;
}

BaseInfo SaveBase(const torch::jit::Module& chain, BaseInfo info, const fs::path& dir) {
  torch::jit::Module m = chain;
  const bool was_training = m.is_training();
  LoadedBase impl;
  impl.info = std::move(info);
  impl.module = m;
  impl.origin = (dir / impl.info.model_file).string();
  impl.manifest = (dir / kBaseManifest).string();
  impl.info.sha256 = std::string(64, '0');
  Validate(impl, LoadOptions{}, /*fill_shapes=*/true);

  fs::path staging = StagingPath(dir);
  try {
    fs::create_directories(staging);
    SaveModule(m, staging / impl.info.model_file);
    impl.info.sha256 = Sha256File(staging / impl.info.model_file);
    WriteBaseInfo(impl.info, staging);
    BaseModel::Load(staging);  // the saved files load and check like any base
    ReplaceDirectory(staging, dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    if (was_training) m.train();
    throw;
  }
  if (was_training) m.train();
  LogInfo("wrote base '{}' ({} stages) to {}", impl.info.name, impl.info.num_stages(),
          dir.string());
  return impl.info;
}

void SaveModule(const torch::jit::Module& module, const fs::path& file) {
  // Serialize to memory first: LibTorch's zip writer throws from its
  // destructor when the stream fails (a full disk), which terminates the
  // process; a memory stream cannot fail, and the file is then written by
  // AtomicFileWriter, whose failure is an ordinary error that leaves no
  // temporary file and the previous file intact.
  std::ostringstream bytes(std::ios::binary);
  try {
    module.save(bytes);
  } catch (const c10::Error& e) {
    ThrowRuntime("{}: cannot serialize the module: {}", file.string(), detail::TorchMessage(e));
  }
  const std::string data = std::move(bytes).str();
  WriteFileAtomic(file, data);
}

torch::jit::Module LoadModule(const fs::path& file) {
  if (!fs::exists(file)) ThrowInput("{}: no such file", file.string());
  if (!fs::is_regular_file(file)) ThrowInput("{}: not a file", file.string());
  try {
    return torch::jit::load(file.string());
  } catch (const std::exception& e) {
    ThrowInput(
        "{}: cannot load as TorchScript (corrupt, truncated, or not written by torch.jit.save): {}",
        file.string(), detail::TorchMessage(e));
  }
}

}  // namespace mainstream
