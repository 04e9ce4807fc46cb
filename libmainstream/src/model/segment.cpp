#include "mainstream/model/segment.h"

#include <torch/csrc/jit/passes/frozen_conv_add_relu_fusion.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/csrc/jit/passes/frozen_linear_transpose.h>
#include <torch/csrc/jit/passes/frozen_ops_to_mkldnn.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "torch_util.h"

namespace mainstream {

namespace {
// The optimized graph with the layout conversion at its input and/or output
// removed, run by the interpreter directly. null: not applicable.
struct Variants {
  std::shared_ptr<torch::jit::Code> dense;         // the graph as is (no executor overhead)
  std::shared_ptr<torch::jit::Code> in_blocked;    // oneDNN input, dense output
  std::shared_ptr<torch::jit::Code> out_blocked;   // dense input, oneDNN output
  std::shared_ptr<torch::jit::Code> both_blocked;  // oneDNN input and output
};

struct SegmentData {
  int begin = 0;
  int end = 0;
  std::string name;
  FusionReport fusion;
  torch::jit::Module module;
  Variants variants;
};
}  // namespace

struct Segment::Impl : SegmentData {};

namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

bool IsConv(Node* n) {
  static const std::vector<std::string> kinds = {"aten::conv1d", "aten::conv2d", "aten::conv3d",
                                                 "aten::_convolution", "aten::convolution"};
  return std::find(kinds.begin(), kinds.end(), n->kind().toQualString()) != kinds.end();
}

// Counts nodes (in all blocks) whose kind satisfies `pred`.
template <typename Pred>
int CountNodes(torch::jit::Block* block, Pred pred) {
  int count = 0;
  for (Node* n : block->nodes()) {
    if (pred(n)) ++count;
    for (torch::jit::Block* b : n->blocks()) count += CountNodes(b, pred);
  }
  return count;
}

int CountKind(const std::shared_ptr<Graph>& g, const char* kind) {
  return CountNodes(g->block(),
                    [kind](Node* n) { return std::string(n->kind().toQualString()) == kind; });
}

// Output channels of the convolution producing `v`, or -1 if `v` does not
// come straight from a convolution with a constant weight.
int64_t ConvOutputChannels(Value* v) {
  Node* p = v->node();
  if (!IsConv(p) || p->inputs().size() < 2) return -1;
  auto w = torch::jit::toIValue(p->input(1));
  if (!w || !w->isTensor() || w->toTensor().dim() < 1) return -1;
  return w->toTensor().size(0);
}

// Works around a LibTorch 1.13 bug (see segment.h): ConvertFrozenOpsToMKLDNN
// turns hardtanh/relu6/clamp into ops that leave tensors with a channel count
// not divisible by 16 (padded blocked layout) unclamped. Rewrites those
// activations as clamp_min + clamp_max, which the pass leaves in the dense
// layout. Returns the number of activations rewritten.
void CollectNarrowClamps(torch::jit::Block* block, std::vector<Node*>* todo) {
  for (Node* n : block->nodes()) {
    for (torch::jit::Block* b : n->blocks()) CollectNarrowClamps(b, todo);
    const std::string kind = n->kind().toQualString();
    const bool clamp_like = kind == "aten::hardtanh" || kind == "aten::hardtanh_" ||
                            kind == "aten::relu6" || kind == "aten::relu6_" ||
                            kind == "aten::clamp" || kind == "aten::clamp_";
    if (!clamp_like) continue;
    const int64_t channels = ConvOutputChannels(n->input(0));
    if (channels > 0 && channels % 16 == 0) continue;  // unaffected
    todo->push_back(n);
  }
}

int KeepNarrowClampsDense(const std::shared_ptr<Graph>& g) {
  std::vector<Node*> todo;
  CollectNarrowClamps(g->block(), &todo);
  for (Node* n : todo) {
    const std::string kind = n->kind().toQualString();
    torch::jit::WithInsertPoint guard(n);
    Value* x = n->input(0);
    Value* lo = nullptr;
    Value* hi = nullptr;
    if (kind == "aten::relu6" || kind == "aten::relu6_") {
      lo = g->insertConstant(0.0);
      hi = g->insertConstant(6.0);
    } else {
      lo = n->input(1);
      hi = n->input(2);
    }
    Value* y = x;
    if (lo->type()->kind() != c10::TypeKind::NoneType)
      y = g->insert(c10::Symbol::aten("clamp_min"), {y, lo});
    if (hi->type()->kind() != c10::TypeKind::NoneType)
      y = g->insert(c10::Symbol::aten("clamp_max"), {y, hi});
    n->output()->replaceAllUsesWith(y);
    n->destroy();
  }
  return static_cast<int>(todo.size());
}

// The optimization passes of torch::jit::optimize_for_inference (1.13) on an
// already frozen graph, with the workaround above first.
void OptimizeFrozen(const std::shared_ptr<Graph>& g, bool clamp_workaround, FusionReport* report) {
  if (clamp_workaround) report->dense_activations = KeepNarrowClampsDense(g);
  std::shared_ptr<Graph> graph = g;
  torch::jit::FuseFrozenConvAddRelu(graph);
  torch::jit::ConvertFrozenOpsToMKLDNN(graph);
  torch::jit::FrozenLinearTranspose(graph);
}

at::Tensor Run(torch::jit::Module m, const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  return detail::ForwardTensor(m, x);
}

bool IsKind(Node* n, const char* kind) { return std::string(n->kind().toQualString()) == kind; }

// True if an in-place op writes into `x` or an alias of it (the oneDNN pass
// makes ops in place on the copy to_mkldnn made; without that copy they
// would write into the caller's tensor, which other segments may read too).
bool WritesInto(Value* x) {
  std::vector<Value*> work{x};
  while (!work.empty()) {
    Value* v = work.back();
    work.pop_back();
    for (const torch::jit::Use& use : v->uses()) {
      const std::string kind = use.user->kind().toQualString();
      if (!kind.empty() && kind.back() == '_' && use.offset == 0) return true;
      if (kind == "prim::BroadcastMKLDNNTensors") work.push_back(use.user->output(use.offset));
      if (!use.user->blocks().empty()) return true;  // be conservative about control flow
    }
  }
  return false;
}

// A copy of `graph` without the to_mkldnn of its input (strip_in) and/or the
// to_dense of its output (strip_out); null when the graph does not have them
// in that simple form.
std::shared_ptr<torch::jit::Code> StripLayout(const std::shared_ptr<Graph>& graph, bool strip_in,
                                              bool strip_out, const std::string& name) {
  auto g = graph->copy();
  if (strip_in) {
    Value* x = g->inputs()[1];
    if (x->uses().size() != 1 || !IsKind(x->uses()[0].user, "aten::to_mkldnn")) return nullptr;
    Node* conv = x->uses()[0].user;
    Value* replacement = x;
    if (WritesInto(conv->output())) {  // keep a private copy, cheaper than a reorder
      torch::jit::WithInsertPoint guard(conv);
      replacement = g->insert(c10::Symbol::aten("clone"), {x});
    }
    conv->output()->replaceAllUsesWith(replacement);
    conv->destroy();
  }
  if (strip_out) {
    if (g->outputs().size() != 1) return nullptr;
    Value* out = g->outputs()[0];
    Node* d = out->node();
    if (!IsKind(d, "aten::to_dense") || out->uses().size() != 1) return nullptr;
    Value* blocked = d->input(0);
    g->eraseOutput(0);
    g->registerOutput(blocked);
    d->destroy();
  }
  return std::make_shared<torch::jit::Code>(g, name);
}

at::Tensor RunCode(const torch::jit::Code& code, const torch::jit::Module& m, const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  torch::jit::Stack stack{m._ivalue(), x};
  torch::jit::InterpreterState state(code);
  state.run(stack);
  return stack.back().toTensor();
}

// Builds and checks the layout-keeping variants on `probe` (dense).
Variants MakeVariants(const torch::jit::Module& m, const at::Tensor& probe, double tol,
                      const std::string& name) {
  Variants v;
  auto g = m.get_method("forward").graph();
  v.dense = StripLayout(g, false, false, name);
  v.in_blocked = StripLayout(g, true, false, name);
  v.out_blocked = StripLayout(g, false, true, name);
  v.both_blocked = StripLayout(g, true, true, name);
  if (!probe.defined()) return v;
  at::Tensor ref = Run(m, probe);
  auto to_dense = [](const at::Tensor& t) { return t.is_mkldnn() ? t.to_dense() : t; };
  auto ok = [&](const at::Tensor& t) {
    return t.sizes() == ref.sizes() && detail::MaxAbsDiff(t, ref) <= tol;
  };
  at::Tensor blocked_probe = probe.to_mkldnn();
  if (!ok(RunCode(*v.dense, m, probe))) v.dense = nullptr;
  if (v.in_blocked && !ok(RunCode(*v.in_blocked, m, blocked_probe))) v.in_blocked = nullptr;
  if (v.out_blocked && !ok(to_dense(RunCode(*v.out_blocked, m, probe)))) v.out_blocked = nullptr;
  if (v.both_blocked && !ok(to_dense(RunCode(*v.both_blocked, m, blocked_probe))))
    v.both_blocked = nullptr;
  return v;
}

SegmentData Optimize(const torch::jit::Module& module, const at::Tensor& probe,
                     const SegmentOptions& options, const std::string& name) {
  SegmentData data;
  SegmentData* impl = &data;
  impl->name = name;
  torch::jit::Module plain = module;
  if (plain.hasattr("training") && plain.is_training()) {
    plain = module.deepcopy();  // do not switch the caller's module to eval mode
  }
  plain.eval();
  FusionReport& rep = impl->fusion;
  if (!options.optimize) {
    impl->module = plain;
    return data;
  }
  // Freeze without numerical rewrites first, to count what is there, then
  // fold (BatchNorm into convs, ...) as torch::jit::freeze does by default.
  auto freeze = [&](bool optimize_numerics) {
    try {
      return torch::jit::freeze(plain, c10::nullopt, optimize_numerics);
    } catch (const std::exception& e) {
      ThrowInput("{}: cannot be frozen for inference: {}", name, detail::TorchMessage(e));
    }
  };
  torch::jit::Module frozen = freeze(false);
  auto g = frozen.get_method("forward").graph();
  rep.frozen = true;
  rep.convs = CountNodes(g->block(), IsConv);
  const int bn_before = CountKind(g, "aten::batch_norm");
  torch::jit::OptimizeFrozenGraph(g, /*optimize_numerics=*/true);
  rep.batch_norms_left = CountKind(g, "aten::batch_norm");
  rep.batch_norms_folded = bn_before - rep.batch_norms_left;
  if (options.mkldnn && at::hasMKLDNN()) {
    OptimizeFrozen(g, options.clamp_workaround, &rep);
    rep.mkldnn_convs = CountKind(g, "prim::mkldnn_convolution");
    rep.layout_conversions = CountKind(g, "aten::to_mkldnn") + CountKind(g, "aten::to_dense");
  }
  impl->module = frozen;
  if (!options.verify) {
    impl->variants = MakeVariants(impl->module, at::Tensor(), 0, name);
    return data;
  }

  at::Tensor ref = Run(plain, probe);
  if (!detail::AllFinite(ref)) ThrowInput("{}: outputs NaN or Inf on a probe batch", name);
  const double tol = options.tolerance * std::max(1.0, detail::MaxAbs(ref));
  auto check = [&](const torch::jit::Module& m) {
    at::Tensor out = Run(m, probe);
    return out.sizes() == ref.sizes() ? detail::MaxAbsDiff(out, ref) : INFINITY;
  };
  rep.verify_max_diff = check(impl->module);
  if (rep.verify_max_diff <= tol) {
    impl->variants = MakeVariants(impl->module, probe, tol, name);
    return data;
  }
  if (rep.mkldnn_convs + rep.layout_conversions > 0) {
    LogWarn(
        "{}: the oneDNN-optimized graph differs from the plain stages by {:.3g}; using the frozen "
        "graph "
        "without oneDNN layouts (slower)",
        name, rep.verify_max_diff);
    rep.fell_back = true;
    rep.note = fmt::format("oneDNN graph differed by {:.3g}", rep.verify_max_diff);
    rep.mkldnn_convs = rep.layout_conversions = rep.dense_activations = 0;
    impl->module = freeze(true);
    rep.verify_max_diff = check(impl->module);
    if (rep.verify_max_diff <= tol) return data;
  }
  ThrowRuntime("{}: the frozen graph differs from the plain stages by {:.3g} (tolerance {:.3g})",
               name, rep.verify_max_diff, tol);
}

}  // namespace

Json FusionReport::ToJson() const {
  return Json{{"frozen", frozen},
              {"convs", convs},
              {"batch_norms_folded", batch_norms_folded},
              {"batch_norms_left", batch_norms_left},
              {"mkldnn_convs", mkldnn_convs},
              {"layout_conversions", layout_conversions},
              {"dense_activations", dense_activations},
              {"fell_back", fell_back},
              {"verify_max_diff", verify_max_diff},
              {"note", note}};
}

std::string FusionReport::ToString() const {
  if (!frozen) return "not optimized";
  std::string s =
      fmt::format("{}/{} convs on oneDNN, {} batch norms folded ({} left), {} layout conversions",
                  mkldnn_convs, convs, batch_norms_folded, batch_norms_left, layout_conversions);
  if (dense_activations) s += fmt::format(", {} clamps kept dense", dense_activations);
  if (fell_back) s += " (fell back: " + note + ")";
  return s;
}

torch::jit::Module ChainStages(const BaseModel& base, int begin, int end) {
  MS_CHECK(0 <= begin && begin < end && end <= base.num_stages(),
           "{}: stage range [{}, {}) outside [0, {}]", base.origin(), begin, end,
           base.num_stages());
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module w = detail::NewModule("Segment", cu);
  std::vector<std::string> names;
  for (int k = begin; k < end; ++k) {
    names.push_back(base.info().stages[static_cast<size_t>(k)].name);
    w.register_module(names.back(), base.stage(k));
  }
  w.define(detail::ChainSource(names));
  return w;
}

Segment Segment::Build(const BaseModel& base, int begin, int end, const SegmentOptions& options) {
  torch::jit::Module chain = ChainStages(base, begin, end);
  const auto& st = base.info().stages;
  std::string name =
      fmt::format("{}: stages [{}, {}) {}..{}", base.info().name, begin, end,
                  st[static_cast<size_t>(begin)].name, st[static_cast<size_t>(end - 1)].name);
  at::Tensor probe;
  if (options.optimize && options.verify) {
    probe =
        base.RunStages(base.DummyInput(std::max(1, options.verify_batch), options.seed), 0, begin);
  }
  auto impl = std::make_shared<Impl>();
  static_cast<SegmentData&>(*impl) = Optimize(chain, probe, options, name);
  impl->begin = begin;
  impl->end = end;
  Segment s;
  s.impl_ = std::move(impl);
  return s;
}

Segment Segment::FromModule(const torch::jit::Module& module, const at::Tensor& probe,
                            const SegmentOptions& options, const std::string& name) {
  auto impl = std::make_shared<Impl>();
  static_cast<SegmentData&>(*impl) = Optimize(module, probe, options, name);
  Segment s;
  s.impl_ = std::move(impl);
  return s;
}

at::Tensor Segment::Forward(const at::Tensor& x) const {
  if (x.is_mkldnn()) {
    if (impl_->variants.in_blocked) return RunCode(*impl_->variants.in_blocked, impl_->module, x);
    return Forward(x.to_dense());
  }
  if (impl_->variants.dense) return RunCode(*impl_->variants.dense, impl_->module, x);
  return Run(impl_->module, x);
}

at::Tensor Segment::ForwardKeepLayout(const at::Tensor& x) const {
  const Variants& v = impl_->variants;
  if (x.is_mkldnn()) {
    if (v.both_blocked) return RunCode(*v.both_blocked, impl_->module, x);
    return Forward(x);
  }
  if (v.out_blocked) return RunCode(*v.out_blocked, impl_->module, x);
  return Forward(x);
}

bool Segment::TakesBlockedInput() const { return impl_->variants.in_blocked != nullptr; }
bool Segment::ReturnsBlockedOutput() const { return impl_->variants.out_blocked != nullptr; }

std::vector<at::Tensor> Segment::ForwardBatch(const std::vector<at::Tensor>& inputs) const {
  if (inputs.empty()) return {};
  if (inputs.size() == 1) return {Forward(inputs[0])};
  std::vector<int64_t> sizes;
  for (const auto& t : inputs) sizes.push_back(t.size(0));
  at::Tensor out = Forward(at::cat(inputs, 0));
  auto parts = out.split_with_sizes(sizes, 0);
  return std::vector<at::Tensor>(parts.begin(), parts.end());
}

int Segment::begin() const { return impl_->begin; }
int Segment::end() const { return impl_->end; }
const std::string& Segment::name() const { return impl_->name; }
const FusionReport& Segment::fusion() const { return impl_->fusion; }
torch::jit::Module Segment::module() const { return impl_->module; }

std::string Segment::GraphString() const {
  torch::jit::Module m = impl_->module;
  return m.get_method("forward").graph()->toString();
}

Json LatencyStats::ToJson() const {
  return Json{{"p50_ms", p50_ms},           {"p95_ms", p95_ms}, {"mean_ms", mean_ms},
              {"mean_w95_ms", mean_w95_ms}, {"min_ms", min_ms}, {"samples", samples}};
}

LatencyStats SummarizeLatency(std::vector<double> samples_ms) {
  LatencyStats s;
  s.samples = static_cast<int>(samples_ms.size());
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  auto pct = [&](double q) {
    double pos = q * static_cast<double>(samples_ms.size() - 1);
    size_t lo = static_cast<size_t>(std::floor(pos));
    size_t hi = std::min(lo + 1, samples_ms.size() - 1);
    return samples_ms[lo] + (pos - static_cast<double>(lo)) * (samples_ms[hi] - samples_ms[lo]);
  };
  s.p50_ms = pct(0.5);
  s.p95_ms = pct(0.95);
  s.min_ms = samples_ms.front();
  double sum = 0, clipped = 0;
  for (double v : samples_ms) {
    sum += v;
    clipped += std::min(v, s.p95_ms);
  }
  s.mean_ms = sum / static_cast<double>(samples_ms.size());
  s.mean_w95_ms = clipped / static_cast<double>(samples_ms.size());
  return s;
}

LatencyStats TimeForward(const Segment& segment, const at::Tensor& x, int warmup, int repeats,
                         bool keep_layout) {
  return TimeCalls([&] { keep_layout ? segment.ForwardKeepLayout(x) : segment.Forward(x); }, warmup,
                   repeats);
}

LatencyStats TimeCalls(const std::function<void()>& call, int warmup, int repeats) {
  for (int i = 0; i < warmup; ++i) call();
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(std::max(0, repeats)));
  for (int i = 0; i < repeats; ++i) {
    double t0 = NowSeconds();
    call();
    samples.push_back((NowSeconds() - t0) * 1e3);
  }
  return SummarizeLatency(std::move(samples));
}

}  // namespace mainstream
