#include "mainstream/train/trainer.h"

#include <fmt/ranges.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <numeric>
#include <set>

#include "finetune.h"
#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/parse.h"
#include "mainstream/core/sha256.h"
#include "mainstream/core/stop.h"
#include "mainstream/labels/correlation.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/model/base_info.h"
#include "mainstream/model/machine.h"
#include "mainstream/schedule/problem.h"
#include "mainstream/train/dataset.h"
#include "mainstream/train/pareto.h"
#include "mainstream/video/preprocess.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

std::vector<int> Branchpoints(const TrainConfig& config, int num_stages,
                              const std::string& base_origin) {
  std::vector<int> bps = config.branchpoints;
  if (bps.empty()) {
    bps.resize(static_cast<size_t>(num_stages));
    std::iota(bps.begin(), bps.end(), 0);
  }
  std::sort(bps.begin(), bps.end());
  bps.erase(std::unique(bps.begin(), bps.end()), bps.end());
  for (int b : bps) {
    MS_CHECK(b >= 0 && b < num_stages,
             "--branchpoints: {} is not a branchpoint of {} (which has {} stages: 0..{})", b,
             base_origin, num_stages, num_stages - 1);
  }
  return bps;
}

// One candidate to train: a branch at a branchpoint or a microclassifier at a layer.
struct Job {
  CandidateKind kind = CandidateKind::kBranch;
  int branchpoint = 0;
  std::string key() const { return CandidateKey(kind, branchpoint); }
};

bool TrainingOrder(const Job& a, const Job& b) {
  return a.branchpoint != b.branchpoint ? a.branchpoint < b.branchpoint
                                        : static_cast<int>(a.kind) < static_cast<int>(b.kind);
}

// The configuration's candidates in training order (CandidateOrder: the
// activation cache only moves forward), restricted to `only` when given.
std::vector<Job> Jobs(const TrainConfig& config, const BaseInfo& info, const std::string& origin,
                      const std::vector<std::string>& only = {}) {
  const int n = info.num_stages();
  std::vector<Job> jobs;
  for (int b : Branchpoints(config, n, origin)) jobs.push_back(Job{CandidateKind::kBranch, b});
  std::vector<int> layers = config.micro_layers;
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  for (int b : layers) {
    MS_CHECK(b >= 1 && b < n,
             "--micro-layers: {} is not a layer of {} (microclassifiers read the input of stages "
             "1..{})",
             b, origin, n - 1);
    MS_CHECK(info.ShapeAt(b).size() == 3,
             "--micro-layers: the activation at {} of {} is not a feature map (shape {}); pick a "
             "layer before the base's pooling",
             b, origin, ShapeToString(info.ShapeAt(b)));
    jobs.push_back(Job{CandidateKind::kMicro, b});
  }
  std::sort(jobs.begin(), jobs.end(), TrainingOrder);
  if (only.empty()) return jobs;
  std::vector<Job> kept;
  for (const std::string& key : only) {
    auto it = std::find_if(jobs.begin(), jobs.end(), [&](const Job& j) { return j.key() == key; });
    MS_CHECK(it != jobs.end(),
             "--branchpoint: {} is not a candidate of this configuration (branchpoints from "
             "--branchpoints, microclassifiers mc<layer> from --micro-layers)",
             key);
    kept.push_back(*it);
  }
  std::sort(kept.begin(), kept.end(), TrainingOrder);
  return kept;
}

// The finished record of `job`, or nullopt; a microclassifier trained with
// other micro settings (TrainConfig::MicroJson) counts as unfinished.
std::optional<CandidateRecord> FindFinished(const CandidateStore& store, const Job& job,
                                            const TrainConfig& config, const BaseRef& base) {
  std::optional<CandidateRecord> r = store.Find(job.key(), base);
  if (r && job.kind == CandidateKind::kMicro &&
      r->candidate.extra.value("micro_config", Json()) != config.MicroJson()) {
    LogInfo("{}: trained with other microclassifier settings; retraining it", job.key());
    return std::nullopt;
  }
  return r;
}

// The base's manifest, with model.pt checked against its recorded hash.
BaseInfo ReadCheckedBase(const std::string& dir) {
  BaseInfo info = ReadBaseInfo(dir);
  const fs::path model = fs::path(dir) / info.model_file;
  const std::string actual = Sha256File(model);
  if (actual != info.sha256) {
    ThrowInput(
        "{}: $.sha256: base hash mismatch: base.json records {}... but {} hashes to {}... (the "
        "model changed "
        "after base.json was written)",
        (fs::path(dir) / kBaseManifest).string(), info.sha256.substr(0, 12), model.string(),
        actual.substr(0, 12));
  }
  return info;
}

bool ProcessAlive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

// Staging directories "<name>.tmp.<pid>.<n>" left beside `out` by killed runs.
void RemoveStaleStaging(const fs::path& out) {
  std::error_code ec;
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  const std::string prefix = out.filename().string() + ".tmp.";
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (!ProcessAlive(pid)) {
      LogInfo("removing {} left by an interrupted run", e.path().string());
      fs::remove_all(e.path(), ec);
    }
  }
}

// Writes the package directory: manifest + weights staged beside `out`, then
// swapped in. Any failure leaves `out` as it was.
void WritePackage(const MPackage& pkg, const CandidateStore& store, const fs::path& out,
                  const std::string& trace_csv) {
  std::error_code ec;
  if (fs::exists(out, ec) && (!fs::is_directory(out) ||
                              (!fs::is_empty(out, ec) && !fs::exists(out / kMPackageManifest)))) {
    ThrowInput("-o/--output '{}': exists and is not an M-Package directory; refusing to replace it",
               out.string());
  }
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path(), ec);
  RemoveStaleStaging(out);
  const fs::path staging = StagingPath(out);
  try {
    fs::create_directories(staging);
    for (const Candidate& c : pkg.candidates) {
      fs::copy_file(store.dir() / c.weights, staging / c.weights,
                    fs::copy_options::overwrite_existing);
      if (Sha256File(staging / c.weights) != Sha256File(store.dir() / c.weights)) {
        ThrowRuntime("{}: the copy differs from {}", (staging / c.weights).string(),
                     (store.dir() / c.weights).string());
      }
    }
    if (pkg.trace) WriteFileAtomic(staging / pkg.trace->file, trace_csv);
    WriteMPackageManifest(pkg, staging);
    const MPackage back = ReadMPackage(staging);  // what we wrote reads back
    if (back.trace) LoadPackageTrace(back);
    ReplaceDirectory(staging, out);
  } catch (const std::exception& e) {
    fs::remove_all(staging, ec);
    if (dynamic_cast<const InputError*>(&e)) throw;
    ThrowInput(
        "{}: cannot write the package: {} (disk full, a file size limit, or no permission?); "
        "nothing was "
        "changed at {}",
        out.string(), e.what(), out.string());
  }
}

// The package's trace from the candidates' out-of-fold scores; every record
// must cover the same frames and folds.
ScoreTrace TraceFromRecords(const std::vector<CandidateRecord>& records, const FrameLabels& labels,
                            const std::string& origin) {
  ScoreTrace t;
  for (const CandidateRecord& r : records) {
    const std::string key = r.candidate.key();
    MS_CHECK(r.oof.has_value(),
             "{}: candidate {} has no out-of-fold scores (a record from "
             "validation-block training); retrain it",
             origin, key);
    if (t.columns.empty()) {
      t.frames = r.oof->frames;
      t.folds = r.oof->folds;
    } else {
      MS_CHECK(t.frames == r.oof->frames && t.folds == r.oof->folds,
               "{}: candidates {} and {} "
               "were estimated on different frames or folds; retrain them with one configuration",
               origin, t.columns.front(), key);
    }
    t.columns.push_back(key);
    t.scores.push_back(r.oof->scores);
  }
  for (int64_t f : t.frames) {
    MS_CHECK(f >= 1 && f <= static_cast<int64_t>(labels.size()),
             "{}: out-of-fold frame {} is beyond the {} labels", origin, f, labels.size());
    t.labels.push_back(labels[static_cast<size_t>(f - 1)]);
  }
  t.Validate(origin);
  return t;
}

// Labels and a candidate's positive/negative outcomes over one stretch of frames.
struct LabeledPredictions {
  FrameLabels labels, predictions;
};

// Column `c` of the trace at `threshold`, one stretch per contiguous segment.
std::vector<LabeledPredictions> OutOfFoldStretches(const ScoreTrace& t, size_t c,
                                                   double threshold) {
  std::vector<LabeledPredictions> out;
  for (const auto& [begin, end] : t.Segments()) {
    LabeledPredictions& s = out.emplace_back();
    s.labels.assign(t.labels.begin() + static_cast<long>(begin),
                    t.labels.begin() + static_cast<long>(end));
    for (size_t i = begin; i < end; ++i) s.predictions.push_back(t.scores[c][i] >= threshold);
  }
  return out;
}

// A candidate's predictions on its validation blocks (empty without labels).
std::vector<LabeledPredictions> ValidationStretches(const CandidateRecord& r,
                                                    const FrameLabels& labels) {
  std::vector<LabeledPredictions> out;
  if (labels.empty()) return out;
  for (const ValidationTrace& t : r.validation) {
    out.push_back({FrameLabels(labels.begin() + (t.block.start - 1), labels.begin() + t.block.end),
                   t.predictions});
  }
  return out;
}

std::string Table(const std::vector<Candidate>& all, const std::set<std::string>& kept,
                  int num_stages) {
  std::string s =
      fmt::format("{:>4} {:>11} {:>9} {:>7} {:>7} {:>7} {:>8} {:>7}  {}\n", "cand", "specialized",
                  "accuracy", "tpr", "fpr", "test", "train_s", "epochs", "kept");
  for (const Candidate& c : all) {
    std::string test = c.extra.contains("test")
                           ? fmt::format("{:.3f}", c.extra["test"]["accuracy"].get<double>())
                           : "-";
    s += fmt::format(
        "{:>4} {:>11} {:>9.4f} {:>7.3f} {:>7.3f} {:>7} {:>8.1f} {:>7}  {}\n", c.key(),
        c.is_micro() ? std::string("micro") : std::to_string(num_stages - c.branchpoint),
        c.accuracy, c.tpr, c.fpr, test, c.train_seconds, c.extra.value("epochs_run", 0),
        std::string(kept.count(c.key()) ? "yes" : "pruned") + (c.no_skill ? " (no skill)" : ""));
  }
  return s;
}

}  // namespace

std::vector<std::string> ParseCandidateKeys(const std::string& text, const std::string& flag) {
  std::vector<std::string> keys;
  for (const std::string& part : SplitList(text)) {
    CandidateKind kind = CandidateKind::kBranch;
    std::string digits = part;
    if (part.size() > 2 && (part.compare(0, 2, "bp") == 0 || part.compare(0, 2, "mc") == 0)) {
      kind = part.compare(0, 2, "mc") == 0 ? CandidateKind::kMicro : CandidateKind::kBranch;
      digits = part.substr(2);
    }
    const bool numeric = !digits.empty() && digits.size() <= 6 &&
                         std::all_of(digits.begin(), digits.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; });
    MS_CHECK(numeric,
             "{}: '{}' is not a candidate (a branchpoint like 3 or bp3, or a microclassifier like "
             "mc2)",
             flag, part);
    keys.push_back(CandidateKey(kind, std::stoi(digits)));
  }
  MS_CHECK(!keys.empty(), "{}: expected a comma-separated list of candidates", flag);
  return keys;
}

std::string ShellQuote(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) {
    return std::isalnum(c) ||
           std::string("/._-+=:,@%").find(static_cast<char>(c)) != std::string::npos;
  });
  if (plain) return word;
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

TrainReport RunTrain(const TrainConfig& config_in, const TrainRunOptions& options) {
  const double t_start = NowSeconds();
  TrainConfig config = config_in;
  config.Validate();
  const int threads = SetTorchThreads(config.threads);
  SetVideoThreads(config.threads);
  LogInfo("{}", config.ToString());
  LogInfo("threads: {} intra-op, {} inter-op (LibTorch), {} for video", threads,
          GetTorchInteropThreads(), GetVideoThreads());

  // Everything that can be checked cheaply is checked before any training.
  ReadCheckedBase(config.base_dir);  // a clear "base hash mismatch" before the full load
  BaseModel base = BaseModel::Load(config.base_dir);
  const int n = base.num_stages();
  const Json& source = base.info().source;
  if (source.is_object() && source.value("weights", "") == "random" &&
      !source.contains("batchnorm_statistics")) {
    LogWarn(
        "{}: the base has random weights and has never seen data (BatchNorm statistics are the "
        "initial 0/1), so "
        "its frozen stages compute almost nothing; create bases with 'mstrain pretrain' (--epochs "
        "0 for random "
        "weights with estimated statistics)",
        base.origin());
  }
  const std::vector<Job> jobs = Jobs(config, base.info(), base.origin(), options.only);
  if (!config.uses_images()) {
    VideoPlan plan = PlanVideoDataset(config);
    std::vector<FrameInterval> seen = plan.split.train_blocks;
    seen.insert(seen.end(), plan.split.validation_blocks.begin(),
                plan.split.validation_blocks.end());
    EventStatsFromBlocks(plan.labels, seen, config.labels);
    LogInfo("split: {}", plan.split.description);
  }
  const std::string hash = TrainConfigHash(config, base.info());
  CandidateStore store(config, hash);
  store.WriteConfig(config);
  TrainReport report;
  report.work_dir = store.dir();

  std::vector<Job> todo;
  for (const Job& job : jobs) {
    if (FindFinished(store, job, config, base.ref())) {
      ++report.resumed;
    } else {
      todo.push_back(job);
    }
  }
  LogInfo("work directory {}: {} of {} candidate(s) already finished{}", store.dir().string(),
          report.resumed, jobs.size(), report.resumed ? " (resuming)" : "");

  if (!todo.empty()) {
    const PreprocessConfig pre = PreprocessConfigFor(base.info());
    const double d0 = NowSeconds();
    Dataset data = LoadDataset(config, pre);
    report.decode_seconds = NowSeconds() - d0;
    CheckClasses(data);
    LogInfo(
        "data: {} items in memory, {} ({} train items x {} copies, {} validation, {} test) in "
        "{:.1f} s",
        data.size(), data.split.description, data.split.train.size(),
        1 + (config.augment.enabled() ? config.augment_copies : 0), data.split.validation.size(),
        data.split.test.size(), report.decode_seconds);

    // Rough cost model for ETAs: forward ms per frame of each stage, x3 for training.
    std::vector<double> stage_ms = train_detail::StageCostsMs(base);
    auto predicted = [&](const Job& job) {
      const int b = job.kind == CandidateKind::kMicro ? n - 1 : job.branchpoint;
      double ms = 0;
      for (int k = b; k < n; ++k) ms += stage_ms[static_cast<size_t>(k)];
      // A microclassifier: about a head's cost per model, crops x folds^2 models.
      if (job.kind == CandidateKind::kMicro) ms *= config.micro_crops * config.folds;
      // Out of fold: k models on (k-1)/k of the frames each, plus the deployed model.
      const double passes = config.uses_folds() ? config.folds : 1.0;
      return passes * 3.0 * ms / 1000 * static_cast<double>(data.split.train.size()) *
             config.epochs;
    };
    double scale = 1.0;

    train_detail::ActivationSource source(base, data, config, pre);
    train_detail::ProgressState progress;
    progress.total = static_cast<int>(todo.size());
    for (size_t i = 0; i < todo.size(); ++i) {
      const Job& job = todo[i];
      const auto stopped = [&](int sig) {
        return Interrupted(
            sig, fmt::format(
                     "{} after {} of {} candidate(s) of this run; the finished ones are kept in "
                     "{}: run the same command again to resume",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT", i, todo.size(), store.dir().string()));
      };
      if (const int sig = StopRequested()) throw stopped(sig);
      progress.index = static_cast<int>(i + 1);
      progress.remaining_after_s = 0;
      for (size_t j = i + 1; j < todo.size(); ++j)
        progress.remaining_after_s += scale * predicted(todo[j]);
      const double p0 = source.prefix_seconds();
      source.MoveTo(job.branchpoint);
      const double prefix_s = source.prefix_seconds() - p0;
      train_detail::FineTuneOutcome out;
      try {
        out = job.kind == CandidateKind::kMicro
                  ? train_detail::FineTuneMicro(base, data, config, source, store, progress)
              : config.uses_folds()
                  ? train_detail::FineTuneFolds(base, data, config, source, store, progress)
                  : train_detail::FineTune(base, data, config, source, store, progress);
      } catch (const Interrupted& e) {
        throw stopped(e.signal());
      }
      out.record.candidate.extra["prefix_seconds"] = prefix_s;
      store.Commit(out.record);
      LogInfo("{}", out.done_message);
      ++report.trained;
      const double expected = predicted(job) / config.epochs;
      if (expected > 0 && out.seconds_per_epoch > 0) scale = out.seconds_per_epoch / expected;
      if (options.on_candidate_done) options.on_candidate_done(out.record);
    }
    report.prefix_seconds = source.prefix_seconds();
  }
  if (options.pack && options.only.empty()) {
    std::vector<Candidate> all;
    for (const Job& job : jobs) {
      if (auto r = FindFinished(store, job, config, base.ref())) all.push_back(r->candidate);
    }
    report.package = PackCandidates(config);
    std::set<std::string> kept;
    for (const auto& c : report.package.candidates) kept.insert(c.key());
    report.summary = Table(all, kept, n);
  }
  report.seconds = NowSeconds() - t_start;
  return report;
}

MPackage PackCandidates(const TrainConfig& config_in) {
  TrainConfig config = config_in;
  config.Validate();
  const BaseInfo info = ReadCheckedBase(config.base_dir);
  const int n = info.num_stages();
  const std::vector<Job> jobs = Jobs(config, info, config.base_dir);
  const std::string hash = TrainConfigHash(config, info);
  CandidateStore store(config, hash);

  std::vector<CandidateRecord> records;
  std::vector<std::string> missing;
  for (const Job& job : jobs) {
    if (auto r = FindFinished(store, job, config, info.ref())) {
      records.push_back(std::move(*r));
    } else {
      missing.push_back(job.key());
    }
  }
  if (!missing.empty()) {
    ThrowInput(
        "{}: candidate(s) {} are not finished (no matching <candidate>.json in the work "
        "directory for this configuration); train them first, e.g. mstrain train --config {} "
        "--branchpoint {}",
        store.dir().string(), fmt::join(missing, ", "), ShellQuote(store.ConfigPath().string()),
        missing.front());
  }

  MPackage pkg;
  pkg.app = config.app;
  pkg.base = info.ref();
  Json log = Json::array();
  FrameLabels labels;
  if (!config.uses_images()) {
    VideoPlan plan = PlanVideoDataset(config);
    labels = plan.labels;
    std::vector<FrameInterval> seen = plan.split.train_blocks;
    seen.insert(seen.end(), plan.split.validation_blocks.begin(),
                plan.split.validation_blocks.end());
    pkg.events = EventStatsFromBlocks(plan.labels, seen, config.labels);
    pkg.stream_fps = plan.fps;
    log.push_back(Json{{"event", "split"}, {"text", plan.split.description}});
  } else {
    MS_CHECK(config.fps > 0 && config.event_length > 0 && config.event_frequency > 0,
             "--images: still images carry no time; give --fps (of the stream the app will watch), "
             "--event-length "
             "(frames) and --event-frequency (and optionally --correlation)");
    pkg.stream_fps = config.fps;
  }
  if (config.fps > 0) pkg.stream_fps = config.fps;
  if (config.event_length > 0) {
    pkg.events.mean_length = pkg.events.min_length = config.event_length;
    pkg.events.lengths.clear();
  }
  if (config.event_frequency > 0) pkg.events.frequency = config.event_frequency;

  std::vector<Candidate> all;
  for (const auto& r : records) all.push_back(r.candidate);
  std::vector<int> strides = config.corr_strides;
  if (strides.empty()) {
    const int top = std::clamp(static_cast<int>(std::ceil(pkg.stream_fps)), 1, 8);
    for (int s = 1; s <= top; ++s) strides.push_back(s);
  }
  std::optional<ScoreTrace> trace;
  if (config.uses_folds()) trace = TraceFromRecords(records, labels, store.dir().string());

  // Inter-frame correlation: every candidate's sampled outcomes (out of fold,
  // or on its validation blocks), each candidate's events and gaps a stratum,
  // pooled into one estimate.
  std::vector<std::vector<std::vector<uint8_t>>> strata;
  for (size_t c = 0; c < records.size(); ++c) {
    OutcomeStrata own;
    for (const LabeledPredictions& stretch : trace ? OutOfFoldStretches(*trace, c, config.threshold)
                                                   : ValidationStretches(records[c], labels)) {
      OutcomeStrata o = CollectOutcomes(stretch.labels, stretch.predictions, strides);
      own.events.insert(own.events.end(), o.events.begin(), o.events.end());
      own.gaps.insert(own.gaps.end(), o.gaps.begin(), o.gaps.end());
    }
    if (own.events.empty() && own.gaps.empty()) continue;
    CorrelationEstimate ce = EstimateCorrelationStratified({own.events, own.gaps});
    all[c].extra["correlation"] = ce.correlation;
    all[c].extra["correlation_defined"] = ce.defined;
    strata.push_back(std::move(own.events));
    strata.push_back(std::move(own.gaps));
  }
  if (config.correlation >= 0) {
    pkg.events.correlation = config.correlation;
    log.push_back(
        Json{{"event", "correlation"}, {"value", config.correlation}, {"source", "--correlation"}});
  } else if (!strata.empty()) {
    CorrelationEstimate ce = EstimateCorrelationStratified(strata);
    pkg.events.correlation = ce.correlation;
    log.push_back(
        Json{{"event", "correlation"},
             {"value", ce.correlation},
             {"unclamped", ce.unclamped},
             {"defined", ce.defined},
             {"pairs", ce.pairs},
             {"strides", strides},
             {"source", fmt::format("{} predictions of every candidate, every phase of each stride",
                                    trace ? "out-of-fold" : "validation")}});
  }

  ParetoResult pareto;
  std::string trace_csv;
  if (trace) {
    for (const Candidate& c : all) {
      if (c.no_skill) {
        LogWarn(
            "{}: candidate {} is no better than chance out of fold (TPR {:.3f}, FPR "
            "{:.3f}); it "
            "stays in the package flagged \"no_skill\" and is predicted as such",
            config.app, c.key(), c.tpr, c.fpr);
        log.push_back(Json{{"event", "no_skill"},
                           {"branchpoint", c.branchpoint},
                           {"candidate", c.key()},
                           {"tpr", c.tpr},
                           {"fpr", c.fpr},
                           {"oof", c.extra.value("oof", Json::object())}});
      }
    }
    // Pruning on the predicted F1 the scheduler will use.
    PredictionOptions prediction;
    prediction.prior_events = config.trace_prior;
    pareto = ParetoPruneByPrediction(all, n, pkg.events, &*trace, pkg.stream_fps,
                                     DefaultFpsOptions(pkg.stream_fps), config.pareto_x, prediction,
                                     config.pareto_tolerance);
    trace_csv = FormatScoreTrace(*trace);
    TraceRef ref;
    ref.file = kScoreTraceFile;
    ref.sha256 = Sha256Hex(trace_csv);
    ref.rows = static_cast<int64_t>(trace->rows());
    ref.events = static_cast<int64_t>(trace->Events().size());
    ref.folds = trace->num_folds();
    pkg.trace = ref;
    pkg.estimation = Json{
        {"method", "out-of-fold"},
        {"folds", config.folds},
        {"gap", config.gap},
        {"frames", ref.rows},
        {"events", ref.events},
        {"rates", "cluster-robust over events and gaps, Jeffreys prior on the effective frames"},
        {"pareto", "predicted F1 at every rate"},
        {"trace_prior", config.trace_prior}};
  } else {
    pareto = ParetoPrune(all, n, config.pareto_tolerance);
    pkg.estimation = Json{{"method", "validation"}};
  }
  for (const auto& e : pareto.log) log.push_back(e);
  pkg.log = log;
  pkg.candidates = pareto.kept;
  pkg.head = Json{{"kind", "suffix-v1"},
                  {"num_outputs", 2},
                  {"score", "softmax1"},
                  {"classes", {"no_event", "event"}},
                  {"input", "activation at the branchpoint"},
                  {"head_type", config.head == "spatial" ? "spatial: 1x1 conv + flatten + linear"
                                                         : "pool: average + linear"},
                  {"micro_type", "crop + 1x1 conv + relu + flatten + linear"},
                  {"dropout", config.dropout},
                  {"config_hash", hash},
                  {"training", config.TrainingJson()}};
  pkg.events.Validate(config.labels.empty() ? config.images : config.labels);

  WritePackage(pkg, store, config.output, trace_csv);
  LogInfo(
      "wrote M-Package '{}' to {}: {} candidate(s) kept of {} ({}), events mean {:.1f} / min "
      "{:.0f} frames, "
      "frequency {:.3f}, correlation {:.3f}",
      pkg.app, config.output, pkg.candidates.size(), all.size(),
      pareto.pruned.empty() ? "none pruned" : fmt::format("{} pruned", pareto.pruned.size()),
      pkg.events.mean_length, pkg.events.min_length, pkg.events.frequency, pkg.events.correlation);
  if (!config.keep_work) store.Remove();
  pkg.dir = config.output;
  return pkg;
}

std::vector<std::string> PlanCommands(const TrainConfig& config_in, const std::string& exe,
                                      std::string* pack_command) {
  TrainConfig config = config_in;
  config.MakePathsAbsolute();
  config.Validate();
  const BaseInfo info = ReadCheckedBase(config.base_dir);
  const std::vector<Job> jobs = Jobs(config, info, config.base_dir);
  if (!config.uses_images()) PlanVideoDataset(config);  // bad input fails here, not in a job
  CandidateStore store(config, TrainConfigHash(config, info));
  store.WriteConfig(config);
  const std::string cfg = ShellQuote(store.ConfigPath().string());
  std::vector<std::string> cmds;
  for (const Job& job : jobs) {
    cmds.push_back(fmt::format("{} train --config {} --branchpoint {} --threads {}",
                               ShellQuote(exe), cfg, job.key(), config.threads));
  }
  if (pack_command) *pack_command = fmt::format("{} pack --config {}", ShellQuote(exe), cfg);
  return cmds;
}

}  // namespace mainstream
