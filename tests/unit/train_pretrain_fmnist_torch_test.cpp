// `mstrain pretrain --task fashion-mnist` on a tiny synthetic dataset in the
// Fashion-MNIST format (written and gzip'd at test time), with the tiny
// default base: learning, the idx.gz reader's checks, --init and
// reproducibility.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "mainstream/core/error.h"
#include "mainstream/core/json_io.h"
#include "mainstream/model/base_info.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/default_base.h"
#include "mainstream/train/fmnist.h"
#include "mainstream/train/pretrain.h"
#include "testing/testing.h"
#include "testing/video_fixtures.h"
#include "unit/runtime_testing.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::InputErrorOf;
using testing::TempDir;

constexpr int kSide = kFashionMnistSide;

// Four trivially separable "items", whatever their scale, position and tint:
// label 0 nothing, 1 a full square, 2 a horizontal bar, 3 a vertical bar.
FashionMnistSet SeparableSet(int64_t n) {
  FashionMnistSet set;
  set.pixels.assign(static_cast<size_t>(n) * kSide * kSide, 0);
  for (int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<uint8_t>(i % 4);
    set.labels.push_back(label);
    uint8_t* p = set.pixels.data() + static_cast<size_t>(i) * kSide * kSide;
    for (int y = 0; y < kSide; ++y) {
      for (int x = 0; x < kSide; ++x) {
        const bool on =
            label == 1 || (label == 2 && y >= 10 && y < 18) || (label == 3 && x >= 10 && x < 18);
        p[y * kSide + x] = on ? 255 : 0;
      }
    }
  }
  return set;
}

void WriteSeparableDataset(const fs::path& dir) {
  WriteFashionMnist(dir, "train", SeparableSet(600));
  WriteFashionMnist(dir, "t10k", SeparableSet(200));
}

PretrainConfig TinyConfig(const fs::path& data, const fs::path& output) {
  PretrainConfig c = PretrainDefaults(PretrainTask::kFashionMnist);
  c.fmnist_dir = data.string();
  c.output = output.string();
  c.base = testing::TinyBaseOptions();
  c.images = 512;
  c.val_images = 200;
  c.epochs = 4;
  c.batch = 16;
  c.lr = 5e-3;
  c.recalibrate_canvases = 256;
  c.threads = 1;
  return c;
}

bool SameBytes(const fs::path& a, const fs::path& b) {
  return testing::ReadText(a) == testing::ReadText(b);
}

// The dataset is shared (writing it takes milliseconds); ctest runs every
// test in a process of its own, so only the test about learning trains.
class PretrainFashionMnistTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteSeparableDataset(Data());
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path Data() { return dir_->path() / "fmnist"; }

  static TempDir* dir_;
};
TempDir* PretrainFashionMnistTest::dir_ = nullptr;

TEST_F(PretrainFashionMnistTest, LearnsTheSeparableClassesAndRecordsTheRun) {
  TempDir tmp;
  const fs::path base = tmp / "base";
  const PretrainReport report = Pretrain(TinyConfig(Data(), base));
  // Four classes: chance is 0.25 (0.87 here after 4 epochs).
  EXPECT_GT(report.val_accuracy, 0.6);
  EXPECT_GT(report.val_accuracy_saved, 0.6);
  EXPECT_EQ(report.epochs_run, 4);
  EXPECT_EQ(report.train_images, 512);
  BaseInfo info = ReadBaseInfo(base);
  EXPECT_EQ(info.num_classes, 10);
  EXPECT_EQ(info.class_names.at(9), "ankle_boot");
  EXPECT_EQ(info.num_stages(), 8);
  EXPECT_EQ(info.source["weights"], "pretrained");
  EXPECT_EQ(info.source["images"], 512);
  EXPECT_EQ(info.source["epochs"], 4);
  EXPECT_DOUBLE_EQ(info.source["val_accuracy"].get<double>(), report.val_accuracy);
  EXPECT_GT(info.source["seconds"].get<double>(), 0);
  EXPECT_EQ(info.source["pretrain"]["task"], "fashion-mnist");
  EXPECT_NE(info.source["batchnorm_statistics"].get<std::string>().find(
                "256 fresh Fashion-MNIST canvases"),
            std::string::npos)
      << info.source.dump();
}

TEST_F(PretrainFashionMnistTest, ReadsWhatItWrote) {
  FashionMnistSet set = ReadFashionMnist(Data(), "t10k", 10);
  ASSERT_EQ(set.size(), 10);
  EXPECT_EQ(set.labels[5], 1);
  EXPECT_EQ(set.image(1)[0], 255);  // a full square
  EXPECT_EQ(set.image(2)[0], 0);    // a horizontal bar, not in the first row
  EXPECT_EQ(ReadFashionMnist(Data(), "t10k").size(), 200);
}

// Each damage names the damaged file and what is wrong.
TEST_F(PretrainFashionMnistTest, DamagedFilesAreInputErrorsNamingTheFile) {
  const std::vector<uint8_t> images = ReadGzipFile(FashionMnistImagesFile(Data(), "train"));
  const std::vector<uint8_t> labels = ReadGzipFile(FashionMnistLabelsFile(Data(), "train"));
  struct Case {
    std::string name;
    bool damage_images;  // else the labels file
    std::function<void(std::vector<uint8_t>*)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"bad magic", true, [](auto* b) { (*b)[3] = 0x01; }, "bad magic number 0x00000801"},
      {"labels magic", false, [](auto* b) { (*b)[3] = 0x03; }, "bad magic number 0x00000803"},
      {"not 28x28", true, [](auto* b) { (*b)[15] = 27; }, "images are 28x27"},
      {"truncated images", true, [](auto* b) { b->resize(b->size() - 100); }, "truncated"},
      {"truncated header", false, [](auto* b) { b->resize(6); }, "truncated"},
      {"count mismatch", false,
       [](auto* b) {
         b->pop_back();
         (*b)[7] = static_cast<uint8_t>((*b)[7] - 1);
       },
       "holds 600 images but"},
      {"trailing bytes", true, [](auto* b) { b->push_back(0); }, "1 unexpected bytes"},
      {"label out of range", false, [](auto* b) { (*b)[8 + 17] = 12; }, "label 12 of item 17"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir tmp;
    WriteSeparableDataset(tmp.path());
    std::vector<uint8_t> bytes = c.damage_images ? images : labels;
    c.edit(&bytes);
    const fs::path file = c.damage_images ? FashionMnistImagesFile(tmp.path(), "train")
                                          : FashionMnistLabelsFile(tmp.path(), "train");
    WriteGzipFile(file, bytes);
    const std::string msg = InputErrorOf([&] { ReadFashionMnist(tmp.path(), "train"); });
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
  }
  {
    SCOPED_TRACE("truncated gzip stream");
    TempDir tmp;
    WriteSeparableDataset(tmp.path());
    const fs::path file = FashionMnistImagesFile(tmp.path(), "train");
    testing::WriteTruncatedCopy(FashionMnistImagesFile(Data(), "train"), file, 0.5);
    const std::string msg = InputErrorOf([&] { ReadFashionMnist(tmp.path(), "train"); });
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("corrupt or truncated gzip data"), std::string::npos) << msg;
  }
  {
    SCOPED_TRACE("missing file, through Pretrain");
    TempDir tmp;
    WriteSeparableDataset(tmp.path());
    const fs::path file = FashionMnistLabelsFile(tmp.path(), "t10k");
    fs::remove(file);
    const std::string msg = InputErrorOf([&] { Pretrain(TinyConfig(tmp.path(), tmp / "out")); });
    EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(tmp / "out"));
  }
  {
    SCOPED_TRACE("fewer images than --images");
    PretrainConfig c = TinyConfig(Data(), dir_->path() / "never");
    c.images = 601;
    const std::string msg = InputErrorOf([&] { Pretrain(c); });
    EXPECT_NE(msg.find("--images 601"), std::string::npos) << msg;
  }
}

TEST_F(PretrainFashionMnistTest, InitWithAnotherArchitectureIsAnInputErrorSayingWhatDiffers) {
  TempDir tmp;
  DefaultBaseOptions wide = testing::TinyBaseOptions();
  wide.width_mult = 0.5;
  CreateDefaultBase(tmp / "wide", wide);
  PretrainConfig c = TinyConfig(Data(), tmp / "out");
  c.epochs = 0;
  c.init = (tmp / "wide").string();
  std::string msg = InputErrorOf([&] { Pretrain(c); });
  EXPECT_NE(msg.find("--init " + c.init), std::string::npos) << msg;
  EXPECT_NE(msg.find("'stem.conv.weight' is [16, 3, 3, 3] there, [8, 3, 3, 3] here"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("--width-mult"), std::string::npos) << msg;

  DefaultBaseOptions big = testing::TinyBaseOptions();
  big.width = 96;
  big.height = 72;
  CreateDefaultBase(tmp / "big", big);
  c.init = (tmp / "big").string();
  msg = InputErrorOf([&] { Pretrain(c); });
  EXPECT_NE(msg.find("its input is 96x72, --size is 64x48"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

// --epochs 0 --init B --video V: B's weights, only the BatchNorm statistics
// re-estimated on V's frames.
TEST_F(PretrainFashionMnistTest, EpochsZeroWithInitOnlyReestimatesBatchNormStatistics) {
  TempDir tmp;
  DefaultBaseOptions o = testing::TinyBaseOptions();
  o.num_classes = kFashionMnistClasses;
  o.seed = 9;
  const fs::path base = tmp / "base";
  CreateDefaultBase(base, o);
  testing::SyntheticVideo video =
      testing::WriteSyntheticVideo(tmp / "v.avi", testing::TrainingVideoSpec(48, 3));
  PretrainConfig c = TinyConfig(Data(), tmp / "adapted");
  c.epochs = 0;
  c.init = base.string();
  c.video = video.path.string();
  c.train_frames = "1-40";
  PretrainReport r = Pretrain(c);
  EXPECT_EQ(r.epochs_run, 0);
  EXPECT_EQ(r.train_images, 0);  // the training images are not even read

  torch::jit::Module before = LoadModule(base / kBaseModelFile);
  torch::jit::Module after = LoadModule(tmp / "adapted" / kBaseModelFile);
  std::map<std::string, at::Tensor> old;
  for (const auto& p : before.named_parameters()) old[p.name] = p.value;
  for (const auto& b : before.named_buffers()) old[b.name] = b.value;
  int params = 0, buffers = 0, changed = 0;
  for (const auto& p : after.named_parameters()) {
    ++params;
    EXPECT_TRUE(at::equal(p.value, old.at(p.name))) << p.name;
  }
  for (const auto& b : after.named_buffers()) {
    ++buffers;
    changed += at::equal(b.value, old.at(b.name)) ? 0 : 1;
  }
  EXPECT_GT(params, 10);
  EXPECT_GT(buffers, 10);
  EXPECT_GT(changed, buffers / 2);  // the initial 0/1 became the frames' statistics

  BaseInfo info = ReadBaseInfo(tmp / "adapted");
  EXPECT_EQ(info.source["weights"], "copied from --init");
  EXPECT_EQ(info.source["init"]["sha256"], ReadBaseInfo(base).sha256);
  EXPECT_EQ(info.source["init"]["head"], "copied");
  EXPECT_NE(info.source["batchnorm_statistics"].get<std::string>().find("frames 1-40"),
            std::string::npos)
      << info.source.dump();
}

TEST_F(PretrainFashionMnistTest, SameSeedGivesAnIdenticalModelAnotherSeedAnotherOne) {
  TempDir tmp;
  auto run = [&](const std::string& name, uint64_t seed) {
    PretrainConfig c = TinyConfig(Data(), tmp / name);
    c.images = 96;
    c.val_images = 32;
    c.epochs = 1;
    c.recalibrate_canvases = 64;
    c.seed = c.base.seed = seed;
    Pretrain(c);
    return tmp / name / kBaseModelFile;
  };
  const fs::path a = run("a", 5), b = run("b", 5), other = run("c", 6);
  EXPECT_TRUE(SameBytes(a, b));
  EXPECT_FALSE(SameBytes(a, other));
}

TEST(PretrainFashionMnistCanvas, IsReproducibleAndKeepsTheItemInside) {
  FashionMnistSet set = SeparableSet(4);
  CanvasOptions o;
  o.noise = 0;
  o.min_grey = o.max_grey = 0;  // black background: the tint (luma >= 64) shows where the item is
  std::set<int> lefts;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const Image a = ComposeCanvas(set, 1, 64, 48, o, seed);  // a full square
    EXPECT_EQ(a.bgr, ComposeCanvas(set, 1, 64, 48, o, seed).bgr);
    EXPECT_NE(a.bgr, ComposeCanvas(set, 1, 64, 48, o, seed + 100).bgr);
    int x0 = 64, x1 = -1, y0 = 48, y1 = -1;
    for (int y = 0; y < 48; ++y) {
      for (int x = 0; x < 64; ++x) {
        const uint8_t* p = a.pixel(x, y);
        if (p[0] == 0 && p[1] == 0 && p[2] == 0) continue;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
    }
    ASSERT_GE(x1, 0) << "seed " << seed;
    EXPECT_EQ(x1 - x0, y1 - y0) << "seed " << seed;  // a square, wholly inside
    EXPECT_GE(y1 - y0 + 1, 19) << "seed " << seed;   // 0.4-1.0 of the height
    EXPECT_LE(y1 - y0 + 1, 48) << "seed " << seed;
    lefts.insert(x0);
  }
  EXPECT_GT(lefts.size(), 5u);  // at random places
}

TEST(E2EMstrainPretrainFashionMnist, MissingDataExitsWith2AndNeedsNoMot) {
  TempDir tmp;
  auto r = testing::RunTool("mstrain", "pretrain --task fashion-mnist --fmnist " +
                                           (tmp / "none").string() + " --threads 1 -o " +
                                           (tmp / "base").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find((tmp / "none" / "train-images-idx3-ubyte.gz").string()), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("--mot"), std::string::npos) << r.err;
  // The occupancy task (still the default) needs it.
  r = testing::RunTool("mstrain", "pretrain --video x.avi -o " + (tmp / "base").string());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--mot"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mainstream
