// Microclassifier candidates (docs/training.md, "Microclassifiers"): small
// classifiers on crops of the unmodified base's feature map at a layer,
// trained on the cached activations, with the crop chosen by a nested
// out-of-fold search so that the trace judges the whole procedure.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "finetune.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
#include "mainstream/core/sha256.h"
#include "mainstream/core/stop.h"
#include "mainstream/labels/rate_estimate.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/micro_head.h"
#include "mainstream/model/segment.h"

namespace mainstream::train_detail {

namespace {

struct Crop {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool region = false;  // derived from --micro-region
  int area() const { return (x1 - x0) * (y1 - y0); }
  bool operator==(const Crop& o) const {
    return x0 == o.x0 && y0 == o.y0 && x1 == o.x1 && y1 == o.y1;
  }
  Json ToJson() const { return Json{x0, y0, x1, y1}; }
};

// A draw from a Gaussian (mean, sd) truncated to [lo, hi] (redrawn outside).
double TruncatedGaussian(Rng& rng, double mean, double sd, double lo, double hi) {
  for (int t = 0; t < 1000; ++t) {
    const double u1 = std::max(rng.Uniform(), 1e-12), u2 = rng.Uniform();
    const double x = mean + sd * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    if (x >= lo && x <= hi) return x;
  }
  return std::clamp(mean, lo, hi);
}

// The crops searched at a map of w x h cells: the region's (if any), then
// random ones as in the microclassifier paper (file 004): the centre from a
// Gaussian (mean 0.5, sd 0.2) truncated to [0.1, 0.9] of each side, the
// sides from |Gaussian(0, 0.2)| truncated to [0.1, 0.5] of the map's, at
// least 2 cells, clipped to the map; without duplicates.
std::vector<Crop> MakeCrops(int w, int h, const TrainConfig& config, const Dataset& data,
                            int layer) {
  std::vector<Crop> crops;
  if (!config.micro_region.empty() && data.frame_width > 0 && data.frame_height > 0) {
    const auto& r = config.micro_region;
    Crop c;
    c.x0 = std::clamp(static_cast<int>(std::floor(r[0] / data.frame_width * w)), 0, w - 1);
    c.y0 = std::clamp(static_cast<int>(std::floor(r[1] / data.frame_height * h)), 0, h - 1);
    c.x1 = std::clamp(static_cast<int>(std::ceil(r[2] / data.frame_width * w)), c.x0 + 1, w);
    c.y1 = std::clamp(static_cast<int>(std::ceil(r[3] / data.frame_height * h)), c.y0 + 1, h);
    c.region = true;
    crops.push_back(c);
  }
  Rng rng(SubSeed(config.seed, 700 + static_cast<uint64_t>(layer)));
  auto interval = [&](int n, double centre, double size) {
    const int len = std::clamp(static_cast<int>(std::lround(size * n)), std::min(2, n), n);
    const int start = std::clamp(static_cast<int>(std::lround(centre * n - len / 2.0)), 0, n - len);
    return std::pair<int, int>{start, start + len};
  };
  const size_t wanted = crops.size() + static_cast<size_t>(config.micro_crops);
  for (int i = 0; i < config.micro_crops * 20 && crops.size() < wanted; ++i) {
    const double cx = TruncatedGaussian(rng, 0.5, 0.2, 0.1, 0.9);
    const double cy = TruncatedGaussian(rng, 0.5, 0.2, 0.1, 0.9);
    const double sw = std::fabs(TruncatedGaussian(rng, 0, 0.2, -0.5, 0.5));
    const double sh = std::fabs(TruncatedGaussian(rng, 0, 0.2, -0.5, 0.5));
    if (sw < 0.1 || sh < 0.1) continue;  // |x| truncated to [0.1, 0.5]
    Crop c;
    std::tie(c.x0, c.x1) = interval(w, cx, sw);
    std::tie(c.y0, c.y1) = interval(h, cy, sh);
    if (std::find(crops.begin(), crops.end(), c) == crops.end()) crops.push_back(c);
  }
  return crops;
}

std::vector<int64_t> Intersect(std::vector<int64_t> a, std::vector<int64_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::vector<int64_t> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Balanced accuracy (ties: lower class-balanced loss) of the scores at `positions`.
struct Fit {
  double balanced = -1, loss = INFINITY;
  bool Better(const Fit& o) const {
    return balanced > o.balanced + 1e-9 || (balanced > o.balanced - 1e-9 && loss < o.loss - 1e-9);
  }
};
Fit FitOn(const std::vector<float>& scores, const std::vector<float>& losses, const at::Tensor& y,
          const std::vector<int64_t>& positions, double threshold) {
  std::vector<float> s, l;
  std::vector<int64_t> labels;
  const auto* py = y.data_ptr<int64_t>();
  for (int64_t p : positions) {
    s.push_back(scores[static_cast<size_t>(p)]);
    l.push_back(losses[static_cast<size_t>(p)]);
    labels.push_back(py[p]);
  }
  const PooledFigures f = Pool(s, l, at::tensor(labels, at::kLong), threshold);
  return Fit{f.balanced, f.loss};
}

}  // namespace

FineTuneOutcome FineTuneMicro(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                              ActivationSource& source, const CandidateStore& store,
                              ProgressState& progress) {
  const int b = source.branchpoint();
  const std::string key = CandidateKey(CandidateKind::kMicro, b);
  const double t0 = NowSeconds();
  MS_CHECK_RT(data.temporal && data.split.validation.empty(),
              "microclassifiers need a video split estimated out of fold");
  const std::vector<int64_t> shape = base.info().ShapeAt(b);
  MS_CHECK(shape.size() == 3, "--micro-layers: the activation at {} is not a feature map", b);
  const int h = static_cast<int>(shape[1]), w = static_cast<int>(shape[2]);
  const std::vector<Crop> crops = MakeCrops(w, h, config, data, b);
  const std::vector<int64_t>& train_items = data.split.train;
  const auto n_train = static_cast<int64_t>(train_items.size());
  const at::Tensor y_train = Labels(data, train_items);
  const FoldPlan plan = PlanFolds(data, config);
  const int k_folds = static_cast<int>(plan.held_out.size());

  // Trains crop c on `train` for config.epochs and scores `score` into the vectors.
  int64_t models = 0;
  auto train_and_score = [&](size_t c, const std::vector<int64_t>& train,
                             const std::vector<int64_t>& score, uint64_t seed,
                             std::vector<float>& scores, std::vector<float>& losses) {
    // Every model from its own seed (dropout included), so that --deploy
    // fold's model is the very one the trace's fold was scored by.
    torch::manual_seed(SubSeed(seed, 3));
    Trainee t = MakeTraineeFor(
        BuildMicroModule(shape, MicroCrop{crops[c].x0, crops[c].y0, crops[c].x1, crops[c].y1},
                         config.micro_channels, config.dropout, SubSeed(seed, 1)),
        config, SubSeed(seed, 2));
    const at::Tensor weight = ClassWeights(y_train, train, config);
    for (int e = 0; e < config.epochs; ++e) TrainEpoch(t, source, y_train, train, weight, config);
    if (!score.empty()) ScorePositions(t.suffix, source, y_train, score, scores, losses);
    ++models;
    return t;
  };
  auto seed_of = [&](size_t c, int outer, int inner) {
    return SubSeed(SubSeed(SubSeed(config.seed, 900 + static_cast<uint64_t>(b)), c),
                   static_cast<uint64_t>((outer + 1) * 1000 + inner + 1));
  };

  // Outer: every crop's out-of-fold scores (train on plan.train[k], score fold k).
  std::vector<std::vector<float>> oof(crops.size(), std::vector<float>(n_train, 0)),
      oof_loss(crops.size(), std::vector<float>(n_train, 0));
  std::vector<Fit> pooled(crops.size());
  for (size_t c = 0; c < crops.size(); ++c) {
    for (int k = 0; k < k_folds; ++k) {
      train_and_score(c, plan.train[static_cast<size_t>(k)], plan.held_out[static_cast<size_t>(k)],
                      seed_of(c, k, -1), oof[c], oof_loss[c]);
    }
    pooled[c] = FitOn(oof[c], oof_loss[c], y_train, plan.all, config.threshold);
  }
  // Inner: fold k's crop is the best on the other folds, each scored by a
  // model that saw neither it nor fold k.
  std::vector<size_t> fold_crop(static_cast<size_t>(k_folds), 0);
  Json fold_json = Json::array();
  for (int k = 0; k < k_folds; ++k) {
    if (const int sig = StopRequested()) throw Interrupted(sig, "stopped while training");
    std::vector<int64_t> others;
    for (int j = 0; j < k_folds; ++j) {
      if (j == k) continue;
      const auto& held = plan.held_out[static_cast<size_t>(j)];
      others.insert(others.end(), held.begin(), held.end());
    }
    Fit best;
    for (size_t c = 0; c < crops.size(); ++c) {
      std::vector<float> scores(static_cast<size_t>(n_train), 0), losses(scores.size(), 0);
      for (int j = 0; j < k_folds; ++j) {
        if (j == k) continue;
        train_and_score(
            c, Intersect(plan.train[static_cast<size_t>(k)], plan.train[static_cast<size_t>(j)]),
            plan.held_out[static_cast<size_t>(j)], seed_of(c, k, j), scores, losses);
      }
      const Fit f = FitOn(scores, losses, y_train, others, config.threshold);
      if (c == 0 || f.Better(best)) {
        best = f;
        fold_crop[static_cast<size_t>(k)] = c;
      }
    }
    fold_json.push_back(Json{{"fold", k},
                             {"crop", crops[fold_crop[static_cast<size_t>(k)]].ToJson()},
                             {"inner_balanced_accuracy", best.balanced}});
    LogInfo("candidate {}/{} ({}): fold {}/{} chose crop {} of {} (inner balanced accuracy {:.3f})",
            progress.index, progress.total, key, k + 1, k_folds,
            crops[fold_crop[static_cast<size_t>(k)]].ToJson().dump(), crops.size(), best.balanced);
  }
  // The trace: fold k scored by its own crop's outer model.
  std::vector<float> trace_scores(static_cast<size_t>(n_train), 0);
  for (int k = 0; k < k_folds; ++k) {
    for (int64_t p : plan.held_out[static_cast<size_t>(k)])
      trace_scores[static_cast<size_t>(p)] =
          oof[fold_crop[static_cast<size_t>(k)]][static_cast<size_t>(p)];
  }
  // The deployed model: the best crop pooled out of fold, trained on every
  // training frame; or (--deploy fold) the deployed fold's own crop and
  // model, trained as in the outer loop (docs/training.md, "The deployed model").
  const bool deploy_fold = config.EffectiveDeploy() == "fold";
  const int k = deploy_fold ? DeployedFold(plan) : -1;  // -1: the outer loop's "no fold"
  size_t chosen = deploy_fold ? fold_crop[static_cast<size_t>(k)] : 0;
  for (size_t c = 1; !deploy_fold && c < crops.size(); ++c)
    if (pooled[c].Better(pooled[chosen])) chosen = c;
  std::vector<float> unused;
  Trainee final_model =
      train_and_score(chosen, deploy_fold ? plan.train[static_cast<size_t>(k)] : plan.all, {},
                      seed_of(chosen, k, -1), unused, unused);
  torch::jit::Module& module = final_model.suffix;
  module.eval();
  const Metrics fit = Evaluate(module, source, Role::kTrain, y_train, config.threshold);
  const double train_seconds = NowSeconds() - t0;

  // Its latency beside the whole base's (batch 1, optimized), and the base's last stage.
  MicroSpec spec;
  spec.x0 = crops[chosen].x0;
  spec.y0 = crops[chosen].y0;
  spec.x1 = crops[chosen].x1;
  spec.y1 = crops[chosen].y1;
  spec.channels = config.micro_channels;
  spec.param_bytes = static_cast<double>(final_model.num_params) * sizeof(float);
  double last_stage_ms = 0;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor probe = source.Fetch(Role::kTrain, {0, 1});
    const Segment micro = Segment::FromModule(module, probe, {}, key);
    const int n = base.num_stages();
    const Segment whole = Segment::Build(base, 0, n);
    const Segment last = Segment::Build(base, n - 1, n);
    const at::Tensor frame = base.DummyInput(1);
    const at::Tensor at_last = base.RunStages(frame, 0, n - 1);
    // As msrun runs it: plain loops over the crop (MicroHead) of the stem's
    // output made dense (msrun converts it once per frame for all the
    // microclassifiers at that layer, a cost of the shared stem).
    const Segment stem = Segment::Build(base, 0, b);
    at::Tensor x1 = stem.ForwardKeepLayout(frame);
    if (x1.is_mkldnn()) x1 = x1.to_dense();
    const MicroHead head = MicroHead::FromModule(
        module, MicroCrop{spec.x0, spec.y0, spec.x1, spec.y1}, base.info().ShapeAt(b), key);
    const at::Tensor want = micro.Forward(x1);
    MS_CHECK_RT((head.Forward(x1) - want).abs().max().item<double>() <=
                    1e-4 * std::max(1.0, want.abs().max().item<double>()),
                "{}: the microclassifier's loops disagree with its module", key);
    spec.cost_ms = TimeCalls([&] { head.Forward(x1); }, 20, 200).p50_ms;
    spec.reference_ms = std::max(1e-6, TimeForward(whole, frame, 10, 100).p50_ms);
    last_stage_ms = TimeForward(last, at_last, 20, 200).p50_ms;
  }
  if (spec.cost_ms > last_stage_ms) {
    LogWarn(
        "{}: the microclassifier takes {:.4f} ms per frame, more than the base's last stage "
        "({:.4f} ms): the scheduler assumes microclassifiers cost less than any branch; use fewer "
        "--micro-channels",
        key, spec.cost_ms, last_stage_ms);
  }

  const std::filesystem::path weights_file = store.WeightsPath(key);
  SaveModule(module, weights_file);

  FineTuneOutcome out;
  out.seconds_per_epoch = train_seconds / std::max<int64_t>(1, models) / config.epochs;
  CandidateRecord& r = out.record;
  r.config_hash = store.hash();
  r.base = base.ref();
  r.weights_sha256 = Sha256File(weights_file);
  const RateEstimate est = RecordOutOfFold(data, y_train, plan, trace_scores, key, config, r);

  Candidate& c = r.candidate;
  c.kind = CandidateKind::kMicro;
  c.branchpoint = b;
  c.micro = spec;
  c.accuracy = est.accuracy;
  c.tpr = est.tpr;
  c.fpr = est.fpr;
  c.no_skill = est.no_skill;
  c.threshold = config.threshold;
  c.weights = CandidateStore::WeightsName(key);
  c.train_seconds = train_seconds;
  Json crop_json = Json::array();
  for (size_t i = 0; i < crops.size(); ++i) {
    crop_json.push_back(Json{{"crop", crops[i].ToJson()},
                             {"region", crops[i].region},
                             {"oof_balanced_accuracy", pooled[i].balanced}});
  }
  c.extra = Json{{"estimate", "out-of-fold, crop chosen per fold by an inner out-of-fold search"},
                 {"micro_config", config.MicroJson()},
                 {"folds", k_folds},
                 {"oof", est.ToJson()},
                 {"crops", crop_json},
                 {"fold_crops", fold_json},
                 {"chosen_crop", crops[chosen].ToJson()},
                 {"deployed", DeployedJson(data, plan, config)},
                 {"models_trained", models},
                 {"epochs_run", config.epochs},
                 {"train", fit.ToJson()},
                 {"train_frames", n_train},
                 {"parameters", final_model.num_params},
                 {"last_stage_ms", last_stage_ms},
                 {"threads", GetTorchThreads()}};
  out.done_message = fmt::format(
      "candidate {}/{} ({}: microclassifier at layer {}) done in {}: crop {} of a {}x{} map, "
      "out-of-fold accuracy {:.3f}, TPR {:.3f}, FPR {:.3f} ({} models); {:.4f} ms per frame vs "
      "{:.3f} ms for the whole base",
      progress.index, progress.total, key, b, Seconds(train_seconds), crops[chosen].ToJson().dump(),
      w, h, c.accuracy, c.tpr, c.fpr, models, spec.cost_ms, spec.reference_ms);
  if (c.no_skill) {
    LogWarn("{} is no better than chance out of fold: TPR {:.3f} vs FPR {:.3f}", key, est.tpr_raw,
            est.fpr_raw);
  }
  return out;
}

}  // namespace mainstream::train_detail
