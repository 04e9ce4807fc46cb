// Tests of the video module (OpenCV): sources, preprocessing, augmentation,
// the frame cache and decode-cost measurement, on a synthetic video written
// at test time (testing/video_fixtures.h).
#if __has_include(<opencv2/videoio.hpp>)  // the video module is built with OpenCV only

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
#include "mainstream/video/augment.h"
#include "mainstream/video/cv_image.h"
#include "mainstream/video/decode_cost.h"
#include "mainstream/video/frame_cache.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"
#include "testing/testing.h"
#include "testing/video_fixtures.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

using testing::SyntheticVideo;
using testing::SyntheticVideoSpec;
using testing::TempDir;

constexpr int kFrames = 60;

// Written once for the whole binary, removed at exit.
TempDir& SharedDir() {
  static TempDir dir;
  return dir;
}

const SyntheticVideo& Synthetic() {
  static const SyntheticVideo video = [] {
    SyntheticVideoSpec spec;
    spec.frames = kFrames;
    return testing::WriteSyntheticVideo(SharedDir() / "synthetic.avi", spec);
  }();
  return video;
}

std::string Path() { return Synthetic().path.string(); }

Image RandomImage(int width, int height, uint64_t seed) {
  Image im(width, height);
  Rng rng(seed);
  for (auto& b : im.bgr) b = static_cast<uint8_t>(rng.Index(256));
  return im;
}

// Expects `f` to throw E and returns its message.
template <typename E, typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

// Reads every frame of `src`, checking order.
std::vector<Frame> ReadAll(VideoSource& src) {
  std::vector<Frame> frames;
  Frame f;
  while (src.Read(&f)) frames.push_back(f);
  return frames;
}

// ---------------------------------------------------------------- inputs

TEST(VideoInput, ParsesFilesUrlsAndCameras) {
  EXPECT_EQ(ParseVideoInput("a/b.avi").kind, SourceKind::kFile);
  EXPECT_EQ(ParseVideoInput("file:///tmp/x.mp4").location, "/tmp/x.mp4");
  EXPECT_EQ(ParseVideoInput("rtsp://cam.local:554/stream").kind, SourceKind::kStream);
  EXPECT_EQ(ParseVideoInput("HTTPS://example.org/v.mp4").kind, SourceKind::kStream);
  VideoInput cam = ParseVideoInput("camera:2");
  EXPECT_EQ(cam.kind, SourceKind::kCamera);
  EXPECT_EQ(cam.camera_index, 2);
  EXPECT_EQ(cam.location, "/dev/video2");
  EXPECT_THROW(ParseVideoInput(""), InputError);
  std::string msg = ErrorOf<InputError>([] { ParseVideoInput("camera:front"); });
  EXPECT_NE(msg.find("camera:front"), std::string::npos) << msg;
  msg = ErrorOf<InputError>([] { ParseVideoInput("ftp://host/v.avi"); });
  EXPECT_NE(msg.find("'ftp'"), std::string::npos) << msg;
}

TEST(VideoInput, OptionsValidate) {
  VideoSourceOptions o;
  EXPECT_NO_THROW(o.Validate());
  o.end_frame = 0;
  EXPECT_THROW(o.Validate(), InputError);
  o = {};
  o.start_frame = -1;
  EXPECT_THROW(o.Validate(), InputError);
  o = {};
  o.fps_override = -3;
  EXPECT_THROW(o.Validate(), InputError);
}

// ---------------------------------------------------------------- sources

TEST(VideoSource, ReadsSyntheticVideoInOrder) {
  const SyntheticVideo& truth = Synthetic();
  VideoSource src(Path());
  EXPECT_EQ(src.kind(), SourceKind::kFile);
  EXPECT_EQ(src.width(), 160);
  EXPECT_EQ(src.height(), 120);
  EXPECT_DOUBLE_EQ(src.fps(), 10);
  EXPECT_DOUBLE_EQ(src.reported_fps(), 10);
  EXPECT_EQ(src.frame_count(), kFrames);
  EXPECT_EQ(src.expected_frames(), kFrames);
  EXPECT_NE(src.Describe().find("160x120"), std::string::npos) << src.Describe();

  Frame f;
  int n = 0;
  while (src.Read(&f)) {
    ASSERT_EQ(f.index, n);
    EXPECT_DOUBLE_EQ(f.timestamp_s, n / 10.0);
    ASSERT_EQ(f.image.width, 160);
    ASSERT_EQ(f.image.height, 120);
    EXPECT_EQ(testing::ReadFrameCode(f.image), n);
    // The square is where the ground truth says, and bright.
    const auto& box = truth.boxes[static_cast<size_t>(n)];
    if (truth.labels[static_cast<size_t>(n)]) {
      EXPECT_GT(testing::MeanBrightness(f.image, box), 200) << n;
    }
    ++n;
  }
  EXPECT_EQ(n, kFrames);
  EXPECT_EQ(src.frames_read(), kFrames);
  EXPECT_FALSE(src.Read(&f));  // stays at the end
}

TEST(VideoSource, FpsOverrideChangesRateAndTimestamps) {
  VideoSourceOptions o;
  o.fps_override = 7;
  VideoSource src(Path(), o);
  EXPECT_DOUBLE_EQ(src.fps(), 7);
  EXPECT_DOUBLE_EQ(src.reported_fps(), 10);
  EXPECT_NE(src.Describe().find("stream says 10"), std::string::npos) << src.Describe();
  Frame f;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(src.Read(&f));
  EXPECT_EQ(f.index, 7);
  EXPECT_DOUBLE_EQ(f.timestamp_s, 1.0);
}

TEST(VideoSource, StartAndEndFrameSelectARange) {
  VideoSourceOptions o;
  o.start_frame = 17;
  o.end_frame = 29;
  VideoSource src(Path(), o);
  EXPECT_EQ(src.expected_frames(), 12);
  EXPECT_EQ(src.next_index(), 17);
  std::vector<Frame> frames = ReadAll(src);
  ASSERT_EQ(frames.size(), 12u);
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].index, 17 + static_cast<int64_t>(i));
    EXPECT_EQ(testing::ReadFrameCode(frames[i].image), 17 + static_cast<int>(i));
  }
  // A start offset to the end of the file.
  o.end_frame = -1;
  o.start_frame = kFrames - 3;
  VideoSource tail(Path(), o);
  EXPECT_EQ(ReadAll(tail).size(), 3u);
}

TEST(VideoSource, RangeOutsideTheVideoIsAnInputError) {
  VideoSourceOptions o;
  o.start_frame = kFrames;
  std::string msg = ErrorOf<InputError>([&] { VideoSource s(Path(), o); });
  EXPECT_NE(msg.find(Path()), std::string::npos) << msg;
  EXPECT_NE(msg.find("60 frames"), std::string::npos) << msg;
  o.start_frame = 0;
  o.end_frame = kFrames + 1;
  msg = ErrorOf<InputError>([&] { VideoSource s(Path(), o); });
  EXPECT_NE(msg.find("[0, 61)"), std::string::npos) << msg;
}

TEST(VideoSource, MovesAndReusesTheFrameBuffer) {
  VideoSource a(Path());
  Frame f;
  ASSERT_TRUE(a.Read(&f));
  ASSERT_TRUE(a.Read(&f));
  const uint8_t* buffer = f.image.bgr.data();
  VideoSource b = std::move(a);
  ASSERT_TRUE(b.Read(&f));
  EXPECT_EQ(f.index, 2);
  EXPECT_EQ(f.image.bgr.data(), buffer) << "decoded into the caller's buffer";
}

TEST(VideoSource, MissingFileNamesThePath) {
  TempDir tmp;
  std::string path = (tmp / "nope.avi").string();
  std::string msg = ErrorOf<InputError>([&] { VideoSource s(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
  // The sample video's name suggests the package that ships it.
  msg = ErrorOf<InputError>([&] { VideoSource s((tmp / "vtest.avi").string()); });
  EXPECT_NE(msg.find("opencv-doc"), std::string::npos) << msg;
}

TEST(VideoSource, EmptyGarbageAndDirectoryAreInputErrors) {
  TempDir tmp;
  testing::WriteText(tmp / "empty.avi", "");
  std::string msg = ErrorOf<InputError>([&] { VideoSource s((tmp / "empty.avi").string()); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;

  std::string junk;
  Rng rng(3);
  for (int i = 0; i < 20000; ++i) junk += static_cast<char>(rng.Index(256));
  testing::WriteText(tmp / "junk.avi", junk);
  msg = ErrorOf<InputError>([&] { VideoSource s((tmp / "junk.avi").string()); });
  EXPECT_NE(msg.find("junk.avi"), std::string::npos) << msg;
  EXPECT_NE(msg.find("codec"), std::string::npos) << msg;

  msg = ErrorOf<InputError>([&] { VideoSource s(tmp.path().string()); });
  EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}

TEST(VideoSource, TruncatedFileEndsEarly) {
  TempDir tmp;
  fs::path cut = tmp / "cut.avi";
  testing::WriteTruncatedCopy(Synthetic().path, cut, 0.5);
  {
    VideoSource src(cut.string());
    EXPECT_EQ(src.frame_count(), kFrames) << "the header still promises every frame";
    try {
      ReadAll(src);
      FAIL() << "expected VideoEndedEarlyError";
    } catch (const VideoEndedEarlyError& e) {
      EXPECT_EQ(e.expected_frames(), kFrames);
      EXPECT_GT(e.frames_read(), 0);
      EXPECT_LT(e.frames_read(), kFrames);
      std::string msg = e.what();
      EXPECT_NE(msg.find(cut.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find("ended early"), std::string::npos) << msg;
      EXPECT_NE(msg.find(fmt::format("got {}", e.frames_read())), std::string::npos) << msg;
    }
  }
  // Lenient: the frames that are there, then the end.
  VideoSourceOptions lenient;
  lenient.strict_count = false;
  VideoSource src(cut.string(), lenient);
  size_t got = ReadAll(src).size();
  EXPECT_GT(got, 0u);
  EXPECT_LT(got, static_cast<size_t>(kFrames));
  // An explicit end frame is a promise even when lenient.
  lenient.end_frame = kFrames;
  VideoSource ranged(cut.string(), lenient);
  EXPECT_THROW(ReadAll(ranged), VideoEndedEarlyError);
}

TEST(VideoSource, DamagedMiddleIsDetectedAsMissingFrames) {
  // FFmpeg skips what it cannot decode (and numbers later frames as if
  // nothing happened), so damage shows as a shortfall against the container's
  // frame count at the end of the stream.
  TempDir tmp;
  fs::path bad = tmp / "bad.avi";
  testing::WriteCorruptedCopy(Synthetic().path, bad, 0.40, 0.60);
  VideoSource src(bad.string());
  std::string msg = ErrorOf<VideoEndedEarlyError>([&] { ReadAll(src); });
  EXPECT_NE(msg.find(bad.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("damaged"), std::string::npos) << msg;
}

TEST(VideoSource, MissingCameraFailsFast) {
  double t0 = NowSeconds();
  std::string msg = ErrorOf<InputError>([] { VideoSource s("camera:97"); });
  EXPECT_LT(NowSeconds() - t0, 3.0);
  EXPECT_NE(msg.find("camera:97"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/dev/video97"), std::string::npos) << msg;
}

TEST(VideoSource, UnreachableStreamFailsWithinTheTimeout) {
  VideoSourceOptions o;
  o.open_timeout_ms = 2000;
  double t0 = NowSeconds();
  // Port 1 on loopback refuses the connection at once.
  std::string msg = ErrorOf<InputError>([&] { VideoSource s("rtsp://127.0.0.1:1/none", o); });
  EXPECT_LT(NowSeconds() - t0, 5.0);
  EXPECT_NE(msg.find("rtsp://127.0.0.1:1/none"), std::string::npos) << msg;
}

TEST(VideoSource, VtestSampleHas795FramesOf768x576) {
  std::string path = testing::VtestPath();
  if (path.empty()) GTEST_SKIP() << "opencv-doc's vtest.avi is not installed";
  VideoSource src(path);
  EXPECT_EQ(src.width(), 768);
  EXPECT_EQ(src.height(), 576);
  EXPECT_EQ(src.frame_count(), 795);
  EXPECT_DOUBLE_EQ(src.reported_fps(), 10);
  Frame f;
  int64_t n = 0;
  while (src.Read(&f)) ++n;
  EXPECT_EQ(n, 795);
}

// ---------------------------------------------------------------- preprocessing

// Straightforward per-pixel reference of the normalization, in double.
std::vector<float> ReferenceNormalize(const cv::Mat& sized, const PreprocessConfig& cfg) {
  std::vector<float> out(cfg.floats_per_frame());
  const size_t plane = static_cast<size_t>(cfg.width * cfg.height);
  for (int y = 0; y < sized.rows; ++y) {
    for (int x = 0; x < sized.cols; ++x) {
      cv::Vec3b px = sized.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) {
        int src_channel = cfg.to_rgb ? 2 - c : c;
        double v = (px[src_channel] / 255.0 - cfg.mean[static_cast<size_t>(c)]) /
                   cfg.stddev[static_cast<size_t>(c)];
        out[static_cast<size_t>(c) * plane + static_cast<size_t>(y * cfg.width + x)] =
            static_cast<float>(v);
      }
    }
  }
  return out;
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(VideoPreprocess, NormalizationMatchesReferenceWithoutResize) {
  Image im = RandomImage(37, 23, 5);
  for (bool rgb : {true, false}) {
    PreprocessConfig cfg;
    cfg.width = 37;
    cfg.height = 23;
    cfg.to_rgb = rgb;
    cfg.mean = {0.1f, 0.5f, 0.9f};
    cfg.stddev = {0.2f, 0.25f, 0.5f};
    std::vector<float> out(cfg.floats_per_frame());
    Preprocess(im, cfg, out.data());
    EXPECT_LT(MaxAbsDiff(out, ReferenceNormalize(AsMat(im), cfg)), 1e-5f) << "rgb=" << rgb;
  }
}

// Exact 2x2 means of `src` (even part), rounded like OpenCV's 8-bit resize.
cv::Mat HalveReference(const cv::Mat& src) {
  cv::Mat out(src.rows / 2, src.cols / 2, CV_8UC3);
  for (int y = 0; y < out.rows; ++y) {
    for (int x = 0; x < out.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        int sum = src.at<cv::Vec3b>(2 * y, 2 * x)[c] + src.at<cv::Vec3b>(2 * y, 2 * x + 1)[c] +
                  src.at<cv::Vec3b>(2 * y + 1, 2 * x)[c] +
                  src.at<cv::Vec3b>(2 * y + 1, 2 * x + 1)[c];
        out.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>((sum + 2) / 4);
      }
    }
  }
  return out;
}

TEST(VideoPreprocess, AreaAndPyramidHalvingAreBoxAverages) {
  // Halving averages 2x2 blocks: check against a plain loop. At most one
  // 8-bit rounding step apart.
  Image im = RandomImage(80, 60, 6);
  const float step = 1.0f / (255.0f * 0.224f);
  for (Interpolation interp : {Interpolation::kArea, Interpolation::kPyramid}) {
    PreprocessConfig cfg;
    cfg.width = 40;
    cfg.height = 30;
    cfg.interpolation = interp;
    std::vector<float> out(cfg.floats_per_frame());
    Preprocess(im, cfg, out.data());
    EXPECT_LE(MaxAbsDiff(out, ReferenceNormalize(HalveReference(AsMat(im)), cfg)), step * 1.01f)
        << InterpolationName(interp);
  }
}

TEST(VideoPreprocess, PyramidHalvesThenResizesBilinearly) {
  // 203x163 -> 45x35: two halvings (odd row/column dropped: 202x162 -> 101x81
  // -> 100x80 -> 50x40), then bilinear to 45x35.
  Image im = RandomImage(203, 163, 8);
  PreprocessConfig cfg;
  cfg.width = 45;
  cfg.height = 35;
  cfg.interpolation = Interpolation::kPyramid;
  std::vector<float> out(cfg.floats_per_frame());
  Preprocess(im, cfg, out.data());
  cv::Mat level1 = HalveReference(AsMat(im)(cv::Rect(0, 0, 202, 162)));
  cv::Mat level2 = HalveReference(level1(cv::Rect(0, 0, 100, 80)));
  ASSERT_EQ(level2.size(), cv::Size(50, 40));
  cv::Mat sized;
  cv::resize(level2, sized, cv::Size(45, 35), 0, 0, cv::INTER_LINEAR);
  // Rounding differences in the halvings can move a bilinear output by one step.
  const float step = 1.0f / (255.0f * 0.224f);
  EXPECT_LE(MaxAbsDiff(out, ReferenceNormalize(sized, cfg)), step * 1.01f);
}

TEST(VideoPreprocess, ResizedOutputMatchesOpenCvPlusReference) {
  Image im = RandomImage(768 / 4, 576 / 4, 7);
  for (Interpolation interp : {Interpolation::kPyramid, Interpolation::kArea,
                               Interpolation::kLinear, Interpolation::kNearest}) {
    PreprocessConfig cfg;
    cfg.width = 57;
    cfg.height = 31;
    cfg.interpolation = interp;
    std::vector<float> out(cfg.floats_per_frame());
    Preprocess(im, cfg, out.data());
    Image sized = ResizeImage(im, 57, 31, interp);
    EXPECT_LT(MaxAbsDiff(out, ReferenceNormalize(AsMat(sized), cfg)), 1e-5f)
        << InterpolationName(interp);
    std::vector<float> again(cfg.floats_per_frame());
    NormalizeToChw(sized, cfg, again.data());
    EXPECT_EQ(out, again);
  }
}

TEST(VideoPreprocess, BatchEqualsSingleFrames) {
  PreprocessConfig cfg;
  cfg.width = 64;
  cfg.height = 48;
  std::vector<Image> images;
  for (int i = 0; i < 6; ++i)
    images.push_back(RandomImage(100 + 13 * i, 80 + 7 * i, 100 + static_cast<uint64_t>(i)));
  std::vector<float> single(images.size() * cfg.floats_per_frame());
  for (size_t i = 0; i < images.size(); ++i)
    Preprocess(images[i], cfg, single.data() + i * cfg.floats_per_frame());
  int threads = GetVideoThreads();
  for (int t : {1, 2}) {
    SetVideoThreads(t);
    std::vector<float> batch(single.size(), -99.f);
    PreprocessBatch(images, cfg, batch.data());
    EXPECT_EQ(batch, single) << t << " threads";
  }
  SetVideoThreads(std::max(1, threads));
}

TEST(VideoPreprocess, ConfigValidatesAndRoundTripsJson) {
  PreprocessConfig cfg;
  cfg.width = 160;
  cfg.height = 120;
  cfg.to_rgb = false;
  cfg.interpolation = Interpolation::kLinear;
  cfg.mean = {0.5f, 0.25f, 0.125f};
  EXPECT_NO_THROW(cfg.Validate());
  Json j = cfg.ToJson();
  PreprocessConfig back = PreprocessConfig::FromJson(JsonView(j, "base.json", "$.preprocess"));
  EXPECT_EQ(back.ToJson(), j);
  EXPECT_EQ(back.ToString(), cfg.ToString());

  PreprocessConfig bad = cfg;
  bad.stddev[1] = 0;
  std::string msg = ErrorOf<InputError>([&] { bad.Validate(); });
  EXPECT_NE(msg.find("std[1]"), std::string::npos) << msg;
  bad = cfg;
  bad.width = 0;
  EXPECT_THROW(bad.Validate(), InputError);

  j["interpolation"] = "lanczos";
  msg = ErrorOf<InputError>(
      [&] { PreprocessConfig::FromJson(JsonView(j, "base.json", "$.preprocess")); });
  EXPECT_NE(msg.find("base.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lanczos"), std::string::npos) << msg;

  PreprocessConfig ok;
  ok.width = 8;
  ok.height = 8;
  std::vector<float> out(ok.floats_per_frame());
  EXPECT_THROW(Preprocess(Image(), ok, out.data()), InputError);
  EXPECT_THROW(NormalizeToChw(RandomImage(9, 8, 1), ok, out.data()), InputError);
}

// ---------------------------------------------------------------- augmentation

TEST(VideoAugment, SameSeedSameImageDifferentSeedDifferentImage) {
  Image im = RandomImage(64, 48, 9);
  AugmentConfig cfg;
  cfg.hflip = true;
  Image a = Augment(im, cfg, 42);
  Image b = Augment(im, cfg, 42);
  Image c = Augment(im, cfg, 43);
  EXPECT_EQ(a.bgr, b.bgr);
  EXPECT_NE(a.bgr, c.bgr);
  EXPECT_EQ(a.width, 64);
  EXPECT_EQ(a.height, 48);
}

TEST(VideoAugment, ParametersStayInRange) {
  AugmentConfig cfg;  // defaults: no flip
  int flips = 0;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    AugmentParams p = SampleAugment(cfg, 100, 50, seed);
    EXPECT_GE(p.zoom, 1.0);
    EXPECT_LE(p.zoom, 1.0 / cfg.min_crop + 1e-9);
    EXPECT_LE(std::abs(p.dx), 5.0 + 1e-9);
    EXPECT_LE(std::abs(p.dy), 2.5 + 1e-9);
    EXPECT_LE(std::abs(p.brightness), 25.5 + 1e-9);
    EXPECT_LE(std::abs(p.contrast - 1), 0.1 + 1e-9);
    flips += p.flip;
  }
  EXPECT_EQ(flips, 0);
  cfg.hflip = true;
  for (uint64_t seed = 0; seed < 500; ++seed) flips += SampleAugment(cfg, 100, 50, seed).flip;
  EXPECT_GT(flips, 200);
  EXPECT_LT(flips, 300);
  EXPECT_TRUE(SampleAugment(AugmentConfig::None(), 100, 50, 1).identity());
}

TEST(VideoAugment, KnownTransforms) {
  Image im = RandomImage(32, 16, 10);
  EXPECT_EQ(Augment(im, AugmentConfig::None(), 5).bgr, im.bgr);
  AugmentParams flip;
  flip.flip = true;
  Image f = ApplyAugment(im, flip);
  for (int x = 0; x < 32; ++x) EXPECT_EQ(f.pixel(x, 3)[1], im.pixel(31 - x, 3)[1]);
  // An integer shift moves pixels by that many columns.
  AugmentParams shift;
  shift.dx = 3;
  Image s = ApplyAugment(im, shift);
  for (int x = 3; x < 32; ++x) EXPECT_EQ(s.pixel(x, 5)[2], im.pixel(x - 3, 5)[2]);
  // Brightness adds (saturating).
  AugmentParams bright;
  bright.brightness = 10;
  Image br = ApplyAugment(im, bright);
  for (size_t i = 0; i < im.bgr.size(); ++i) ASSERT_EQ(br.bgr[i], std::min(255, im.bgr[i] + 10));
  AugmentConfig bad;
  bad.min_crop = 0.2;
  EXPECT_THROW(bad.Validate(), InputError);
}

// ---------------------------------------------------------------- frame cache

TEST(VideoFrameCache, DecodesARangeOnceAndNormalizesLikePreprocess) {
  VideoSourceOptions o;
  o.start_frame = 5;
  o.end_frame = 45;
  VideoSource src(Path(), o);
  PreprocessConfig cfg;
  cfg.width = 80;
  cfg.height = 60;
  FrameCacheOptions copts;
  copts.stride = 2;
  FrameCache cache = FrameCache::Decode(src, cfg, copts);
  ASSERT_EQ(cache.size(), 20u);
  EXPECT_EQ(cache.bytes(), 20u * 80 * 60 * 3);
  EXPECT_EQ(cache.frame_index(0), 5);
  EXPECT_EQ(cache.frame_index(19), 43);
  EXPECT_EQ(cache.Find(7), 1);
  EXPECT_EQ(cache.Find(8), -1);
  EXPECT_DOUBLE_EQ(cache.timestamp_s(1), 0.7);

  // Entry i normalizes exactly like preprocessing the decoded frame.
  VideoSourceOptions one;
  one.start_frame = 25;
  one.end_frame = 26;
  VideoSource again(Path(), one);
  Frame f;
  ASSERT_TRUE(again.Read(&f));
  std::vector<float> direct(cfg.floats_per_frame()), cached(cfg.floats_per_frame());
  Preprocess(f.image, cfg, direct.data());
  cache.Normalized(static_cast<size_t>(cache.Find(25)), cfg, cached.data());
  EXPECT_EQ(direct, cached);

  // Batch equals singles; augmentation is deterministic.
  std::vector<size_t> entries = {3, 0, 19, 7};
  std::vector<float> batch(entries.size() * cfg.floats_per_frame());
  cache.NormalizedBatch(entries, cfg, batch.data());
  for (size_t k = 0; k < entries.size(); ++k) {
    cache.Normalized(entries[k], cfg, cached.data());
    EXPECT_TRUE(std::equal(cached.begin(), cached.end(),
                           batch.begin() + static_cast<long>(k * cached.size())));
  }
  AugmentConfig aug;
  std::vector<float> a1(cfg.floats_per_frame()), a2(cfg.floats_per_frame());
  cache.Normalized(4, cfg, aug, 99, a1.data());
  cache.Normalized(4, cfg, aug, 99, a2.data());
  EXPECT_EQ(a1, a2);
  cache.Normalized(4, cfg, cached.data());
  EXPECT_NE(a1, cached);

  PreprocessConfig other = cfg;
  other.width = 81;
  EXPECT_THROW(cache.Normalized(0, other, cached.data()), InputError);
  EXPECT_THROW(cache.frame_index(20), InputError);
}

TEST(VideoFrameCache, RefusesMoreThanTheMemoryLimit) {
  VideoSource src(Path());
  FrameCacheOptions o;
  o.max_bytes = 1000;
  std::string msg =
      ErrorOf<InputError>([&] { FrameCache::Decode(src, 160, 120, Interpolation::kArea, o); });
  EXPECT_NE(msg.find("stride"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- decode cost

TEST(VideoDecodeCost, SummaryStatistics) {
  TimingStats s = SummarizeMs({5, 1, 4, 2, 3});
  EXPECT_DOUBLE_EQ(s.mean_ms, 3);
  EXPECT_DOUBLE_EQ(s.p50_ms, 3);
  EXPECT_DOUBLE_EQ(s.p95_ms, 4.8);
  EXPECT_DOUBLE_EQ(SummarizeMs({}).p95_ms, 0);
}

TEST(VideoDecodeCost, MeasuresDecodeAndPreprocessPerFrame) {
  PreprocessConfig cfg;
  cfg.width = 64;
  cfg.height = 48;
  DecodeCost c = MeasureDecodeCost(Path(), cfg, 20, 2);
  EXPECT_EQ(c.frames, 20);
  EXPECT_EQ(c.warmup, 2);
  EXPECT_EQ(c.source_width, 160);
  EXPECT_GT(c.decode.mean_ms, 0);
  EXPECT_GT(c.preprocess_ms.mean_ms, 0);
  EXPECT_LE(c.total.p50_ms, c.total.p95_ms);
  EXPECT_NEAR(c.total.mean_ms, c.decode.mean_ms + c.preprocess_ms.mean_ms, 1e-9);
  EXPECT_EQ(c.ToJson()["input"], "video:" + Path());

  // A short range measures what it has.
  VideoSourceOptions o;
  o.end_frame = 4;
  DecodeCost shortc = MeasureDecodeCost(Path(), cfg, 100, 3, o);
  EXPECT_EQ(shortc.frames + shortc.warmup, 4);

  DecodeCost size_only = MeasurePreprocessCost(320, 240, cfg, 10, 1);
  EXPECT_EQ(size_only.input, "size:320x240");
  EXPECT_EQ(size_only.decode.mean_ms, 0);
  EXPECT_GT(size_only.preprocess_ms.mean_ms, 0);
}

// ---------------------------------------------------------------- fixture

TEST(VideoFixture, GroundTruthIsDeterministicAndWritesLabels) {
  SyntheticVideoSpec spec;
  spec.frames = 200;
  SyntheticVideo a = testing::PlanSyntheticVideo(spec), b = testing::PlanSyntheticVideo(spec);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_GE(a.events.size(), 8u);
  EXPECT_EQ(a.labels[0], 0);
  for (auto [s, e] : a.events) {
    EXPECT_GE(e - s, 1);
    for (int i = s; i < e; ++i) EXPECT_EQ(a.labels[static_cast<size_t>(i)], 1);
  }
  EXPECT_GT(a.positives(), 40);
  EXPECT_LT(a.positives(), 160);
  TempDir tmp;
  testing::WriteLabelsCsv(a, tmp / "labels.csv");
  std::string csv = testing::ReadText(tmp / "labels.csv");
  EXPECT_EQ(csv.substr(0, 16), "frame,label\n1,0\n");
}

}  // namespace
}  // namespace mainstream

#endif  // __has_include(<opencv2/videoio.hpp>)
