#include "mainstream/train/dataset.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <numeric>
#include <opencv2/imgcodecs.hpp>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
#include "mainstream/labels/correlation.h"
#include "mainstream/labels/splits.h"
#include "mainstream/model/base_info.h"
#include "mainstream/train/train_config.h"
#include "mainstream/video/cv_image.h"
#include "mainstream/video/video_source.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

std::string Blocks(const std::vector<FrameInterval>& blocks) {
  std::string s;
  for (const auto& b : blocks) s += (s.empty() ? "" : " ") + b.ToString();
  return s.empty() ? "none" : s;
}

void CheckInside(const std::vector<FrameInterval>& blocks, int64_t num_frames,
                 const std::string& flag, const std::string& video) {
  for (const auto& b : blocks) {
    MS_CHECK(b.end <= num_frames, "{}: range {} reaches beyond the {} frames of {}", flag,
             b.ToString(), num_frames, video);
  }
}

void CheckDisjoint(const std::vector<FrameInterval>& a, const std::string& a_name,
                   const std::vector<FrameInterval>& b, const std::string& b_name) {
  for (const auto& x : a) {
    for (const auto& y : b) {
      MS_CHECK(!x.Overlaps(y), "{} {} and {} {} overlap: a frame may only play one role", a_name,
               x.ToString(), b_name, y.ToString());
    }
  }
}

// Dataset items of training positions.
std::vector<int64_t> TrainItems(const Dataset& data, const std::vector<int64_t>& positions) {
  std::vector<int64_t> items;
  items.reserve(positions.size());
  for (int64_t p : positions) items.push_back(data.split.train[static_cast<size_t>(p)]);
  return items;
}

bool IsImageFile(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

}  // namespace

int64_t Dataset::Count(const std::vector<int64_t>& role_items, int label) const {
  int64_t n = 0;
  for (int64_t i : role_items) n += labels[static_cast<size_t>(i)] == label ? 1 : 0;
  return n;
}

VideoPlan PlanVideoDataset(const TrainConfig& config) {
  VideoPlan plan;
  plan.labels = ReadLabelFile(config.labels);
  VideoSourceOptions opts;
  opts.fps_override = config.fps;
  VideoSource src(config.video, opts);
  plan.fps = src.fps();
  plan.video_description = src.Describe();
  plan.num_frames = src.frame_count();
  MS_CHECK(plan.num_frames > 0,
           "video '{}': reports no frame count; mstrain needs a video file whose frames can be "
           "matched with the label rows",
           config.video);
  CheckLabelFrameCount(plan.labels, config.labels, plan.num_frames, config.video);

  DataSplit& s = plan.split;
  if (config.train_frames.empty()) {
    SplitOptions so;
    so.train = config.train_fraction;
    so.validation = config.val_fraction;
    so.test = config.test_fraction;
    so.gap = config.gap;
    TemporalSplit ts = MakeTemporalSplit(plan.num_frames, so);
    s.train_blocks = {ts.train};
    s.validation_blocks = {ts.validation};
    if (config.uses_folds()) {  // out-of-fold estimates use the validation share for training too
      s.train_blocks = {FrameInterval{std::min(ts.train.start, ts.validation.start),
                                      std::max(ts.train.end, ts.validation.end)}};
      s.validation_blocks.clear();
    } else if (config.val_blocks > 1) {  // spread the same share of frames over several places
      const double fraction = config.val_fraction / (config.train_fraction + config.val_fraction);
      TrainValidationBlocks tv =
          SplitOffValidationBlocks({FrameInterval{std::min(ts.train.start, ts.validation.start),
                                                  std::max(ts.train.end, ts.validation.end)}},
                                   fraction, config.gap, config.val_blocks);
      s.train_blocks = tv.train;
      s.validation_blocks = tv.validation;
    }
    if (!ts.test.empty()) s.test_blocks = {ts.test};
  } else {
    s.train_blocks = ParseFrameRanges(config.train_frames, "--train-frames");
    CheckInside(s.train_blocks, plan.num_frames, "--train-frames", config.video);
    if (config.uses_folds()) {
      // every training frame is estimated on out of fold (KFoldOverBlocks)
    } else if (!config.val_frames.empty()) {
      s.validation_blocks = ParseFrameRanges(config.val_frames, "--val-frames");
      CheckInside(s.validation_blocks, plan.num_frames, "--val-frames", config.video);
    } else {
      const double fraction = config.val_fraction / (config.train_fraction + config.val_fraction);
      TrainValidationBlocks tv =
          SplitOffValidationBlocks(s.train_blocks, fraction, config.gap, config.val_blocks);
      s.train_blocks = tv.train;
      s.validation_blocks = tv.validation;
    }
    if (!config.test_frames.empty()) {
      s.test_blocks = ParseFrameRanges(config.test_frames, "--test-frames");
      CheckInside(s.test_blocks, plan.num_frames, "--test-frames", config.video);
    }
  }
  s.train_blocks.erase(std::remove_if(s.train_blocks.begin(), s.train_blocks.end(),
                                      [](const FrameInterval& b) { return b.empty(); }),
                       s.train_blocks.end());
  CheckDisjoint(s.train_blocks, "training frames", s.validation_blocks, "validation frames");
  CheckDisjoint(s.train_blocks, "training frames", s.test_blocks, "test frames");
  CheckDisjoint(s.validation_blocks, "validation frames", s.test_blocks, "test frames");
  s.description =
      fmt::format("train {} | validation {} | test {} (of {} frames, gap {}, train stride {})",
                  Blocks(s.train_blocks), Blocks(s.validation_blocks), Blocks(s.test_blocks),
                  plan.num_frames, config.gap, config.train_stride);
  if (config.uses_folds()) {
    s.description = fmt::format(
        "train {} in {} folds (out-of-fold estimates, gap {}) | test {} (of {} frames, "
        "train stride {})",
        Blocks(s.train_blocks), config.folds, config.gap, Blocks(s.test_blocks), plan.num_frames,
        config.train_stride);
  }
  return plan;
}

Dataset LoadVideoDataset(const TrainConfig& config, const PreprocessConfig& pre) {
  VideoPlan plan = PlanVideoDataset(config);
  Dataset d;
  d.origin = config.video;
  d.labels_origin = config.labels;
  d.temporal = true;
  d.fps = plan.fps;
  d.num_frames = plan.num_frames;
  d.all_labels = plan.labels;
  d.split = plan.split;

  // Role of every frame (0: unused, 1 train, 2 validation, 3 test).
  std::vector<uint8_t> role(static_cast<size_t>(plan.num_frames), 0);
  int64_t last = 0;
  for (const auto& b : d.split.train_blocks) {
    // Out-of-fold estimates score every training frame (the trace is replayed
    // at every stride); the stride then only thins what the models train on.
    const int64_t load_stride = config.uses_folds() ? 1 : config.train_stride;
    for (int64_t f = b.start; f <= b.end; f += load_stride) role[static_cast<size_t>(f - 1)] = 1;
  }
  for (const auto& b : d.split.validation_blocks) {
    for (int64_t f = b.start; f <= b.end; ++f) role[static_cast<size_t>(f - 1)] = 2;
  }
  for (const auto& b : d.split.test_blocks) {
    for (int64_t f = b.start; f <= b.end; ++f) role[static_cast<size_t>(f - 1)] = 3;
  }
  int64_t wanted = 0;
  for (int64_t f = 1; f <= plan.num_frames; ++f) {
    if (role[static_cast<size_t>(f - 1)]) {
      last = f;
      ++wanted;
    }
  }
  VideoSourceOptions opts;
  opts.fps_override = config.fps;
  opts.start_frame = 0;
  opts.end_frame = last;
  VideoSource src(config.video, opts);
  d.frame_width = src.width();
  d.frame_height = src.height();
  LogInfo("decoding {} of the first {} frames of {}", wanted, last, src.Describe());
  Progress progress("decode", static_cast<long>(last), 2.0);
  Frame frame;
  d.images.reserve(static_cast<size_t>(wanted));
  while (src.Read(&frame)) {
    const int64_t f = frame.index + 1;
    const uint8_t r = role[static_cast<size_t>(f - 1)];
    if (r) {
      const int64_t item = static_cast<int64_t>(d.images.size());
      d.images.push_back(ResizeImage(frame.image, pre.width, pre.height, pre.interpolation));
      d.labels.push_back(plan.labels[static_cast<size_t>(f - 1)]);
      d.frames.push_back(f);
      (r == 1 ? d.split.train : r == 2 ? d.split.validation : d.split.test).push_back(item);
    }
    progress.Update(static_cast<long>(f));
  }
  MS_CHECK_RT(static_cast<int64_t>(d.images.size()) == wanted,
              "video '{}': decoded {} of the {} frames needed", config.video, d.images.size(),
              wanted);
  return d;
}

FoldPlan PlanFolds(const Dataset& data, const TrainConfig& config) {
  MS_CHECK(data.temporal && config.uses_folds(), "out-of-fold folds need a video and --folds >= 2");
  FoldPlan plan;
  plan.folds = KFoldOverBlocks(data.split.train_blocks, config.folds, config.gap);
  const auto n = static_cast<int64_t>(data.split.train.size());
  plan.fold_of.assign(static_cast<size_t>(n), -1);
  plan.train.resize(plan.folds.size());
  plan.held_out.resize(plan.folds.size());
  auto inside = [](const std::vector<FrameInterval>& blocks, int64_t f) {
    return std::any_of(blocks.begin(), blocks.end(),
                       [f](const FrameInterval& b) { return b.Contains(f); });
  };
  for (int64_t p = 0; p < n; ++p) {
    const int64_t frame =
        data.frames[static_cast<size_t>(data.split.train[static_cast<size_t>(p)])];
    const bool thin_keep = p % config.train_stride == 0;
    if (thin_keep) plan.all.push_back(p);
    for (const BlockFold& f : plan.folds) {
      if (inside(f.held_out, frame)) {
        plan.fold_of[static_cast<size_t>(p)] = f.index;
        plan.held_out[static_cast<size_t>(f.index)].push_back(p);
      } else if (thin_keep && inside(f.train, frame)) {
        plan.train[static_cast<size_t>(f.index)].push_back(p);
      }
    }
    MS_CHECK_RT(plan.fold_of[static_cast<size_t>(p)] >= 0, "frame {} is in no fold", frame);
  }
  for (const BlockFold& f : plan.folds) {
    const auto& held = plan.held_out[static_cast<size_t>(f.index)];
    const auto& train = plan.train[static_cast<size_t>(f.index)];
    const std::string where = fmt::format("fold {} of {} (held out {})", f.index + 1,
                                          plan.folds.size(), Blocks(f.held_out));
    MS_CHECK(static_cast<int64_t>(held.size()) >= 2 * config.gap + 1,
             "{}: {} holds out {} frames, fewer than 2 x --gap + 1 = {}: too few to estimate on; "
             "use fewer --folds "
             "or a smaller --gap",
             data.labels_origin, where, held.size(), 2 * config.gap + 1);
    for (int label : {1, 0}) {
      MS_CHECK(data.Count(TrainItems(data, train), label) > 0,
               "{}: {}: its training frames have no {} (label {}), so its model has nothing to "
               "learn from; use fewer "
               "--folds or training frames with events spread over them",
               data.labels_origin, where, label ? "positive frames" : "negative frames", label);
      if (data.Count(TrainItems(data, held), label) == 0) {
        LogWarn("{}: {} has no {} frames: its estimates rest on the other folds",
                data.labels_origin, where, label ? "positive" : "negative");
      }
    }
  }
  return plan;
}

Dataset LoadImageFolder(const TrainConfig& config, const PreprocessConfig& pre) {
  const fs::path root = config.images;
  MS_CHECK(fs::is_directory(root), "--images '{}': not a directory (expected DIR/<class>/*.jpg)",
           config.images);
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory() && e.path().filename().string()[0] != '.')
      classes.push_back(e.path().filename().string());
  }
  std::sort(classes.begin(), classes.end());
  MS_CHECK(classes.size() >= 2,
           "--images '{}': found {} class director{}; expected at least two (e.g. "
           "DIR/event/*.jpg and DIR/other/*.jpg)",
           config.images, classes.size(), classes.size() == 1 ? "y" : "ies");
  std::string positive = config.positive_class;
  if (positive.empty()) {
    for (const char* name : {"1", "pos", "positive", "event", "yes"}) {
      if (std::find(classes.begin(), classes.end(), name) != classes.end()) positive = name;
    }
    MS_CHECK(!positive.empty(),
             "--images '{}': which class is the event? Give --positive NAME (classes: {})",
             config.images, fmt::join(classes, ", "));
  }
  MS_CHECK(std::find(classes.begin(), classes.end(), positive) != classes.end(),
           "--positive '{}': no such class directory in '{}' (classes: {})", positive,
           config.images, fmt::join(classes, ", "));

  Dataset d;
  d.origin = config.images;
  d.labels_origin = config.images;
  std::vector<std::vector<int64_t>> by_label(2);
  for (const std::string& cls : classes) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(root / cls)) {
      if (e.is_regular_file() && IsImageFile(e.path())) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    MS_CHECK(!files.empty(), "{}: empty class: no .jpg/.jpeg/.png/.bmp images",
             (root / cls).string());
    const uint8_t label = cls == positive ? 1 : 0;
    for (const fs::path& f : files) {
      cv::Mat m = cv::imread(f.string(), cv::IMREAD_COLOR);
      MS_CHECK(!m.empty(), "{}: cannot be read as an image (corrupt, or a format OpenCV lacks)",
               f.string());
      Image img = MatToImage(m, f.string().c_str());
      by_label[label].push_back(static_cast<int64_t>(d.images.size()));
      d.images.push_back(ResizeImage(img, pre.width, pre.height, pre.interpolation));
      d.labels.push_back(label);
      d.frames.push_back(static_cast<int64_t>(d.images.size()));
      d.names.push_back(f.string());
    }
  }
  // Stratified, seeded split: each class is shuffled and cut by the fractions.
  Rng rng(SubSeed(config.seed, 77));
  for (auto& items : by_label) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.Index(i)]);
    const auto n = static_cast<double>(items.size());
    auto n_val = static_cast<size_t>(std::max(1.0, std::round(n * config.val_fraction)));
    auto n_test = static_cast<size_t>(std::round(n * config.test_fraction));
    if (n_val + n_test >= items.size()) n_test = 0;
    MS_CHECK(n_val < items.size(),
             "--images '{}': a class has {} image(s): too few to train and validate on",
             config.images, items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      (i < n_val            ? d.split.validation
       : i < n_val + n_test ? d.split.test
                            : d.split.train)
          .push_back(items[i]);
    }
  }
  for (auto* v : {&d.split.train, &d.split.validation, &d.split.test})
    std::sort(v->begin(), v->end());
  d.split.description = fmt::format(
      "{} images ({} classes, positive '{}'): train {} | validation {} | test {} "
      "(stratified, seed {})",
      d.size(), classes.size(), positive, d.split.train.size(), d.split.validation.size(),
      d.split.test.size(), config.seed);
  return d;
}

Dataset LoadDataset(const TrainConfig& config, const PreprocessConfig& pre) {
  return config.uses_images() ? LoadImageFolder(config, pre) : LoadVideoDataset(config, pre);
}

void CheckClasses(const Dataset& data) {
  auto check = [&](const std::vector<int64_t>& items, const std::vector<FrameInterval>& blocks,
                   const char* role) {
    std::string where = data.temporal ? fmt::format("the {} frames {}", role, Blocks(blocks))
                                      : fmt::format("the {} images", role);
    MS_CHECK(!items.empty(), "{}: {} are empty", data.labels_origin, where);
    for (int label : {1, 0}) {
      MS_CHECK(data.Count(items, label) > 0,
               "{}: {} have no {} (label {}): empty class, nothing to learn or measure it on; "
               "choose frames "
               "(--train-frames/--val-frames) that contain both classes",
               data.labels_origin, where, label ? "positive frames" : "negative frames", label);
    }
  };
  check(data.split.train, data.split.train_blocks, "training");
  if (!data.temporal || !data.split.validation_blocks.empty()) {
    check(data.split.validation, data.split.validation_blocks, "validation");
  }
}

EventStats EventStatsFromBlocks(const FrameLabels& labels, const std::vector<FrameInterval>& blocks,
                                const std::string& origin) {
  std::vector<FrameInterval> sorted = blocks;
  std::sort(sorted.begin(), sorted.end(),
            [](const FrameInterval& a, const FrameInterval& b) { return a.start < b.start; });
  std::vector<FrameInterval> events;
  int64_t offset = 0;
  for (const auto& b : sorted) {
    if (b.empty()) continue;
    FrameLabels slice(labels.begin() + (b.start - 1), labels.begin() + b.end);
    for (FrameInterval e : EventsFromLabels(slice)) {
      events.push_back({e.start + offset, e.end + offset});
    }
    offset += b.length();
  }
  return EventStatsFromEvents(events, offset,
                              fmt::format("{} (frames {})", origin, Blocks(sorted)));
}

FrameLabels MakeMotLabels(const MotLabelOptions& options, std::string* summary) {
  MS_CHECK(!options.mot.empty(), "--mot: the MOT ground-truth file is required");
  MS_CHECK(options.smooth_gap >= 0, "--smooth-gap: expected >= 0 frames, got {}",
           options.smooth_gap);
  MS_CHECK(options.min_event >= 1, "--min-event: expected >= 1 frame, got {}", options.min_event);
  PersonRule rule = ParsePersonRule(options.rule);
  MotSequence seq = LoadMotSequence(
      options.mot, options.frames > 0 ? std::optional<int64_t>(options.frames) : std::nullopt);
  FrameLabels raw = LabelsFromMot(seq, rule);
  FrameLabels labels = SmoothLabels(raw, options.smooth_gap, options.min_event);
  // Legal but almost certainly not what was meant: say so (issue 15, item 7).
  const int64_t positives = std::count(labels.begin(), labels.end(), 1);
  if (seq.boxes.empty()) {
    LogWarn(
        "{}: no boxes: every one of the {} frames is labelled 0 (no events); check the MOT file",
        options.mot, labels.size());
  } else if (positives == 0) {
    LogWarn(
        "{}: no frame matches {}{}: every one of the {} frames is labelled 0 (no events); check "
        "the region "
        "and --min-count against the boxes",
        options.mot, rule.ToString(),
        raw != labels ? fmt::format(" for at least --min-event {} frames", options.min_event) : "",
        labels.size());
  } else if (positives == static_cast<int64_t>(labels.size())) {
    LogWarn(
        "{}: every one of the {} frames matches {}: labelled 1 throughout (one event, no "
        "negatives)",
        options.mot, labels.size(), rule.ToString());
  }
  if (summary) {
    *summary = fmt::format("{} {}: {}", options.mot, rule.ToString(), SummarizeLabels(labels));
    if (labels != raw) *summary += fmt::format(" (before smoothing: {})", SummarizeLabels(raw));
  }
  return labels;
}

OutcomeStrata CollectOutcomes(const FrameLabels& labels, const FrameLabels& predictions,
                              const std::vector<int>& strides) {
  OutcomeStrata out;
  for (int s : strides) {
    for (int phase = 0; phase < s; ++phase) {
      SegmentOutcomes o = SampledOutcomes(labels, predictions, s, phase);
      for (auto& g : o.events) out.events.push_back(std::move(g));
      for (auto& g : o.gaps) out.gaps.push_back(std::move(g));
    }
  }
  return out;
}

}  // namespace mainstream
