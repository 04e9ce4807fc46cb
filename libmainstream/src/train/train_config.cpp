#include "mainstream/train/train_config.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "mainstream/core/error.h"
#include "mainstream/core/parse.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

int64_t ParseFrameNumber(const std::string& text, const std::string& flag,
                         const std::string& piece) {
  std::string t = Trim(text);
  if (t.empty() ||
      !std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      t.size() > 12) {
    ThrowInput("{}: '{}': expected frame ranges like 1-543 or 1-308,488-795 (1-based, inclusive)",
               flag, piece);
  }
  int64_t v = std::stoll(t);
  MS_CHECK(v >= 1, "{}: '{}': frames are numbered from 1", flag, piece);
  return v;
}

std::string AbsPath(const std::string& p) {
  if (p.empty() || p.find("://") != std::string::npos || p.rfind("camera:", 0) == 0) return p;
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

}  // namespace

std::vector<FrameInterval> ParseFrameRanges(const std::string& text, const std::string& flag) {
  std::vector<FrameInterval> out;
  for (const std::string& raw : SplitList(text, ',')) {
    std::string piece = Trim(raw);
    if (piece.empty()) continue;
    auto dash = piece.find('-');
    FrameInterval r;
    if (dash == std::string::npos) {
      r.start = r.end = ParseFrameNumber(piece, flag, piece);
    } else {
      r.start = ParseFrameNumber(piece.substr(0, dash), flag, piece);
      r.end = ParseFrameNumber(piece.substr(dash + 1), flag, piece);
    }
    MS_CHECK(r.start <= r.end, "{}: '{}': the range ends before it starts", flag, piece);
    out.push_back(r);
  }
  MS_CHECK(!out.empty(), "{}: no frame range given", flag);
  std::sort(out.begin(), out.end(),
            [](const FrameInterval& a, const FrameInterval& b) { return a.start < b.start; });
  for (size_t i = 1; i < out.size(); ++i) {
    MS_CHECK(out[i].start > out[i - 1].end, "{}: ranges {} and {} overlap", flag,
             out[i - 1].ToString(), out[i].ToString());
  }
  return out;
}

std::string FormatFrameRanges(const std::vector<FrameInterval>& ranges) {
  std::string s;
  for (const auto& r : ranges) {
    if (!s.empty()) s += ",";
    s += std::to_string(r.start) + "-" + std::to_string(r.end);
  }
  return s;
}

void TrainConfig::Validate() const {
  MS_CHECK(!base_dir.empty(), "--base: the base directory is required");
  MS_CHECK(video.empty() != images.empty(),
           "give either --video with --labels, or --images (not both)");
  if (!video.empty())
    MS_CHECK(!labels.empty(), "--labels: a per-frame label file is required with --video");
  if (!images.empty()) {
    MS_CHECK(labels.empty(),
             "--labels is for videos; an image folder's labels are its class directories");
    MS_CHECK(fps > 0 && event_length > 0 && event_frequency > 0,
             "--images: still images carry no time; give --fps (of the stream the app will watch), "
             "--event-length "
             "(frames) and --event-frequency (and optionally --correlation)");
  }
  MS_CHECK(!app.empty(), "--app: the application name is required");
  for (char ch : app) {
    MS_CHECK(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.',
             "--app: '{}' may only contain letters, digits, '_', '-' and '.'", app);
  }
  MS_CHECK(!output.empty(), "-o/--output: the package directory is required");
  MS_CHECK(fps >= 0 && fps <= 1000 && std::isfinite(fps),
           "--fps: expected a frame rate in (0, 1000], got {}", fps);
  for (int b : branchpoints)
    MS_CHECK(b >= 0, "--branchpoints: expected branchpoints >= 0, got {}", b);
  for (int b : micro_layers) {
    MS_CHECK(b >= 1,
             "--micro-layers: a microclassifier reads a feature map: expected layers >= 1, got {}",
             b);
  }
  if (!micro_layers.empty()) {
    MS_CHECK(uses_folds(),
             "--micro-layers: microclassifiers choose their crop out of fold: they need --video "
             "with --folds >= 2");
  }
  MS_CHECK(micro_crops >= 1 && micro_crops <= 1000, "--micro-crops: expected 1..1000, got {}",
           micro_crops);
  MS_CHECK(micro_channels >= 1 && micro_channels <= 4096,
           "--micro-channels: expected 1..4096, got {}", micro_channels);
  if (!micro_region.empty()) {
    MS_CHECK(micro_region.size() == 4,
             "--micro-region: expected x0,y0,x1,y1 (pixels), got {} numbers", micro_region.size());
    for (double x : micro_region)
      MS_CHECK(std::isfinite(x) && x >= 0, "--micro-region: expected pixels >= 0, got {}", x);
    MS_CHECK(micro_region[2] > micro_region[0] && micro_region[3] > micro_region[1],
             "--micro-region: expected x0 < x1 and y0 < y1, got {},{},{},{}", micro_region[0],
             micro_region[1], micro_region[2], micro_region[3]);
  }
  if (!train_frames.empty()) ParseFrameRanges(train_frames, "--train-frames");
  if (!val_frames.empty()) {
    MS_CHECK(!train_frames.empty(), "--val-frames needs --train-frames");
    ParseFrameRanges(val_frames, "--val-frames");
  }
  if (!test_frames.empty()) ParseFrameRanges(test_frames, "--test-frames");
  MS_CHECK(
      images.empty() || (train_frames.empty() && test_frames.empty()),
      "--train-frames/--test-frames are for videos; image folders are split by --split fractions");
  MS_CHECK(train_fraction > 0 && val_fraction > 0 && test_fraction >= 0 &&
               std::abs(train_fraction + val_fraction + test_fraction - 1) < 1e-6,
           "--split: expected train,validation,test fractions with train > 0, validation > 0, "
           "summing to 1; "
           "got {},{},{}",
           train_fraction, val_fraction, test_fraction);
  MS_CHECK(gap >= 0, "--gap: expected >= 0 frames, got {}", gap);
  MS_CHECK(val_blocks >= 1 && val_blocks <= 1000, "--val-blocks: expected 1..1000, got {}",
           val_blocks);
  MS_CHECK(folds >= 1 && folds <= 100, "--folds: expected 1..100, got {}", folds);
  MS_CHECK(!uses_folds() || (val_blocks == 1 && val_frames.empty()),
           "--val-blocks/--val-frames choose validation blocks, which --folds {} replaces by "
           "out-of-fold estimates "
           "over all training frames; drop them, or give --folds 1 for validation-block estimates",
           folds);
  MS_CHECK(train_stride >= 1, "--train-stride: expected >= 1, got {}", train_stride);
  MS_CHECK(epochs >= 1 && epochs <= 10000, "--epochs: expected 1..10000, got {}", epochs);
  MS_CHECK(patience >= 1, "--patience: expected >= 1, got {}", patience);
  MS_CHECK(deploy == "auto" || deploy == "retrain" || deploy == "fold",
           "--deploy: expected 'auto', 'retrain' or 'fold', got '{}'", deploy);
  MS_CHECK(deploy != "fold" || uses_folds(),
           "--deploy fold deploys a fold model of the out-of-fold estimates: it needs a video "
           "with --folds >= 2");
  MS_CHECK(batch >= 2 && batch <= 4096, "--batch: expected 2..4096, got {}", batch);
  MS_CHECK(lr > 0 && lr < 10, "--lr: expected a learning rate in (0, 10), got {}", lr);
  MS_CHECK(head_lr > 0 && head_lr < 10, "--head-lr: expected a learning rate in (0, 10), got {}",
           head_lr);
  MS_CHECK(weight_decay >= 0 && weight_decay < 1, "--weight-decay: expected [0, 1), got {}",
           weight_decay);
  MS_CHECK(dropout >= 0 && dropout < 1, "--dropout: expected [0, 1), got {}", dropout);
  MS_CHECK(balance == "weight" || balance == "none",
           "--balance: expected 'weight' or 'none', got '{}'", balance);
  MS_CHECK(head == "pool" || head == "spatial", "--head: expected 'pool' or 'spatial', got '{}'",
           head);
  MS_CHECK(head_channels >= 1 && head_channels <= 4096, "--head-channels: expected 1..4096, got {}",
           head_channels);
  MS_CHECK(batchnorm == "frozen" || batchnorm == "train",
           "--batchnorm: expected 'frozen' or 'train', got '{}'", batchnorm);
  MS_CHECK(augment_copies >= 0 && augment_copies <= 16, "--augment-copies: expected 0..16, got {}",
           augment_copies);
  augment.Validate();
  MS_CHECK(threshold > 0 && threshold < 1,
           "--threshold: expected a score threshold in (0, 1), got {}", threshold);
  for (int s : corr_strides) MS_CHECK(s >= 1, "--corr-strides: expected strides >= 1, got {}", s);
  MS_CHECK(pareto_tolerance >= 0 && pareto_tolerance < 1,
           "--pareto-tolerance: expected [0, 1), got {}", pareto_tolerance);
  MS_CHECK(!pareto_x.empty(), "--pareto-x: give at least one X-voting value");
  for (int x : pareto_x)
    MS_CHECK(x >= 1 && x <= 1000, "--pareto-x: expected values in 1..1000, got {}", x);
  MS_CHECK(std::isfinite(trace_prior) && trace_prior >= 0 && trace_prior <= 1e6,
           "--trace-prior: expected a number of events in [0, 10^6], got {}", trace_prior);
  MS_CHECK(event_length == 0 || (event_length >= 1 && event_length <= kMaxEventLengthFrames),
           "--event-length: expected a number of frames in [1, {}], got {}", kMaxEventLengthFrames,
           event_length);
  MS_CHECK(event_frequency == 0 || (event_frequency >= kMinEventFrequency && event_frequency <= 1),
           "--event-frequency: expected a fraction in [{}, 1], got {}", kMinEventFrequency,
           event_frequency);
  MS_CHECK(correlation < 0 || correlation < 1, "--correlation: expected [0, 1), got {}",
           correlation);
  MS_CHECK(threads >= 1 && threads <= 1024, "--threads: expected 1..1024, got {}", threads);
}

Json TrainConfig::TrainingJson() const {
  Json j{{"fps", fps},
         {"positive_class", positive_class},
         {"train_frames", train_frames},
         {"val_frames", val_frames},
         {"test_frames", test_frames},
         {"split", {train_fraction, val_fraction, test_fraction}},
         {"gap", gap},
         {"val_blocks", val_blocks},
         {"folds", folds},
         {"train_stride", train_stride},
         {"epochs", epochs},
         {"patience", patience},
         {"batch", batch},
         {"lr", lr},
         {"head_lr", head_lr},
         {"weight_decay", weight_decay},
         {"dropout", dropout},
         {"head", head},
         {"head_channels", head_channels},
         {"balance", balance},
         {"batchnorm", batchnorm},
         {"augment_copies", augment_copies},
         {"augment", augment.ToJson()},
         {"threshold", threshold},
         {"seed", seed}};
  // The model deployed, when not a retrained one: configurations (and their
  // hashes) from before --deploy existed stay the same.
  if (const std::string d = EffectiveDeploy(); d != "retrain") j["deploy"] = d;
  return j;
}

std::string TrainConfig::EffectiveDeploy() const {
  if (deploy != "auto") return deploy;
  return uses_folds() ? "fold" : "retrain";
}

Json TrainConfig::ToJson() const {
  Json j = TrainingJson();
  j["schema_version"] = kTrainConfigSchemaVersion;
  j["kind"] = "mainstream.train_config";
  j["base"] = base_dir;
  j["video"] = video;
  j["labels"] = labels;
  j["images"] = images;
  j["app"] = app;
  j["output"] = output;
  j["work_dir"] = work_dir;
  j["branchpoints"] = branchpoints;
  j["micro_layers"] = micro_layers;
  j["micro_crops"] = micro_crops;
  j["micro_channels"] = micro_channels;
  j["micro_region"] = micro_region;
  j["cache"] = cache;
  j["corr_strides"] = corr_strides;
  j["pareto_tolerance"] = pareto_tolerance;
  j["pareto_x"] = pareto_x;
  j["trace_prior"] = trace_prior;
  j["event_length"] = event_length;
  j["event_frequency"] = event_frequency;
  j["correlation"] = correlation;
  j["threads"] = threads;
  j["keep_work"] = keep_work;
  return j;
}

TrainConfig TrainConfig::FromJson(const JsonView& v) {
  v.RequireSchema(kTrainConfigSchemaVersion, "mstrain configuration");
  TrainConfig c;
  c.base_dir = v.String("base");
  c.video = v.String("video");
  c.labels = v.String("labels");
  c.images = v.String("images");
  c.positive_class = v.String("positive_class");
  c.fps = v.Number("fps");
  c.app = v.String("app");
  c.output = v.String("output");
  c.work_dir = v.String("work_dir");
  for (const JsonView& b : v.Array("branchpoints"))
    c.branchpoints.push_back(static_cast<int>(b.AsIntIn(0, 100000)));
  if (auto m = v.OptionalField("micro_layers")) {
    for (const JsonView& b : m->Elements())
      c.micro_layers.push_back(static_cast<int>(b.AsIntIn(1, 100000)));
  }
  if (auto m = v.OptionalField("micro_crops"))
    c.micro_crops = static_cast<int>(m->AsIntIn(1, 1000));
  if (auto m = v.OptionalField("micro_channels"))
    c.micro_channels = static_cast<int>(m->AsIntIn(1, 4096));
  if (auto m = v.OptionalField("micro_region")) {
    for (const JsonView& x : m->Elements()) c.micro_region.push_back(x.AsNumberIn(0, 1e6));
    if (!c.micro_region.empty() && c.micro_region.size() != 4)
      m->Fail("expected [x0, y0, x1, y1] (pixels) or []");
  }
  c.train_frames = v.String("train_frames");
  c.val_frames = v.String("val_frames");
  c.test_frames = v.String("test_frames");
  JsonView split = v.Field("split");
  if (split.Size() != 3) split.Fail("expected [train, validation, test] fractions");
  c.train_fraction = split.At(0).AsNumber();
  c.val_fraction = split.At(1).AsNumber();
  c.test_fraction = split.At(2).AsNumber();
  c.gap = v.IntIn("gap", 0, int64_t{1} << 40);
  if (auto f = v.OptionalField("val_blocks")) c.val_blocks = static_cast<int>(f->AsIntIn(1, 1000));
  c.folds = 1;  // configurations written before out-of-fold estimates
  if (auto f = v.OptionalField("folds")) c.folds = static_cast<int>(f->AsIntIn(1, 100));
  // Absent: written before --deploy existed, or a retrained model.
  c.deploy = "retrain";
  if (auto f = v.OptionalField("deploy")) c.deploy = f->AsString();
  c.train_stride = v.IntIn("train_stride", 1, int64_t{1} << 40);
  c.epochs = static_cast<int>(v.IntIn("epochs", 1, 10000));
  c.patience = static_cast<int>(v.IntIn("patience", 1, 10000));
  c.batch = static_cast<int>(v.IntIn("batch", 2, 4096));
  c.lr = v.Number("lr");
  c.head_lr = v.Number("head_lr");
  c.weight_decay = v.Number("weight_decay");
  c.dropout = v.Number("dropout");
  c.head = v.String("head");
  c.head_channels = static_cast<int>(v.IntIn("head_channels", 1, 4096));
  c.balance = v.String("balance");
  c.batchnorm = v.String("batchnorm");
  c.augment_copies = static_cast<int>(v.IntIn("augment_copies", 0, 16));
  c.augment = AugmentConfig::FromJson(v.Field("augment"));
  c.threshold = v.Number("threshold");
  {
    const JsonView seed = v.Field("seed");
    if (!seed.raw().is_number_unsigned())
      seed.Fail("expected an integer in [0, 2^64 - 1], got {}",
                seed.raw().is_number() ? seed.raw().dump() : seed.raw().type_name());
    c.seed = seed.raw().get<uint64_t>();
  }
  c.cache = v.Bool("cache");
  for (const JsonView& s : v.Array("corr_strides"))
    c.corr_strides.push_back(static_cast<int>(s.AsIntIn(1, 100000)));
  c.pareto_tolerance = v.Number("pareto_tolerance");
  if (auto px = v.OptionalField("pareto_x")) {
    c.pareto_x.clear();
    for (const JsonView& x : px->Elements())
      c.pareto_x.push_back(static_cast<int>(x.AsIntIn(1, 1000)));
  }
  if (auto tp = v.OptionalField("trace_prior")) c.trace_prior = tp->AsNumberIn(0, 1e6);
  c.event_length = v.Number("event_length");
  c.event_frequency = v.Number("event_frequency");
  c.correlation = v.Number("correlation");
  c.threads = static_cast<int>(v.IntIn("threads", 1, 1024));
  c.keep_work = v.Bool("keep_work");
  return c;
}

std::string TrainConfig::ToString() const {
  std::string data = uses_images()
                         ? fmt::format("images {} (positive class '{}')", images, positive_class)
                         : fmt::format("video {} with labels {}", video, labels);
  std::string bps;
  for (int b : branchpoints) bps += (bps.empty() ? "" : ",") + std::to_string(b);
  return fmt::format(
      "app '{}': {}; base {}; branchpoints {}; head {}; epochs {} (patience {}), batch {}, lr {} / "
      "head {}, weight decay {}, "
      "balance {}, batchnorm {}, {} augmented copies ({}), threshold {}, train stride {}, {}, seed "
      "{}, {} thread(s), cache {}{}",
      app, data, base_dir, bps.empty() ? "all" : bps,
      head == "spatial" ? fmt::format("spatial ({} channels)", head_channels) : head, epochs,
      patience, batch, lr, head_lr, weight_decay, balance, batchnorm, augment_copies,
      augment.ToString(), threshold, train_stride,
      uses_folds() ? fmt::format("{}-fold out-of-fold estimates", folds)
                   : std::string("validation-block estimates"),
      seed, threads, cache ? "on" : "off",
      micro_layers.empty()
          ? std::string()
          : fmt::format("; microclassifiers at layers {} ({} crops, {} channels{})",
                        fmt::join(micro_layers, ","), micro_crops, micro_channels,
                        micro_region.empty() ? "" : ", plus the region's crop"));
}

Json TrainConfig::MicroJson() const {
  return Json{{"crops", micro_crops},
              {"channels", micro_channels},
              {"region", micro_region},
              {"kind", "crop+1x1conv+relu+linear"}};
}

void TrainConfig::MakePathsAbsolute() {
  base_dir = AbsPath(base_dir);
  video = AbsPath(video);
  labels = AbsPath(labels);
  images = AbsPath(images);
  output = AbsPath(output);
  work_dir = AbsPath(work_dir);
}

}  // namespace mainstream
