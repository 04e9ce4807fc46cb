#include "mainstream/train/pretrain.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "finetune.h"

#include <fmt/ranges.h>
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
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

}  // namespace

void PretrainConfig::Validate() const {
  MS_CHECK(!video.empty(), "--video: the video to pretrain on is required");
  MS_CHECK(!mot.empty(), "--mot: the MOT ground truth (gt.txt) of the video is required");
  MS_CHECK(!output.empty(), "-o/--output: the base directory to write is required");
  MS_CHECK(fps >= 0 && fps <= 1000, "--fps: expected a frame rate in (0, 1000], got {}", fps);
  if (!train_frames.empty()) ParseFrameRanges(train_frames, "--train-frames");
  MS_CHECK(grid_cols >= 1 && grid_cols <= 64 && grid_rows >= 1 && grid_rows <= 64,
           "--grid: expected 1..64 columns and rows, got {}x{}", grid_cols, grid_rows);
  MS_CHECK(epochs >= 0 && epochs <= 10000, "--epochs: expected 0..10000, got {}", epochs);
  MS_CHECK(batch >= 2 && batch <= 4096, "--batch: expected 2..4096, got {}", batch);
  MS_CHECK(lr > 0 && lr < 10, "--lr: expected (0, 10), got {}", lr);
  MS_CHECK(weight_decay >= 0 && weight_decay < 1, "--weight-decay: expected [0, 1), got {}", weight_decay);
  MS_CHECK(stride >= 1, "--stride: expected >= 1, got {}", stride);
  MS_CHECK(val_fraction > 0 && val_fraction < 1, "--val-fraction: expected (0, 1), got {}", val_fraction);
  MS_CHECK(gap >= 0, "--gap: expected >= 0, got {}", gap);
  MS_CHECK(recalibrate_passes >= 0, "recalibrate_passes: expected >= 0, got {}", recalibrate_passes);
  MS_CHECK(threads >= 1, "--threads: expected >= 1, got {}", threads);
  augment.Validate();
  base.Validate();
}

Json PretrainConfig::ToJson() const {
  return Json{{"video", video},     {"mot", mot},           {"fps", fps},
              {"train_frames", train_frames},               {"grid", {grid_cols, grid_rows}},
              {"epochs", epochs},   {"batch", batch},       {"lr", lr},
              {"weight_decay", weight_decay},               {"stride", stride},
              {"val_fraction", val_fraction},               {"gap", gap},
              {"augment", augment.ToJson()},                {"base", base.ToJson()},
              {"seed", seed},       {"threads", threads},
              {"recalibrate_passes", recalibrate_passes},
              {"dense_heads", dense_heads}};
}

std::string PretrainConfig::ToString() const {
  return fmt::format("pretrain {} on person occupancy of a {}x{} grid over {} (frames {}), {} epochs, batch {}, lr {}, "
                     "stride {}, seed {}, {} thread(s)",
                     base.name, grid_cols, grid_rows, video, train_frames.empty() ? "first 70%" : train_frames, epochs,
                     batch, lr, stride, seed, threads);
}

Json PretrainReport::ToJson() const {
  return Json{{"seconds", seconds},
              {"epochs_run", epochs_run},
              {"best_epoch", best_epoch},
              {"train_loss", train_loss},
              {"val_loss", val_loss},
              {"val_cell_accuracy", val_cell_accuracy},
              {"val_cell_f1", val_cell_f1},
              {"val_baseline_accuracy", val_baseline_accuracy},
              {"val_dense_f1", val_dense_f1}};
}

PretrainReport Pretrain(const PretrainConfig& config_in) {
  const double t0 = NowSeconds();
  PretrainConfig config = config_in;
  config.base.num_classes = config.grid_cols * config.grid_rows;
  config.base.class_names.clear();
  for (int r = 0; r < config.grid_rows; ++r) {
    for (int c = 0; c < config.grid_cols; ++c) config.base.class_names.push_back(fmt::format("cell_{}_{}", r, c));
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
  std::vector<FrameInterval> blocks;
  if (config.train_frames.empty()) {
    blocks = {FrameInterval{1, std::max<int64_t>(1, num_frames * 7 / 10)}};
  } else {
    blocks = ParseFrameRanges(config.train_frames, "--train-frames");
    for (const auto& b : blocks) {
      MS_CHECK(b.end <= num_frames, "--train-frames: range {} reaches beyond the {} frames of {}", b.ToString(),
               num_frames, config.video);
    }
  }
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
        dense.push_back(DenseHead{static_cast<size_t>(k), f,
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
  for (int64_t f = tv.validation.start; f <= tv.validation.end; ++f) role[static_cast<size_t>(f - 1)] = 2;
  for (int64_t f = 1; f <= num_frames; ++f) last = role[static_cast<size_t>(f - 1)] ? f : last;
  vo.end_frame = last;
  VideoSource src(config.video, vo);
  Frame frame;
  while (src.Read(&frame)) {
    const int64_t f = frame.index + 1;
    const uint8_t r = role[static_cast<size_t>(f - 1)];
    if (!r) continue;
    (r == 1 ? data.split.train : data.split.validation).push_back(static_cast<int64_t>(data.images.size()));
    data.images.push_back(ResizeImage(frame.image, pre.width, pre.height, pre.interpolation));
    data.frames.push_back(f);
    data.labels.push_back(0);
  }
  const auto grid = occupancy(config.grid_cols, config.grid_rows);
  const auto fine_grid = dense.empty() ? grid : occupancy(static_cast<int>(dense_cols), static_cast<int>(dense_rows));
  auto targets = [&](const std::vector<std::vector<uint8_t>>& occ, const std::vector<int64_t>& items) {
    const int64_t cells = occ.empty() ? 0 : static_cast<int64_t>(occ[0].size());
    at::Tensor t = at::empty({static_cast<int64_t>(items.size()), cells}, at::kFloat);
    float* p = t.data_ptr<float>();
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& row = occ[static_cast<size_t>(data.frames[static_cast<size_t>(items[i])] - 1)];
      std::copy(row.begin(), row.end(), p + i * static_cast<size_t>(cells));
    }
    return t;
  };
  at::Tensor y_train = targets(grid, data.split.train), y_val = targets(grid, data.split.validation);
  at::Tensor d_train = targets(fine_grid, data.split.train), d_val = targets(fine_grid, data.split.validation);
  at::Tensor pos = y_train.sum(0);
  at::Tensor pos_weight = ((static_cast<double>(y_train.size(0)) - pos) / pos.clamp_min(1)).clamp(1.0, 20.0);
  const double dense_pos = d_train.mean().item<double>();
  at::Tensor dense_weight = at::full({1}, std::clamp((1 - dense_pos) / std::max(dense_pos, 1e-3), 1.0, 50.0));
  LogInfo("pretraining on {} frames (train {}, stride {}), validating on {} frames {}; {:.1f} occupied cells per "
          "frame of the {}x{} grid; {} dense head(s) on a {}x{} grid",
          data.size(), FormatFrameRanges(tv.train), config.stride, data.split.validation.size(),
          tv.validation.ToString(), y_train.sum().item<double>() / std::max<int64_t>(1, y_train.size(0)),
          config.grid_cols, config.grid_rows, dense.size(), dense_cols, dense_rows);

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
  auto loss_fn = [&](const at::Tensor& logits, const at::Tensor& y, const std::vector<at::Tensor>& d,
                     const at::Tensor& yd) {
    at::Tensor loss =
        F::binary_cross_entropy_with_logits(logits, y, F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(pos_weight));
    for (const at::Tensor& out : d) {
      loss = loss + F::binary_cross_entropy_with_logits(
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
      outs.push_back(forward(train_detail::InputBatch(data, chunk, {}, pre, config.augment, config.seed), &d));
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
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
  torch::manual_seed(SubSeed(config.seed, 5));
  Rng rng(SubSeed(config.seed, 6));
  double best_f1 = -1;
  const auto n = static_cast<int64_t>(data.split.train.size());
  std::vector<int64_t> order = data.split.train;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const double e0 = NowSeconds();
    const double lr = config.lr * 0.5 * (1 + std::cos(M_PI * (epoch - 1) / config.epochs));
    for (auto& g : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    module.train();
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Index(i)]);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t s = 0; s + 1 < n; s += config.batch) {
      const int64_t e = std::min(n, s + config.batch);
      std::vector<int64_t> items(order.begin() + s, order.begin() + e);
      std::vector<int> copies(items.size(), epoch);  // a fresh augmentation every epoch
      at::Tensor x = train_detail::InputBatch(data, items, copies, pre, config.augment, config.seed);
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
    LogInfo("pretrain epoch {}/{}: loss {:.4f} val_loss {:.4f} cell accuracy {:.3f} (majority {:.3f}) F1 {:.3f}, "
            "dense F1 {:.3f}{} [{:.1f} s] ETA {:.0f} s",
            epoch, config.epochs, report.train_loss, m.loss, m.accuracy, m.baseline, m.f1,
            fmt::join(m.dense_f1, "/"), better ? " *" : "",
            NowSeconds() - e0, per_epoch * (config.epochs - epoch));
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
    torch::NoGradGuard no_grad;
    module.train();
    for (int pass = 0; pass < config.recalibrate_passes; ++pass) {
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Index(i)]);
      for (int64_t s = 0; s + 1 < n; s += config.batch) {
        std::vector<int64_t> items(order.begin() + s, order.begin() + std::min(n, s + config.batch));
        module.forward({train_detail::InputBatch(data, items, {}, pre, config.augment, config.seed)});
      }
    }
    CellMetrics m = evaluate();
    LogInfo("after re-estimating BatchNorm statistics ({} passes): val_loss {:.4f} cell accuracy {:.3f} F1 {:.3f}, "
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
  info.source["weights"] = config.epochs > 0 ? "pretrained" : "random";
  info.source["batchnorm_statistics"] = config.recalibrate_passes > 0 ? "estimated on the training frames" : "initial";
  info.source["task"] = fmt::format("multi-label person occupancy of a {}x{} grid (feet points) on {}",
                                    config.grid_cols, config.grid_rows, config.video);
  info.source["ground_truth"] = config.mot;
  info.source["train_frames"] = FormatFrameRanges(tv.train);
  info.source["validation_frames"] = FormatFrameRanges({tv.validation});
  info.source["pretrain"] = config.ToJson();
  info.source["report"] = report.ToJson();
  info.source["threads"] = GetTorchThreads();
  info.description += fmt::format("; pretrained on person occupancy ({}x{} grid) of {} frames {}", config.grid_cols,
                                  config.grid_rows, config.video, FormatFrameRanges(tv.train));
  SaveBase(module, info, config.output);
  LogInfo("pretraining done in {:.1f} s: epochs {} (best validation F1 at epoch {}), validation cell accuracy {:.3f} (majority {:.3f}), "
          "F1 {:.3f}",
          report.seconds, report.epochs_run, report.best_epoch, report.val_cell_accuracy,
          report.val_baseline_accuracy, report.val_cell_f1);
  return report;
}

}  // namespace mainstream
