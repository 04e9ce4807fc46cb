#include "finetune.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
#include "mainstream/core/sha256.h"
#include "mainstream/core/stop.h"
#include "mainstream/labels/rate_estimate.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/suffix.h"
#include "mainstream/video/augment.h"

namespace mainstream::train_detail {

namespace {

constexpr int64_t kChunk = 64;  // rows per forward pass when filling the cache or evaluating

std::vector<int64_t> Iota(int64_t begin, int64_t end) {
  std::vector<int64_t> v;
  for (int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

std::vector<int64_t> FrameShapeAt(const BaseModel& base, int b) {
  if (b == 0) {
    const auto& in = base.info().input;
    return {in.channels, in.height, in.width};
  }
  return base.info().ShapeAt(b);
}

}  // namespace

at::Tensor Labels(const Dataset& data, const std::vector<int64_t>& items) {
  at::Tensor t = at::empty({static_cast<int64_t>(items.size())}, at::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (size_t i = 0; i < items.size(); ++i) p[i] = data.labels[static_cast<size_t>(items[i])];
  return t;
}

// Over the first labels.size(0) rows of `role` (for training: the
// un-augmented copies).
Metrics Evaluate(torch::jit::Module& suffix, const ActivationSource& source, Role role,
                 const at::Tensor& labels, double threshold) {
  Metrics m;
  const int64_t rows = labels.size(0);
  if (rows == 0) return m;
  suffix.eval();
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> losses, scores;
  for (int64_t s = 0; s < rows; s += kChunk) {
    const int64_t e = std::min(rows, s + kChunk);
    at::Tensor logits = suffix.forward({source.Fetch(role, Iota(s, e))}).toTensor();
    losses.push_back(torch::nn::functional::cross_entropy(
        logits, labels.narrow(0, s, e - s),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone)));
    scores.push_back(EventScores(logits));
  }
  at::Tensor loss = at::cat(losses), score = at::cat(scores);
  double class_loss[2] = {0, 0};
  int64_t class_n[2] = {0, 0};
  const auto* y = labels.data_ptr<int64_t>();
  const auto* l = loss.data_ptr<float>();
  const auto* sc = score.data_ptr<float>();
  m.predictions.resize(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    const bool pos = sc[i] >= threshold;
    m.predictions[static_cast<size_t>(i)] = pos;
    class_loss[y[i]] += l[i];
    class_n[y[i]] += 1;
    if (y[i]) {
      (pos ? m.tp : m.fn) += 1;
    } else {
      (pos ? m.fp : m.tn) += 1;
    }
  }
  int classes = 0;
  for (int c = 0; c < 2; ++c) {
    if (class_n[c]) {
      m.loss += class_loss[c] / static_cast<double>(class_n[c]);
      ++classes;
    }
  }
  if (classes) m.loss /= classes;
  return m;
}

std::string Seconds(double s) {
  if (s < 90) return fmt::format("{:.0f} s", s);
  return fmt::format("{:.0f} min {:02.0f} s", std::floor(s / 60), std::fmod(s, 60));
}

Trainee MakeTrainee(const BaseModel& base, int b, const TrainConfig& config,
                    uint64_t shuffle_seed) {
  return MakeTraineeFor(BuildCandidate(base, b, config), config, shuffle_seed);
}

Trainee MakeTraineeFor(torch::jit::Module module, const TrainConfig& config,
                       uint64_t shuffle_seed) {
  Trainee t{std::move(module), nullptr, 0, Rng(shuffle_seed)};
  std::vector<at::Tensor> body, head;
  std::string head_name;
  for (const auto& child : t.suffix.named_children()) head_name = child.name;
  for (const auto& child : t.suffix.named_children()) {
    for (const at::Tensor& p : child.value.parameters())
      (child.name == head_name ? head : body).push_back(p);
  }
  for (const auto& p : body) t.num_params += p.numel();
  for (const auto& p : head) t.num_params += p.numel();
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!body.empty()) {
    groups.emplace_back(
        body, std::make_unique<torch::optim::AdamOptions>(
                  torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay)));
  }
  groups.emplace_back(
      head, std::make_unique<torch::optim::AdamOptions>(
                torch::optim::AdamOptions(config.head_lr).weight_decay(config.weight_decay)));
  t.optimizer =
      std::make_unique<torch::optim::Adam>(std::move(groups), torch::optim::AdamOptions(config.lr));
  return t;
}

// Class weights N / (2 N_c) of the labels at `positions` of `y` (or ones).
at::Tensor ClassWeights(const at::Tensor& y, const std::vector<int64_t>& positions,
                        const TrainConfig& config) {
  at::Tensor weight = at::ones({2}, at::kFloat);
  if (config.balance != "weight") return weight;
  const auto* py = y.data_ptr<int64_t>();
  int64_t pos = 0;
  for (int64_t p : positions) pos += py[p];
  const auto n = static_cast<float>(positions.size());
  weight[0] = n / (2.0f * static_cast<float>(static_cast<int64_t>(positions.size()) - pos));
  weight[1] = n / (2.0f * static_cast<float>(pos));
  return weight;
}

// One epoch over the training items at `positions` (indices into
// data.split.train), each drawn as one of its augmented versions; returns the
// mean loss.
double TrainEpoch(Trainee& t, const ActivationSource& source, const at::Tensor& y_train,
                  std::vector<int64_t> positions, const at::Tensor& weight,
                  const TrainConfig& config) {
  SetTrainMode(t.suffix, config.batchnorm == "frozen");
  auto loss_options = torch::nn::functional::CrossEntropyFuncOptions().weight(weight);
  const auto n_train = y_train.size(0);
  for (size_t i = positions.size(); i > 1; --i)
    std::swap(positions[i - 1], positions[t.rng.Index(i)]);
  const auto n = static_cast<int64_t>(positions.size());
  double loss_sum = 0;
  int64_t seen = 0;
  for (int64_t s = 0; s < n; s += config.batch) {
    if (const int sig = StopRequested()) throw Interrupted(sig, "stopped while training");
    const int64_t e = std::min(n, s + config.batch);
    if (e - s < 2) break;  // BatchNorm needs two frames in train mode
    std::vector<int64_t> rows, idx;
    for (int64_t i = s; i < e; ++i) {
      const int64_t item = positions[static_cast<size_t>(i)];
      const auto copy =
          static_cast<int64_t>(t.rng.Index(static_cast<uint64_t>(source.copies() + 1)));
      rows.push_back(copy * n_train + item);
      idx.push_back(item);
    }
    at::Tensor x = source.Fetch(Role::kTrain, rows);
    at::Tensor yb = y_train.index_select(0, at::tensor(idx, at::kLong));
    at::Tensor logits = t.suffix.forward({x}).toTensor();
    at::Tensor loss = torch::nn::functional::cross_entropy(logits, yb, loss_options);
    t.optimizer->zero_grad();
    loss.backward();
    t.optimizer->step();
    loss_sum += loss.item<double>() * static_cast<double>(e - s);
    seen += e - s;
  }
  return seen ? loss_sum / static_cast<double>(seen) : 0;
}

// Scores P(event) and per-frame cross-entropy of the un-augmented training
// items at `positions`, written at those positions of `scores` / `losses`.
void ScorePositions(torch::jit::Module& suffix, const ActivationSource& source,
                    const at::Tensor& y_train, const std::vector<int64_t>& positions,
                    std::vector<float>& scores, std::vector<float>& losses) {
  suffix.eval();
  torch::NoGradGuard no_grad;
  const auto n = static_cast<int64_t>(positions.size());
  for (int64_t s = 0; s < n; s += kChunk) {
    const int64_t e = std::min(n, s + kChunk);
    std::vector<int64_t> rows(positions.begin() + s, positions.begin() + e);
    at::Tensor logits = suffix.forward({source.Fetch(Role::kTrain, rows)}).toTensor();
    at::Tensor loss = torch::nn::functional::cross_entropy(
        logits, y_train.index_select(0, at::tensor(rows, at::kLong)),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    at::Tensor score = EventScores(logits);
    const float* ps = score.data_ptr<float>();
    const float* pl = loss.data_ptr<float>();
    for (int64_t i = 0; i < e - s; ++i) {
      scores[static_cast<size_t>(rows[static_cast<size_t>(i)])] = ps[i];
      losses[static_cast<size_t>(rows[static_cast<size_t>(i)])] = pl[i];
    }
  }
}

PooledFigures Pool(const std::vector<float>& scores, const std::vector<float>& losses,
                   const at::Tensor& y, double threshold) {
  const auto* py = y.data_ptr<int64_t>();
  double n[2] = {0, 0}, pos[2] = {0, 0}, loss[2] = {0, 0};
  for (size_t i = 0; i < scores.size(); ++i) {
    const int64_t c = py[i];
    n[c] += 1;
    pos[c] += scores[i] >= threshold ? 1 : 0;
    loss[c] += losses[i];
  }
  PooledFigures f;
  f.tpr = n[1] ? pos[1] / n[1] : 0;
  f.fpr = n[0] ? pos[0] / n[0] : 0;
  f.balanced = 0.5 * (f.tpr + 1 - f.fpr);
  f.loss = 0.5 * ((n[0] ? loss[0] / n[0] : 0) + (n[1] ? loss[1] / n[1] : 0));
  return f;
}

std::vector<at::Tensor> Snapshot(const torch::jit::Module& m) {
  std::vector<at::Tensor> s;
  for (const at::Tensor& p : m.parameters()) s.push_back(p.detach().clone());
  for (const at::Tensor& b : m.buffers()) s.push_back(b.detach().clone());
  return s;
}

void Restore(const torch::jit::Module& m, const std::vector<at::Tensor>& s) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (at::Tensor p : m.parameters()) p.copy_(s[i++]);
  for (at::Tensor b : m.buffers()) b.copy_(s[i++]);
}

torch::jit::Module BuildCandidate(const BaseModel& base, int b, const TrainConfig& config) {
  SuffixOptions so;
  so.num_outputs = 2;
  so.dropout = config.dropout;
  so.seed = SubSeed(config.seed, 100 + static_cast<uint64_t>(b));
  const int n = base.num_stages();
  const std::vector<int64_t> in = base.info().ShapeAt(n - 1);
  if (config.head == "pool" || in.size() != 3) return BuildSuffix(base, b, so);

  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  auto make = [&](const std::string& name) {
    torch::jit::Module m(c10::QualifiedName("__torch__.mainstream.train." + name), cu,
                         /*shouldMangle=*/true);
    m.register_attribute("training", c10::BoolType::get(), false);
    return m;
  };
  // Head: 1x1 conv (a learned channel mix, no nonlinearity) keeps the map's
  // layout; a linear layer over the flattened map then weighs each position.
  const int64_t c = in[0], h = in[1], w = in[2], r = config.head_channels;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(so.seed);
  torch::jit::Module head = make("SpatialHead");
  head.register_parameter("reduce_weight",
                          at::randn({r, c, 1, 1}, gen) * std::sqrt(1.0 / static_cast<double>(c)),
                          false);
  head.register_parameter("reduce_bias", at::zeros({r}), false);
  head.register_parameter("weight", at::randn({2, r * h * w}, gen) * 0.01, false);
  head.register_parameter("bias", at::zeros({2}), false);
  head.define(
      fmt::format("def forward(self, x):\n"
                  "    x = torch.conv2d(x, self.reduce_weight, self.reduce_bias)\n"
                  "    x = torch.flatten(x, 1)\n"
                  "    x = torch.dropout(x, {:.6f}, self.training)\n"
                  "    return torch.linear(x, self.weight, self.bias)\n",
                  config.dropout));

  torch::jit::Module m = make("AppSuffix");
  std::string src = "def forward(self, x):\n";
  {
    torch::NoGradGuard no_grad;
    for (int k = b; k < n - 1; ++k) {
      const std::string& name = base.info().stages[static_cast<size_t>(k)].name;
      m.register_module(name, base.stage(k).deepcopy());
      src += "    x = self." + name + ".forward(x)\n";
    }
  }
  m.register_module("app_head", head);
  src += "    return self.app_head.forward(x)\n";
  m.define(src);
  for (at::Tensor p : m.parameters()) p.set_requires_grad(true);
  m.eval();
  return m;
}

void SetTrainMode(torch::jit::Module& m, bool freeze_batchnorm) {
  m.train(true);
  if (!freeze_batchnorm) return;
  for (torch::jit::Module sub : m.modules()) {
    if (sub.hasattr("running_mean")) sub.train(false);
  }
}

at::Tensor InputBatch(const Dataset& data, const std::vector<int64_t>& items,
                      const std::vector<int>& copies, const PreprocessConfig& pre,
                      const AugmentConfig& augment, uint64_t seed) {
  const auto n = static_cast<int64_t>(items.size());
  at::Tensor x = at::empty({n, 3, pre.height, pre.width}, at::kFloat);
  float* out = x.data_ptr<float>();
  const size_t floats = pre.floats_per_frame();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const auto item = static_cast<size_t>(items[static_cast<size_t>(j)]);
      const int copy = copies.empty() ? 0 : copies[static_cast<size_t>(j)];
      float* dst = out + static_cast<size_t>(j) * floats;
      if (copy == 0) {
        NormalizeToChw(data.images[item], pre, dst);
      } else {
        const uint64_t s =
            SubSeed(SubSeed(seed, 11), static_cast<uint64_t>(copy) * (uint64_t{1} << 40) +
                                           static_cast<uint64_t>(data.frames[item]));
        NormalizeToChw(Augment(data.images[item], augment, s), pre, dst);
      }
    }
  });
  return x;
}

ActivationSource::ActivationSource(const BaseModel& base, const Dataset& data,
                                   const TrainConfig& config, const PreprocessConfig& pre)
    : base_(base), data_(data), config_(config), pre_(pre), cache_(config.cache) {
  copies_ = config.augment.enabled() ? config.augment_copies : 0;
}

const std::vector<int64_t>& ActivationSource::Items(Role role) const {
  return role == Role::kTrain        ? data_.split.train
         : role == Role::kValidation ? data_.split.validation
                                     : data_.split.test;
}

int64_t ActivationSource::Rows(Role role) const {
  const auto n = static_cast<int64_t>(Items(role).size());
  return role == Role::kTrain ? n * (copies_ + 1) : n;
}

size_t ActivationSource::cached_bytes() const {
  size_t b = 0;
  for (const at::Tensor* t : {&train_, &validation_, &test_}) {
    if (t->defined()) b += static_cast<size_t>(t->numel()) * sizeof(float);
  }
  return b;
}

at::Tensor ActivationSource::Inputs(Role role, const std::vector<int64_t>& rows) const {
  const std::vector<int64_t>& items = Items(role);
  const auto n = static_cast<int64_t>(items.size());
  std::vector<int64_t> it(rows.size());
  std::vector<int> copies(rows.size(), 0);
  for (size_t j = 0; j < rows.size(); ++j) {
    it[j] = items[static_cast<size_t>(rows[j] % n)];
    copies[j] = static_cast<int>(rows[j] / n);
  }
  return InputBatch(data_, it, copies, pre_, config_.augment, config_.seed);
}

at::Tensor ActivationSource::RunPrefix(const Segment* segment, Role role,
                                       const at::Tensor* from) const {
  const int64_t rows = Rows(role);
  std::vector<int64_t> shape = FrameShapeAt(base_, segment->end());
  shape.insert(shape.begin(), rows);
  at::Tensor out = at::empty(shape, at::kFloat);
  for (int64_t s = 0; s < rows; s += kChunk) {
    const int64_t e = std::min(rows, s + kChunk);
    at::Tensor x = from ? from->narrow(0, s, e - s) : Inputs(role, Iota(s, e));
    out.narrow(0, s, e - s).copy_(segment->Forward(x));
  }
  return out;
}

void ActivationSource::MoveTo(int b) {
  MS_CHECK_RT(b >= branchpoint_ || !cache_,
              "activation cache: branchpoints must not decrease ({} after {})", b, branchpoint_);
  if (!cache_) {
    branchpoint_ = b;
    prefix_.reset();
    if (b > 0) {
      const double t0 = NowSeconds();
      prefix_ = std::make_unique<Segment>(Segment::Build(base_, 0, b));
      prefix_seconds_ += NowSeconds() - t0;
    }
    return;
  }
  if (b == branchpoint_) return;
  const double t0 = NowSeconds();
  Segment seg = Segment::Build(base_, branchpoint_, b);
  const bool have = train_.defined();
  at::Tensor train = RunPrefix(&seg, Role::kTrain, have ? &train_ : nullptr);
  at::Tensor val = RunPrefix(&seg, Role::kValidation, have ? &validation_ : nullptr);
  at::Tensor test = RunPrefix(&seg, Role::kTest, have ? &test_ : nullptr);
  train_ = train;
  validation_ = val;
  test_ = test;
  const double dt = NowSeconds() - t0;
  prefix_seconds_ += dt;
  LogInfo(
      "cached activations at branchpoint {} ({} rows of {}, {:.0f} MB) from branchpoint {} in "
      "{:.1f} s",
      b, train_.size(0) + validation_.size(0) + test_.size(0),
      ShapeToString(FrameShapeAt(base_, b)), static_cast<double>(cached_bytes()) / (1 << 20),
      branchpoint_, dt);
  branchpoint_ = b;
}

at::Tensor ActivationSource::Fetch(Role role, const std::vector<int64_t>& rows) const {
  if (branchpoint_ == 0) return Inputs(role, rows);
  if (!cache_) {
    torch::NoGradGuard no_grad;
    return prefix_->Forward(Inputs(role, rows));
  }
  const at::Tensor& t = role == Role::kTrain        ? train_
                        : role == Role::kValidation ? validation_
                                                    : test_;
  at::Tensor idx = at::from_blob(const_cast<int64_t*>(rows.data()),
                                 {static_cast<int64_t>(rows.size())}, at::kLong);
  return t.index_select(0, idx);
}

std::vector<double> StageCostsMs(const BaseModel& base) {
  torch::NoGradGuard no_grad;
  const int n = base.num_stages();
  std::vector<double> ms(static_cast<size_t>(n), 0);
  at::Tensor x = base.DummyInput(8);
  for (int rep = 0; rep < 2; ++rep) {
    at::Tensor y = x;
    for (int k = 0; k < n; ++k) {
      const double t0 = NowSeconds();
      y = base.RunStages(y, k, k + 1);
      if (rep == 1) ms[static_cast<size_t>(k)] = (NowSeconds() - t0) * 1000 / 8;
    }
  }
  return ms;
}

FineTuneOutcome FineTune(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                         ActivationSource& source, const CandidateStore& store,
                         ProgressState& progress) {
  const int b = source.branchpoint();
  const double t0 = NowSeconds();
  Trainee trainee =
      MakeTrainee(base, b, config, SubSeed(config.seed, 300 + static_cast<uint64_t>(b)));
  torch::jit::Module& suffix = trainee.suffix;
  torch::manual_seed(SubSeed(config.seed, 200 + static_cast<uint64_t>(b)));
  const int64_t num_params = trainee.num_params;

  const std::vector<int64_t>& train_items = data.split.train;
  const auto n_train = static_cast<int64_t>(train_items.size());
  at::Tensor y_train = Labels(data, train_items);
  at::Tensor y_val = Labels(data, data.split.validation);
  at::Tensor y_test = Labels(data, data.split.test);
  const int64_t pos = y_train.sum().item<int64_t>();
  std::vector<int64_t> all_positions(static_cast<size_t>(n_train));
  for (int64_t i = 0; i < n_train; ++i) all_positions[static_cast<size_t>(i)] = i;
  const at::Tensor weight = ClassWeights(y_train, all_positions, config);

  double best_loss = INFINITY, best_bal = -1, last_train_loss = 0, epoch_seconds = 0;
  int best_epoch = 0, epochs_run = 0, since_best = 0;
  std::vector<at::Tensor> best_state;
  Metrics best_val;
  Json history = Json::array();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const double e0 = NowSeconds();
    last_train_loss = TrainEpoch(trainee, source, y_train, all_positions, weight, config);
    Metrics val = Evaluate(suffix, source, Role::kValidation, y_val, config.threshold);
    epochs_run = epoch;
    // The epoch to keep: best balanced accuracy on validation (a constant
    // answer scores 0.5 whatever the class balance), ties broken by the loss.
    const double bal = val.balanced_accuracy();
    const bool better = best_state.empty() || bal > best_bal + 1e-9 ||
                        (bal > best_bal - 1e-9 && val.loss < best_loss - 1e-6);
    if (better) {
      best_loss = val.loss;
      best_bal = bal;
      best_epoch = epoch;
      best_state = Snapshot(suffix);
      best_val = val;
      since_best = 0;
    } else {
      ++since_best;
    }
    history.push_back(Json{{"epoch", epoch},
                           {"train_loss", last_train_loss},
                           {"val_loss", val.loss},
                           {"val_accuracy", val.accuracy()}});
    const double now = NowSeconds();
    epoch_seconds = (now - t0) / epoch;
    const bool stop = since_best >= config.patience;
    const double eta_candidate = stop ? 0 : epoch_seconds * (config.epochs - epoch);
    LogInfo(
        "candidate {}/{} (branchpoint {}): epoch {}/{} loss {:.4f} val_loss {:.4f} val_acc {:.3f} "
        "val_balanced {:.3f}{} "
        "[{:.1f} s/epoch] ETA {} ({} in all)",
        progress.index, progress.total, b, epoch, config.epochs, last_train_loss, val.loss,
        val.accuracy(), bal, better ? " *" : "", now - e0, Seconds(eta_candidate),
        Seconds(eta_candidate + progress.remaining_after_s));
    if (stop) break;
  }
  Restore(suffix, best_state);
  Metrics test = Evaluate(suffix, source, Role::kTest, y_test, config.threshold);
  Metrics fit = Evaluate(suffix, source, Role::kTrain, y_train, config.threshold);
  suffix.eval();
  const double train_seconds = NowSeconds() - t0;

  const std::filesystem::path weights = store.WeightsPath(CandidateKey(CandidateKind::kBranch, b));
  SaveModule(suffix, weights);

  FineTuneOutcome out;
  out.seconds_per_epoch = epoch_seconds;
  CandidateRecord& r = out.record;
  r.config_hash = store.hash();
  r.base = base.ref();
  r.weights_sha256 = Sha256File(weights);
  Candidate& c = r.candidate;
  c.branchpoint = b;
  c.accuracy = best_val.accuracy();
  c.tpr = best_val.tpr();
  c.fpr = best_val.fpr();
  c.threshold = config.threshold;
  c.weights = CandidateStore::WeightsName(CandidateKey(CandidateKind::kBranch, b));
  c.train_seconds = train_seconds;
  c.extra = Json{{"epochs_run", epochs_run},
                 {"best_epoch", best_epoch},
                 {"train_loss", last_train_loss},
                 {"validation", best_val.ToJson()},
                 {"train", fit.ToJson()},
                 {"history", history},
                 {"train_frames", n_train},
                 {"train_positives", pos},
                 {"augmented_copies", source.copies()},
                 {"specialized_stages", base.num_stages() - b},
                 {"parameters", num_params},
                 {"cache", config.cache},
                 {"threads", GetTorchThreads()},
                 {"seconds_per_epoch", epoch_seconds}};
  if (test.n()) c.extra["test"] = test.ToJson();
  if (data.temporal) {
    size_t k = 0;
    for (const FrameInterval& block : data.split.validation_blocks) {
      ValidationTrace t;
      t.block = block;
      t.predictions.assign(best_val.predictions.begin() + static_cast<long>(k),
                           best_val.predictions.begin() +
                               static_cast<long>(k + static_cast<size_t>(block.length())));
      k += static_cast<size_t>(block.length());
      r.validation.push_back(std::move(t));
    }
  }
  out.done_message = fmt::format(
      "candidate {}/{} (branchpoint {}) done in {}: validation accuracy {:.3f}, TPR {:.3f}, FPR "
      "{:.3f} "
      "(best epoch {} of {}; training accuracy {:.3f}){}",
      progress.index, progress.total, b, Seconds(train_seconds), c.accuracy, c.tpr, c.fpr,
      best_epoch, epochs_run, fit.accuracy(),
      test.n() ? fmt::format("; test accuracy {:.3f}", test.accuracy()) : "");
  return out;
}

}  // namespace mainstream::train_detail

namespace mainstream::train_detail {

int DeployedFold(const FoldPlan& plan) {
  int best = 0;
  int64_t first = INT64_MAX;
  for (size_t k = 0; k < plan.held_out.size(); ++k) {
    const auto& h = plan.held_out[k];
    if (h.empty()) continue;
    const int64_t f = *std::min_element(h.begin(), h.end());
    if (f < first) {
      first = f;
      best = static_cast<int>(k);
    }
  }
  return best;
}

Json DeployedJson(const Dataset& data, const FoldPlan& plan, const TrainConfig& config) {
  if (config.EffectiveDeploy() != "fold") return Json{{"model", "retrain"}};
  const int k = DeployedFold(plan);
  const auto& held = plan.held_out[static_cast<size_t>(k)];
  const auto [lo, hi] = std::minmax_element(held.begin(), held.end());
  const auto frame = [&](int64_t p) {
    return data.frames[static_cast<size_t>(data.split.train[static_cast<size_t>(p)])];
  };
  return Json{{"model", "fold"},
              {"fold", k},
              {"held_out_frames", held.empty() ? Json(nullptr) : Json{frame(*lo), frame(*hi)}}};
}

RateEstimate RecordOutOfFold(const Dataset& data, const at::Tensor& y_train, const FoldPlan& plan,
                             const std::vector<float>& scores, const std::string& key,
                             const TrainConfig& config, CandidateRecord& record) {
  const std::vector<int64_t>& train_items = data.split.train;
  OutOfFoldScores oof;
  for (size_t p = 0; p < train_items.size(); ++p) {
    oof.frames.push_back(data.frames[static_cast<size_t>(train_items[p])]);
    oof.folds.push_back(plan.fold_of[p]);
  }
  oof.scores = scores;
  // Per-frame rates from the out-of-fold scores (cluster-robust, shrunk).
  ScoreTrace one;
  one.frames = oof.frames;
  one.folds = oof.folds;
  const auto* py = y_train.data_ptr<int64_t>();
  for (size_t p = 0; p < train_items.size(); ++p) one.labels.push_back(static_cast<uint8_t>(py[p]));
  one.columns = {key};
  one.scores = {oof.scores};
  record.oof = std::move(oof);
  return EstimateRates(one, 0, config.threshold, config.labels);
}

FineTuneOutcome FineTuneFolds(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                              ActivationSource& source, const CandidateStore& store,
                              ProgressState& progress) {
  const int b = source.branchpoint();
  const double t0 = NowSeconds();
  MS_CHECK_RT(data.temporal && data.split.validation.empty(),
              "out-of-fold training needs a video split without "
              "validation blocks");
  const std::vector<int64_t>& train_items = data.split.train;
  const auto n_train = static_cast<int64_t>(train_items.size());
  const at::Tensor y_train = Labels(data, train_items);
  const at::Tensor y_test = Labels(data, data.split.test);
  const FoldPlan plan = PlanFolds(data, config);
  const int k_folds = static_cast<int>(plan.held_out.size());

  // One model per fold, trained in lockstep so that the epoch can be chosen
  // on the pooled out-of-fold figures (early stopping on all folds at once).
  std::vector<Trainee> folds;
  std::vector<at::Tensor> weights;
  for (int k = 0; k < k_folds; ++k) {
    folds.push_back(MakeTrainee(base, b, config,
                                SubSeed(SubSeed(config.seed, 300 + static_cast<uint64_t>(b)),
                                        1 + static_cast<uint64_t>(k))));
    weights.push_back(ClassWeights(y_train, plan.train[static_cast<size_t>(k)], config));
  }
  torch::manual_seed(SubSeed(config.seed, 200 + static_cast<uint64_t>(b)));
  std::vector<float> scores(static_cast<size_t>(n_train), 0),
      losses(static_cast<size_t>(n_train), 0);
  std::vector<float> best_scores;
  // --deploy fold: the deployed fold's model as it was at the best epoch.
  const bool deploy_fold = config.EffectiveDeploy() == "fold";
  const int deployed_fold = DeployedFold(plan);
  torch::jit::Module best_fold_model;
  double best_fold_train_loss = 0;
  double best_bal = -1, best_loss = INFINITY, epoch_seconds = 0;
  int best_epoch = 0, epochs_run = 0, since_best = 0;
  PooledFigures best;
  Json history = Json::array();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const double e0 = NowSeconds();
    double train_loss = 0, deployed_loss = 0;
    for (int k = 0; k < k_folds; ++k) {
      Trainee& t = folds[static_cast<size_t>(k)];
      const double loss = TrainEpoch(t, source, y_train, plan.train[static_cast<size_t>(k)],
                                     weights[static_cast<size_t>(k)], config);
      train_loss += loss / k_folds;
      if (k == deployed_fold) deployed_loss = loss;
      ScorePositions(t.suffix, source, y_train, plan.held_out[static_cast<size_t>(k)], scores,
                     losses);
    }
    const PooledFigures f = Pool(scores, losses, y_train, config.threshold);
    epochs_run = epoch;
    const bool better = best_scores.empty() || f.balanced > best_bal + 1e-9 ||
                        (f.balanced > best_bal - 1e-9 && f.loss < best_loss - 1e-6);
    if (better) {
      best_bal = f.balanced;
      best_loss = f.loss;
      best_epoch = epoch;
      best_scores = scores;
      best = f;
      since_best = 0;
      if (deploy_fold) {
        best_fold_model = folds[static_cast<size_t>(deployed_fold)].suffix.deepcopy();
        best_fold_train_loss = deployed_loss;
      }
    } else {
      ++since_best;
    }
    history.push_back(Json{{"epoch", epoch},
                           {"train_loss", train_loss},
                           {"oof_loss", f.loss},
                           {"oof_balanced_accuracy", f.balanced},
                           {"oof_tpr", f.tpr},
                           {"oof_fpr", f.fpr}});
    const double now = NowSeconds();
    epoch_seconds = (now - t0) / epoch;
    const bool stop = since_best >= config.patience;
    // Remaining: the folds' epochs plus the final model (about 1/(k-1) of a folds epoch per epoch).
    const double final_s = deploy_fold ? 0 : epoch_seconds / std::max(1, k_folds - 1) * best_epoch;
    const double eta_candidate = (stop ? 0 : epoch_seconds * (config.epochs - epoch)) + final_s;
    LogInfo(
        "candidate {}/{} (branchpoint {}): epoch {}/{} ({} folds) loss {:.4f} out-of-fold loss "
        "{:.4f} balanced "
        "accuracy {:.3f} (TPR {:.3f}, FPR {:.3f}){} [{:.1f} s/epoch] ETA {} ({} in all)",
        progress.index, progress.total, b, epoch, config.epochs, k_folds, train_loss, f.loss,
        f.balanced, f.tpr, f.fpr, better ? " *" : "", now - e0, Seconds(eta_candidate),
        Seconds(eta_candidate + progress.remaining_after_s));
    if (stop) break;
  }
  const int64_t num_params = folds.front().num_params;
  folds.clear();

  // The deployed model: the chosen fold's at its best epoch (--deploy fold),
  // or one more trained on all training frames for the chosen number of epochs.
  torch::jit::Module suffix;
  double last_train_loss = 0;
  if (deploy_fold) {
    suffix = std::move(best_fold_model);
    last_train_loss = best_fold_train_loss;
  } else {
    Trainee final_model =
        MakeTrainee(base, b, config, SubSeed(config.seed, 300 + static_cast<uint64_t>(b)));
    torch::manual_seed(SubSeed(config.seed, 200 + static_cast<uint64_t>(b)));
    const at::Tensor all_weight = ClassWeights(y_train, plan.all, config);
    for (int epoch = 1; epoch <= best_epoch; ++epoch) {
      last_train_loss = TrainEpoch(final_model, source, y_train, plan.all, all_weight, config);
    }
    suffix = final_model.suffix;
  }
  Metrics test = Evaluate(suffix, source, Role::kTest, y_test, config.threshold);
  Metrics fit = Evaluate(suffix, source, Role::kTrain, y_train, config.threshold);
  suffix.eval();
  const double train_seconds = NowSeconds() - t0;
  const std::filesystem::path weights_file =
      store.WeightsPath(CandidateKey(CandidateKind::kBranch, b));
  SaveModule(suffix, weights_file);

  FineTuneOutcome out;
  out.seconds_per_epoch = epoch_seconds;
  CandidateRecord& r = out.record;
  r.config_hash = store.hash();
  r.base = base.ref();
  r.weights_sha256 = Sha256File(weights_file);
  const RateEstimate est = RecordOutOfFold(data, y_train, plan, best_scores,
                                           CandidateKey(CandidateKind::kBranch, b), config, r);

  Candidate& c = r.candidate;
  c.branchpoint = b;
  c.accuracy = est.accuracy;
  c.tpr = est.tpr;
  c.fpr = est.fpr;
  c.no_skill = est.no_skill;
  c.threshold = config.threshold;
  c.weights = CandidateStore::WeightsName(CandidateKey(CandidateKind::kBranch, b));
  c.train_seconds = train_seconds;
  c.extra = Json{{"estimate", "out-of-fold"},
                 {"folds", k_folds},
                 {"oof", est.ToJson()},
                 {"epochs_run", epochs_run},
                 {"best_epoch", best_epoch},
                 {"train_loss", last_train_loss},
                 {"train", fit.ToJson()},
                 {"history", history},
                 {"train_frames", n_train},
                 {"train_positives", y_train.sum().item<int64_t>()},
                 {"augmented_copies", source.copies()},
                 {"specialized_stages", base.num_stages() - b},
                 {"parameters", num_params},
                 {"deployed", DeployedJson(data, plan, config)},
                 {"cache", config.cache},
                 {"threads", GetTorchThreads()},
                 {"seconds_per_epoch", epoch_seconds}};
  if (test.n()) c.extra["test"] = test.ToJson();
  out.done_message = fmt::format(
      "candidate {}/{} (branchpoint {}) done in {}: out-of-fold accuracy {:.3f}, TPR {:.3f}, FPR "
      "{:.3f} (raw "
      "{:.3f} / {:.3f}; {} events, {} gaps; epochs {} of {}; training accuracy {:.3f}){}",
      progress.index, progress.total, b, Seconds(train_seconds), c.accuracy, c.tpr, c.fpr,
      est.tpr_raw, est.fpr_raw, est.events, est.gaps, best_epoch, epochs_run, fit.accuracy(),
      test.n() ? fmt::format("; test accuracy {:.3f}", test.accuracy()) : "");
  if (c.no_skill) {
    LogWarn(
        "candidate at branchpoint {} is no better than chance out of fold: TPR {:.3f} vs FPR "
        "{:.3f} (skill {:.3f}, "
        "95% lower bound {:.3f}); the scheduler will predict it as such",
        b, est.tpr_raw, est.fpr_raw, est.skill, est.skill_lower);
  }
  return out;
}

}  // namespace mainstream::train_detail
