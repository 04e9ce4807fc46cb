#include "mainstream/schedule/prediction.h"

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/schedule/trace_model.h"

namespace mainstream {

namespace {

// z with P(|Z| <= z) = level for a standard normal Z (bisection on erf).
double NormalQuantileTwoSided(double level) {
  double lo = 0, hi = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erf(mid / std::sqrt(2.0)) < level ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// The trace fold whose held-out part the deployed model never trained on
// and was scored on (mstrain --deploy fold: extra.deployed), or -1.
int DeployedFoldOf(const Candidate& c) {
  const auto d = c.extra.find("deployed");
  if (d == c.extra.end() || !d->is_object()) return -1;
  const auto model = d->find("model");
  const auto fold = d->find("fold");
  if (model == d->end() || !model->is_string() || *model != "fold") return -1;
  if (fold == d->end() || !fold->is_number_integer()) return -1;
  const int64_t k = fold->get<int64_t>();
  return k >= 0 && k < 1000 ? static_cast<int>(k) : -1;
}

Json Figures(double recall, double precision, double f1) {
  return Json{{"recall", recall}, {"precision", precision}, {"f1", f1}};
}

}  // namespace

void PredictionOptions::Validate() const {
  MS_CHECK(std::isfinite(prior_events) && prior_events >= 0 && prior_events <= 1e6,
           "--trace-prior: expected a number of events in [0, 10^6], got {}", prior_events);
  MS_CHECK(selection_resamples >= 0 && selection_resamples <= 100000,
           "--selection-resamples: expected 0 (no correction) to 100000, got {}",
           selection_resamples);
}

ConfidenceInterval AppPrediction::Interval(double n_events, double level) const {
  MS_CHECK(level > 0 && level < 1, "interval level must be in (0, 1), got {}", level);
  const double n = std::max(1.0, n_events);
  const double sd = std::sqrt(f1_se * f1_se + f1_event_sd * f1_event_sd / n);
  const double z = NormalQuantileTwoSided(level);
  return {std::clamp(f1 - z * sd, 0.0, 1.0), std::clamp(f1 + z * sd, 0.0, 1.0)};
}

Json AppPrediction::ToJson() const {
  Json j{{"recall", recall},
         {"precision", precision},
         {"f1", f1},
         {"f1_se", f1_se},
         {"f1_event_sd", f1_event_sd},
         {"f1_heterogeneity", f1_heterogeneity},
         {"events", events},
         {"source", source()},
         {"trace_weight", trace_weight},
         {"no_skill", no_skill},
         {"selection_bias", selection_bias},
         {"model", Json{{"recall", model.recall},
                        {"precision", model.precision},
                        {"f1", model.f1},
                        {"true_reports_per_event", model.true_reports_per_event},
                        {"false_reports_per_gap", model.false_reports_per_gap}}}};
  if (trace) {
    j["trace"] = Figures(trace->recall, trace->precision, trace->f1);
    j["trace"]["f1_se"] = trace->f1_se;
    j["trace"]["fold_sd"] = trace->fold_sd;
    j["trace"]["fold_null_sd"] = trace->fold_null_sd;
    j["trace"]["folds"] = trace->folds;
    j["trace"]["events"] = trace->events;
    j["trace"]["phases"] = trace->phases;
    if (trace->deployed_fold >= 0) {
      j["trace"]["deployed"] = Json{{"fold", trace->deployed_fold},
                                    {"f1", trace->deployed_f1},
                                    {"events", trace->deployed_events},
                                    {"weight", trace->deployed_weight}};
    }
  } else {
    j["trace"] = nullptr;
  }
  const ConfidenceInterval ci = Interval(static_cast<double>(std::max<int64_t>(events, 1)));
  j["interval90"] = {ci.lower, ci.upper};
  return j;
}

AppPrediction AppPrediction::FromJson(const JsonView& v) {
  AppPrediction p;
  p.recall = v.NumberIn("recall", 0, 1);
  p.precision = v.NumberIn("precision", 0, 1);
  p.f1 = v.NumberIn("f1", 0, 1);
  if (auto f = v.OptionalField("f1_se")) p.f1_se = f->AsNumberIn(0, 1);
  if (auto f = v.OptionalField("f1_event_sd")) p.f1_event_sd = f->AsNumberIn(0, 10);
  if (auto f = v.OptionalField("f1_heterogeneity")) p.f1_heterogeneity = f->AsNumberIn(0, 1);
  if (auto f = v.OptionalField("events")) p.events = f->AsIntIn(0, int64_t{1} << 40);
  if (auto f = v.OptionalField("trace_weight")) p.trace_weight = f->AsNumberIn(0, 1);
  if (auto f = v.OptionalField("no_skill")) p.no_skill = f->AsBool();
  if (auto f = v.OptionalField("selection_bias")) p.selection_bias = f->AsNumberIn(0, 1);
  if (auto m = v.OptionalField("model")) {
    p.model.recall = m->NumberIn("recall", 0, 1);
    p.model.precision = m->NumberIn("precision", 0, 1);
    p.model.f1 = m->NumberIn("f1", 0, 1);
    if (auto f = m->OptionalField("true_reports_per_event"))
      p.model.true_reports_per_event = f->AsNumberIn(0, 1e9);
    if (auto f = m->OptionalField("false_reports_per_gap"))
      p.model.false_reports_per_gap = f->AsNumberIn(0, 1e9);
  }
  if (auto t = v.OptionalField("trace")) {
    TracePrediction tp;
    tp.recall = t->NumberIn("recall", 0, 1);
    tp.precision = t->NumberIn("precision", 0, 1);
    tp.f1 = t->NumberIn("f1", 0, 1);
    if (auto f = t->OptionalField("f1_se")) tp.f1_se = f->AsNumberIn(0, 1);
    if (auto f = t->OptionalField("fold_sd")) tp.fold_sd = f->AsNumberIn(0, 1);
    if (auto f = t->OptionalField("fold_null_sd")) tp.fold_null_sd = f->AsNumberIn(0, 1);
    if (auto f = t->OptionalField("folds")) tp.folds = static_cast<int>(f->AsIntIn(0, 1000));
    if (auto f = t->OptionalField("events")) tp.events = f->AsIntIn(0, int64_t{1} << 40);
    if (auto f = t->OptionalField("phases")) tp.phases = static_cast<int>(f->AsIntIn(0, 1 << 20));
    if (auto d = t->OptionalField("deployed")) {
      tp.deployed_fold = static_cast<int>(d->IntIn("fold", 0, 1000));
      tp.deployed_f1 = d->NumberIn("f1", 0, 1);
      tp.deployed_events = d->IntIn("events", 0, int64_t{1} << 40);
      tp.deployed_weight = d->NumberIn("weight", 0, 1);
    }
    p.trace = tp;
  }
  return p;
}

AppPrediction PredictCandidate(const Candidate& c, const EventStats& events,
                               const ScoreTrace* trace, double stride, int x,
                               const PredictionOptions& options, TraceReplay* replay) {
  options.Validate();
  AppPrediction p;
  p.no_skill = c.no_skill;
  double tpr = c.tpr, fpr = c.fpr;
  if (c.no_skill)
    tpr = fpr = std::clamp(c.tpr * events.frequency + c.fpr * (1 - events.frequency), 0.0, 1.0);
  p.model = PredictEvents(tpr, fpr, events, stride, x);
  // Without a trace: the model's figures; a rough per-event spread from the
  // binomial variance of detecting each event.
  const double model_event_sd = std::sqrt(std::max(p.model.recall * (1 - p.model.recall), 0.01));
  const double model_events = static_cast<double>(std::max<size_t>(events.lengths.size(), 1));
  p.recall = p.model.recall;
  p.precision = p.model.precision;
  p.f1 = p.model.f1;
  p.f1_event_sd = model_event_sd;
  p.f1_se = model_event_sd / std::sqrt(model_events);
  if (trace == nullptr || !options.use_trace) return p;

  const int column = trace->Column(c.key());
  MS_CHECK(column >= 0, "the score trace has no column {} for this candidate", c.key());
  TraceReplay r = ReplayTrace(*trace, column, c.threshold, stride, x);
  TracePrediction tp;
  tp.recall = r.score.recall;
  tp.precision = r.score.precision;
  tp.f1 = r.score.f1;
  tp.f1_se = r.f1_se;
  tp.fold_sd = r.fold_sd;
  if (options.permutation_null && r.fold_f1.size() >= 2)
    tp.fold_null_sd = std::sqrt(FoldNullVariance(r.cycles, r.fold_events, r.phases));
  tp.folds = static_cast<int>(r.fold_f1.size());
  tp.events = r.events;
  tp.phases = r.phases;
  // The deployed fold's own figures (before the replay is handed over).
  CycleScore deployed;
  const int deployed_fold = DeployedFoldOf(c);
  for (size_t i = 0; i < r.fold_id.size(); ++i) {
    if (r.fold_id[i] != deployed_fold) continue;
    tp.deployed_fold = deployed_fold;
    tp.deployed_f1 = r.fold_score[i].f1;
    tp.deployed_events = r.fold_events[i];
    deployed = r.fold_score[i];
  }
  p.trace = tp;
  p.events = r.events;
  if (replay != nullptr) *replay = std::move(r);
  if (p.events == 0) return p;

  const double n = static_cast<double>(p.events);
  const double w = n / (n + options.prior_events);
  p.trace_weight = w;
  p.recall = w * tp.recall + (1 - w) * p.model.recall;
  p.precision = w * tp.precision + (1 - w) * p.model.precision;
  p.f1 = F1Score(p.precision, p.recall);
  // Per-event spread: the jackknife's, but never below the binomial spread of
  // detecting each event at the (Jeffreys-shrunk) recall, carried to F1 by the
  // delta method (dF1/dR = 2P^2 / (P+R)^2: half of recall's spread when P = R),
  // so that a trace on which every event was caught does not claim a
  // zero-width interval.
  const double shrunk_recall = (tp.recall * n + 0.5) / (n + 1);
  const double pr = p.precision + shrunk_recall;
  const double df1_dr = pr > 1e-9 ? 2 * p.precision * p.precision / (pr * pr) : 0.5;
  const double floor_sd = df1_dr * std::sqrt(shrunk_recall * (1 - shrunk_recall));
  p.f1_event_sd = std::max(tp.f1_se * std::sqrt(n), floor_sd);
  // The trace's uncertainty: its events or, if larger, the spread between
  // folds; the model's share counts its disagreement with the trace.
  const double folds = static_cast<double>(tp.folds);
  const double fold_se = tp.folds >= 2 ? tp.fold_sd / std::sqrt(folds) : 0;
  const double trace_se = std::max(p.f1_event_sd / std::sqrt(n), fold_se);
  // Heterogeneity: the folds' F1 spread beyond what their own events explain
  // (each fold sees about n / folds of them), as in a random-effects
  // meta-analysis. One model on another stretch of time varies by it too: the
  // deployed model is one draw of the procedure (a fold's, with --deploy fold)
  // and the measurement is on frames the folds never held out. What the
  // events explain: the folds' variance with the events dealt to them at
  // random (a permutation null), or its normal approximation.
  const double null_var = options.permutation_null ? tp.fold_null_sd * tp.fold_null_sd
                                                   : p.f1_event_sd * p.f1_event_sd * folds / n;
  const double tau2 = tp.folds >= 2 ? std::max(0.0, tp.fold_sd * tp.fold_sd - null_var) : 0;
  p.f1_heterogeneity = std::sqrt(tau2);
  // The deployed fold (--deploy fold): the deployed model is the one that
  // scored that fold's held-out part. The folds' spread beyond their events'
  // sampling (tau2) is part the models' (that model will do on new frames
  // as it did on its own fold) and part the stretches of time's (it will
  // not); one model per fold cannot tell them apart, so each is taken as
  // half of tau2. The best linear predictor of the deployed model's F1 on a
  // new stretch then moves the trace's recall and precision towards that
  // fold's by b = (tau2 / 2) / (tau2 + v), v the sampling variance of an F1
  // over the fold's events, and leaves tau2 (1 - b / 2) of the spread in
  // the interval, beside the pooled estimate's uncertainty at (1 - b)^2
  // (docs/model.md, "The deployed fold").
  double trace_recall = tp.recall, trace_precision = tp.precision;
  double trace_var = trace_se * trace_se + tau2;
  if (tp.deployed_fold >= 0 && tp.deployed_events > 0 && tau2 > 0) {
    const double v = p.f1_event_sd * p.f1_event_sd / static_cast<double>(tp.deployed_events);
    const double b = 0.5 * tau2 / (tau2 + v);
    tp.deployed_weight = b;
    trace_recall += b * (deployed.recall - tp.recall);
    trace_precision += b * (deployed.precision - tp.precision);
    p.trace = tp;
    p.recall = w * trace_recall + (1 - w) * p.model.recall;
    p.precision = w * trace_precision + (1 - w) * p.model.precision;
    p.f1 = F1Score(p.precision, p.recall);
    trace_var = (1 - b) * (1 - b) * trace_se * trace_se + (1 - b / 2) * tau2;
  }
  const double model_dev = (1 - w) * (p.model.f1 - tp.f1);
  p.f1_se = std::sqrt(w * w * trace_var + model_dev * model_dev);
  return p;
}

}  // namespace mainstream
