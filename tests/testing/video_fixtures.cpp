// Built only where the video module is (OpenCV available).
#if __has_include(<opencv2/videoio.hpp>)

#include "testing/video_fixtures.h"

#include <algorithm>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <stdexcept>

#include "mainstream/core/random.h"
#include "mainstream/video/cv_image.h"

namespace fs = std::filesystem;

namespace mainstream::testing {
namespace {

constexpr int kCodeRows = 8;  // the frame-code strip: one 8x8 block per bit, LSB first
constexpr int kBlock = 8;

int RandomIn(Rng& rng, int lo, int hi) {
  return lo + static_cast<int>(rng.Index(static_cast<uint64_t>(hi - lo + 1)));
}

// The static scene a fixed camera sees: a gradient, a few dark "buildings"
// and fixed texture noise, identical in every frame.
cv::Mat RenderScene(const SyntheticVideoSpec& spec) {
  cv::Mat scene(spec.height, spec.width, CV_8UC3);
  Rng rng(SubSeed(spec.seed, 1000));
  for (int y = 0; y < spec.height; ++y) {
    for (int x = 0; x < spec.width; ++x) {
      auto* p = scene.ptr<cv::Vec3b>(y) + x;
      int base = 50 + 40 * y / std::max(1, spec.height - 1);
      (*p)[0] = static_cast<uint8_t>(base + 10 + static_cast<int>(rng.Index(9)));
      (*p)[1] = static_cast<uint8_t>(base + static_cast<int>(rng.Index(9)));
      (*p)[2] = static_cast<uint8_t>(base - 10 + static_cast<int>(rng.Index(9)));
    }
  }
  for (int k = 0; k < 3; ++k) {
    int w = spec.width / 8 + static_cast<int>(rng.Index(static_cast<uint64_t>(spec.width / 6 + 1)));
    int h =
        spec.height / 4 + static_cast<int>(rng.Index(static_cast<uint64_t>(spec.height / 4 + 1)));
    int x = static_cast<int>(rng.Index(static_cast<uint64_t>(std::max(1, spec.width - w))));
    cv::rectangle(scene, cv::Rect(x, 0, w, h), cv::Scalar(30 + 10 * k, 35, 40 + 5 * k), cv::FILLED);
  }
  return scene;
}

}  // namespace

int SyntheticVideo::positives() const {
  int n = 0;
  for (int l : labels) n += l;
  return n;
}

SyntheticVideo PlanSyntheticVideo(const SyntheticVideoSpec& spec) {
  if (spec.width < 16 || spec.height < 16 + kCodeRows || spec.frames < 1 || spec.square < 2 ||
      spec.square > std::min(spec.width, spec.height - kCodeRows) || spec.min_event < 1 ||
      spec.max_event < spec.min_event || spec.min_gap < 1 || spec.max_gap < spec.min_gap ||
      !(spec.fps > 0)) {
    throw std::invalid_argument("PlanSyntheticVideo: bad spec");
  }
  SyntheticVideo v;
  v.spec = spec;
  v.labels.assign(static_cast<size_t>(spec.frames), 0);
  v.boxes.assign(static_cast<size_t>(spec.frames), SquareBox{});
  Rng rng(spec.seed);
  const int max_x = spec.width - spec.square;
  const int max_y = spec.height - kCodeRows - spec.square;
  int t = RandomIn(rng, spec.min_gap, spec.max_gap);
  while (t < spec.frames) {
    int len = std::min(RandomIn(rng, spec.min_event, spec.max_event), spec.frames - t);
    // Enters at a random point and moves at a constant velocity, bouncing off the edges.
    int x = RandomIn(rng, 0, max_x), y = RandomIn(rng, 0, max_y);
    int vx = RandomIn(rng, 1, 4) * (rng.Bernoulli(0.5) ? 1 : -1);
    int vy = RandomIn(rng, -2, 2);
    for (int i = t; i < t + len; ++i) {
      v.labels[static_cast<size_t>(i)] = 1;
      v.boxes[static_cast<size_t>(i)] = SquareBox{x, y, spec.square};
      x += vx;
      y += vy;
      if (x < 0 || x > max_x) {
        vx = -vx;
        x = std::clamp(x, 0, max_x);
      }
      if (y < 0 || y > max_y) {
        vy = -vy;
        y = std::clamp(y, 0, max_y);
      }
    }
    v.events.emplace_back(t, t + len);
    t += len + RandomIn(rng, spec.min_gap, spec.max_gap);
  }
  return v;
}

Image RenderSyntheticFrame(const SyntheticVideo& plan, int index) {
  const SyntheticVideoSpec& spec = plan.spec;
  thread_local cv::Mat scene;
  thread_local SyntheticVideoSpec scene_spec;
  thread_local bool have_scene = false;
  if (!have_scene || scene_spec.width != spec.width || scene_spec.height != spec.height ||
      scene_spec.seed != spec.seed) {
    scene = RenderScene(spec);
    scene_spec = spec;
    have_scene = true;
  }
  cv::Mat frame = scene.clone();
  // Mild sensor noise, different in every frame.
  cv::Mat noise(frame.size(), CV_8UC3);
  cv::RNG noise_rng(SubSeed(spec.seed, static_cast<uint64_t>(index) + 1));
  noise_rng.fill(noise, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(5));
  frame += noise;
  const SquareBox& b = plan.boxes[static_cast<size_t>(index)];
  if (b.size > 0) {
    cv::rectangle(frame, cv::Rect(b.x, b.y, b.size, b.size), cv::Scalar(235, 245, 250), cv::FILLED);
  }
  if (spec.frame_code) {
    const int y0 = spec.height - kCodeRows;
    cv::rectangle(frame, cv::Rect(0, y0, spec.width, kCodeRows), cv::Scalar::all(0), cv::FILLED);
    for (int bit = 0; bit < spec.width / kBlock; ++bit) {
      if ((index >> bit) & 1) {
        cv::rectangle(frame, cv::Rect(bit * kBlock, y0, kBlock, kCodeRows), cv::Scalar::all(255),
                      cv::FILLED);
      }
    }
  }
  return MatToImage(frame);
}

SyntheticVideo WriteSyntheticVideo(const fs::path& file, const SyntheticVideoSpec& spec) {
  SyntheticVideo v = PlanSyntheticVideo(spec);
  if (!file.parent_path().empty()) fs::create_directories(file.parent_path());
  const int fourcc = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  const cv::Size size(spec.width, spec.height);
  cv::VideoWriter writer;
  // FFmpeg's MJPEG encoder; OpenCV's built-in writer (always present) as a
  // fallback. The built-in one occasionally writes a block FFmpeg's decoder
  // reports as damaged ("error dc"), so it comes second.
  if (!writer.open(file.string(), cv::CAP_FFMPEG, fourcc, spec.fps, size)) {
    writer.open(file.string(), cv::CAP_OPENCV_MJPEG, fourcc, spec.fps, size,
                {cv::VIDEOWRITER_PROP_QUALITY, 95});
  }
  if (!writer.isOpened()) throw std::runtime_error("cannot write synthetic video " + file.string());
  for (int i = 0; i < spec.frames; ++i) {
    Image im = RenderSyntheticFrame(v, i);
    writer.write(AsMat(im));
  }
  writer.release();
  v.path = file;
  return v;
}

SyntheticVideoSpec TrainingVideoSpec(int frames, uint64_t seed) {
  SyntheticVideoSpec s;
  s.width = 96;
  s.height = 72;
  s.frames = frames;
  s.square = 20;
  s.min_event = 5;
  s.max_event = 12;
  s.min_gap = 4;
  s.max_gap = 10;
  s.frame_code = false;
  s.seed = seed;
  return s;
}

void WriteMotBoxes(const SyntheticVideo& video, const std::filesystem::path& file) {
  if (!file.parent_path().empty()) fs::create_directories(file.parent_path());
  std::ofstream out(file);
  for (size_t i = 0; i < video.boxes.size(); ++i) {
    const SquareBox& b = video.boxes[i];
    if (b.size > 0)
      out << (i + 1) << ",1," << b.x << ',' << b.y << ',' << b.size << ',' << b.size
          << ",1,-1,-1,-1\n";
  }
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void WriteLabelsCsv(const SyntheticVideo& video, const fs::path& file) {
  if (!file.parent_path().empty()) fs::create_directories(file.parent_path());
  std::ofstream out(file);
  out << "frame,label\n";
  for (size_t i = 0; i < video.labels.size(); ++i) out << (i + 1) << ',' << video.labels[i] << '\n';
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

int ReadFrameCode(const Image& image) {
  if (image.empty() || image.height < kCodeRows) return -1;
  const int y = image.height - kCodeRows / 2;
  int value = 0;
  const int bits = std::min(image.width / kBlock, 30);
  for (int bit = 0; bit < bits; ++bit) {
    const uint8_t* p = image.pixel(bit * kBlock + kBlock / 2, y);
    int v = (p[0] + p[1] + p[2]) / 3;
    if (v > 170) {
      value |= 1 << bit;
    } else if (v > 85) {
      return -1;  // neither black nor white
    }
  }
  return value;
}

double MeanBrightness(const Image& image, const SquareBox& box) {
  if (box.size <= 0) return 0;
  cv::Rect r(box.x, box.y, box.size, box.size);
  r &= cv::Rect(0, 0, image.width, image.height);
  // Skip a 2-pixel border: JPEG blurs the edges.
  r.x += 2;
  r.y += 2;
  r.width -= 4;
  r.height -= 4;
  if (r.width <= 0 || r.height <= 0) return 0;
  cv::Scalar m = cv::mean(AsMat(image)(r));
  return (m[0] + m[1] + m[2]) / 3.0;
}

void WriteTruncatedCopy(const fs::path& src, const fs::path& dst, double fraction) {
  fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
  auto size = fs::file_size(src);
  fs::resize_file(dst, static_cast<uintmax_t>(static_cast<double>(size) * fraction));
}

void WriteCorruptedCopy(const fs::path& src, const fs::path& dst, double begin_fraction,
                        double end_fraction, uint64_t seed) {
  fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
  const double size = static_cast<double>(fs::file_size(src));
  const auto begin = static_cast<std::streamoff>(size * begin_fraction);
  const auto end = static_cast<std::streamoff>(size * end_fraction);
  std::fstream f(dst, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(begin);
  Rng rng(seed);
  for (std::streamoff i = begin; i < end; ++i) f.put(static_cast<char>(rng.Index(256)));
  if (!f) throw std::runtime_error("cannot corrupt " + dst.string());
}

std::string VtestPath() {
  const char* path = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
  std::error_code ec;
  return fs::exists(path, ec) ? path : "";
}

}  // namespace mainstream::testing

#endif  // __has_include(<opencv2/videoio.hpp>)
