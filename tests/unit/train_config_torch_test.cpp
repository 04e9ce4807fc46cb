// The train module's plain parts: configuration, frame ranges, Pareto
// pruning, the work-directory hash, event statistics over blocks and the
// outcome strata of the correlation estimate.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/sha256.h"
#include "mainstream/model/base_info.h"
#include "mainstream/train/candidate_store.h"
#include "mainstream/train/dataset.h"
#include "mainstream/train/pareto.h"
#include "mainstream/train/train_config.h"
#include "mainstream/train/trainer.h"
#include "testing/testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::TempDir;

using testing::InputErrorOf;

TrainConfig ValidConfig() {
  TrainConfig c;
  c.base_dir = "bases/b";
  c.video = "v.avi";
  c.labels = "l.csv";
  c.app = "ped";
  c.output = "pk/ped";
  return c;
}

Candidate Cand(int bp, double acc) {
  Candidate c;
  c.branchpoint = bp;
  c.accuracy = acc;
  c.tpr = acc;
  c.fpr = 1 - acc;
  c.weights = "bp" + std::to_string(bp) + ".pt";
  return c;
}

TEST(TrainFrameRanges, ParsesSortsAndRejectsBadPieces) {
  auto r = ParseFrameRanges("488-795, 1-308,400", "--train-frames");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], (FrameInterval{1, 308}));
  EXPECT_EQ(r[1], (FrameInterval{400, 400}));
  EXPECT_EQ(r[2], (FrameInterval{488, 795}));
  EXPECT_EQ(FormatFrameRanges(r), "1-308,400-400,488-795");
  EXPECT_NE(InputErrorOf([] { ParseFrameRanges("1-10,5-20", "--train-frames"); }).find("overlap"),
            std::string::npos);
  std::string m = InputErrorOf([] { ParseFrameRanges("1-x", "--val-frames"); });
  EXPECT_NE(m.find("--val-frames"), std::string::npos) << m;
  EXPECT_NE(m.find("'1-x'"), std::string::npos) << m;
  EXPECT_NE(InputErrorOf([] { ParseFrameRanges("0-5", "--f"); }).find("from 1"), std::string::npos);
  EXPECT_NE(InputErrorOf([] { ParseFrameRanges("9-5", "--f"); }).find("ends before"),
            std::string::npos);
}

TEST(TrainConfig, ValidatesEveryFlagByName) {
  ValidConfig().Validate();
  auto bad = [](auto edit, const std::string& flag) {
    TrainConfig c = ValidConfig();
    edit(c);
    std::string m = InputErrorOf([&] { c.Validate(); });
    EXPECT_NE(m.find(flag), std::string::npos) << m;
  };
  bad([](TrainConfig& c) { c.epochs = 0; }, "--epochs");
  bad([](TrainConfig& c) { c.app = "a b"; }, "--app");
  bad([](TrainConfig& c) { c.labels.clear(); }, "--labels");
  bad([](TrainConfig& c) { c.images = "imgs"; }, "--images");
  bad([](TrainConfig& c) { c.batch = 1; }, "--batch");
  bad([](TrainConfig& c) { c.balance = "oversample"; }, "--balance");
  bad([](TrainConfig& c) { c.head = "mlp"; }, "--head");
  bad([](TrainConfig& c) { c.threshold = 1; }, "--threshold");
  bad([](TrainConfig& c) { c.val_frames = "1-5"; }, "--val-frames");
  bad([](TrainConfig& c) { c.test_fraction = 0.5; }, "--split");
  bad([](TrainConfig& c) { c.correlation = 1; }, "--correlation");
}

TEST(TrainConfig, JsonRoundTripsAndTrainingJsonIgnoresRunFlags) {
  TrainConfig c = ValidConfig();
  c.branchpoints = {2, 5};
  c.train_frames = "1-400";
  c.epochs = 9;
  c.seed = 42;
  c.augment.hflip = true;
  c.corr_strides = {1, 3};
  Json j = c.ToJson();
  TrainConfig back = TrainConfig::FromJson(JsonView(j, "config.json"));
  EXPECT_EQ(back.ToJson(), j);
  TrainConfig other = c;
  other.threads = 7;
  other.output = "elsewhere";
  other.branchpoints = {1};
  other.keep_work = true;
  other.pareto_tolerance = 0.1;
  EXPECT_EQ(other.TrainingJson(), c.TrainingJson());
  other.lr = 0.5;
  EXPECT_NE(other.TrainingJson(), c.TrainingJson());
  // --deploy: a retrained model is absent from the JSON (and the hash), so
  // that work directories from before the flag resume; "fold" is written,
  // read back and trains other candidates; "auto" (the default) is fold
  // with out-of-fold estimates, retrain without.
  TrainConfig retrain = c;
  retrain.deploy = "retrain";
  EXPECT_FALSE(retrain.TrainingJson().contains("deploy"));
  TrainConfig fold = c;
  fold.deploy = "fold";
  EXPECT_EQ(fold.TrainingJson().at("deploy"), "fold");
  EXPECT_EQ(TrainConfig::FromJson(JsonView(fold.ToJson(), "config.json")).deploy, "fold");
  Json old = j;
  old.erase("deploy");
  EXPECT_EQ(TrainConfig::FromJson(JsonView(old, "config.json")).deploy, "retrain");
  EXPECT_NE(fold.TrainingJson(), retrain.TrainingJson());
  TrainConfig automatic = c;
  ASSERT_EQ(automatic.deploy, "auto");
  EXPECT_EQ(automatic.EffectiveDeploy(), automatic.uses_folds() ? "fold" : "retrain");
  EXPECT_EQ(automatic.TrainingJson(),
            automatic.uses_folds() ? fold.TrainingJson() : retrain.TrainingJson());
  automatic.folds = 1;
  EXPECT_EQ(automatic.EffectiveDeploy(), "retrain");
  EXPECT_NO_THROW(automatic.Validate());
}

TEST(TrainPareto, KeepsTheFrontierAndExplainsEachPrunedCandidate) {
  // More sharing (higher bp) with at least the accuracy dominates.
  ParetoResult r =
      ParetoPrune({Cand(0, 0.90), Cand(2, 0.95), Cand(4, 0.93), Cand(5, 0.80), Cand(7, 0.85)}, 8);
  std::vector<int> kept, pruned;
  for (const auto& c : r.kept) kept.push_back(c.branchpoint);
  for (const auto& c : r.pruned) pruned.push_back(c.branchpoint);
  EXPECT_EQ(kept, (std::vector<int>{2, 4, 7}));
  EXPECT_EQ(pruned, (std::vector<int>{0, 5}));
  ASSERT_EQ(r.log.size(), 2u);
  EXPECT_EQ(r.log[0]["branchpoint"], 0);
  EXPECT_EQ(r.log[0]["dominated_by"], 2);  // the most accurate dominating candidate
  EXPECT_NE(r.log[0]["reason"].get<std::string>().find("2 fewer specialized stages"),
            std::string::npos)
      << r.log[0]["reason"];
  EXPECT_EQ(r.log[1]["dominated_by"], 7);
  // Ties go to the candidate that shares more.
  ParetoResult tie = ParetoPrune({Cand(3, 0.9), Cand(6, 0.9)}, 8);
  ASSERT_EQ(tie.kept.size(), 1u);
  EXPECT_EQ(tie.kept[0].branchpoint, 6);
  // A tolerance prunes near-equal candidates that specialize more.
  EXPECT_EQ(ParetoPrune({Cand(3, 0.91), Cand(6, 0.90)}, 8).kept.size(), 2u);
  EXPECT_EQ(ParetoPrune({Cand(3, 0.91), Cand(6, 0.90)}, 8, 0.02).kept.size(), 1u);
  EXPECT_NE(InputErrorOf([] {
              ParetoPrune({Cand(3, 0.9), Cand(3, 0.8)}, 8);
            }).find("duplicate"),
            std::string::npos);
}

TEST(TrainEvents, StatisticsOverBlocksCountCutEventsWithTheirVisibleLength) {
  //               frame: 1 2 3 4 5 6 7 8 9 10 11 12
  FrameLabels labels = {0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1};
  EventStats s = EventStatsFromBlocks(labels, {{1, 4}, {8, 12}}, "l.csv");
  // Block [1,4]: one event of 2; block [8,12]: 2 (cut at 8) and 2.
  EXPECT_EQ(s.lengths, (std::vector<double>{2, 2, 2}));
  EXPECT_DOUBLE_EQ(s.frequency, 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(s.min_length, 2);
  std::string m = InputErrorOf([&] { EventStatsFromBlocks(labels, {{4, 5}}, "l.csv"); });
  EXPECT_NE(m.find("l.csv"), std::string::npos) << m;
  EXPECT_NE(m.find("no events"), std::string::npos) << m;
}

TEST(TrainEvents, OutcomeStrataCoverEveryPhaseOfEveryStride) {
  FrameLabels labels = {0, 0, 1, 1, 1, 1, 0, 0};
  FrameLabels preds = {0, 1, 1, 1, 0, 1, 0, 0};
  OutcomeStrata o = CollectOutcomes(labels, preds, {1, 2});
  // Stride 1: one event group, two gap groups. Stride 2, phases 0 and 1: the same structure.
  EXPECT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.gaps.size(), 6u);
  EXPECT_EQ(o.events[0], (std::vector<uint8_t>{1, 1, 0, 1}));
}

TEST(TrainStore, HashDependsOnBaseDataAndTrainingOnly) {
  TempDir tmp;
  testing::WriteText(tmp / "l.csv", "frame,label\n1,0\n2,1\n");
  testing::WriteText(tmp / "v.avi", "not read");
  TrainConfig c = ValidConfig();
  c.labels = (tmp / "l.csv").string();
  c.video = (tmp / "v.avi").string();
  BaseInfo base;
  base.sha256 = std::string(64, 'a');
  const std::string h = TrainConfigHash(c, base);
  EXPECT_EQ(h.size(), 16u);
  TrainConfig run = c;
  run.threads = 4;
  run.output = "other";
  EXPECT_EQ(TrainConfigHash(run, base), h);
  TrainConfig seed = c;
  seed.seed = 2;
  EXPECT_NE(TrainConfigHash(seed, base), h);
  BaseInfo other = base;
  other.sha256 = std::string(64, 'b');
  EXPECT_NE(TrainConfigHash(c, other), h);
  testing::WriteText(tmp / "l.csv", "frame,label\n1,1\n2,1\n");
  EXPECT_NE(TrainConfigHash(c, base), h);
  EXPECT_EQ(DefaultWorkRoot("pk/ped"), fs::path("pk/.ped.mstrain"));
  EXPECT_EQ(DefaultWorkRoot("pk/ped/"), fs::path("pk/.ped.mstrain"));
}

Candidate MicroCand(int layer, double accuracy) {
  return testing::MicroCandidate(layer, accuracy, 1 - accuracy);
}

TEST(TrainPareto, MicroclassifiersCompareByCostAcrossKinds) {
  // Accuracy pruning: bp7 prunes bp3 and bp5; the microclassifier, another kind, stays.
  const ParetoResult r =
      ParetoPrune({Cand(3, 0.80), Cand(5, 0.78), Cand(7, 0.90), MicroCand(2, 0.85)}, 8);
  std::vector<std::string> kept;
  for (const Candidate& c : r.kept) kept.push_back(c.key());
  EXPECT_EQ(kept, (std::vector<std::string>{"mc2", "bp7"}));
  ASSERT_EQ(r.log.size(), 2u);
  EXPECT_EQ(r.log[0]["dominated_by_candidate"], "bp7");  // the best of its dominators
  EXPECT_NE(r.log[0]["reason"].get<std::string>().find("no more cost"), std::string::npos);
  // A branch never prunes a microclassifier, however accurate.
  const ParetoResult r2 = ParetoPrune({Cand(7, 0.99), MicroCand(2, 0.6)}, 8);
  EXPECT_EQ(r2.kept.size(), 2u);
  // Nor the reverse: the package keeps its branches for --no-micro and the baselines.
  const ParetoResult r3 = ParetoPrune({Cand(3, 0.6), Cand(7, 0.5), MicroCand(2, 0.99)}, 8);
  EXPECT_EQ(r3.kept.size(), 3u);
  // Between microclassifiers: the cheaper and better one prunes the other.
  Candidate costly = MicroCand(4, 0.7);
  costly.micro.cost_ms = 0.02;
  const ParetoResult r4 = ParetoPrune({MicroCand(2, 0.8), costly}, 8);
  ASSERT_EQ(r4.kept.size(), 1u);
  EXPECT_EQ(r4.kept[0].key(), "mc2");
}

TEST(TrainStore, RecordsRoundTripAndAMismatchedBaseIsAnInputError) {
  TempDir tmp;
  TrainConfig c = ValidConfig();
  c.work_dir = (tmp / "work").string();
  CandidateStore store(c, "0123456789abcdef");
  fs::create_directories(store.dir());
  testing::WriteText(store.WeightsPath("bp3"), "weights");
  CandidateRecord r;
  r.candidate = Cand(3, 0.8);
  r.base = BaseRef{"b", std::string(64, 'a'), 8};
  r.config_hash = store.hash();
  r.weights_sha256 = Sha256File(store.WeightsPath("bp3"));
  r.validation.push_back(ValidationTrace{{10, 13}, {0, 1, 1, 0}});
  store.Commit(r);
  auto found = store.Find("bp3", r.base);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->ToJson(), r.ToJson());
  EXPECT_FALSE(store.Find("bp4", r.base).has_value());
  std::string m = InputErrorOf([&] { store.Find("bp3", BaseRef{"b2", std::string(64, 'c'), 8}); });
  EXPECT_NE(m.find("base hash mismatch"), std::string::npos) << m;
  EXPECT_NE(m.find("bp3.json"), std::string::npos) << m;
  // Weights that no longer match their record: unfinished, retrained.
  testing::WriteText(store.WeightsPath("bp3"), "changed");
  EXPECT_FALSE(store.Find("bp3", r.base).has_value());
}

TEST(TrainShell, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(ShellQuote("/a/b-c_d.json"), "/a/b-c_d.json");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace mainstream
