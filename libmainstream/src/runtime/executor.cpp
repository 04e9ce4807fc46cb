#include "mainstream/runtime/executor.h"

#include <time.h>
#include <torch/script.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/model/micro_head.h"
#include "mainstream/model/segment.h"
#include "mainstream/model/suffix.h"
#include "mainstream/runtime/deployment.h"

namespace mainstream {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// A fixed set of threads that run jobs: Start queues a job's calls on up to
// size() workers at once; Wait returns when every call has returned,
// rethrowing the first exception one raised, and may call job() on the
// calling thread too. The caller can work between the two.
// Several threads may hand it jobs at once (cameras sharing the pool): each
// job's calls queue behind the earlier jobs' and every worker takes the
// oldest waiting call. Each worker runs LibTorch on one intra-op thread
// (OpenMP's thread count is per thread), so W workers use W cores.
class BranchPool {
 public:
  // One job handed to the pool; it must stay alive until Wait returns.
  struct Group {
    std::function<void()> job;
    int pending = 0;  // calls not yet returned
    std::exception_ptr error;
  };

  explicit BranchPool(int workers) : count_(workers) {
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { Loop(); });
    // Returns once every worker has set its thread count, so that no
    // LibTorch setting changes while the caller computes.
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return ready_ == workers; });
  }
  ~BranchPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  BranchPool(const BranchPool&) = delete;
  BranchPool& operator=(const BranchPool&) = delete;

  int size() const { return count_; }

  // Queues size() calls of group.job and returns at once.
  void Start(Group& group) {
    std::lock_guard<std::mutex> lock(mu_);
    group.pending = size();
    group.error = nullptr;
    for (int k = 0; k < size(); ++k) queue_.push_back(&group);
    wake_.notify_all();
  }

  // Returns when every call of the group has returned, rethrowing the first
  // exception. help: the calling thread calls job() itself first (the job
  // must take its work items from a shared counter), then withdraws the
  // calls no worker has started.
  void Wait(Group& group, bool help) {
    std::exception_ptr mine;
    if (help) {
      try {
        group.job();
      } catch (...) {
        mine = std::current_exception();
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (help) {
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (*it == &group) {
          it = queue_.erase(it);
          --group.pending;
        } else {
          ++it;
        }
      }
    }
    done_.wait(lock, [&] { return group.pending == 0; });
    std::exception_ptr error = mine ? mine : group.error;
    if (error) std::rethrow_exception(error);
  }

 private:
  void Loop() {
    at::init_num_threads();
    at::set_num_threads(1);
    torch::NoGradGuard no_grad;
    std::unique_lock<std::mutex> lock(mu_);
    if (++ready_ == size()) done_.notify_all();
    for (;;) {
      wake_.wait(lock, [&] { return quit_ || !queue_.empty(); });
      if (queue_.empty()) return;  // quit_
      Group* group = queue_.front();
      queue_.pop_front();
      lock.unlock();
      std::exception_ptr error;
      try {
        group->job();
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error && !group->error) group->error = error;
      if (--group->pending == 0) done_.notify_all();
    }
  }

  const int count_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::deque<Group*> queue_;
  int ready_ = 0;
  bool quit_ = false;
};

std::shared_ptr<BranchPool> MakeBranchPool(int workers) {
  MS_CHECK(workers >= 1, "branch pool: {} workers; at least 1", workers);
  return std::make_shared<BranchPool>(workers);
}

int BranchPoolSize(const BranchPool& pool) { return pool.size(); }

struct TreeExecutor::Impl {
  MergedTree tree;
  PreprocessConfig pre;
  std::vector<int64_t> input_shape;  // C, H, W
  std::vector<Segment> segments;     // per node
  // Per node: a microclassifier's plain-loop form (MicroHead), used in place
  // of its segment when it agreed with the module on a probe batch.
  std::vector<std::optional<MicroHead>> micro;
  std::vector<int64_t> calls, frames;
  std::vector<double> ms, cpu_ms;
  double branch_phase_ms = 0;
  std::shared_ptr<BranchPool> pool;  // own (workers - 1 threads) or shared with other trees
  bool own_pool = false;             // the calling thread runs branches too, and overlaps
  std::vector<size_t> stems;         // stem nodes, parents first
  std::vector<size_t> branches;      // branch nodes, largest latency first
  // The stems' tail (PlanStemSplit): the stems, or their first part, that
  // the calling thread runs, and those, or their last part, that the branch
  // job runs first; both parents first. A cut node's last part is its
  // tail segment, timed apart (the calling thread runs the next batch's
  // first part meanwhile).
  StemSplit split;
  std::vector<size_t> head_stems, tail_stems;
  std::vector<Segment> tail_segments;  // per node (cut stems only)
  std::vector<double> tail_ms, tail_cpu_ms;

  // How RunNode runs a node: its segment on the calling thread's counters
  // (a whole node, or a cut stem's first part), a cut stem's last part, or
  // a stem whole in the tail (both timed with the tail).
  enum class Part { kWhole, kTail, kTailWhole };

  // One batch of frames on its way through the tree: its frames, every
  // node's rows and outputs, its scores. Two of them, so that one batch's
  // stems run while the other's branches do (RunOverlapped).
  struct Batch {
    std::vector<FrameTask> tasks;
    std::vector<std::vector<int>> rows;  // per node: the frames (batch positions) it runs on
    std::vector<at::Tensor> outputs;     // per node: its output for those rows
    std::vector<at::Tensor> dense;       // per stem node: its output made dense, once per
                                         // batch, for the microclassifiers under it
    std::vector<size_t> todo;            // the branches with rows, largest first
    std::vector<std::vector<double>> scores;
    std::atomic<size_t> next{0};  // the next item to claim: 0 the tail, then `todo`
    BranchPool::Group group;      // the branches' job while they run on the pool
    bool has_tail = false;        // tail stems with rows, not yet run
    // The tail's progress, for the branches' claimers: 0 pending, 1 done,
    // 2 failed (its error is the group's).
    std::mutex tail_mu;
    std::condition_variable tail_cv;
    int tail_state = 0;
    bool running = false;  // started on the pool, not yet waited for
    bool held = false;     // scores not yet handed back (RunOverlapped)

    // Drops the activations of the batch's nodes (kept until its branches end).
    void ReleaseActivations() {
      for (auto& t : outputs) t = at::Tensor();
      for (auto& t : dense) t = at::Tensor();
    }
  };
  Batch batches[2];
  int free_batch = 0;  // RunOverlapped's next batch

  ~Impl() {
    for (Batch& b : batches) {
      if (!b.running) continue;
      try {
        pool->Wait(b.group, /*help=*/false);
      } catch (...) {  // the batch's error was the caller's to collect
      }
    }
  }

  // Runs node k of batch b on its rows (part: its segment, or a cut stem's
  // last one); its parent has run. Touches only node k's
  // counters (a tail part its tail counters), output and (for a branch) its
  // app's scores, so branches may run concurrently.
  void RunNode(size_t k, Batch& b, Part part = Part::kWhole);
  // Sets up b for `frames` and runs their stems here, parents first, but
  // for the tail (b.has_tail).
  void RunStems(Batch& b, const std::vector<FrameTask>& frames);
  // Runs b's tail here, then makes the stems' outputs dense for the
  // microclassifiers.
  void RunTail(Batch& b);
  // The microclassifiers under a stem read its output dense: converted once
  // per batch for all of them, charged to the stem (a shared cost) in
  // ms/cpu (the tail's counters when the tail's thread does it).
  void MakeDense(Batch& b, std::vector<double>& msv, std::vector<double>& cpuv);
  // The branch job's wait for b's tail; false when it failed.
  bool WaitTail(Batch& b);
  // The branches of b: here and on the pool, returning when all are done.
  void RunBranches(Batch& b);
  // b.group.job: claims b's tail (when b.has_tail), then its branches one
  // by one until none is left; a branch waits for the tail.
  void SetBranchJob(Batch& b);
  // Starts b's branches on the pool (own pool, several branches), else runs
  // them here; FinishBranches then waits, running the rest here.
  void StartBranches(Batch& b);
  void FinishBranches(Batch& b);
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

// The microclassifier's plain-loop form, when it computes what the module
// computes on a probe batch of the base's activation (relative difference
// <= 1e-4); nullopt, with a warning, when the module is not of the form
// MicroHead reads (the segment then runs it).
std::optional<MicroHead> NativeMicro(const BaseModel& base, int layer,
                                     const torch::jit::Module& suffix, const MicroCrop& crop,
                                     const std::string& origin) {
  try {
    MicroHead head = MicroHead::FromModule(suffix, crop, base.info().ShapeAt(layer), origin);
    torch::NoGradGuard no_grad;
    const at::Tensor probe = base.RunStages(base.DummyInput(2, 13), 0, layer);
    torch::jit::Module copy = suffix.clone();
    copy.eval();
    const at::Tensor want = copy.forward({probe}).toTensor();
    const at::Tensor got = head.Forward(probe);
    const double scale = std::max(1.0, want.abs().max().item<double>());
    const double diff = (got - want).abs().max().item<double>() / scale;
    if (!(diff <= 1e-4)) {
      LogWarn(
          "{}: the microclassifier's loops differ from its module by {:.2g} on a probe; "
          "running the module",
          origin, diff);
      return std::nullopt;
    }
    return head;
  } catch (const InputError& e) {
    LogWarn("{}: {}; running the module", origin, e.what());
    return std::nullopt;
  }
}

}  // namespace

TreeExecutor TreeExecutor::Build(const BaseModel& base, const MergedTree& tree,
                                 const std::vector<torch::jit::Module>& suffixes,
                                 const std::vector<std::string>& origins,
                                 const ExecutorOptions& options,
                                 const std::vector<MicroCrop>& micro_crops) {
  MS_CHECK(suffixes.size() == tree.branch_of_app.size() && origins.size() == suffixes.size(),
           "executor: {} suffixes and {} names for {} apps", suffixes.size(), origins.size(),
           tree.branch_of_app.size());
  MS_CHECK(micro_crops.empty() || micro_crops.size() == suffixes.size(),
           "executor: {} microclassifier crops for {} apps", micro_crops.size(), suffixes.size());
  TreeExecutor ex;
  Impl& m = *ex.impl_;
  m.tree = tree;
  m.pre = PreprocessConfigFor(base.info());
  m.input_shape = base.info().input.shape();
  const int n = base.num_stages();
  MS_CHECK(options.workers >= 1, "executor: {} workers; at least 1", options.workers);
  if (options.pool) {
    m.pool = options.pool;
  } else if (options.workers > 1 && options.overlap) {
    // The calling thread is one of the workers: it runs branches too.
    m.pool = MakeBranchPool(options.workers - 1);
    m.own_pool = true;
  } else if (options.workers > 1) {
    m.pool = MakeBranchPool(options.workers);
  }
  m.split = m.own_pool && !options.stage_ms.empty()
                ? PlanStemSplit(tree, options.stage_ms, options.workers, options.decode_on_loop)
                : StemSplit{};
  if (m.split.tail_from.empty()) {
    for (const TreeNode& node : tree.nodes) m.split.tail_from.push_back(node.end);
  }
  m.tail_segments.resize(tree.nodes.size());
  for (const TreeNode& node : tree.nodes) {
    // A microclassifier's branch holds no base stage (begin == end).
    MS_CHECK(node.begin >= 0 && node.end <= n &&
                 (node.begin < node.end ||
                  (node.kind == TreeNode::Kind::kBranch && node.begin == node.end)),
             "merged tree node {} covers stages [{}, {}) outside the base's {} stages", node.id,
             node.begin, node.end, n);
    if (node.kind == TreeNode::Kind::kStem) {
      SegmentOptions so;
      so.optimize = options.optimize;
      so.verify = options.verify;
      const int cut = m.split.tail_from[static_cast<size_t>(node.id)];
      if (cut > node.begin && cut < node.end) {
        m.segments.push_back(Segment::Build(base, node.begin, cut, so));
        m.tail_segments[static_cast<size_t>(node.id)] = Segment::Build(base, cut, node.end, so);
      } else {
        m.segments.push_back(Segment::Build(base, node.begin, node.end, so));
      }
      m.micro.emplace_back();
    } else {
      const auto app = static_cast<size_t>(node.app);
      m.segments.push_back(
          BuildAppSegment(base, node.begin, suffixes.at(app), origins.at(app), options));
      const bool is_micro = node.begin == node.end && !micro_crops.empty() &&
                            !micro_crops[app].empty() && options.native_micro;
      m.micro.push_back(is_micro ? NativeMicro(base, node.begin, suffixes.at(app), micro_crops[app],
                                               origins.at(app))
                                 : std::nullopt);
    }
  }
  const size_t count = tree.nodes.size();
  m.calls.assign(count, 0);
  m.frames.assign(count, 0);
  m.ms.assign(count, 0.0);
  m.cpu_ms.assign(count, 0.0);
  m.tail_ms.assign(count, 0.0);
  m.tail_cpu_ms.assign(count, 0.0);
  for (Impl::Batch& b : m.batches) {
    b.rows.resize(count);
    b.outputs.resize(count);
    b.dense.resize(count);
  }
  for (size_t k = 0; k < count; ++k) {
    const TreeNode& node = tree.nodes[k];
    (node.kind == TreeNode::Kind::kBranch ? m.branches : m.stems).push_back(k);
    if (node.kind == TreeNode::Kind::kBranch) continue;
    if (m.split.tail_from[k] > node.begin) m.head_stems.push_back(k);
    if (m.split.tail_from[k] < node.end) m.tail_stems.push_back(k);
  }
  // Largest first, so that a long branch does not start last on a worker.
  std::stable_sort(m.branches.begin(), m.branches.end(), [&](size_t a, size_t b) {
    return tree.nodes[a].latency_ms > tree.nodes[b].latency_ms;
  });
  return ex;
}

TreeExecutor TreeExecutor::Load(const BaseModel& base, const Deployment& deployment,
                                const ExecutorOptions& options) {
  std::vector<torch::jit::Module> suffixes;
  std::vector<std::string> origins;
  std::vector<MicroCrop> crops;
  for (const DeployedApp& a : deployment.apps) {
    suffixes.push_back(LoadModule(a.weights));
    origins.push_back(a.weights.string());
    MicroCrop crop;
    if (a.candidate.is_micro()) {
      const MicroSpec& s = a.candidate.micro;
      crop = MicroCrop{s.x0, s.y0, s.x1, s.y1};
    }
    crops.push_back(crop);
  }
  return Build(base, deployment.schedule.tree, suffixes, origins, options, crops);
}

void TreeExecutor::Impl::RunNode(size_t k, Batch& b, Part part) {
  const double t0 = NowSeconds(), c0 = ThreadCpuSeconds();
  if (part == Part::kTail) {
    b.outputs[k] = tail_segments[k].ForwardKeepLayout(b.outputs[k]);
    tail_ms[k] += (NowSeconds() - t0) * 1e3;
    tail_cpu_ms[k] += (ThreadCpuSeconds() - c0) * 1e3;
    return;
  }
  const std::vector<FrameTask>& tasks = b.tasks;
  const std::vector<int>& my_rows = b.rows[k];
  const size_t floats = pre.floats_per_frame();
  std::vector<float> gather;  // root inputs that are not contiguous
  const TreeNode& node = tree.nodes[k];
  at::Tensor x;
  const auto batch = static_cast<int64_t>(my_rows.size());
  if (node.parent < 0) {
    // The frames' preprocessed inputs: wrapped in place when they are
    // consecutive in one buffer, else gathered.
    bool contiguous = true;
    for (size_t i = 0; i < my_rows.size(); ++i) {
      const float* p = tasks[static_cast<size_t>(my_rows[i])].input;
      MS_CHECK_RT(p != nullptr,
                  "executor: frame {} runs root node {} but has no preprocessed input", my_rows[i],
                  k);
      if (p != tasks[static_cast<size_t>(my_rows[0])].input + i * floats) contiguous = false;
    }
    float* data = const_cast<float*>(tasks[static_cast<size_t>(my_rows[0])].input);
    if (!contiguous) {
      gather.resize(my_rows.size() * floats);
      for (size_t i = 0; i < my_rows.size(); ++i) {
        std::memcpy(gather.data() + i * floats, tasks[static_cast<size_t>(my_rows[i])].input,
                    floats * sizeof(float));
      }
      data = gather.data();
    }
    x = torch::from_blob(data, {batch, input_shape[0], input_shape[1], input_shape[2]});
  } else {
    const auto parent = static_cast<size_t>(node.parent);
    const std::vector<int>& prow = b.rows[parent];
    at::Tensor p = micro[k] && b.dense[parent].defined() ? b.dense[parent] : b.outputs[parent];
    if (prow == my_rows) {
      x = p;
    } else {
      // A subset of the parent's frames (nodes sample from their parent's frames).
      std::vector<int64_t> index;
      size_t j = 0;
      for (int r : my_rows) {
        while (j < prow.size() && prow[j] < r) ++j;
        MS_CHECK_RT(j < prow.size() && prow[j] == r,
                    "executor: node {} runs on frame {} without its parent {}", k, r, node.parent);
        index.push_back(static_cast<int64_t>(j));
      }
      at::Tensor dense = p.is_mkldnn() ? p.to_dense() : p;
      x = dense.index_select(0, torch::tensor(index, torch::kLong));
    }
  }
  const Segment& seg = segments[k];
  if (node.kind == TreeNode::Kind::kBranch) {
    at::Tensor logits = micro[k] ? micro[k]->Forward(x) : seg.Forward(x);
    at::Tensor s = EventScores(logits);
    auto acc = s.accessor<float, 1>();
    for (size_t i = 0; i < my_rows.size(); ++i) {
      b.scores[static_cast<size_t>(my_rows[i])][static_cast<size_t>(node.app)] =
          static_cast<double>(acc[static_cast<int64_t>(i)]);
    }
    b.outputs[k] = at::Tensor();
  } else {
    b.outputs[k] = seg.ForwardKeepLayout(x);
  }
  const bool tail = part == Part::kTailWhole;
  (tail ? tail_ms : ms)[k] += (NowSeconds() - t0) * 1e3;
  (tail ? tail_cpu_ms : cpu_ms)[k] += (ThreadCpuSeconds() - c0) * 1e3;
  ++calls[k];
  frames[k] += batch;
}

void TreeExecutor::Impl::RunStems(Batch& b, const std::vector<FrameTask>& frames) {
  const size_t count = tree.nodes.size();
  const size_t apps = tree.branch_of_app.size();
  b.tasks = frames;
  b.scores.assign(frames.size(),
                  std::vector<double>(apps, std::numeric_limits<double>::quiet_NaN()));
  for (auto& r : b.rows) r.clear();
  b.ReleaseActivations();  // a batch that failed may have left some
  for (size_t f = 0; f < frames.size(); ++f) {
    for (int k : frames[f].nodes) {
      MS_CHECK_RT(k >= 0 && static_cast<size_t>(k) < count,
                  "executor: node {} outside the tree's {} nodes", k, count);
      b.rows[static_cast<size_t>(k)].push_back(static_cast<int>(f));
    }
  }
  torch::NoGradGuard no_grad;
  for (size_t k : head_stems) {
    if (!b.rows[k].empty()) RunNode(k, b);
  }
  b.todo.clear();
  for (size_t k : branches) {
    if (!b.rows[k].empty()) b.todo.push_back(k);
  }
  b.has_tail = false;
  for (size_t k : tail_stems) {
    if (!b.rows[k].empty()) b.has_tail = true;
  }
  if (!b.has_tail) MakeDense(b, ms, cpu_ms);
}

void TreeExecutor::Impl::RunTail(Batch& b) {
  torch::NoGradGuard no_grad;
  for (size_t k : tail_stems) {
    if (b.rows[k].empty()) continue;
    RunNode(k, b, split.tail_from[k] > tree.nodes[k].begin ? Part::kTail : Part::kTailWhole);
  }
  MakeDense(b, tail_ms, tail_cpu_ms);
}

void TreeExecutor::Impl::MakeDense(Batch& b, std::vector<double>& msv, std::vector<double>& cpuv) {
  for (size_t k : b.todo) {
    const int parent = tree.nodes[k].parent;
    if (!micro[k] || parent < 0) continue;
    const auto p = static_cast<size_t>(parent);
    if (b.dense[p].defined() || !b.outputs[p].is_mkldnn()) continue;
    const double t1 = NowSeconds(), c1 = ThreadCpuSeconds();
    b.dense[p] = b.outputs[p].to_dense();
    msv[p] += (NowSeconds() - t1) * 1e3;
    cpuv[p] += (ThreadCpuSeconds() - c1) * 1e3;
  }
}

bool TreeExecutor::Impl::WaitTail(Batch& b) {
  std::unique_lock<std::mutex> lock(b.tail_mu);
  b.tail_cv.wait(lock, [&] { return b.tail_state != 0; });
  return b.tail_state == 1;
}

void TreeExecutor::Impl::SetBranchJob(Batch& b) {
  b.next = 0;
  {
    std::lock_guard<std::mutex> lock(b.tail_mu);
    b.tail_state = b.has_tail ? 0 : 1;
  }
  b.group.job = [this, &b] {
    torch::NoGradGuard no_grad;
    // Item 0 is the tail, 1.. the branches.
    for (size_t i = b.next.fetch_add(1); i <= b.todo.size(); i = b.next.fetch_add(1)) {
      if (i == 0) {
        if (!b.has_tail) continue;
        auto settle = [&b](int state) {
          {
            std::lock_guard<std::mutex> lock(b.tail_mu);
            b.tail_state = state;
          }
          b.tail_cv.notify_all();
        };
        try {
          RunTail(b);
        } catch (...) {
          settle(2);
          throw;
        }
        settle(1);
        continue;
      }
      if (!WaitTail(b)) return;  // the tail's error is the group's
      RunNode(b.todo[i - 1], b);
    }
  };
}

void TreeExecutor::Impl::StartBranches(Batch& b) {
  if (own_pool && (b.todo.size() > 1 || b.has_tail)) {
    SetBranchJob(b);
    pool->Start(b.group);
    b.running = true;
    return;
  }
  RunBranches(b);
}

void TreeExecutor::Impl::FinishBranches(Batch& b) {
  if (b.running) {
    // The calling thread's part of the branch phase: what the next batch's
    // stems did not hide (running the rest, waiting for the workers).
    const double t0 = NowSeconds();
    b.running = false;
    pool->Wait(b.group, /*help=*/true);
    branch_phase_ms += (NowSeconds() - t0) * 1e3;
  }
  b.ReleaseActivations();
}

void TreeExecutor::Impl::RunBranches(Batch& b) {
  torch::NoGradGuard no_grad;
  const double t0 = NowSeconds();
  if (pool && b.todo.size() > 1) {
    SetBranchJob(b);
    pool->Start(b.group);
    pool->Wait(b.group, /*help=*/own_pool);
  } else {
    for (size_t k : b.todo) RunNode(k, b);
  }
  if (!b.todo.empty()) branch_phase_ms += (NowSeconds() - t0) * 1e3;
}

void TreeExecutor::Run(const std::vector<FrameTask>& frames,
                       std::vector<std::vector<double>>* scores) {
  Impl& m = *impl_;
  for (const Impl::Batch& b : m.batches) {
    MS_CHECK_RT(!b.held, "executor: Run while RunOverlapped holds a batch; Drain first");
  }
  Impl::Batch& b = m.batches[0];
  m.RunStems(b, frames);
  if (b.has_tail) {
    m.RunTail(b);
    b.has_tail = false;
  }
  m.RunBranches(b);
  b.ReleaseActivations();
  scores->swap(b.scores);
}

bool TreeExecutor::RunOverlapped(const std::vector<FrameTask>& frames,
                                 std::vector<std::vector<double>>* previous) {
  Impl& m = *impl_;
  Impl::Batch& b = m.batches[m.free_batch];
  // This batch's stems while the previous batch's branches run on the pool.
  m.RunStems(b, frames);
  const bool returned = Drain(previous);
  m.StartBranches(b);
  b.held = true;
  m.free_batch = 1 - m.free_batch;
  return returned;
}

bool TreeExecutor::Drain(std::vector<std::vector<double>>* previous) {
  Impl& m = *impl_;
  Impl::Batch& before = m.batches[1 - m.free_batch];
  if (!before.held) return false;
  before.held = false;
  m.FinishBranches(before);
  previous->swap(before.scores);
  return true;
}

bool TreeExecutor::overlaps() const { return impl_->own_pool; }
const StemSplit& TreeExecutor::stem_split() const { return impl_->split; }

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
double TreeExecutor::node_ms(int node) const {
  const auto k = static_cast<size_t>(node);
  return impl_->ms.at(k) + impl_->tail_ms.at(k);
}
double TreeExecutor::node_cpu_ms(int node) const {
  const auto k = static_cast<size_t>(node);
  return impl_->cpu_ms.at(k) + impl_->tail_cpu_ms.at(k);
}

double TreeExecutor::branch_phase_ms() const { return impl_->branch_phase_ms; }
double TreeExecutor::tail_ms() const {
  double sum = 0;
  for (double v : impl_->tail_ms) sum += v;
  return sum;
}
int TreeExecutor::workers() const {
  if (!impl_->pool) return 1;
  return impl_->pool->size() + (impl_->own_pool ? 1 : 0);
}

void TreeExecutor::ResetCounters() {
  impl_->branch_phase_ms = 0;
  std::fill(impl_->calls.begin(), impl_->calls.end(), 0);
  std::fill(impl_->frames.begin(), impl_->frames.end(), 0);
  std::fill(impl_->ms.begin(), impl_->ms.end(), 0.0);
  std::fill(impl_->cpu_ms.begin(), impl_->cpu_ms.end(), 0.0);
  std::fill(impl_->tail_ms.begin(), impl_->tail_ms.end(), 0.0);
  std::fill(impl_->tail_cpu_ms.begin(), impl_->tail_cpu_ms.end(), 0.0);
}

Json TreeExecutor::NodeInfo(int node) const {
  const Segment& s = impl_->segments.at(static_cast<size_t>(node));
  Json j{{"segment", s.name()}, {"fusion", s.fusion().ToJson()}};
  const auto k = static_cast<size_t>(node);
  const TreeNode& n = impl_->tree.nodes.at(k);
  if (n.kind == TreeNode::Kind::kStem && impl_->split.tail_from[k] < n.end) {
    // In the stems' tail, on the workers: all of it, or from a stage on.
    Json tail{{"from_stage", impl_->split.tail_from[k]}};
    if (impl_->split.tail_from[k] > n.begin) {
      const Segment& t = impl_->tail_segments[k];
      tail["segment"] = t.name();
      tail["fusion"] = t.fusion().ToJson();
    }
    j["tail"] = tail;
  }
  if (const auto& mh = impl_->micro.at(static_cast<size_t>(node))) {
    j["native_micro"] = Json{{"channels", mh->channels()}, {"macs", mh->macs()}};
  }
  return j;
}

bool TreeExecutor::IsNativeMicro(int node) const {
  return impl_->micro.at(static_cast<size_t>(node)).has_value();
}

}  // namespace mainstream
