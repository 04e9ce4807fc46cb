// Private to the train module: fine-tuning one candidate on cached prefix
// activations. LibTorch types appear here; only src/train includes it.
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mainstream/core/random.h"
#include "mainstream/labels/rate_estimate.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/segment.h"
#include "mainstream/train/candidate_store.h"
#include "mainstream/train/dataset.h"
#include "mainstream/train/train_config.h"

namespace mainstream::train_detail {

enum class Role { kTrain, kValidation, kTest };

// Labels of dataset items as a long tensor.
at::Tensor Labels(const Dataset& data, const std::vector<int64_t>& items);

// Classification figures at a threshold.
struct Metrics {
  double loss = 0;  // class-balanced cross-entropy
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  FrameLabels predictions;

  int64_t n() const { return tp + fp + tn + fn; }
  double accuracy() const {
    return n() ? static_cast<double>(tp + tn) / static_cast<double>(n()) : 0;
  }
  double tpr() const {
    return tp + fn ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0;
  }
  double fpr() const {
    return fp + tn ? static_cast<double>(fp) / static_cast<double>(fp + tn) : 0;
  }
  double balanced_accuracy() const { return 0.5 * (tpr() + 1 - fpr()); }
  Json ToJson() const {
    return Json{{"frames", n()},
                {"accuracy", accuracy()},
                {"tpr", tpr()},
                {"fpr", fpr()},
                {"loss", loss},
                {"positives", tp + fn},
                {"balanced_accuracy", balanced_accuracy()}};
  }
};

// Normalized input frames [rows, 3, H, W] for dataset items; copy c > 0 is
// the c-th augmented copy of the item (seeded by the item's frame number, so
// every run and every branchpoint sees the same copies).
at::Tensor InputBatch(const Dataset& data, const std::vector<int64_t>& items,
                      const std::vector<int>& copies, const PreprocessConfig& pre,
                      const AugmentConfig& augment, uint64_t seed);

// The candidate's module: BuildSuffix (pooled head) or the same stages
// followed by a spatial head (config.head). Input: the activation at
// `branchpoint`; output: logits [batch, 2]. Eval mode, parameters trainable.
torch::jit::Module BuildCandidate(const BaseModel& base, int branchpoint,
                                  const TrainConfig& config);

// Copies of a module's parameters and buffers, and putting them back.
std::vector<at::Tensor> Snapshot(const torch::jit::Module& m);
void Restore(const torch::jit::Module& m, const std::vector<at::Tensor>& state);

// Train mode for `m`, but BatchNorm layers (modules holding a running_mean
// buffer) stay in inference mode when `freeze_batchnorm`.
void SetTrainMode(torch::jit::Module& m, bool freeze_batchnorm);

// Rows of a role: training rows are copy * n_train + i (i-th training item),
// validation and test rows are item positions within the role.
class ActivationSource {
 public:
  ActivationSource(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                   const PreprocessConfig& pre);

  // Makes activations at `branchpoint` available. With the cache they are
  // computed from the current cached branchpoint (or the frames) by one
  // optimized frozen Segment; branchpoints must not decrease. Without the
  // cache, a prefix Segment [0, branchpoint) is built and run per batch.
  void MoveTo(int branchpoint);
  int branchpoint() const { return branchpoint_; }

  at::Tensor Fetch(Role role, const std::vector<int64_t>& rows) const;
  int64_t Rows(Role role) const;
  int copies() const { return copies_; }  // augmented copies per training item (0: none)
  double prefix_seconds() const { return prefix_seconds_; }
  size_t cached_bytes() const;

 private:
  const std::vector<int64_t>& Items(Role role) const;
  at::Tensor Inputs(Role role, const std::vector<int64_t>& rows) const;
  at::Tensor RunPrefix(const Segment* segment, Role role, const at::Tensor* from) const;

  const BaseModel& base_;
  const Dataset& data_;
  const TrainConfig& config_;
  PreprocessConfig pre_;
  int copies_ = 0;
  int branchpoint_ = 0;
  bool cache_ = true;
  at::Tensor train_, validation_, test_;  // cached activations (undefined at branchpoint 0)
  std::unique_ptr<Segment> prefix_;       // without the cache
  double prefix_seconds_ = 0;
};

// Over the first labels.size(0) rows of `role` (for training: the
// un-augmented copies).
Metrics Evaluate(torch::jit::Module& suffix, const ActivationSource& source, Role role,
                 const at::Tensor& labels, double threshold);

// "42 s" / "3 min 05 s".
std::string Seconds(double s);

// A candidate being trained: its module, its optimizer (the new head, the
// last child, learns faster than the copied base stages) and its shuffling RNG.
struct Trainee {
  torch::jit::Module suffix;
  std::unique_ptr<torch::optim::Adam> optimizer;
  int64_t num_params = 0;
  Rng rng{0};
};
Trainee MakeTrainee(const BaseModel& base, int b, const TrainConfig& config, uint64_t shuffle_seed);
// The same for any module whose last child is the new head (learning rate
// head_lr; the other children lr).
Trainee MakeTraineeFor(torch::jit::Module module, const TrainConfig& config, uint64_t shuffle_seed);

// Class weights N / (2 N_c) of the labels at `positions` of `y` (or ones).
at::Tensor ClassWeights(const at::Tensor& y, const std::vector<int64_t>& positions,
                        const TrainConfig& config);

// One epoch over the training items at `positions` (indices into
// data.split.train), each drawn as one of its augmented versions; returns the
// mean loss.
double TrainEpoch(Trainee& t, const ActivationSource& source, const at::Tensor& y_train,
                  std::vector<int64_t> positions, const at::Tensor& weight,
                  const TrainConfig& config);

// Scores P(event) and per-frame cross-entropy of the un-augmented training
// items at `positions`, written at those positions of `scores` / `losses`.
void ScorePositions(torch::jit::Module& suffix, const ActivationSource& source,
                    const at::Tensor& y_train, const std::vector<int64_t>& positions,
                    std::vector<float>& scores, std::vector<float>& losses);

// Pooled out-of-fold figures of one epoch: balanced accuracy at the
// threshold and class-balanced mean loss.
struct PooledFigures {
  double balanced = 0, loss = 0, tpr = 0, fpr = 0;
};
PooledFigures Pool(const std::vector<float>& scores, const std::vector<float>& losses,
                   const at::Tensor& y, double threshold);

// With --deploy fold: the fold whose held-out part comes first in time, so
// that its model trained on the latest frames (the most like what follows).
int DeployedFold(const FoldPlan& plan);
// What a candidate deployed, for its manifest's extra.deployed: {"model":
// "retrain"} or {"model": "fold", "fold": k, "held_out_frames": [first, last]}.
Json DeployedJson(const Dataset& data, const FoldPlan& plan, const TrainConfig& config);

// Puts a candidate's out-of-fold scores over the training items (`scores`,
// one per position of data.split.train) into record.oof with their frames
// and folds, and returns the per-frame rates estimated from them (trace
// column `key`).
RateEstimate RecordOutOfFold(const Dataset& data, const at::Tensor& y_train, const FoldPlan& plan,
                             const std::vector<float>& scores, const std::string& key,
                             const TrainConfig& config, CandidateRecord& record);

struct ProgressState {
  int index = 0;  // candidate i of n (1-based)
  int total = 0;
  // Estimated remaining work after this candidate, in seconds (updated by the caller).
  double remaining_after_s = 0;
};

struct FineTuneOutcome {
  CandidateRecord record;
  double seconds_per_epoch = 0;
  std::string done_message;  // logged once the record is committed
};

// Trains the candidate at source.branchpoint(), saves its weights into the
// store and returns its record (not yet committed).
FineTuneOutcome FineTune(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                         ActivationSource& source, const CandidateStore& store,
                         ProgressState& progress);

// The same candidate estimated out of fold (video, config.folds >= 2): one
// model per fold of PlanFolds trained in lockstep on the cached activations,
// the epoch chosen on the pooled out-of-fold balanced accuracy, then the
// deployed model trained on every training frame for that many epochs. The
// record carries the out-of-fold scores (the package's trace column) and
// per-frame rates from them (labels/rate_estimate.h).
FineTuneOutcome FineTuneFolds(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                              ActivationSource& source, const CandidateStore& store,
                              ProgressState& progress);

// A microclassifier at source.branchpoint() (docs/training.md,
// "Microclassifiers"): crops of the cached feature map (random, plus the
// app's region) each trained as a small head; every fold's crop is chosen by
// an inner out-of-fold search on that fold's training frames only, so the
// out-of-fold scores (the trace column "mc<b>") judge the whole procedure;
// the deployed crop is the one with the best out-of-fold balanced accuracy,
// trained on every training frame. The record carries its MicroSpec (crop,
// latency measured beside the whole base's).
FineTuneOutcome FineTuneMicro(const BaseModel& base, const Dataset& data, const TrainConfig& config,
                              ActivationSource& source, const CandidateStore& store,
                              ProgressState& progress);

// Forward time of each stage (ms per frame, plain stages, batch of 8): a cost
// model for ETAs.
std::vector<double> StageCostsMs(const BaseModel& base);

}  // namespace mainstream::train_detail
