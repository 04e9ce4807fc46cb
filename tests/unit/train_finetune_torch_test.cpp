// The train module on tiny synthetic data: a fixed-camera video with a bright
// square (the event), and a tiny default base (64x48) pretrained here on the
// square's boxes. Fine-tuning at every branchpoint, the package it writes,
// resuming, the activation cache, plan/pack, image folders and bad input.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/script.h>

#include <csignal>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/labels/label_file.h"
#include "mainstream/labels/rate_estimate.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/model/default_base.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/segment.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/schedule/problem.h"
#include "mainstream/train/candidate_store.h"
#include "mainstream/train/dataset.h"
#include "mainstream/train/pretrain.h"
#include "mainstream/train/trainer.h"
#include "mainstream/video/cv_image.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"
#include "testing/testing.h"
#include "testing/video_fixtures.h"
#include "unit/runtime_testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

// testing::TinyBaseOptions with the default head (10 classes).
DefaultBaseOptions TinyBaseOptions() {
  DefaultBaseOptions o = testing::TinyBaseOptions();
  o.num_classes = DefaultBaseOptions{}.num_classes;
  return o;
}

testing::SyntheticVideoSpec TinyVideoSpec() {
  testing::SyntheticVideoSpec s;
  s.width = 96;
  s.height = 72;
  s.frames = 160;
  s.square = 20;
  s.min_event = 5;
  s.max_event = 12;
  s.min_gap = 4;
  s.max_gap = 10;
  s.frame_code = false;  // the frame index would let a model memorize frames
  s.seed = 3;
  return s;
}

// The square as MOT boxes (one "person" in every frame it is visible in).
// Frames first..last (1-based, inclusive) of `video`, preprocessed the way
// msrun does; fewer rows if the video ends first.
at::Tensor PreprocessedFrames(const fs::path& video, int64_t first, int64_t last,
                              const PreprocessConfig& pre) {
  VideoSourceOptions vo;
  vo.start_frame = first - 1;  // a 0-based index
  vo.end_frame = last;
  VideoSource src(video.string(), vo);
  at::Tensor x = at::empty({last - first + 1, 3, pre.height, pre.width});
  Frame f;
  int64_t n = 0;
  while (n < x.size(0) && src.Read(&f)) Preprocess(f.image, pre, x[n++].data_ptr<float>());
  return x.narrow(0, 0, n);
}

void WriteSquareMot(const testing::SyntheticVideo& v, const fs::path& file) {
  std::string text;
  for (size_t i = 0; i < v.boxes.size(); ++i) {
    const auto& b = v.boxes[i];
    if (b.size > 0)
      text += fmt::format("{},1,{},{},{},{},1,-1,-1,-1\n", i + 1, b.x, b.y, b.size, b.size);
  }
  testing::WriteText(file, text);
}

using testing::InputErrorOf;

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SetTorchThreads(1);
    dir_ = new TempDir();
    video_ = new testing::SyntheticVideo(testing::WriteSyntheticVideo(Video(), TinyVideoSpec()));
    testing::WriteLabelsCsv(*video_, Labels());
    WriteSquareMot(*video_, Mot());
    PretrainConfig pc;
    pc.video = Video().string();
    pc.mot = Mot().string();
    pc.output = Base().string();
    pc.base = TinyBaseOptions();
    pc.grid_cols = 3;
    pc.grid_rows = 2;
    pc.epochs = 12;
    pc.stride = 1;
    pc.gap = 4;
    report_ = new PretrainReport(Pretrain(pc));
  }
  static void TearDownTestSuite() {
    delete report_;
    delete video_;
    delete dir_;
  }
  static fs::path Base() { return dir_->path() / "tiny"; }
  static fs::path Video() { return dir_->path() / "square.avi"; }
  static fs::path Labels() { return dir_->path() / "square.csv"; }
  static fs::path Mot() { return dir_->path() / "square_gt.txt"; }

  // Two epochs: enough to exercise everything; accuracy is tested separately.
  static TrainConfig Config(const TempDir& tmp) {
    TrainConfig c;
    c.base_dir = Base().string();
    c.video = Video().string();
    c.labels = Labels().string();
    c.app = "square";
    c.output = (tmp / "pk" / "square").string();
    c.epochs = 2;
    c.patience = 2;
    c.gap = 4;
    c.threads = 1;
    c.folds = 1;  // validation-block estimates; out-of-fold ones are tested with FoldConfig
    return c;
  }
  // Out-of-fold estimates over every training frame (3 folds).
  static TrainConfig FoldConfig(const TempDir& tmp) {
    TrainConfig c = Config(tmp);
    c.folds = 3;
    return c;
  }

  static TempDir* dir_;
  static testing::SyntheticVideo* video_;
  static PretrainReport* report_;
};
TempDir* TrainTest::dir_ = nullptr;
testing::SyntheticVideo* TrainTest::video_ = nullptr;
PretrainReport* TrainTest::report_ = nullptr;

TEST_F(TrainTest, PretrainingWritesALoadableBaseThatLearnedTheTask) {
  BaseInfo info = ReadBaseInfo(Base());
  EXPECT_EQ(info.num_classes, 6);
  EXPECT_EQ(info.class_names.front(), "cell_0_0");
  EXPECT_EQ(info.source["weights"], "pretrained");
  EXPECT_EQ(info.source["train_frames"],
            "1-91");  // first 70% of 160 frames minus validation and gap
  EXPECT_EQ(report_->epochs_run, 12);
  EXPECT_GT(report_->val_cell_accuracy, report_->val_baseline_accuracy - 0.05);
}

TEST_F(TrainTest, TrainsEveryBranchpointAndWritesAPackage) {
  TempDir tmp;
  TrainConfig c = Config(tmp);
  c.epochs = 12;
  c.patience = 12;
  TrainReport r = RunTrain(c);
  EXPECT_EQ(r.trained, 8);
  EXPECT_EQ(r.resumed, 0);
  MPackage p = ReadMPackage(c.output);
  EXPECT_EQ(p.app, "square");
  EXPECT_EQ(p.base.sha256, ReadBaseInfo(Base()).sha256);
  EXPECT_DOUBLE_EQ(p.stream_fps, 10);
  EXPECT_EQ(p.head["kind"], "suffix-v1");
  EXPECT_EQ(p.head["score"], "softmax1");
  ASSERT_FALSE(p.candidates.empty());
  double best = 0;
  for (const Candidate& cand : p.candidates) {
    EXPECT_EQ(cand.weights, "bp" + std::to_string(cand.branchpoint) + ".pt");
    EXPECT_TRUE(fs::exists(fs::path(c.output) / cand.weights)) << cand.weights;
    EXPECT_GT(cand.train_seconds, 0);
    EXPECT_TRUE(cand.extra.contains("test"));
    best = std::max(best, cand.accuracy);
  }
  EXPECT_GT(best, 0.85) << r.summary;
  // Only the suffixes: no copy of the frozen base; the work directory is gone.
  for (const auto& e : fs::directory_iterator(c.output)) EXPECT_NE(e.path().filename(), "model.pt");
  EXPECT_FALSE(fs::exists(r.work_dir));
  EXPECT_FALSE(fs::exists(DefaultWorkRoot(c.output)));
  // The event statistics come from the training and validation labels.
  FrameLabels all = ReadLabelFile(Labels());
  EventStats expect = EventStatsFromBlocks(all, {{1, 106}, {111, 133}}, "x");
  EXPECT_EQ(p.events.lengths, expect.lengths);
  EXPECT_GE(p.events.correlation, 0);
  // Every trained candidate is either kept or pruned with a reason.
  size_t pruned = 0;
  for (const Json& e : p.log) pruned += e.value("event", "") == "pruned" ? 1 : 0;
  EXPECT_EQ(p.candidates.size() + pruned, 8u);
}

// The candidate weights contract with msrun (docs/formats.md): bp<b>.pt
// takes the base's activation at b, returns logits [N, 2]; softmax[:, 1] >=
// threshold is a positive. Run the way msrun runs it (optimized segments on
// freshly decoded frames), it reproduces the recorded validation accuracy.
TEST_F(TrainTest, SavedSuffixesReproduceTheRecordedAccuracyTheWayMsrunRunsThem) {
  TempDir tmp;
  TrainConfig c = Config(tmp);
  c.epochs = 4;
  c.branchpoints = {0, 4, 7};
  c.pareto_tolerance = 0;
  TrainReport r = RunTrain(c);
  BaseModel base = BaseModel::Load(Base());
  const PreprocessConfig pre = PreprocessConfigFor(base.info());
  const at::Tensor x = PreprocessedFrames(Video(), 111, 133, pre);  // the validation frames
  ASSERT_EQ(x.size(0), 23);
  FrameLabels labels = ReadLabelFile(Labels());
  for (const Candidate& cand : r.package.candidates) {
    at::Tensor act =
        cand.branchpoint == 0 ? x : Segment::Build(base, 0, cand.branchpoint).Forward(x);
    torch::jit::Module m = LoadModule(fs::path(c.output) / cand.weights);
    Segment seg = Segment::FromModule(m, act.narrow(0, 0, 2));
    at::Tensor logits = seg.Forward(act);
    ASSERT_EQ(logits.sizes(), (at::IntArrayRef{23, 2}));
    at::Tensor score = torch::softmax(logits, 1).select(1, 1);
    int correct = 0;
    for (int i = 0; i < 23; ++i) {
      const bool pos = score[i].item<double>() >= cand.threshold;
      correct += pos == (labels[static_cast<size_t>(110 + i)] != 0) ? 1 : 0;
    }
    EXPECT_NEAR(correct / 23.0, cand.accuracy, 1.01 / 23) << "branchpoint " << cand.branchpoint;
  }
}

TEST_F(TrainTest, ResumesFromTheLastFinishedCandidateWithTheSameResults) {
  TempDir tmp;
  TrainConfig c = Config(tmp);
  c.branchpoints = {4, 5, 6, 7};
  TrainRunOptions crash;
  int done = 0;
  crash.on_candidate_done = [&](const CandidateRecord&) {
    if (++done == 2) throw RuntimeError("simulated crash");
  };
  EXPECT_THROW(RunTrain(c, crash), RuntimeError);
  EXPECT_FALSE(fs::exists(c.output));
  TrainReport resumed = RunTrain(c);
  EXPECT_EQ(resumed.resumed, 2);
  EXPECT_EQ(resumed.trained, 2);

  // An uninterrupted run gives the same candidates.
  TempDir tmp2;
  TrainConfig fresh = Config(tmp2);
  fresh.branchpoints = c.branchpoints;
  fresh.keep_work = true;
  TrainReport whole = RunTrain(fresh);
  ASSERT_EQ(whole.package.candidates.size(), resumed.package.candidates.size());
  for (size_t i = 0; i < whole.package.candidates.size(); ++i) {
    const Candidate& a = whole.package.candidates[i];
    const Candidate& b = resumed.package.candidates[i];
    EXPECT_EQ(a.branchpoint, b.branchpoint);
    // Candidates after the crash start from activations computed in one
    // segment instead of several: equal up to float rounding.
    EXPECT_NEAR(a.accuracy, b.accuracy, 0.05) << "branchpoint " << a.branchpoint;
  }
  // Rerunning a finished configuration trains nothing.
  TrainReport again = RunTrain(fresh);
  EXPECT_EQ(again.trained, 0);
  EXPECT_EQ(again.resumed, 4);
}

TEST_F(TrainTest, WithoutTheCacheTheCandidatesAreTheSame) {
  TempDir tmp;
  TrainConfig c = Config(tmp);
  c.branchpoints = {3, 6};
  TrainReport cached = RunTrain(c);
  c.cache = false;
  c.work_dir = (tmp / "nocache").string();
  TrainReport plain = RunTrain(c);
  ASSERT_EQ(cached.package.candidates.size(), plain.package.candidates.size());
  for (size_t i = 0; i < plain.package.candidates.size(); ++i) {
    EXPECT_NEAR(cached.package.candidates[i].accuracy, plain.package.candidates[i].accuracy, 0.05);
    EXPECT_EQ(plain.package.candidates[i].extra["cache"], false);
  }
}

TEST_F(TrainTest, PlanAndPackAssembleIndependentlyTrainedCandidates) {
  TempDir tmp;
  TrainConfig c = Config(tmp);
  c.branchpoints = {5, 7};
  std::string pack;
  std::vector<std::string> cmds = PlanCommands(c, "/opt/bin/mstrain", &pack);
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_NE(cmds[0].find("/opt/bin/mstrain train --config "), std::string::npos) << cmds[0];
  EXPECT_NE(cmds[1].find("--branchpoint bp7 --threads 1"), std::string::npos) << cmds[1];
  EXPECT_NE(pack.find(" pack --config "), std::string::npos);
  const std::string config_file =
      cmds[0].substr(cmds[0].find("--config ") + 9,
                     cmds[0].find(" --branchpoint") - cmds[0].find("--config ") - 9);
  TrainConfig planned = ReadTrainConfig(config_file);
  EXPECT_TRUE(fs::path(planned.output).is_absolute());

  // Packing before every candidate is finished names the missing one.
  TrainRunOptions one;
  one.only = {"bp7"};
  RunTrain(planned, one);
  std::string m = InputErrorOf([&] { PackCandidates(planned); });
  EXPECT_NE(m.find("candidate(s) bp5"), std::string::npos) << m;
  EXPECT_NE(m.find("--branchpoint bp5"), std::string::npos) << m;
  one.only = {"bp5"};
  RunTrain(planned, one);
  MPackage p = PackCandidates(planned);
  EXPECT_FALSE(p.candidates.empty());
  EXPECT_TRUE(fs::exists(fs::path(planned.output) / kMPackageManifest));
}

TEST_F(TrainTest, ImageFoldersTrainWithGivenEventStatistics) {
  TempDir tmp;
  for (int i = 0; i < 40; ++i) {
    Image img = testing::RenderSyntheticFrame(*video_, i);
    const bool pos = video_->labels[static_cast<size_t>(i)] != 0;
    fs::path f = tmp / "imgs" / (pos ? "event" : "other") / fmt::format("f{:03d}.png", i);
    fs::create_directories(f.parent_path());
    ASSERT_TRUE(cv::imwrite(f.string(), AsMat(img)));
  }
  TrainConfig c = Config(tmp);
  c.video.clear();
  c.labels.clear();
  c.images = (tmp / "imgs").string();
  c.branchpoints = {6, 7};
  std::string m = InputErrorOf([&] { RunTrain(c); });
  EXPECT_NE(m.find("--event-length"), std::string::npos) << m;
  c.fps = 10;
  c.event_length = 8;
  c.event_frequency = 0.3;
  c.correlation = 0.2;
  TrainReport r = RunTrain(c);
  EXPECT_DOUBLE_EQ(r.package.events.mean_length, 8);
  EXPECT_DOUBLE_EQ(r.package.events.correlation, 0.2);
  EXPECT_DOUBLE_EQ(r.package.stream_fps, 10);
  // An empty class directory is bad input naming it.
  fs::create_directories(tmp / "imgs" / "empty");
  c.positive_class = "event";
  m = InputErrorOf([&] { RunTrain(c); });
  EXPECT_NE(m.find("empty class"), std::string::npos) << m;
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
}

TEST_F(TrainTest, BadInputIsNamedBeforeTrainingAndLeavesAnEarlierPackageIntact) {
  TempDir tmp;
  TrainConfig c = Config(tmp);
  c.branchpoints = {7};
  RunTrain(c);
  const std::string manifest = testing::ReadText(fs::path(c.output) / kMPackageManifest);

  // Labels for fewer frames than the video has.
  FrameLabels labels = ReadLabelFile(Labels());
  TrainConfig short_labels = c;
  short_labels.labels = (tmp / "short.csv").string();
  WriteLabelFile(short_labels.labels, FrameLabels(labels.begin(), labels.end() - 5));
  std::string m = InputErrorOf([&] { RunTrain(short_labels); });
  EXPECT_NE(m.find("short.csv"), std::string::npos) << m;
  EXPECT_NE(m.find("155 frames"), std::string::npos) << m;
  EXPECT_NE(m.find("160 frames"), std::string::npos) << m;

  // A label value other than 0/1, with its line.
  TrainConfig unknown = c;
  unknown.labels = (tmp / "unknown.csv").string();
  std::string text = testing::ReadText(Labels());
  text[text.find("\n3,") + 3] = '2';
  testing::WriteText(unknown.labels, text);
  m = InputErrorOf([&] { RunTrain(unknown); });
  EXPECT_NE(m.find("unknown.csv:4"), std::string::npos) << m;

  // No positive frame in the training block: an empty class.
  TrainConfig empty = c;
  empty.labels = (tmp / "empty.csv").string();
  FrameLabels none = labels;
  for (size_t i = 0; i < 106; ++i) none[i] = 0;
  WriteLabelFile(empty.labels, none);
  m = InputErrorOf([&] { RunTrain(empty); });
  EXPECT_NE(m.find("empty.csv"), std::string::npos) << m;
  EXPECT_NE(m.find("training frames [1, 106]"), std::string::npos) << m;
  EXPECT_NE(m.find("empty class"), std::string::npos) << m;

  // A video that cannot be opened.
  TrainConfig missing = c;
  missing.video = (tmp / "nope.avi").string();
  m = InputErrorOf([&] { RunTrain(missing); });
  EXPECT_NE(m.find("nope.avi"), std::string::npos) << m;

  // A base whose model no longer matches base.json.
  TrainConfig changed = c;
  changed.base_dir = (tmp / "base").string();
  fs::copy(Base(), changed.base_dir, fs::copy_options::recursive);
  std::string model = testing::ReadText(fs::path(changed.base_dir) / "model.pt");
  model[model.size() / 2] ^= 0x55;
  testing::WriteText(fs::path(changed.base_dir) / "model.pt", model);
  m = InputErrorOf([&] { RunTrain(changed); });
  EXPECT_NE(m.find("base.json"), std::string::npos) << m;
  EXPECT_NE(m.find("sha256"), std::string::npos) << m;

  // Disk full while writing the package (a file size limit): the earlier
  // package stays, no staging directory is left behind.
  TrainConfig full = c;
  full.keep_work = true;
  full.epochs = 3;  // another configuration: trains, then fails to write
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  TrainConfig prepare = full;
  prepare.output = (tmp / "scratch" / "square").string();
  prepare.work_dir = (tmp / "work").string();
  full.work_dir = prepare.work_dir;
  TrainRunOptions no_pack;
  no_pack.pack = false;
  RunTrain(prepare, no_pack);  // candidates finished: only the package write remains
  struct rlimit small = old_limit;
  small.rlim_cur = 2048;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  m = InputErrorOf([&] { PackCandidates(full); });
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(m.find(full.output), std::string::npos) << m;
  EXPECT_NE(m.find("cannot write the package"), std::string::npos) << m;
  EXPECT_EQ(testing::ReadText(fs::path(c.output) / kMPackageManifest), manifest);
  for (const auto& e : fs::directory_iterator(fs::path(c.output).parent_path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
  // Not an M-Package directory: never replaced.
  TrainConfig home = full;
  home.output = tmp.path().string();
  m = InputErrorOf([&] { PackCandidates(home); });
  EXPECT_NE(m.find("not an M-Package"), std::string::npos) << m;
}

// Out-of-fold estimates: every training frame gets a score from a fold model
// that never trained on it (or on the gap around it); the package keeps them
// as trace.csv, and the candidates' rates, flags and pruning come from it.
TEST_F(TrainTest, OutOfFoldEstimatesCoverEveryTrainingFrameAndLandInTheTrace) {
  TempDir tmp;
  TrainConfig c = FoldConfig(tmp);
  c.branchpoints = {4, 7};
  c.epochs = 8;
  c.patience = 8;
  c.pareto_tolerance = 0;
  TrainReport r = RunTrain(c);
  const MPackage& p = r.package;
  ASSERT_TRUE(p.trace.has_value());
  EXPECT_EQ(p.estimation.value("method", ""), "out-of-fold");
  const ScoreTrace t = LoadPackageTrace(ReadMPackage(c.output));
  // The automatic split with folds: training = the train and validation shares
  // ([1, 133] of 160 frames with gap 4 before the test block), all scored.
  ASSERT_EQ(t.frames.front(), 1);
  ASSERT_EQ(t.frames.back(), 133);
  EXPECT_EQ(t.rows(), 133u);
  EXPECT_EQ(t.num_folds(), 3);
  for (size_t i = 1; i < t.rows(); ++i)
    EXPECT_GE(t.folds[i], t.folds[i - 1]) << "folds are contiguous in time";
  const FrameLabels labels = ReadLabelFile(Labels());
  for (size_t i = 0; i < t.rows(); ++i)
    EXPECT_EQ(t.labels[i], labels[static_cast<size_t>(t.frames[i] - 1)]);
  EXPECT_EQ(p.trace->events, static_cast<int64_t>(t.Events().size()));
  // Both candidates were trained and scored (the trace keeps pruned ones too).
  EXPECT_EQ(t.columns, BranchKeys({4, 7}));
  for (const Candidate& cand : p.candidates) {
    const RateEstimate e = EstimateRates(t, t.Column(cand.key()), cand.threshold, "trace");
    EXPECT_DOUBLE_EQ(cand.tpr, e.tpr);
    EXPECT_DOUBLE_EQ(cand.fpr, e.fpr);
    EXPECT_EQ(cand.no_skill, e.no_skill);
    EXPECT_EQ(cand.extra.value("estimate", ""), "out-of-fold");
    EXPECT_LE(cand.extra.value("best_epoch", 0), c.epochs);
    EXPECT_TRUE(cand.extra.contains("test"));
  }
  // The square is easy: out of fold, the best candidate separates it well.
  double best = 0;
  for (const Candidate& cand : p.candidates) best = std::max(best, cand.tpr - cand.fpr);
  EXPECT_GT(best, 0.5) << r.summary;
  // The scheduler predicts from the trace.
  OptionSpace space;
  space.stream_fps = p.stream_fps;
  space.fps_options = {p.stream_fps / 2};
  AppChoices choices = BuildAppChoices(p.app, p.candidates, p.events, space, &t);
  for (const AppOption& o : choices.options) {
    ASSERT_TRUE(o.pred.trace.has_value());
    EXPECT_EQ(o.pred.events, p.trace->events);
  }
  // A trace that does not match its package is refused.
  testing::WriteText(fs::path(c.output) / kScoreTraceFile, FormatScoreTrace(t) + "\n");
  std::string m = InputErrorOf([&] { LoadPackageTrace(ReadMPackage(c.output)); });
  EXPECT_NE(m.find("$.trace.sha256"), std::string::npos) << m;
}

// --deploy fold ships the model whose out-of-fold scores the trace holds:
// the fold model trained on the latest frames, at the chosen epoch, for a
// branch, and the same fold's crop for a microclassifier.
TEST_F(TrainTest, DeployFoldShipsTheFoldModelItsTraceScored) {
  TempDir tmp;
  TrainConfig c = FoldConfig(tmp);
  c.branchpoints = {4};
  c.micro_layers = {2};
  c.micro_crops = 2;
  c.micro_channels = 4;
  c.epochs = 4;
  c.patience = 4;
  c.pareto_tolerance = 0;
  c.deploy = "fold";
  TrainReport r = RunTrain(c);
  const ScoreTrace t = LoadPackageTrace(ReadMPackage(c.output));
  BaseModel base = BaseModel::Load(Base());
  const PreprocessConfig pre = PreprocessConfigFor(base.info());
  for (const Candidate& cand : r.package.candidates) {
    SCOPED_TRACE(cand.key());
    const Json& d = cand.extra.at("deployed");
    ASSERT_EQ(d.at("model"), "fold");
    const int k = d.at("fold").get<int>();
    const int64_t first = d.at("held_out_frames")[0].get<int64_t>();
    const int64_t last = d.at("held_out_frames")[1].get<int64_t>();
    // The earliest held-out part: its model trained on the latest frames.
    EXPECT_EQ(first, t.frames.front());
    EXPECT_EQ(t.folds.front(), k);
    // The deployed weights score that part as the trace says, run as msrun runs them.
    const int64_t n = last - first + 1;
    const at::Tensor x = PreprocessedFrames(Video(), first, last, pre);
    ASSERT_EQ(x.size(0), n);
    const at::Tensor act = base.RunStages(x, 0, cand.branchpoint);
    torch::jit::Module m = LoadModule(fs::path(c.output) / cand.weights);
    const Segment seg = Segment::FromModule(m, act.narrow(0, 0, 2));
    const at::Tensor score = torch::softmax(seg.Forward(act), 1).select(1, 1);
    const int column = t.Column(cand.key());
    ASSERT_GE(column, 0);
    int compared = 0;
    for (size_t i = 0; i < t.rows(); ++i) {
      if (t.frames[i] < first || t.frames[i] > last) continue;
      EXPECT_NEAR(score[t.frames[i] - first].item<double>(),
                  t.scores[static_cast<size_t>(column)][i], 2e-3)
          << "frame " << t.frames[i];
      ++compared;
    }
    EXPECT_EQ(compared, n);
    if (cand.is_micro()) {
      const Json& crop = cand.extra.at("fold_crops")[static_cast<size_t>(k)].at("crop");
      EXPECT_EQ(cand.extra.at("chosen_crop"), crop);
      EXPECT_EQ(crop, (Json{cand.micro.x0, cand.micro.y0, cand.micro.x1, cand.micro.y1}));
    }
  }
  // --deploy is checked before training.
  TrainConfig bad = c;
  bad.deploy = "best";
  std::string msg = InputErrorOf([&] { RunTrain(bad); });
  EXPECT_NE(msg.find("--deploy"), std::string::npos) << msg;
  bad.deploy = "fold";
  bad.folds = 1;
  bad.micro_layers.clear();
  msg = InputErrorOf([&] { RunTrain(bad); });
  EXPECT_NE(msg.find("--folds >= 2"), std::string::npos) << msg;
}

// Microclassifiers: a crop of the frozen base's feature map chosen out of
// fold per fold, its column in the trace, its latency measured beside the
// base's, weights that msrun runs on the whole activation, resumed unless
// their settings change, and bad layers named before training.
TEST_F(TrainTest, MicroclassifiersChooseTheirCropOutOfFoldAndRunOnTheFeatureMap) {
  TempDir tmp;
  TrainConfig c = FoldConfig(tmp);
  c.branchpoints = {7};
  c.micro_layers = {2};
  c.micro_crops = 3;
  c.micro_channels = 4;
  c.micro_region = {0, 0, 48, 72};  // the left half of the 96x72 frame
  c.epochs = 6;
  c.pareto_tolerance = 0;
  c.keep_work = true;
  TrainReport r = RunTrain(c);
  const ScoreTrace t = LoadPackageTrace(ReadMPackage(c.output));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"mc2", "bp7"}));  // training order
  CandidateStore store(c, fs::path(r.work_dir).filename().string());
  BaseModel base = BaseModel::Load(Base());
  const auto rec = store.Find("mc2", base.ref());
  ASSERT_TRUE(rec.has_value());
  const Candidate& m = rec->candidate;
  EXPECT_TRUE(m.is_micro());
  EXPECT_EQ(m.weights, "mc2.pt");
  const std::vector<int64_t> shape = base.info().ShapeAt(2);
  EXPECT_TRUE(m.micro.x0 >= 0 && m.micro.x1 <= shape[2] && m.micro.x0 < m.micro.x1);
  EXPECT_TRUE(m.micro.y0 >= 0 && m.micro.y1 <= shape[1] && m.micro.y0 < m.micro.y1);
  EXPECT_EQ(m.micro.channels, 4);
  EXPECT_GT(m.micro.cost_ms, 0);
  EXPECT_GT(m.micro.reference_ms, m.micro.cost_ms);
  EXPECT_EQ(m.micro.param_bytes, 4.0 * m.extra.at("parameters").get<double>());
  ASSERT_EQ(m.extra.at("crops").size(), 4u);  // the region's and 3 random ones
  EXPECT_TRUE(m.extra.at("crops")[0].at("region").get<bool>());
  EXPECT_EQ(m.extra.at("crops")[0].at("crop")[2], (shape[2] + 1) / 2);
  EXPECT_EQ(m.extra.at("fold_crops").size(), 3u);
  EXPECT_EQ(m.extra.at("micro_config"), c.MicroJson());
  // Its rates come from its trace column.
  const RateEstimate e = EstimateRates(t, t.Column("mc2"), m.threshold, "trace");
  EXPECT_DOUBLE_EQ(m.tpr, e.tpr);
  EXPECT_DOUBLE_EQ(m.fpr, e.fpr);
  // The square is easy, also from a crop of an early feature map.
  EXPECT_GT(m.tpr - m.fpr, 0.3) << r.summary;
  // msrun's way: the saved module on the whole activation at its layer.
  torch::jit::Module module = LoadModule(store.WeightsPath("mc2"));
  const at::Tensor act = base.RunStages(base.DummyInput(3), 0, 2);
  const Segment seg = Segment::FromModule(module, act.narrow(0, 0, 2));
  EXPECT_EQ(seg.Forward(act).sizes(), (at::IntArrayRef{3, 2}));
  // Resumed as is; retrained (alone) when its settings change.
  EXPECT_EQ(RunTrain(c).trained, 0);
  c.micro_crops = 2;
  TrainReport again = RunTrain(c);
  EXPECT_EQ(again.trained, 1);
  EXPECT_EQ(again.resumed, 1);
  // Only the microclassifier, the way `mstrain plan` runs it.
  TrainRunOptions only;
  only.only = ParseCandidateKeys("mc2", "--branchpoint");
  only.pack = false;
  EXPECT_EQ(RunTrain(c, only).trained, 0);
  EXPECT_EQ(ParseCandidateKeys("3,bp4,mc2", "--branchpoint"),
            (std::vector<std::string>{"bp3", "bp4", "mc2"}));
  std::string msg = InputErrorOf([&] { ParseCandidateKeys("mcx", "--branchpoint"); });
  EXPECT_NE(msg.find("'mcx'"), std::string::npos) << msg;
  // Bad layers and modes are named before any training.
  TrainConfig bad = c;
  bad.micro_layers = {0};
  msg = InputErrorOf([&] { RunTrain(bad); });
  EXPECT_NE(msg.find("--micro-layers"), std::string::npos) << msg;
  bad.micro_layers = {base.num_stages()};
  msg = InputErrorOf([&] { RunTrain(bad); });
  EXPECT_NE(msg.find("is not a layer"), std::string::npos) << msg;
  bad = c;
  bad.folds = 1;
  msg = InputErrorOf([&] { RunTrain(bad); });
  EXPECT_NE(msg.find("--folds >= 2"), std::string::npos) << msg;
}

// The fold plan: held-out parts partition the training positions, a fold
// trains on nothing within the gap of what it holds out, and bad folds are
// named before any training.
TEST_F(TrainTest, FoldPlansHoldOutEveryFrameOnceAndKeepTheGap) {
  TempDir tmp;
  TrainConfig c = FoldConfig(tmp);
  c.folds = 4;
  c.train_frames = "1-60,71-150";
  c.train_stride = 2;
  Dataset d;
  d.temporal = true;
  d.labels_origin = "labels.csv";
  d.split.train_blocks = {{1, 60}, {71, 150}};
  for (const FrameInterval& b : d.split.train_blocks) {
    for (int64_t f = b.start; f <= b.end; ++f) {
      d.split.train.push_back(static_cast<int64_t>(d.frames.size()));
      d.frames.push_back(f);
      d.labels.push_back(static_cast<uint8_t>((f / 7) % 2));
    }
  }
  const FoldPlan plan = PlanFolds(d, c);
  ASSERT_EQ(plan.held_out.size(), 4u);
  std::vector<int> seen(d.frames.size(), 0);
  for (size_t k = 0; k < 4; ++k) {
    for (int64_t p : plan.held_out[k]) {
      ++seen[static_cast<size_t>(p)];
      EXPECT_EQ(plan.fold_of[static_cast<size_t>(p)], static_cast<int>(k));
    }
    const int64_t lo = d.frames[static_cast<size_t>(plan.held_out[k].front())];
    const int64_t hi = d.frames[static_cast<size_t>(plan.held_out[k].back())];
    for (int64_t p : plan.train[k]) {
      const int64_t f = d.frames[static_cast<size_t>(p)];
      EXPECT_TRUE(f < lo - c.gap || f > hi + c.gap) << "fold " << k << " trains on frame " << f;
      EXPECT_EQ(p % 2, 0) << "train stride 2";
    }
  }
  for (int n : seen) EXPECT_EQ(n, 1);
  EXPECT_EQ(plan.all.size(), (d.frames.size() + 1) / 2);

  // Positives only inside one fold's part: that fold has nothing to learn.
  Dataset lonely = d;
  for (size_t i = 0; i < lonely.labels.size(); ++i)
    lonely.labels[i] = lonely.frames[i] >= 20 && lonely.frames[i] <= 25;
  std::string m = InputErrorOf([&] { PlanFolds(lonely, c); });
  EXPECT_NE(m.find("labels.csv"), std::string::npos) << m;
  EXPECT_NE(m.find("fold 1 of 4"), std::string::npos) << m;
  EXPECT_NE(m.find("no positive frames"), std::string::npos) << m;
  // Too many folds for the frames and the gap.
  c.folds = 20;
  c.gap = 4;
  m = InputErrorOf([&] { PlanFolds(d, c); });
  EXPECT_NE(m.find("fewer --folds"), std::string::npos) << m;
}

}  // namespace
}  // namespace mainstream
