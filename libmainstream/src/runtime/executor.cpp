#include "mainstream/runtime/executor.h"

#include <time.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/model/segment.h"
#include "mainstream/runtime/deployment.h"

namespace mainstream {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct TreeExecutor::Impl {
  MergedTree tree;
  PreprocessConfig pre;
  std::vector<int64_t> input_shape;  // C, H, W
  std::vector<Segment> segments;     // per node
  std::vector<int64_t> calls, frames;
  std::vector<double> ms, cpu_ms;
  // Scratch of one Run call.
  std::vector<std::vector<int>> rows;  // per node: the frames (batch positions) it runs on
  std::vector<at::Tensor> outputs;     // per node: its output for those rows
  std::vector<float> gather;           // root inputs that are not contiguous
};

TreeExecutor::TreeExecutor() : impl_(std::make_unique<Impl>()) {}
TreeExecutor::TreeExecutor(TreeExecutor&&) noexcept = default;
TreeExecutor& TreeExecutor::operator=(TreeExecutor&&) noexcept = default;
TreeExecutor::~TreeExecutor() = default;

namespace {

std::string ShapeOf(const at::Tensor& t) {
  std::vector<int64_t> s(t.sizes().begin(), t.sizes().end());
  return ShapeToString(s);
}

// The last line of a LibTorch error (its messages carry backtraces).
std::string ShortMessage(const std::exception& e) {
  std::string s = e.what();
  const auto pos = s.find("\nException raised from");
  if (pos != std::string::npos) s = s.substr(0, pos);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

Segment BuildAppSegment(const BaseModel& base, int branchpoint, const torch::jit::Module& suffix,
                        const std::string& origin, const ExecutorOptions& options) {
  const std::vector<int64_t> in_shape = base.info().ShapeAt(branchpoint);
  at::Tensor probe = base.RunStages(base.DummyInput(2, 11), 0, branchpoint);
  SegmentOptions so;
  so.optimize = options.optimize;
  so.verify = options.verify;
  Segment seg;
  try {
    seg = Segment::FromModule(suffix, probe, so, origin);
  } catch (const InputError& e) {
    if (std::string(e.what()).find(origin) != std::string::npos) throw;
    ThrowInput("{}: {}", origin, e.what());
  } catch (const std::exception& e) {
    ThrowInput(
        "{}: does not accept the base's activation at branchpoint {} (shape {} per frame): {}",
        origin, branchpoint, ShapeToString(in_shape), ShortMessage(e));
  }
  at::Tensor out;
  try {
    out = seg.Forward(probe);
  } catch (const std::exception& e) {
    ThrowInput("{}: fails on the base's activation at branchpoint {} (shape {} per frame): {}",
               origin, branchpoint, ShapeToString(in_shape), ShortMessage(e));
  }
  if (out.dim() != 2 || out.size(0) != probe.size(0) || out.size(1) != 2) {
    ThrowInput(
        "{}: outputs {} for a batch of {} frames; the candidate weights contract (docs/formats.md) "
        "is "
        "logits [batch, 2]",
        origin, ShapeOf(out), probe.size(0));
  }
  if (!torch::isfinite(out).all().item<bool>()) {
    ThrowInput("{}: outputs NaN or Inf on a probe batch: the weights are broken", origin);
  }
  return seg;
}

}  // namespace

TreeExecutor TreeExecutor::Build(const BaseModel& base, const MergedTree& tree,
                                 const std::vector<torch::jit::Module>& suffixes,
                                 const std::vector<std::string>& origins,
                                 const ExecutorOptions& options) {
  MS_CHECK(suffixes.size() == tree.branch_of_app.size() && origins.size() == suffixes.size(),
           "executor: {} suffixes and {} names for {} apps", suffixes.size(), origins.size(),
           tree.branch_of_app.size());
  TreeExecutor ex;
  Impl& m = *ex.impl_;
  m.tree = tree;
  m.pre = PreprocessConfigFor(base.info());
  m.input_shape = base.info().input.shape();
  const int n = base.num_stages();
  for (const TreeNode& node : tree.nodes) {
    MS_CHECK(node.begin >= 0 && node.end <= n && node.begin < node.end,
             "merged tree node {} covers stages [{}, {}) outside the base's {} stages", node.id,
             node.begin, node.end, n);
    if (node.kind == TreeNode::Kind::kStem) {
      SegmentOptions so;
      so.optimize = options.optimize;
      so.verify = options.verify;
      m.segments.push_back(Segment::Build(base, node.begin, node.end, so));
    } else {
      const auto app = static_cast<size_t>(node.app);
      m.segments.push_back(
          BuildAppSegment(base, node.begin, suffixes.at(app), origins.at(app), options));
    }
  }
  const size_t count = tree.nodes.size();
  m.calls.assign(count, 0);
  m.frames.assign(count, 0);
  m.ms.assign(count, 0.0);
  m.cpu_ms.assign(count, 0.0);
  m.rows.resize(count);
  m.outputs.resize(count);
  return ex;
}

TreeExecutor TreeExecutor::Load(const BaseModel& base, const Deployment& deployment,
                                const ExecutorOptions& options) {
  std::vector<torch::jit::Module> suffixes;
  std::vector<std::string> origins;
  for (const DeployedApp& a : deployment.apps) {
    suffixes.push_back(LoadModule(a.weights));
    origins.push_back(a.weights.string());
  }
  return Build(base, deployment.schedule.tree, suffixes, origins, options);
}

void TreeExecutor::Run(const std::vector<FrameTask>& frames,
                       std::vector<std::vector<double>>* scores) {
  Impl& m = *impl_;
  const size_t count = m.tree.nodes.size();
  const size_t apps = m.tree.branch_of_app.size();
  scores->assign(frames.size(),
                 std::vector<double>(apps, std::numeric_limits<double>::quiet_NaN()));
  for (auto& r : m.rows) r.clear();
  for (size_t f = 0; f < frames.size(); ++f) {
    for (int k : frames[f].nodes) {
      MS_CHECK_RT(k >= 0 && static_cast<size_t>(k) < count,
                  "executor: node {} outside the tree's {} nodes", k, count);
      m.rows[static_cast<size_t>(k)].push_back(static_cast<int>(f));
    }
  }
  const size_t floats = m.pre.floats_per_frame();
  torch::NoGradGuard no_grad;
  // Nodes are stored parents first (stems in chain order, then branches).
  for (size_t k = 0; k < count; ++k) {
    const std::vector<int>& rows = m.rows[k];
    if (rows.empty()) continue;
    const TreeNode& node = m.tree.nodes[k];
    const double t0 = NowSeconds(), c0 = ThreadCpuSeconds();
    at::Tensor x;
    const auto batch = static_cast<int64_t>(rows.size());
    if (node.parent < 0) {
      // The frames' preprocessed inputs: wrapped in place when they are
      // consecutive in one buffer, else gathered.
      bool contiguous = true;
      for (size_t i = 0; i < rows.size(); ++i) {
        const float* p = frames[static_cast<size_t>(rows[i])].input;
        MS_CHECK_RT(p != nullptr,
                    "executor: frame {} runs root node {} but has no preprocessed input", rows[i],
                    k);
        if (p != frames[static_cast<size_t>(rows[0])].input + i * floats) contiguous = false;
      }
      float* data = const_cast<float*>(frames[static_cast<size_t>(rows[0])].input);
      if (!contiguous) {
        m.gather.resize(rows.size() * floats);
        for (size_t i = 0; i < rows.size(); ++i) {
          std::memcpy(m.gather.data() + i * floats, frames[static_cast<size_t>(rows[i])].input,
                      floats * sizeof(float));
        }
        data = m.gather.data();
      }
      x = torch::from_blob(data, {batch, m.input_shape[0], m.input_shape[1], m.input_shape[2]});
    } else {
      const auto parent = static_cast<size_t>(node.parent);
      const std::vector<int>& prow = m.rows[parent];
      at::Tensor p = m.outputs[parent];
      if (prow == rows) {
        x = p;
      } else {
        // A subset of the parent's frames (nodes sample from their parent's frames).
        std::vector<int64_t> index;
        size_t j = 0;
        for (int r : rows) {
          while (j < prow.size() && prow[j] < r) ++j;
          MS_CHECK_RT(j < prow.size() && prow[j] == r,
                      "executor: node {} runs on frame {} without its parent {}", k, r,
                      node.parent);
          index.push_back(static_cast<int64_t>(j));
        }
        at::Tensor dense = p.is_mkldnn() ? p.to_dense() : p;
        x = dense.index_select(0, torch::tensor(index, torch::kLong));
      }
    }
    const Segment& seg = m.segments[k];
    if (node.kind == TreeNode::Kind::kBranch) {
      at::Tensor logits = seg.Forward(x);
      at::Tensor s = torch::softmax(logits, 1).select(1, 1).contiguous();
      auto acc = s.accessor<float, 1>();
      for (size_t i = 0; i < rows.size(); ++i) {
        (*scores)[static_cast<size_t>(rows[i])][static_cast<size_t>(node.app)] =
            static_cast<double>(acc[static_cast<int64_t>(i)]);
      }
      m.outputs[k] = at::Tensor();
    } else {
      m.outputs[k] = seg.ForwardKeepLayout(x);
    }
    m.ms[k] += (NowSeconds() - t0) * 1e3;
    m.cpu_ms[k] += (ThreadCpuSeconds() - c0) * 1e3;
    ++m.calls[k];
    m.frames[k] += batch;
  }
  for (auto& t : m.outputs) t = at::Tensor();
}

int TreeExecutor::num_nodes() const { return static_cast<int>(impl_->tree.nodes.size()); }
int TreeExecutor::num_apps() const { return static_cast<int>(impl_->tree.branch_of_app.size()); }
bool TreeExecutor::IsRoot(int node) const {
  return impl_->tree.nodes.at(static_cast<size_t>(node)).parent < 0;
}
bool TreeExecutor::NeedsInput(const std::vector<int>& nodes) const {
  for (int k : nodes) {
    if (IsRoot(k)) return true;
  }
  return false;
}
const MergedTree& TreeExecutor::tree() const { return impl_->tree; }
const PreprocessConfig& TreeExecutor::preprocess() const { return impl_->pre; }
int64_t TreeExecutor::node_calls(int node) const {
  return impl_->calls.at(static_cast<size_t>(node));
}
int64_t TreeExecutor::node_frames(int node) const {
  return impl_->frames.at(static_cast<size_t>(node));
}
double TreeExecutor::node_ms(int node) const { return impl_->ms.at(static_cast<size_t>(node)); }
double TreeExecutor::node_cpu_ms(int node) const {
  return impl_->cpu_ms.at(static_cast<size_t>(node));
}

void TreeExecutor::ResetCounters() {
  std::fill(impl_->calls.begin(), impl_->calls.end(), 0);
  std::fill(impl_->frames.begin(), impl_->frames.end(), 0);
  std::fill(impl_->ms.begin(), impl_->ms.end(), 0.0);
  std::fill(impl_->cpu_ms.begin(), impl_->cpu_ms.end(), 0.0);
}

Json TreeExecutor::NodeInfo(int node) const {
  const Segment& s = impl_->segments.at(static_cast<size_t>(node));
  return Json{{"segment", s.name()}, {"fusion", s.fusion().ToJson()}};
}

}  // namespace mainstream
