#include "mainstream/train/pretrain.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <functional>
#include <map>
#include <numeric>

#include "finetune.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
#include "mainstream/core/stop.h"
#include "mainstream/labels/mot.h"
#include "mainstream/labels/splits.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/train/dataset.h"
#include "mainstream/train/train_config.h"
#include "mainstream/video/video_source.h"

namespace mainstream {

namespace {

struct CellMetrics {
  double loss = 0, accuracy = 0, f1 = 0, baseline = 0;
  std::vector<double> dense_f1;  // per dense head
};

// Re-estimates the BatchNorm running statistics (momentum 0.1) with forward
// passes in training mode, without gradients or labels: `passes` times, the
// items of `order` (shuffled in place with `rng` first) in batches; a last
// batch of one item is skipped (batch statistics need two).
void RecalibrateBatchNorm(torch::jit::Module& module, std::vector<int64_t>& order, int passes,
                          int64_t batch, Rng& rng,
                          const std::function<at::Tensor(const std::vector<int64_t>&)>& inputs) {
  torch::NoGradGuard no_grad;
  module.train();
  const auto n = static_cast<int64_t>(order.size());
  for (int pass = 0; pass < passes; ++pass) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Index(i)]);
    for (int64_t s = 0; s + 1 < n; s += batch) {
      std::vector<int64_t> items(order.begin() + s, order.begin() + std::min(n, s + batch));
      module.forward({inputs(items)});
    }
  }
}

// Copies the weights and BatchNorm statistics of the base in `dir` into
// `module` (built from `info`). The stage names, the input and every tensor's
// shape must agree; when the number of classes differs, the head keeps its
// fresh initialization. Returns what base.json's source records.
Json InitFromBase(const std::string& dir, const BaseInfo& info, torch::jit::Module& module) {
  const BaseModel init = BaseModel::Load(dir);
  const BaseInfo& from = init.info();
  const bool fresh_head = from.num_classes != info.num_classes;
  std::vector<std::string> diffs;
  if (from.stage_names() != info.stage_names()) {
    diffs.push_back(fmt::format("its stages are [{}], the default base's [{}]",
                                fmt::join(from.stage_names(), ", "),
                                fmt::join(info.stage_names(), ", ")));
  }
  if (from.input.width != info.input.width || from.input.height != info.input.height) {
    diffs.push_back(fmt::format("its input is {}x{}, --size is {}x{}", from.input.width,
                                from.input.height, info.input.width, info.input.height));
  } else if (from.input.ToJson() != info.input.ToJson()) {
    diffs.push_back(fmt::format("its preprocessing is {}, the default base's {}",
                                from.input.ToJson().dump(), info.input.ToJson().dump()));
  }
  // Parameters and buffers by name ("block2.b0.expand.weight").
  std::map<std::string, at::Tensor> source;
  for (const auto& p : init.module().named_parameters()) source.emplace(p.name, p.value);
  for (const auto& b : init.module().named_buffers()) source.emplace(b.name, b.value);
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (to, from)
  std::map<std::string, bool> used;
  auto match = [&](const std::string& name, const at::Tensor& to) {
    const bool head = name.rfind("head.", 0) == 0;
    auto it = source.find(name);
    if (it == source.end()) {
      if (!(head && fresh_head)) diffs.push_back(fmt::format("it has no tensor '{}'", name));
      return;
    }
    used[name] = true;
    if (head && fresh_head) return;
    if (it->second.sizes() != to.sizes()) {
      diffs.push_back(fmt::format("'{}' is {} there, {} here", name,
                                  ShapeToString(it->second.sizes().vec()),
                                  ShapeToString(to.sizes().vec())));
      return;
    }
    copies.emplace_back(to, it->second);
  };
  for (const auto& p : module.named_parameters()) match(p.name, p.value);
  for (const auto& b : module.named_buffers()) match(b.name, b.value);
  for (const auto& [name, t] : source) {
    if (!used.count(name) && !(fresh_head && name.rfind("head.", 0) == 0)) {
      diffs.push_back(fmt::format("it has a tensor '{}' the default base has not", name));
    }
  }
  if (!diffs.empty()) {
    const size_t shown = std::min<size_t>(diffs.size(), 6);
    ThrowInput(
        "--init {}: not the architecture being built ({}): {}{}. It was built as: {}; pass the "
        "--size, "
        "--width-mult and --last-channel it was built with",
        dir, info.description,
        fmt::join(diffs.begin(), diffs.begin() + static_cast<long>(shown), "; "),
        diffs.size() > shown ? fmt::format("; and {} more differences", diffs.size() - shown) : "",
        from.description);
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& [to, src] : copies) to.copy_(src);
  }
  const std::string head = fresh_head ? fmt::format("fresh ({} has {} classes, this task {})", dir,
                                                    from.num_classes, info.num_classes)
                                      : "copied";
  LogInfo("starting from the weights of {} ({}, sha256 {}); head {}", dir, from.name,
          from.sha256.substr(0, 12), head);
  return Json{{"dir", dir}, {"name", from.name}, {"sha256", from.sha256}, {"head", head}};
}

// The training frames: --train-frames, or the first 70% of the video.
std::vector<FrameInterval> TrainingBlocks(const PretrainConfig& config, int64_t num_frames) {
  if (config.train_frames.empty())
    return {FrameInterval{1, std::max<int64_t>(1, num_frames * 7 / 10)}};
  std::vector<FrameInterval> blocks = ParseFrameRanges(config.train_frames, "--train-frames");
  for (const auto& b : blocks) {
    MS_CHECK(b.end <= num_frames, "--train-frames: range {} reaches beyond the {} frames of {}",
             b.ToString(), num_frames, config.video);
  }
  return blocks;
}

}  // namespace

std::string PretrainTaskName(PretrainTask task) {
  return task == PretrainTask::kFashionMnist ? "fashion-mnist" : "occupancy";
}

PretrainTask ParsePretrainTask(const std::string& name, const std::string& what) {
  if (name == "occupancy") return PretrainTask::kOccupancy;
  if (name == "fashion-mnist") return PretrainTask::kFashionMnist;
  ThrowInput("{}: unknown pretraining task '{}' (expected occupancy or fashion-mnist)", what, name);
}

PretrainConfig PretrainDefaults(PretrainTask task) {
  PretrainConfig c;
  c.task = task;
  if (task == PretrainTask::kFashionMnist) {
    // With the default 3,000 images: ~100 s on 2 threads, held-out accuracy
    // 0.53 (docs/training.md).
    c.epochs = 3;
    c.lr = 5e-3;
  }
  return c;
}

void PretrainConfig::Validate() const {
  if (task == PretrainTask::kOccupancy) {
    MS_CHECK(!video.empty(), "--video: the video to pretrain on is required");
    MS_CHECK(!mot.empty(), "--mot: the MOT ground truth (gt.txt) of the video is required");
  } else {
    MS_CHECK(mot.empty(),
             "--mot: the fashion-mnist task takes no labels from the video (--video only lends its "
             "frames to the "
             "BatchNorm statistics); drop --mot or use --task occupancy");
    MS_CHECK(
        !video.empty() || train_frames.empty(),
        "--train-frames: needs --video (the frames to re-estimate the BatchNorm statistics on)");
    MS_CHECK(!fmnist_dir.empty(), "--fmnist: the Fashion-MNIST directory must not be empty");
    MS_CHECK(images >= 1, "--images: expected >= 1 training images, got {}", images);
    MS_CHECK(val_images >= 1, "--val-images: expected >= 1 held-out images, got {}", val_images);
    MS_CHECK(recalibrate_canvases >= 0, "recalibrate_canvases: expected >= 0, got {}",
             recalibrate_canvases);
    canvas.Validate();
  }
  MS_CHECK(!output.empty(), "-o/--output: the base directory to write is required");
  MS_CHECK(fps >= 0 && fps <= 1000, "--fps: expected a frame rate in (0, 1000], got {}", fps);
  if (!train_frames.empty()) ParseFrameRanges(train_frames, "--train-frames");
  MS_CHECK(grid_cols >= 1 && grid_cols <= 64 && grid_rows >= 1 && grid_rows <= 64,
           "--grid: expected 1..64 columns and rows, got {}x{}", grid_cols, grid_rows);
  MS_CHECK(epochs >= 0 && epochs <= 10000, "--epochs: expected 0..10000, got {}", epochs);
  MS_CHECK(batch >= 2 && batch <= 4096, "--batch: expected 2..4096, got {}", batch);
  MS_CHECK(lr > 0 && lr < 10, "--lr: expected (0, 10), got {}", lr);
  MS_CHECK(weight_decay >= 0 && weight_decay < 1, "--weight-decay: expected [0, 1), got {}",
           weight_decay);
  MS_CHECK(stride >= 1, "--stride: expected >= 1, got {}", stride);
  MS_CHECK(val_fraction > 0 && val_fraction < 1, "--val-fraction: expected (0, 1), got {}",
           val_fraction);
  MS_CHECK(gap >= 0, "--gap: expected >= 0, got {}", gap);
  MS_CHECK(recalibrate_passes >= 0, "recalibrate_passes: expected >= 0, got {}",
           recalibrate_passes);
  MS_CHECK(threads >= 1, "--threads: expected >= 1, got {}", threads);
  augment.Validate();
  base.Validate();
}

Json PretrainConfig::ToJson() const {
  Json j;
  if (task == PretrainTask::kOccupancy) {
    j = Json{{"video", video},
             {"mot", mot},
             {"fps", fps},
             {"train_frames", train_frames},
             {"grid", {grid_cols, grid_rows}},
             {"epochs", epochs},
             {"batch", batch},
             {"lr", lr},
             {"weight_decay", weight_decay},
             {"stride", stride},
             {"val_fraction", val_fraction},
             {"gap", gap},
             {"augment", augment.ToJson()},
             {"base", base.ToJson()},
             {"seed", seed},
             {"threads", threads},
             {"recalibrate_passes", recalibrate_passes},
             {"dense_heads", dense_heads}};
  } else {
    j = Json{{"fmnist", fmnist_dir},
             {"images", images},
             {"val_images", val_images},
             {"canvas", canvas.ToJson()},
             {"epochs", epochs},
             {"batch", batch},
             {"lr", lr},
             {"weight_decay", weight_decay},
             {"base", base.ToJson()},
             {"seed", seed},
             {"threads", threads}};
    if (video.empty()) {
      j["recalibrate_canvases"] = recalibrate_canvases;
    } else {
      j["video"] = video;
      j["fps"] = fps;
      j["train_frames"] = train_frames;
      j["stride"] = stride;
      j["recalibrate_passes"] = recalibrate_passes;
    }
  }
  j["task"] = PretrainTaskName(task);
  if (!init.empty()) j["init"] = init;
  return j;
}

std::string PretrainConfig::ToString() const {
  const std::string from = init.empty() ? "" : fmt::format(", starting from {}", init);
  if (task == PretrainTask::kFashionMnist) {
    return fmt::format(
        "pretrain {} on Fashion-MNIST ({} training images from {}, {} held-out) on {}x{} canvases, "
        "{} "
        "epochs, batch {}, lr {}, BatchNorm statistics from {}{}, seed {}, {} thread(s)",
        base.name, images, fmnist_dir, val_images, base.width, base.height, epochs, batch, lr,
        video.empty() ? "the canvases"
                      : fmt::format("the frames {} of {}",
                                    train_frames.empty() ? "first 70%" : train_frames, video),
        from, seed, threads);
  }
  return fmt::format(
      "pretrain {} on person occupancy of a {}x{} grid over {} (frames {}), {} epochs, batch {}, "
      "lr {}, "
      "stride {}{}, seed {}, {} thread(s)",
      base.name, grid_cols, grid_rows, video, train_frames.empty() ? "first 70%" : train_frames,
      epochs, batch, lr, stride, from, seed, threads);
}

Json PretrainReport::ToJson() const {
  if (task == PretrainTask::kFashionMnist) {
    return Json{{"task", PretrainTaskName(task)},
                {"seconds", seconds},
                {"seconds_per_epoch", seconds_per_epoch},
                {"epochs_run", epochs_run},
                {"train_images", train_images},
                {"val_images", val_images},
                {"train_loss", train_loss},
                {"val_loss", val_loss},
                {"val_accuracy", val_accuracy},
                {"val_accuracy_saved", val_accuracy_saved}};
  }
  return Json{{"seconds", seconds},          {"epochs_run", epochs_run},
              {"best_epoch", best_epoch},    {"train_loss", train_loss},
              {"val_loss", val_loss},        {"val_cell_accuracy", val_cell_accuracy},
              {"val_cell_f1", val_cell_f1},  {"val_baseline_accuracy", val_baseline_accuracy},
              {"val_dense_f1", val_dense_f1}};
}

namespace {

PretrainReport PretrainOccupancy(const PretrainConfig& config_in) {
  const double t0 = NowSeconds();
  PretrainConfig config = config_in;
  config.base.num_classes = config.grid_cols * config.grid_rows;
  config.base.class_names.clear();
  for (int r = 0; r < config.grid_rows; ++r) {
    for (int c = 0; c < config.grid_cols; ++c)
      config.base.class_names.push_back(fmt::format("cell_{}_{}", r, c));
  }
  config.Validate();
  SetTorchThreads(config.threads);
  SetVideoThreads(config.threads);
  LogInfo("{}", config.ToString());

  // Frames and their occupancy targets.
  VideoSourceOptions vo;
  vo.fps_override = config.fps;
  int64_t num_frames = 0;
  int width = 0, height = 0;
  {
    VideoSource probe(config.video, vo);
    num_frames = probe.frame_count();
    width = probe.width();
    height = probe.height();
    MS_CHECK(num_frames > 0, "video '{}': reports no frame count", config.video);
  }
  MotSequence seq = LoadMotSequence(config.mot, num_frames);
  const std::vector<FrameInterval> blocks = TrainingBlocks(config, num_frames);
  TrainValidation tv = SplitOffValidation(blocks, config.val_fraction, config.gap);
  // Occupancy of a cols x rows grid in every frame: 1 where a person's feet are.
  PersonRule rule;
  auto occupancy = [&](int cols, int rows) {
    std::vector<std::vector<uint8_t>> t(static_cast<size_t>(num_frames),
                                        std::vector<uint8_t>(static_cast<size_t>(cols * rows), 0));
    for (const MotBox& box : seq.boxes) {
      if (!rule.Matches(box)) continue;
      const int c = std::clamp(static_cast<int>(box.FeetX() / width * cols), 0, cols - 1);
      const int r = std::clamp(static_cast<int>(box.FeetY() / height * rows), 0, rows - 1);
      t[static_cast<size_t>(box.frame - 1)][static_cast<size_t>(r * cols + c)] = 1;
    }
    return t;
  };

  torch::jit::Module module;
  BaseInfo info = BuildDefaultBase(config.base, &module);
  const Json init = config.init.empty() ? Json() : InitFromBase(config.init, info, module);
  const PreprocessConfig pre = PreprocessConfigFor(info);
  std::vector<torch::jit::Module> stages;
  for (const auto& child : module.named_children()) stages.push_back(child.value);
  std::vector<std::vector<int64_t>> shapes;  // per stage output, without the batch
  {
    torch::NoGradGuard no_grad;
    module.eval();
    at::Tensor x = at::zeros({1, 3, pre.height, pre.width});
    for (auto& st : stages) {
      x = st.forward({x}).toTensor();
      shapes.emplace_back(x.sizes().begin() + 1, x.sizes().end());
    }
  }
  // Auxiliary dense heads (discarded after pretraining): a 1x1 conv on the
  // last feature map with at least 6 rows predicts occupancy at that map's
  // resolution, and one on the last map predicts the same grid through a
  // pixel shuffle. They make the stem's maps say where people are, which the
  // base's own pooled head cannot teach.
  struct DenseHead {
    size_t stage;
    int64_t factor;
    at::Tensor weight, bias;
  };
  std::vector<DenseHead> dense;
  int64_t dense_rows = 0, dense_cols = 0;
  if (config.dense_heads) {
    int fine = -1, coarse = -1;
    for (size_t k = 0; k + 1 < shapes.size(); ++k) {
      if (shapes[k].size() != 3) continue;
      coarse = static_cast<int>(k);
      if (shapes[k][1] >= 6) fine = static_cast<int>(k);
    }
    if (fine >= 0) {
      dense_rows = shapes[static_cast<size_t>(fine)][1];
      dense_cols = shapes[static_cast<size_t>(fine)][2];
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(SubSeed(config.seed, 9));
      for (int k : {fine, coarse}) {
        if (k == fine && !dense.empty()) continue;
        const auto& sh = shapes[static_cast<size_t>(k)];
        const int64_t f = dense_rows / sh[1];
        if (f < 1 || sh[1] * f != dense_rows || sh[2] * f != dense_cols) continue;
        if (!dense.empty() && dense.back().stage == static_cast<size_t>(k)) continue;
        dense.push_back(
            DenseHead{static_cast<size_t>(k), f,
                      (at::randn({f * f, sh[0], 1, 1}, gen) / std::sqrt(static_cast<double>(sh[0])))
                          .set_requires_grad(true),
                      at::full({f * f}, -2.0).set_requires_grad(true)});
      }
    }
  }

  Dataset data;
  data.origin = config.video;
  data.temporal = true;
  std::vector<uint8_t> role(static_cast<size_t>(num_frames), 0);
  int64_t last = 0;
  for (const auto& b : tv.train) {
    for (int64_t f = b.start; f <= b.end; f += config.stride) role[static_cast<size_t>(f - 1)] = 1;
  }
  for (int64_t f = tv.validation.start; f <= tv.validation.end; ++f)
    role[static_cast<size_t>(f - 1)] = 2;
  for (int64_t f = 1; f <= num_frames; ++f) last = role[static_cast<size_t>(f - 1)] ? f : last;
  vo.end_frame = last;
  VideoSource src(config.video, vo);
  Frame frame;
  while (src.Read(&frame)) {
    const int64_t f = frame.index + 1;
    const uint8_t r = role[static_cast<size_t>(f - 1)];
    if (!r) continue;
    (r == 1 ? data.split.train : data.split.validation)
        .push_back(static_cast<int64_t>(data.images.size()));
    data.images.push_back(ResizeImage(frame.image, pre.width, pre.height, pre.interpolation));
    data.frames.push_back(f);
    data.labels.push_back(0);
  }
  const auto grid = occupancy(config.grid_cols, config.grid_rows);
  const auto fine_grid =
      dense.empty() ? grid : occupancy(static_cast<int>(dense_cols), static_cast<int>(dense_rows));
  auto targets = [&](const std::vector<std::vector<uint8_t>>& occ,
                     const std::vector<int64_t>& items) {
    const int64_t cells = occ.empty() ? 0 : static_cast<int64_t>(occ[0].size());
    at::Tensor t = at::empty({static_cast<int64_t>(items.size()), cells}, at::kFloat);
    float* p = t.data_ptr<float>();
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& row = occ[static_cast<size_t>(data.frames[static_cast<size_t>(items[i])] - 1)];
      std::copy(row.begin(), row.end(), p + i * static_cast<size_t>(cells));
    }
    return t;
  };
  at::Tensor y_train = targets(grid, data.split.train),
             y_val = targets(grid, data.split.validation);
  at::Tensor d_train = targets(fine_grid, data.split.train),
             d_val = targets(fine_grid, data.split.validation);
  at::Tensor pos = y_train.sum(0);
  at::Tensor pos_weight =
      ((static_cast<double>(y_train.size(0)) - pos) / pos.clamp_min(1)).clamp(1.0, 20.0);
  const double dense_pos = d_train.mean().item<double>();
  at::Tensor dense_weight =
      at::full({1}, std::clamp((1 - dense_pos) / std::max(dense_pos, 1e-3), 1.0, 50.0));
  LogInfo(
      "pretraining on {} frames (train {}, stride {}), validating on {} frames {}; {:.1f} occupied "
      "cells per "
      "frame of the {}x{} grid; {} dense head(s) on a {}x{} grid",
      data.size(), FormatFrameRanges(tv.train), config.stride, data.split.validation.size(),
      tv.validation.ToString(),
      y_train.sum().item<double>() / std::max<int64_t>(1, y_train.size(0)), config.grid_cols,
      config.grid_rows, dense.size(), dense_cols, dense_rows);

  namespace F = torch::nn::functional;
  // The base's logits and each dense head's logits [N, rows * cols].
  auto forward = [&](const at::Tensor& input, std::vector<at::Tensor>* dense_out) {
    at::Tensor x = input;
    for (size_t k = 0; k < stages.size(); ++k) {
      x = stages[k].forward({x}).toTensor();
      for (const DenseHead& h : dense) {
        if (h.stage != k || !dense_out) continue;
        at::Tensor d = at::conv2d(x, h.weight, h.bias);
        if (h.factor > 1) d = at::pixel_shuffle(d, h.factor);
        dense_out->push_back(d.flatten(1));
      }
    }
    return x;
  };
  auto loss_fn = [&](const at::Tensor& logits, const at::Tensor& y,
                     const std::vector<at::Tensor>& d, const at::Tensor& yd) {
    at::Tensor loss = F::binary_cross_entropy_with_logits(
        logits, y, F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(pos_weight));
    for (const at::Tensor& out : d) {
      loss = loss +
             F::binary_cross_entropy_with_logits(
                 out, yd, F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(dense_weight));
    }
    return loss;
  };
  auto f1 = [](const at::Tensor& logits, const at::Tensor& y) {
    at::Tensor pred = (logits >= 0).to(at::kFloat);
    const double tp = (pred * y).sum().item<double>();
    const double fp = (pred * (1 - y)).sum().item<double>();
    const double fn = ((1 - pred) * y).sum().item<double>();
    return tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
  };
  auto evaluate = [&]() {
    CellMetrics m;
    module.eval();
    torch::NoGradGuard no_grad;
    const auto& items = data.split.validation;
    std::vector<at::Tensor> outs;
    std::vector<std::vector<at::Tensor>> dense_outs(dense.size());
    for (size_t s = 0; s < items.size(); s += 64) {
      std::vector<int64_t> chunk(items.begin() + static_cast<long>(s),
                                 items.begin() + static_cast<long>(std::min(items.size(), s + 64)));
      std::vector<at::Tensor> d;
      outs.push_back(
          forward(train_detail::InputBatch(data, chunk, {}, pre, config.augment, config.seed), &d));
      for (size_t h = 0; h < d.size(); ++h) dense_outs[h].push_back(d[h]);
    }
    at::Tensor logits = at::cat(outs);
    std::vector<at::Tensor> d;
    for (auto& parts : dense_outs) d.push_back(at::cat(parts));
    m.loss = loss_fn(logits, y_val, d, d_val).item<double>();
    at::Tensor pred = (logits >= 0).to(at::kFloat);
    m.accuracy = (pred == y_val).to(at::kFloat).mean().item<double>();
    m.f1 = f1(logits, y_val);
    for (const at::Tensor& out : d) m.dense_f1.push_back(f1(out, d_val));
    at::Tensor majority = (y_train.mean(0) >= 0.5).to(at::kFloat).unsqueeze(0);
    m.baseline = (majority == y_val).to(at::kFloat).mean().item<double>();
    return m;
  };

  PretrainReport report;
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : module.parameters()) params.push_back(p);
  for (const DenseHead& h : dense) {
    params.push_back(h.weight);
    params.push_back(h.bias);
  }
  torch::optim::Adam optimizer(
      params, torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  torch::manual_seed(SubSeed(config.seed, 5));
  Rng rng(SubSeed(config.seed, 6));
  double best_f1 = -1;
  const auto n = static_cast<int64_t>(data.split.train.size());
  std::vector<int64_t> order = data.split.train;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const double e0 = NowSeconds();
    const double lr = config.lr * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / config.epochs));
    for (auto& g : optimizer.param_groups())
      static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    module.train();
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Index(i)]);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t s = 0; s + 1 < n; s += config.batch) {
      if (const int sig = StopRequested()) {
        throw Interrupted(sig, fmt::format("{} during epoch {} of {}: nothing was written to {}",
                                           sig == SIGTERM ? "SIGTERM" : "SIGINT", epoch,
                                           config.epochs, config.output));
      }
      const int64_t e = std::min(n, s + config.batch);
      std::vector<int64_t> items(order.begin() + s, order.begin() + e);
      std::vector<int> copies(items.size(), epoch);  // a fresh augmentation every epoch
      at::Tensor x =
          train_detail::InputBatch(data, items, copies, pre, config.augment, config.seed);
      std::vector<at::Tensor> d;
      at::Tensor logits = forward(x, &d);
      at::Tensor loss = loss_fn(logits, targets(grid, items), d, targets(fine_grid, items));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(e - s);
      seen += e - s;
    }
    report.train_loss = seen ? loss_sum / static_cast<double>(seen) : 0;
    CellMetrics m = evaluate();
    report.epochs_run = epoch;
    // Features are what pretraining is for: keep the last epoch of the cosine
    // schedule (the pos-weighted validation loss keeps growing while the
    // validation F1 still improves); remember the best F1 for the report.
    const bool better = m.f1 > best_f1;
    if (better) {
      best_f1 = m.f1;
      report.best_epoch = epoch;
    }
    report.val_loss = m.loss;
    report.val_cell_accuracy = m.accuracy;
    report.val_cell_f1 = m.f1;
    report.val_baseline_accuracy = m.baseline;
    report.val_dense_f1 = m.dense_f1;
    const double per_epoch = (NowSeconds() - t0) / epoch;
    LogInfo(
        "pretrain epoch {}/{}: loss {:.4f} val_loss {:.4f} cell accuracy {:.3f} (majority {:.3f}) "
        "F1 {:.3f}, "
        "dense F1 {:.3f}{} [{:.1f} s] ETA {:.0f} s",
        epoch, config.epochs, report.train_loss, m.loss, m.accuracy, m.baseline, m.f1,
        fmt::join(m.dense_f1, "/"), better ? " *" : "", NowSeconds() - e0,
        per_epoch * (config.epochs - epoch));
  }
  if (config.epochs == 0) {
    CellMetrics m = evaluate();
    report.val_loss = m.loss;
    report.val_cell_accuracy = m.accuracy;
    report.val_cell_f1 = m.f1;
    report.val_baseline_accuracy = m.baseline;
    report.val_dense_f1 = m.dense_f1;
  }
  if (config.recalibrate_passes > 0) {
    // BatchNorm's running averages (momentum 0.1) lag behind the last
    // weights, and a random base still has the initial 0/1: re-estimate them
    // with forward passes over the training frames (no labels involved).
    RecalibrateBatchNorm(module, order, config.recalibrate_passes, config.batch, rng,
                         [&](const std::vector<int64_t>& items) {
                           return train_detail::InputBatch(data, items, {}, pre, config.augment,
                                                           config.seed);
                         });
    CellMetrics m = evaluate();
    LogInfo(
        "after re-estimating BatchNorm statistics ({} passes): val_loss {:.4f} cell accuracy "
        "{:.3f} F1 {:.3f}, "
        "dense F1 {:.3f}",
        config.recalibrate_passes, m.loss, m.accuracy, m.f1, fmt::join(m.dense_f1, "/"));
    report.val_dense_f1 = m.dense_f1;
    report.val_loss = m.loss;
    report.val_cell_accuracy = m.accuracy;
    report.val_cell_f1 = m.f1;
    report.val_baseline_accuracy = m.baseline;
    report.val_dense_f1 = m.dense_f1;
  }
  module.eval();
  report.seconds = NowSeconds() - t0;
  info.source["tool"] = "mstrain pretrain";
  info.source["weights"] = config.epochs > 0     ? "pretrained"
                           : config.init.empty() ? "random"
                                                 : "copied from --init";
  info.source["batchnorm_statistics"] = config.recalibrate_passes > 0
                                            ? "estimated on the training frames"
                                        : config.init.empty() ? "initial"
                                                              : "copied from --init";
  if (!config.init.empty()) info.source["init"] = init;
  info.source["task"] =
      fmt::format("multi-label person occupancy of a {}x{} grid (feet points) on {}",
                  config.grid_cols, config.grid_rows, config.video);
  info.source["ground_truth"] = config.mot;
  info.source["train_frames"] = FormatFrameRanges(tv.train);
  info.source["validation_frames"] = FormatFrameRanges({tv.validation});
  info.source["pretrain"] = config.ToJson();
  info.source["report"] = report.ToJson();
  info.source["threads"] = GetTorchThreads();
  info.description +=
      fmt::format("; pretrained on person occupancy ({}x{} grid) of {} frames {}", config.grid_cols,
                  config.grid_rows, config.video, FormatFrameRanges(tv.train));
  SaveBase(module, info, config.output);
  LogInfo(
      "pretraining done in {:.1f} s: epochs {} (best validation F1 at epoch {}), validation cell "
      "accuracy {:.3f} (majority {:.3f}), "
      "F1 {:.3f}",
      report.seconds, report.epochs_run, report.best_epoch, report.val_cell_accuracy,
      report.val_baseline_accuracy, report.val_cell_f1);
  return report;
}

// Normalized canvases [items, 3, H, W] of `set`'s items, item j drawn with
// seeds[j]: a canvas depends only on its seed, never on threads or batches.
at::Tensor CanvasBatch(const FashionMnistSet& set, const std::vector<int64_t>& items,
                       const std::vector<uint64_t>& seeds, const PreprocessConfig& pre,
                       const CanvasOptions& canvas) {
  const auto n = static_cast<int64_t>(items.size());
  at::Tensor x = at::empty({n, 3, pre.height, pre.width}, at::kFloat);
  float* out = x.data_ptr<float>();
  const size_t floats = pre.floats_per_frame();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const auto k = static_cast<size_t>(j);
      const Image image = ComposeCanvas(set, items[k], pre.width, pre.height, canvas, seeds[k]);
      NormalizeToChw(image, pre, out + k * floats);
    }
  });
  return x;
}

// Seeds of the items' canvases in round `round` (an epoch) of a stream.
std::vector<uint64_t> CanvasSeeds(uint64_t stream, uint64_t round,
                                  const std::vector<int64_t>& items) {
  std::vector<uint64_t> seeds;
  for (int64_t item : items)
    seeds.push_back(SubSeed(stream, (round << 32) + static_cast<uint64_t>(item)));
  return seeds;
}

at::Tensor LabelBatch(const FashionMnistSet& set, const std::vector<int64_t>& items) {
  at::Tensor y = at::empty({static_cast<int64_t>(items.size())}, at::kLong);
  int64_t* p = y.data_ptr<int64_t>();
  for (size_t i = 0; i < items.size(); ++i) p[i] = set.labels[static_cast<size_t>(items[i])];
  return y;
}

// Every stride-th frame of the training blocks, resized for `pre`.
std::vector<Image> ReadTrainingFrames(const PretrainConfig& config, const PreprocessConfig& pre,
                                      std::vector<FrameInterval>* blocks) {
  VideoSourceOptions vo;
  vo.fps_override = config.fps;
  int64_t num_frames = 0;
  {
    VideoSource probe(config.video, vo);
    num_frames = probe.frame_count();
    MS_CHECK(num_frames > 0, "video '{}': reports no frame count", config.video);
  }
  *blocks = TrainingBlocks(config, num_frames);
  std::vector<uint8_t> wanted(static_cast<size_t>(num_frames), 0);
  int64_t last = 0;
  for (const auto& b : *blocks) {
    for (int64_t f = b.start; f <= b.end; f += config.stride) {
      wanted[static_cast<size_t>(f - 1)] = 1;
      last = std::max(last, f);
    }
  }
  vo.end_frame = last;
  VideoSource src(config.video, vo);
  std::vector<Image> frames;
  Frame frame;
  while (src.Read(&frame)) {
    if (wanted[static_cast<size_t>(frame.index)]) {
      frames.push_back(ResizeImage(frame.image, pre.width, pre.height, pre.interpolation));
    }
  }
  MS_CHECK(frames.size() >= 2,
           "--train-frames: {} frame(s) of {} at stride {}; the BatchNorm statistics need >= 2",
           frames.size(), config.video, config.stride);
  return frames;
}

PretrainReport PretrainFashionMnist(const PretrainConfig& config_in) {
  const double t0 = NowSeconds();
  PretrainConfig config = config_in;
  config.base.num_classes = kFashionMnistClasses;
  config.base.class_names = FashionMnistClassNames();
  config.Validate();
  SetTorchThreads(config.threads);
  SetVideoThreads(config.threads);
  LogInfo("{}", config.ToString());

  // Data first, so bad files stop us before any work. The training images
  // are needed to train and, without a video, for the statistics.
  const bool statistics_on_canvases = config.video.empty() && config.recalibrate_canvases > 0;
  FashionMnistSet train, test;
  if (config.epochs > 0 || statistics_on_canvases) {
    train = ReadFashionMnist(config.fmnist_dir, "train", config.images);
    MS_CHECK(train.size() == config.images, "--images {}: '{}' holds only {} images", config.images,
             train.images_file, train.size());
  }
  test = ReadFashionMnist(config.fmnist_dir, "t10k", config.val_images);
  MS_CHECK(test.size() == config.val_images, "--val-images {}: '{}' holds only {} images",
           config.val_images, test.images_file, test.size());

  torch::jit::Module module;
  BaseInfo info = BuildDefaultBase(config.base, &module);
  const Json init = config.init.empty() ? Json() : InitFromBase(config.init, info, module);
  const PreprocessConfig pre = PreprocessConfigFor(info);
  std::vector<FrameInterval> blocks;
  std::vector<Image> frames;
  if (!config.video.empty()) frames = ReadTrainingFrames(config, pre, &blocks);
  LogInfo(
      "fashion-mnist: {} training images, {} held-out t10k images, {}x{} canvases (item height "
      "{}-{} of the "
      "canvas){}",
      train.size(), test.size(), pre.width, pre.height, config.canvas.min_height,
      config.canvas.max_height,
      frames.empty()
          ? ""
          : fmt::format("; BatchNorm statistics from {} frames of {} ({}, every {})", frames.size(),
                        config.video, FormatFrameRanges(blocks), config.stride));

  namespace F = torch::nn::functional;
  const uint64_t train_stream = SubSeed(config.seed, 21), val_stream = SubSeed(config.seed, 22),
                 stats_stream = SubSeed(config.seed, 23);
  struct Metrics {
    double loss = 0, accuracy = 0;
  };
  // Held-out canvases are the same every time (round 0 of their own stream).
  auto evaluate = [&]() {
    module.eval();
    torch::NoGradGuard no_grad;
    double loss = 0;
    int64_t correct = 0;
    for (int64_t s = 0; s < test.size(); s += 64) {
      std::vector<int64_t> items(static_cast<size_t>(std::min<int64_t>(64, test.size() - s)));
      std::iota(items.begin(), items.end(), s);
      at::Tensor logits = module
                              .forward({CanvasBatch(test, items, CanvasSeeds(val_stream, 0, items),
                                                    pre, config.canvas)})
                              .toTensor();
      at::Tensor y = LabelBatch(test, items);
      loss += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum))
                  .item<double>();
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
    }
    const auto n = static_cast<double>(test.size());
    return Metrics{loss / n, static_cast<double>(correct) / n};
  };

  PretrainReport report;
  report.task = config.task;
  report.train_images = train.size();
  report.val_images = test.size();
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : module.parameters()) params.push_back(p);
  torch::optim::Adam optimizer(
      params, torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  torch::manual_seed(SubSeed(config.seed, 5));
  Rng rng(SubSeed(config.seed, 6));
  std::vector<int64_t> order(static_cast<size_t>(train.size()));
  std::iota(order.begin(), order.end(), 0);
  const auto n = static_cast<int64_t>(order.size());
  const double train_t0 = NowSeconds();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const double e0 = NowSeconds();
    const double lr = config.lr * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / config.epochs));
    for (auto& g : optimizer.param_groups())
      static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    module.train();
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Index(i)]);
    double loss_sum = 0;
    int64_t seen = 0, correct = 0;
    for (int64_t s = 0; s + 1 < n; s += config.batch) {
      if (const int sig = StopRequested()) {
        throw Interrupted(sig, fmt::format("{} during epoch {} of {}: nothing was written to {}",
                                           sig == SIGTERM ? "SIGTERM" : "SIGINT", epoch,
                                           config.epochs, config.output));
      }
      const int64_t e = std::min(n, s + config.batch);
      std::vector<int64_t> items(order.begin() + s, order.begin() + e);
      // Fresh canvases every epoch.
      at::Tensor x =
          CanvasBatch(train, items, CanvasSeeds(train_stream, static_cast<uint64_t>(epoch), items),
                      pre, config.canvas);
      at::Tensor y = LabelBatch(train, items);
      at::Tensor logits = module.forward({x}).toTensor();
      at::Tensor loss = F::cross_entropy(logits, y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(e - s);
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
      seen += e - s;
    }
    report.train_loss = seen ? loss_sum / static_cast<double>(seen) : 0;
    const Metrics m = evaluate();
    report.epochs_run = epoch;
    report.val_loss = m.loss;
    report.val_accuracy = m.accuracy;
    report.seconds_per_epoch = (NowSeconds() - train_t0) / epoch;
    LogInfo(
        "pretrain epoch {}/{}: loss {:.4f} (train accuracy {:.3f}), held-out loss {:.4f} accuracy "
        "{:.3f} "
        "(chance {:.3f}) [{:.1f} s/epoch] ETA {:.0f} s",
        epoch, config.epochs, report.train_loss, seen ? static_cast<double>(correct) / seen : 0.0,
        m.loss, m.accuracy, 1.0 / kFashionMnistClasses, NowSeconds() - e0,
        report.seconds_per_epoch * (config.epochs - epoch));
  }
  if (config.epochs == 0) {
    const Metrics m = evaluate();
    report.val_loss = m.loss;
    report.val_accuracy = m.accuracy;
  }

  // The BatchNorm statistics the base is saved with: re-estimated on the
  // video's frames when there is one (the stem will normalize them), else on
  // fresh canvases (the running averages lag behind the last weights).
  std::string statistics;
  if (!frames.empty() && config.recalibrate_passes > 0) {
    std::vector<int64_t> frame_order(frames.size());
    std::iota(frame_order.begin(), frame_order.end(), 0);
    RecalibrateBatchNorm(
        module, frame_order, config.recalibrate_passes, config.batch, rng,
        [&](const std::vector<int64_t>& items) {
          at::Tensor x = at::empty({static_cast<int64_t>(items.size()), 3, pre.height, pre.width});
          for (size_t i = 0; i < items.size(); ++i) {
            NormalizeToChw(frames[static_cast<size_t>(items[i])], pre,
                           x.data_ptr<float>() + i * pre.floats_per_frame());
          }
          return x;
        });
    statistics = fmt::format("estimated on frames {} (every {}) of {}: {} passes over {} frames",
                             FormatFrameRanges(blocks), config.stride, config.video,
                             config.recalibrate_passes, frames.size());
  } else if (statistics_on_canvases) {
    std::vector<int64_t> canvases(static_cast<size_t>(config.recalibrate_canvases));
    std::iota(canvases.begin(), canvases.end(), 0);
    RecalibrateBatchNorm(
        module, canvases, 1, config.batch, rng, [&](const std::vector<int64_t>& ks) {
          // Canvas k: training item k mod N, with a seed of its own.
          std::vector<int64_t> items;
          for (int64_t k : ks) items.push_back(k % train.size());
          return CanvasBatch(train, items, CanvasSeeds(stats_stream, 0, ks), pre, config.canvas);
        });
    statistics =
        fmt::format("estimated on {} fresh Fashion-MNIST canvases", config.recalibrate_canvases);
  } else {
    statistics = !config.init.empty() ? "copied from --init"
                 : config.epochs > 0  ? "running averages of the training canvases"
                                      : "initial";
  }
  const Metrics saved = evaluate();
  report.val_accuracy_saved = saved.accuracy;
  LogInfo("BatchNorm statistics {}: held-out accuracy {:.3f} (after the last epoch {:.3f})",
          statistics, saved.accuracy, report.val_accuracy);

  module.eval();
  report.seconds = NowSeconds() - t0;
  const std::string weights = config.epochs > 0
                                  ? (config.init.empty() ? "pretrained" : "pretrained from --init")
                                  : (config.init.empty() ? "random" : "copied from --init");
  info.source["tool"] = "mstrain pretrain";
  info.source["weights"] = weights;
  info.source["batchnorm_statistics"] = statistics;
  info.source["task"] = fmt::format(
      "fashion-mnist: 10-way classification of one Fashion-MNIST item on a {}x{} canvas (random "
      "grey background and "
      "noise, item {}-{} of the canvas height at a random position, random tint)",
      pre.width, pre.height, config.canvas.min_height, config.canvas.max_height);
  info.source["data"] = Json{{"dir", config.fmnist_dir},
                             {"train_images", train.size()},
                             {"val_images", fmt::format("the first {} of t10k", test.size())}};
  info.source["images"] = train.size();
  info.source["epochs"] = report.epochs_run;
  info.source["val_accuracy"] = report.val_accuracy;
  info.source["val_accuracy_saved"] = report.val_accuracy_saved;
  info.source["seconds"] = report.seconds;
  if (!frames.empty()) info.source["train_frames"] = FormatFrameRanges(blocks);
  if (!config.init.empty()) info.source["init"] = init;
  info.source["pretrain"] = config.ToJson();
  info.source["report"] = report.ToJson();
  info.source["threads"] = GetTorchThreads();
  info.description += fmt::format(
      "; pretrained on Fashion-MNIST canvases ({} images, {} epochs, held-out accuracy "
      "{:.3f}), BatchNorm statistics {}",
      train.size(), report.epochs_run, report.val_accuracy, statistics);
  SaveBase(module, info, config.output);
  LogInfo(
      "pretraining done in {:.1f} s ({:.1f} s per epoch): {} epochs over {} images, held-out "
      "accuracy {:.3f} "
      "(saved base {:.3f})",
      report.seconds, report.seconds_per_epoch, report.epochs_run, train.size(),
      report.val_accuracy, report.val_accuracy_saved);
  return report;
}

}  // namespace

PretrainReport Pretrain(const PretrainConfig& config) {
  return config.task == PretrainTask::kFashionMnist ? PretrainFashionMnist(config)
                                                    : PretrainOccupancy(config);
}

}  // namespace mainstream
