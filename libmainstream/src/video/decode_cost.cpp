#include "mainstream/video/decode_cost.h"

#include <time.h>

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"

namespace mainstream {
namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

Json StatsJson(const TimingStats& s) {
  return Json{{"mean_ms", s.mean_ms}, {"p50_ms", s.p50_ms}, {"p95_ms", s.p95_ms}};
}

// Per-frame samples of one measurement, warmup included.
struct Samples {
  std::vector<double> decode_ms, preprocess_ms, cpu_s;  // cpu_s: process CPU time after each frame
  double cpu_start_s = 0;

  void Finish(int warmup_wanted, DecodeCost* cost) {
    const size_t n = decode_ms.size();
    const size_t warm = std::min(static_cast<size_t>(std::max(0, warmup_wanted)), n - 1);
    std::vector<double> dec(decode_ms.begin() + static_cast<long>(warm), decode_ms.end());
    std::vector<double> pre(preprocess_ms.begin() + static_cast<long>(warm), preprocess_ms.end());
    std::vector<double> tot(dec.size());
    for (size_t i = 0; i < dec.size(); ++i) tot[i] = dec[i] + pre[i];
    cost->warmup = static_cast<int>(warm);
    cost->frames = static_cast<int>(n - warm);
    cost->decode = SummarizeMs(dec);
    cost->preprocess_ms = SummarizeMs(pre);
    cost->total = SummarizeMs(tot);
    double cpu_before = warm == 0 ? cpu_start_s : cpu_s[warm - 1];
    cost->cpu_ms_per_frame = 1000.0 * (cpu_s.back() - cpu_before) / static_cast<double>(n - warm);
    cost->threads = GetVideoThreads();
  }
};

}  // namespace

TimingStats SummarizeMs(std::vector<double> samples_ms) {
  TimingStats s;
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  double sum = 0;
  for (double x : samples_ms) sum += x;
  s.mean_ms = sum / static_cast<double>(samples_ms.size());
  s.p50_ms = Percentile(samples_ms, 0.50);
  s.p95_ms = Percentile(samples_ms, 0.95);
  return s;
}

Json DecodeCost::ToJson() const {
  return Json{{"input", input},
              {"source_width", source_width},
              {"source_height", source_height},
              {"preprocess", preprocess},
              {"frames", frames},
              {"warmup", warmup},
              {"threads", threads},
              {"decode", StatsJson(decode)},
              {"preprocess_ms", StatsJson(preprocess_ms)},
              {"total", StatsJson(total)},
              {"cpu_ms_per_frame", cpu_ms_per_frame}};
}

std::string DecodeCost::ToString() const {
  return fmt::format(
      "{} ({}x{}) -> {}: decode {:.3f} ms (p95 {:.3f}) + preprocess {:.3f} ms (p95 {:.3f}) = "
      "{:.3f} ms/frame (p50 {:.3f}, p95 {:.3f}; {:.3f} CPU ms) over {} frames, {} thread(s)",
      input, source_width, source_height, preprocess, decode.mean_ms, decode.p95_ms,
      preprocess_ms.mean_ms, preprocess_ms.p95_ms, total.mean_ms, total.p50_ms, total.p95_ms,
      cpu_ms_per_frame, frames, threads);
}

DecodeCost MeasureDecodeCost(VideoSource& source, const PreprocessConfig& cfg, int frames,
                             int warmup) {
  cfg.Validate();
  MS_CHECK(frames >= 1, "decode cost: frames to measure must be >= 1, got {}", frames);
  MS_CHECK(warmup >= 0, "decode cost: warmup frames must be >= 0, got {}", warmup);
  DecodeCost cost;
  cost.input = "video:" + source.input();
  cost.source_width = source.width();
  cost.source_height = source.height();
  cost.preprocess = cfg.ToString();
  // The first frame of a fresh source was decoded when it was opened: its
  // Read costs nothing, so it always counts as warmup.
  if (source.frames_read() == 0) warmup = std::max(warmup, 1);
  std::vector<float> out(cfg.floats_per_frame());
  Frame frame;
  Samples s;
  s.cpu_start_s = ProcessCpuSeconds();
  for (int i = 0; i < frames + warmup; ++i) {
    double t0 = NowSeconds();
    if (!source.Read(&frame)) break;
    double t1 = NowSeconds();
    Preprocess(frame.image, cfg, out.data());
    double t2 = NowSeconds();
    s.decode_ms.push_back(1000 * (t1 - t0));
    s.preprocess_ms.push_back(1000 * (t2 - t1));
    s.cpu_s.push_back(ProcessCpuSeconds());
  }
  MS_CHECK(!s.decode_ms.empty(), "decode cost: {} has no frames left to measure", source.input());
  s.Finish(warmup, &cost);
  LogDebug("decode cost: {}", cost.ToString());
  return cost;
}

DecodeCost MeasureDecodeCost(const std::string& input, const PreprocessConfig& cfg, int frames,
                             int warmup, const VideoSourceOptions& options) {
  // Measuring is not validating: a file shorter than its container claims is
  // measured on the frames it has.
  VideoSourceOptions opts = options;
  opts.strict_count = false;
  VideoSource source(input, opts);
  return MeasureDecodeCost(source, cfg, frames, warmup);
}

DecodeCost MeasurePreprocessCost(int width, int height, const PreprocessConfig& cfg, int frames,
                                 int warmup, uint64_t seed) {
  cfg.Validate();
  MS_CHECK(width >= 1 && height >= 1, "preprocess cost: source size must be positive, got {}x{}",
           width, height);
  MS_CHECK(frames >= 1, "preprocess cost: frames to measure must be >= 1, got {}", frames);
  MS_CHECK(warmup >= 0, "preprocess cost: warmup frames must be >= 0, got {}", warmup);
  // Smooth content with some noise: resizing cost does not depend on it much,
  // but a constant image could hit fast paths real frames do not.
  Image image(width, height);
  Rng rng(seed);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.pixel(x, y);
      for (int c = 0; c < 3; ++c) {
        int v = (x * (c + 1) + y * (3 - c)) % 256 + static_cast<int>(rng.Index(32));
        p[c] = static_cast<uint8_t>(std::min(v, 255));
      }
    }
  }
  DecodeCost cost;
  cost.input = fmt::format("size:{}x{}", width, height);
  cost.source_width = width;
  cost.source_height = height;
  cost.preprocess = cfg.ToString();
  std::vector<float> out(cfg.floats_per_frame());
  Samples s;
  s.cpu_start_s = ProcessCpuSeconds();
  for (int i = 0; i < frames + warmup; ++i) {
    double t0 = NowSeconds();
    Preprocess(image, cfg, out.data());
    double t1 = NowSeconds();
    s.decode_ms.push_back(0);
    s.preprocess_ms.push_back(1000 * (t1 - t0));
    s.cpu_s.push_back(ProcessCpuSeconds());
  }
  s.Finish(warmup, &cost);
  return cost;
}

}  // namespace mainstream
