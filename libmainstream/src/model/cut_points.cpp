#include "mainstream/model/cut_points.h"

#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <functional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/model/base_model.h"
#include "torch_util.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Module;
using torch::jit::Node;
using torch::jit::Value;

struct Cut {
  int op_index = 0;  // among non-constant ops
  size_t pos = 0;    // position among all top-level nodes
  Value* value = nullptr;
};

// The frozen, inlined model and its cut points.
struct Analysis {
  std::string origin;
  Module original;  // eval mode, for reference outputs
  Module frozen;
  std::shared_ptr<Graph> graph;
  std::vector<Node*> nodes;            // top-level nodes in order
  std::unordered_set<Node*> constant;  // nodes computable from constants alone
  int num_ops = 0;
  std::vector<Cut> cuts;
};

bool IsTensor(const Value* v) { return v->type()->isSubtypeOf(*c10::TensorType::get()); }

// Values a node reads, including those read inside its sub-blocks.
void FreeInputs(Node* n, const std::unordered_set<Value*>& defined_inside,
                std::vector<Value*>* out) {
  for (Value* v : n->inputs()) {
    if (!defined_inside.count(v)) out->push_back(v);
  }
  for (Block* b : n->blocks()) {
    std::unordered_set<Value*> inner = defined_inside;
    for (Value* p : b->inputs()) inner.insert(p);
    for (Node* m : b->nodes()) {
      FreeInputs(m, inner, out);
      for (Value* o : m->outputs()) inner.insert(o);
    }
    for (Value* r : b->outputs()) {
      if (!inner.count(r)) out->push_back(r);
    }
  }
}

std::vector<Value*> FreeInputs(Node* n) {
  std::vector<Value*> out;
  FreeInputs(n, {}, &out);
  return out;
}

// "features.3.conv.0" from the inlined call stack, else the source line.
std::string SourceOf(Node* n) {
  std::string path;
  if (auto cs = n->callstack()) {
    for (const auto& entry : (*cs)->vec()) {
      const auto& info = std::get<2>(entry);
      if (!info) continue;
      const std::string name = info->instance_name();
      if (!name.empty() && name != "SELF" && name != "self")
        path += (path.empty() ? "" : ".") + name;
    }
  }
  if (!path.empty()) return path;
  const auto& range = n->sourceRange();
  if (range.source()) {
    std::string text = range.text().str();
    auto nl = text.find('\n');
    if (nl != std::string::npos) text = text.substr(0, nl);
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
  }
  return "";
}

Analysis Analyze(const fs::path& model_file) {
  Analysis a;
  a.origin = model_file.string();
  a.original = LoadModule(model_file);
  a.original.eval();
  auto method = a.original.find_method("forward");
  if (!method) ThrowInput("{}: the module has no forward() method", a.origin);
  const auto& schema = method->function().getSchema();
  if (schema.arguments().size() != 2 ||
      !schema.arguments()[1].type()->isSubtypeOf(*c10::TensorType::get()) ||
      schema.returns().size() != 1 ||
      !schema.returns()[0].type()->isSubtypeOf(*c10::TensorType::get())) {
    std::ostringstream text;
    text << schema;
    ThrowInput(
        "{}: forward must take one tensor and return one tensor to be cut into a chain, got {}",
        a.origin, text.str());
  }
  try {
    a.frozen = torch::jit::freeze(a.original);
  } catch (const std::exception& e) {
    ThrowInput("{}: cannot be frozen for analysis: {}", a.origin, detail::TorchMessage(e));
  }
  a.graph = a.frozen.get_method("forward").graph();
  torch::jit::Inline(*a.graph);
  Graph& g = *a.graph;
  Value* self = g.inputs()[0];
  Value* x = g.inputs()[1];
  for (Node* n : g.nodes()) a.nodes.push_back(n);

  // Constant-only nodes: no sub-blocks, no side effects, every input constant.
  for (Node* n : a.nodes) {
    bool constant = n->blocks().empty() && !n->hasSideEffects() && n->outputs().size() > 0;
    for (Value* v : n->inputs())
      constant = constant && v != x && v != self && a.constant.count(v->node());
    if (n->kind() == c10::prim::Constant) constant = true;
    if (constant) a.constant.insert(n);
  }
  // Last top-level node reading each value (graph outputs: past the end).
  std::unordered_map<Value*, size_t> last_use;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    for (Value* v : FreeInputs(a.nodes[i])) {
      if (v == self && !a.constant.count(a.nodes[i])) {
        ThrowInput("{}: op {} still reads module state after freezing; cannot cut it", a.origin,
                   a.nodes[i]->kind().toQualString());
      }
      last_use[v] = i;
    }
  }
  for (Value* v : g.outputs()) last_use[v] = a.nodes.size();

  size_t last_op = 0;
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    if (!a.constant.count(a.nodes[i])) last_op = i;
  }
  // Sweep: `live` holds the non-constant values computed so far and still needed.
  std::vector<Value*> live;
  if (last_use.count(x)) live.push_back(x);
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    Node* n = a.nodes[i];
    const bool constant = a.constant.count(n) > 0;
    if (!constant) {
      for (Value* o : n->outputs()) {
        if (last_use.count(o) && last_use[o] > i) live.push_back(o);
      }
    }
    live.erase(std::remove_if(live.begin(), live.end(), [&](Value* v) { return last_use[v] <= i; }),
               live.end());
    if (constant) continue;
    const int op_index = a.num_ops++;
    if (i >= last_op || live.size() != 1 || live[0] == x || !IsTensor(live[0])) continue;
    if (!a.cuts.empty() && a.cuts.back().value == live[0]) continue;  // same cut
    a.cuts.push_back(Cut{op_index, i, live[0]});
  }
  return a;
}

// A module computing nodes (begin, end] of the analysis (top-level
// positions) from `in` to `out`, with tensor constants as parameters.
Module BuildPiece(const Analysis& a, long begin, size_t end, Value* in, Value* out,
                  const std::shared_ptr<torch::jit::CompilationUnit>& cu) {
  Module piece = detail::NewModule("ChainPiece", cu);
  auto pg = std::make_shared<Graph>();
  Value* self = pg->addInput("self");
  self->setType(piece.type());
  Value* x = pg->addInput("x");
  x->setType(c10::TensorType::get());
  std::unordered_map<Value*, Value*> env{{in, x}};
  std::function<Value*(Value*)> map = [&](Value* v) -> Value* {
    auto it = env.find(v);
    if (it != env.end()) return it->second;
    Node* def = v->node();
    MS_CHECK_RT(a.constant.count(def), "{}: internal error: value %{} crosses a cut", a.origin,
                v->debugName());
    Node* c = pg->createClone(def, map);
    pg->appendNode(c);
    for (size_t i = 0; i < def->outputs().size(); ++i) env[def->output(i)] = c->output(i);
    return env.at(v);
  };
  for (size_t i = static_cast<size_t>(begin + 1); i <= end; ++i) {
    Node* n = a.nodes[i];
    if (a.constant.count(n)) continue;
    Node* c = pg->createClone(n, map);
    pg->appendNode(c);
    for (size_t k = 0; k < n->outputs().size(); ++k) env[n->output(k)] = c->output(k);
  }
  pg->registerOutput(map(out));

  // Frozen weights become parameters (trainable) or buffers again.
  std::vector<Node*> constants;
  std::function<void(Block*)> collect = [&](Block* b) {
    for (Node* n : b->nodes()) {
      if (n->kind() == c10::prim::Constant && IsTensor(n->output())) constants.push_back(n);
      for (Block* sub : n->blocks()) collect(sub);
    }
  };
  collect(pg->block());
  int count = 0;
  for (Node* n : constants) {
    at::Tensor t = torch::jit::toIValue(n->output())->toTensor().detach().clone();
    const std::string name = "w" + std::to_string(count++);
    const bool trainable = t.is_floating_point();
    if (trainable) t.set_requires_grad(true);
    piece.register_parameter(name, t, /*is_buffer=*/!trainable);
    torch::jit::WithInsertPoint guard(pg->block()->nodes().front());
    Value* attr = pg->insertGetAttr(self, name);
    n->output()->replaceAllUsesWith(attr);
    n->destroy();
  }
  pg->lint();
  auto* fn = cu->create_function(c10::QualifiedName(*piece.type()->name(), "forward"), pg);
  piece.type()->addMethod(fn);
  return piece;
}

struct Chain {
  Module module;
  std::vector<StageInfo> stages;
};

Chain BuildChain(const Analysis& a, const std::vector<int>& chosen) {
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  Chain chain;
  chain.module = detail::NewModule("Chain", cu);
  std::vector<std::string> names;
  long begin = -1;
  int first_op = 0;
  Value* in = a.graph->inputs()[1];
  for (size_t k = 0; k <= chosen.size(); ++k) {
    const bool last = k == chosen.size();
    const size_t end = last ? a.nodes.size() - 1 : a.cuts[static_cast<size_t>(chosen[k])].pos;
    Value* out = last ? a.graph->outputs()[0] : a.cuts[static_cast<size_t>(chosen[k])].value;
    const int end_op = last ? a.num_ops - 1 : a.cuts[static_cast<size_t>(chosen[k])].op_index;
    names.push_back("s" + std::to_string(k));
    chain.module.register_module(names.back(), BuildPiece(a, begin, end, in, out, cu));
    StageInfo st;
    st.name = names.back();
    st.covers.push_back(fmt::format("ops {}..{}", first_op, end_op));
    chain.stages.push_back(std::move(st));
    begin = static_cast<long>(end);
    first_op = end_op + 1;
    in = out;
  }
  chain.module.define(detail::ChainSource(names));
  chain.module.eval();
  return chain;
}

std::vector<int> AllCuts(const Analysis& a) {
  std::vector<int> all;
  for (size_t i = 0; i < a.cuts.size(); ++i) all.push_back(static_cast<int>(i));
  return all;
}

}  // namespace

Json CutAnalysis::ToJson() const {
  Json cs = Json::array();
  for (size_t i = 0; i < cuts.size(); ++i) {
    const auto& c = cuts[i];
    Json j{{"index", i},
           {"after_op", c.op_index},
           {"op", c.op},
           {"value", c.value},
           {"source", c.source}};
    if (!c.shape.empty()) j["shape"] = c.shape;
    cs.push_back(std::move(j));
  }
  Json j{{"model", model}, {"num_ops", num_ops}, {"num_cuts", cuts.size()}, {"cuts", cs}};
  if (!output_shape.empty()) j["output_shape"] = output_shape;
  return j;
}

std::string CutAnalysis::ToText() const {
  std::string s =
      fmt::format("{}: {} ops, {} valid single-tensor cut points\n", model, num_ops, cuts.size());
  s += fmt::format("{:>5}  {:>8}  {:<24} {:<20} {}\n", "cut", "after op", "op", "shape", "source");
  for (size_t i = 0; i < cuts.size(); ++i) {
    const auto& c = cuts[i];
    s += fmt::format("{:>5}  {:>8}  {:<24} {:<20} {}\n", i, c.op_index, c.op,
                     c.shape.empty() ? "-" : ShapeToString(c.shape), c.source);
  }
  if (!output_shape.empty()) s += fmt::format("output: {}\n", ShapeToString(output_shape));
  return s;
}

CutAnalysis FindCutPoints(const fs::path& model_file, int width, int height, int channels) {
  Analysis a = Analyze(model_file);
  CutAnalysis out;
  out.model = model_file.string();
  out.num_ops = a.num_ops;
  for (const Cut& c : a.cuts) {
    CutPoint p;
    p.op_index = c.op_index;
    p.op = c.value->node()->kind().toQualString();
    p.value = c.value->debugName();
    p.source = SourceOf(a.nodes[c.pos]);
    out.cuts.push_back(std::move(p));
  }
  if (width > 0 && height > 0) {
    Chain chain = BuildChain(a, AllCuts(a));
    torch::NoGradGuard no_grad;
    at::Tensor x = detail::RandomTensor({1, channels, height, width}, 1);
    size_t k = 0;
    for (const auto& child : chain.module.named_children()) {
      torch::jit::Module m = child.value;
      try {
        x = detail::ForwardTensor(m, x);
      } catch (const std::exception& e) {
        ThrowInput("{}: fails on a {}x{} frame: {}", out.model, width, height,
                   detail::TorchMessage(e));
      }
      if (k < out.cuts.size()) out.cuts[k].shape = detail::FrameShape(x);
      ++k;
    }
    out.output_shape = detail::FrameShape(x);
  }
  return out;
}

BaseInfo ExportChain(const fs::path& model_file, const ChainExportOptions& options,
                     const fs::path& out_dir) {
  MS_CHECK(options.input.width > 0 && options.input.height > 0,
           "{}: exporting a chain needs an input size", model_file.string());
  Analysis a = Analyze(model_file);
  std::vector<int> chosen = options.cuts.empty() ? AllCuts(a) : options.cuts;
  for (size_t i = 0; i < chosen.size(); ++i) {
    MS_CHECK(chosen[i] >= 0 && chosen[i] < static_cast<int>(a.cuts.size()),
             "--cuts: cut {} does not exist ({} has cut points 0..{})", chosen[i],
             model_file.string(), static_cast<int>(a.cuts.size()) - 1);
    MS_CHECK(i == 0 || chosen[i] > chosen[i - 1],
             "--cuts: cut indices must increase, got {} after {}", chosen[i], chosen[i - 1]);
  }
  Chain chain = BuildChain(a, chosen);

  // The chain must compute what the model computes.
  torch::NoGradGuard no_grad;
  const auto& in = options.input;
  at::Tensor x = detail::RandomTensor({2, in.channels, in.height, in.width}, 3);
  at::Tensor ref, got;
  try {
    ref = detail::ForwardTensor(a.original, x);
  } catch (const std::exception& e) {
    ThrowInput("{}: fails on a {}x{} frame: {}", model_file.string(), in.width, in.height,
               detail::TorchMessage(e));
  }
  got = detail::ForwardTensor(chain.module, x);
  if (ref.dim() != 2) {
    ThrowInput("{}: outputs {} per frame; a base must output class scores [num_classes]",
               model_file.string(), ShapeToString(detail::FrameShape(ref)));
  }
  const double diff = got.sizes() == ref.sizes() ? detail::MaxAbsDiff(got, ref) : INFINITY;
  MS_CHECK_RT(diff <= 1e-4 * std::max(1.0, detail::MaxAbs(ref)),
              "{}: the re-exported chain differs from the model by {:.3g}", model_file.string(),
              diff);

  BaseInfo info;
  info.name = options.name.empty() ? model_file.stem().string() : options.name;
  info.description = fmt::format("{} cut at {} of its {} cut points",
                                 model_file.filename().string(), chosen.size(), a.cuts.size());
  info.input = options.input;
  info.stages = chain.stages;
  info.num_classes = options.num_classes > 0 ? options.num_classes : static_cast<int>(ref.size(1));
  info.source = Json{{"tool", "msprofile --export-chain"},
                     {"model", model_file.string()},
                     {"cuts", chosen},
                     {"num_ops", a.num_ops},
                     {"max_abs_diff_to_model", diff}};
  LogInfo("{}: {} stages from {} cut points, max difference to the model {:.2g}",
          model_file.string(), info.num_stages(), chosen.size(), diff);
  return SaveBase(chain.module, std::move(info), out_dir);
}

}  // namespace mainstream
