#include "mainstream/model/profiler.h"

#include <torch/script.h>

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <optional>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/rss.h"
#include "mainstream/model/base_model.h"
#include "mainstream/model/machine.h"
#include "mainstream/model/segment.h"
#include "mainstream/model/suffix.h"
#include "mainstream/profile/cache_probe.h"
#include "mainstream/video/decode_cost.h"
#include "mainstream/video/image.h"
#include "mainstream/video/preprocess.h"
#include "mainstream/video/video_source.h"
#include "torch_util.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

constexpr int kDefaultWidth = 640;
constexpr int kDefaultHeight = 480;

// A short synthetic clip of `width` x `height` (a moving bright block over a
// textured background) so that decoding is measured even without a video.
fs::path WriteSyntheticVideo(const fs::path& dir, int width, int height, int frames,
                             std::string* codec) {
  struct Option {
    const char* fourcc;
    const char* file;
  };
  for (const Option& o : {Option{"mp4v", "synthetic.mp4"}, Option{"MJPG", "synthetic.avi"}}) {
    fs::path path = dir / o.file;
    cv::VideoWriter writer(
        path.string(), cv::VideoWriter::fourcc(o.fourcc[0], o.fourcc[1], o.fourcc[2], o.fourcc[3]),
        25, cv::Size(width, height));
    if (!writer.isOpened()) continue;
    cv::Mat background(height, width, CV_8UC3);
    cv::RNG rng(12345);
    rng.fill(background, cv::RNG::UNIFORM, 0, 255);
    cv::GaussianBlur(background, background, cv::Size(0, 0), 3);
    for (int i = 0; i < frames; ++i) {
      cv::Mat frame = background.clone();
      const int w = std::max(4, width / 6), h = std::max(4, height / 4);
      const int x = (i * 7) % std::max(1, width - w), y = (i * 3) % std::max(1, height - h);
      cv::rectangle(frame, cv::Rect(x, y, w, h), cv::Scalar(40, 200, 240), cv::FILLED);
      writer.write(frame);
    }
    writer.release();
    *codec = o.fourcc;
    return path;
  }
  ThrowRuntime(
      "cannot write a synthetic {}x{} video with OpenCV (neither mp4v nor MJPG is available)",
      width, height);
}

// Temporary directory removed on scope exit.
struct TempDir {
  fs::path path;
  TempDir() : path(StagingPath(fs::temp_directory_path() / "msprofile")) {
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void CheckFinite(const at::Tensor& t, const BaseModel& base, const std::string& what) {
  if (!detail::AllFinite(t)) {
    ThrowInput("{}: {} outputs NaN or Inf on a dummy batch: the weights are broken or diverged",
               base.origin(), what);
  }
}

}  // namespace

void ProfileConfig::Validate() const {
  MS_CHECK(!base_dir.empty(), "--base: a base directory is required");
  MS_CHECK(threads >= 1 && threads <= 1024, "--threads: expected 1..1024, got {}", threads);
  MS_CHECK(batch >= 1 && batch <= 1024, "--batch: expected 1..1024, got {}", batch);
  MS_CHECK(warmup >= 0 && warmup <= 100000, "--warmup: expected >= 0, got {}", warmup);
  MS_CHECK(repeats >= 1 && repeats <= 1000000, "--repeats: expected >= 1, got {}", repeats);
  MS_CHECK(cold_repeats >= 1 && cold_repeats <= 100000,
           "--cold-repeats: expected 1..100000, got {}", cold_repeats);
  MS_CHECK(cold_copies >= 2 && cold_copies <= 4096, "--cold-copies: expected 2..4096, got {}",
           cold_copies);
  MS_CHECK(cold_bytes >= (1 << 20) && cold_bytes <= 8192.0 * (1 << 20),
           "--cold-mb: expected 1..8192 MiB (a buffer of that size is read), got {}",
           cold_bytes / (1 << 20));
  MS_CHECK(probe_bytes >= (1 << 20) && probe_bytes <= 1e11,
           "probe bytes: expected 1..100000 MiB, got {} bytes", probe_bytes);
  MS_CHECK(decode_frames >= 1, "decode frames: expected >= 1, got {}", decode_frames);
  MS_CHECK(input_video.empty() || (width == 0 && height == 0),
           "--input and --size are mutually exclusive");
  MS_CHECK((width == 0 && height == 0) ||
               (width >= 16 && height >= 16 && width <= 8192 && height <= 8192),
           "--size: expected WxH within 16..8192, got {}x{}", width, height);
}

Json ProfileConfig::ToJson() const {
  return Json{{"base", base_dir.string()},
              {"threads", threads},
              {"batch", batch},
              {"warmup", warmup},
              {"repeats", repeats},
              {"input_video", input_video},
              {"width", width},
              {"height", height},
              {"decode_frames", decode_frames},
              {"cold", cold},
              {"cold_repeats", cold_repeats},
              {"cold_copies", cold_copies},
              {"cold_bytes", cold_bytes},
              {"probe_bytes", probe_bytes},
              {"seed", seed}};
}

std::string ProfileConfig::ToString() const {
  return fmt::format("base {}, {} thread(s), batch {}, warmup {}, repeats {}, input {}",
                     base_dir.string(), threads, batch, warmup, repeats,
                     input_video.empty() ? fmt::format("size:{}x{}", width ? width : kDefaultWidth,
                                                       height ? height : kDefaultHeight)
                                         : "video:" + input_video);
}

void ParseSize(const std::string& text, const std::string& flag, int* width, int* height) {
  auto x = text.find_first_of("xX");
  try {
    size_t a = 0, b = 0;
    if (x == std::string::npos) throw std::invalid_argument("no x");
    *width = std::stoi(text.substr(0, x), &a);
    *height = std::stoi(text.substr(x + 1), &b);
    if (a != x || b != text.size() - x - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    ThrowInput("{}: expected WIDTHxHEIGHT such as 640x480, got \"{}\"", flag, text);
  }
}

namespace {

// The frames msprofile's passes run the chain on: the input video's (or a
// synthetic clip's), decoded and preprocessed one batch per pass as msrun
// does at one thread, so that decoding, preprocessing and every stage are
// timed amid each other's traffic through the caches, as they run.
class FrameFeed {
 public:
  FrameFeed(std::string path, const PreprocessConfig& pre, const at::Tensor& like)
      : path_(std::move(path)), pre_(pre), shape_(like.sizes().vec()) {
    opts_.strict_count = false;
    const auto floats = static_cast<int64_t>(pre_.floats_per_frame());
    MS_CHECK_RT(like.numel() == floats * shape_[0],
                "msprofile: the base's input holds {} floats per frame, preprocessing gives {}",
                like.numel() / shape_[0], floats);
    buffer_.resize(static_cast<size_t>(like.numel()));
    source_.emplace(path_, opts_);
    // A fresh source decoded its first frame when it opened: read it untimed.
    if (!source_->Read(&frame_)) ThrowInput("{}: no decodable frame", path_);
  }

  // Decodes and preprocesses the next batch; the decode and preprocess time
  // per frame (ms) in *decode_ms and *pre_ms. At the end of the input it
  // starts over (a fresh source's first frame is decoded when it opens, so
  // that one is read untimed).
  at::Tensor Next(double* decode_ms, double* pre_ms) {
    const size_t floats = pre_.floats_per_frame();
    const int64_t batch = shape_[0];
    double decode = 0, pre = 0;
    for (int64_t i = 0; i < batch; ++i) {
      double t0 = NowSeconds();
      if (!source_->Read(&frame_)) {
        source_.emplace(path_, opts_);
        const bool first = source_->Read(&frame_);
        t0 = NowSeconds();
        if (!first || !source_->Read(&frame_)) {
          ThrowInput("{}: msprofile needs at least 2 decodable frames", path_);
        }
      }
      const double t1 = NowSeconds();
      Preprocess(frame_.image, pre_, buffer_.data() + static_cast<size_t>(i) * floats);
      const double t2 = NowSeconds();
      decode += t1 - t0;
      pre += t2 - t1;
    }
    *decode_ms = decode * 1e3 / static_cast<double>(batch);
    *pre_ms = pre * 1e3 / static_cast<double>(batch);
    return torch::from_blob(buffer_.data(), shape_);
  }

 private:
  std::string path_;
  PreprocessConfig pre_;
  std::vector<int64_t> shape_;
  VideoSourceOptions opts_;
  std::optional<VideoSource> source_;
  std::vector<float> buffer_;
  Frame frame_;
};

// Wall-clock samples (ms per frame) of every segment msprofile times.
struct Timings {
  std::vector<std::vector<double>> in_run;      // per stage, on a fresh frame after decoding it
  std::vector<double> decode, preprocess;       // per frame, between those passes
  std::vector<std::vector<double>> chained;     // per stage, on a fixed input (the reference)
  std::vector<std::vector<double>> standalone;  // per stage, dense in and out
  std::vector<double> whole;
  std::vector<double> app_head;  // an app's own last stage, after the chain's stage n-2
};

// Times the segments in execution order, as a chain of segments runs. Each
// repeat (with a feed) first decodes and preprocesses the next frame and
// runs the stages on it one after another, each reading its predecessor's
// fresh output in oneDNN's layout (ForwardKeepLayout), as msrun runs a frame:
// the figures the cost model charges. Then the reference passes: the same
// chain on a fixed input (what msrun's speed probe repeats), converting to
// dense at every boundary, the whole model. Interleaving them spreads load
// from other processes over all of them alike, and leaves the DNN's traffic
// of a few models between two decodes, as a tree of several apps does.
Timings TimeSegments(const std::vector<Segment>& stages, const Segment& whole, const at::Tensor& x,
                     const ProfileConfig& config, FrameFeed* feed, Progress* progress,
                     long progress_base, const Segment* app_head = nullptr) {
  const size_t n = stages.size();
  Timings t;
  t.in_run.resize(feed ? n : 0);
  t.chained.resize(n);
  t.standalone.resize(n);
  auto timed = [&](std::vector<double>* out, auto&& call) {
    double t0 = NowSeconds();
    at::Tensor y = call();
    if (out) out->push_back((NowSeconds() - t0) * 1e3 / config.batch);
    return y;
  };
  auto pass = [&](bool record) {
    at::Tensor h;
    if (feed) {
      double decode_ms = 0, pre_ms = 0;
      h = feed->Next(&decode_ms, &pre_ms);
      if (record) {
        t.decode.push_back(decode_ms);
        t.preprocess.push_back(pre_ms);
      }
      at::Tensor before_last = h;
      for (size_t k = 0; k < n; ++k) {
        if (k + 1 == n) before_last = h;
        h = timed(record ? &t.in_run[k] : nullptr, [&] { return stages[k].ForwardKeepLayout(h); });
      }
      // An app's last stage runs beside the base's, on the same input, as a
      // branch runs after the stem in msrun: dense out, then the event
      // score read off the softmax of its logits (runtime/executor.cpp).
      if (app_head) {
        timed(record ? &t.app_head : nullptr, [&] {
          at::Tensor score = EventScores(app_head->Forward(before_last));
          volatile float first = score.data_ptr<float>()[0];
          (void)first;
          return score;
        });
      }
    }
    h = x;
    for (size_t k = 0; k < n; ++k) {
      h = timed(record ? &t.chained[k] : nullptr, [&] { return stages[k].ForwardKeepLayout(h); });
    }
    h = x;
    for (size_t k = 0; k < n; ++k) {
      h = timed(record ? &t.standalone[k] : nullptr, [&] { return stages[k].Forward(h); });
    }
    timed(record ? &t.whole : nullptr, [&] { return whole.Forward(x); });
  };
  for (int i = 0; i < config.warmup; ++i) pass(false);
  for (int r = 0; r < config.repeats; ++r) {
    pass(true);
    if (progress) progress->Update(progress_base + r + 1, "timing");
  }
  return t;
}

// The video msprofile decodes: the input, or a synthetic clip it writes
// (kept until the profile is done).
struct ProfileInput {
  std::unique_ptr<TempDir> tmp;
  std::string path, label;
  Json extra = Json::object();
};

ProfileInput PrepareInput(const ProfileConfig& config) {
  ProfileInput in;
  if (!config.input_video.empty()) {
    in.path = config.input_video;
    in.label = "video:" + config.input_video;
    return in;
  }
  const int w = config.width ? config.width : kDefaultWidth;
  const int h = config.height ? config.height : kDefaultHeight;
  in.tmp = std::make_unique<TempDir>();
  std::string codec;
  in.path = WriteSyntheticVideo(in.tmp->path, w, h, config.decode_frames + 3, &codec).string();
  in.label = fmt::format("size:{}x{}", w, h);
  in.extra["synthetic_codec"] = codec;
  return in;
}

void WarnIfBusy(const Json& machine) {
  if (!machine.contains("load_average")) return;
  const double load = machine["load_average"][0].get<double>();
  if (load > 0.5 * machine["logical_cpus"].get<double>()) {
    LogWarn(
        "the machine is busy (load average {:.1f} on {} CPUs): latencies include waiting for "
        "a CPU",
        load, machine["logical_cpus"].get<int>());
  }
}

}  // namespace

struct StageProbe::Impl {
  std::vector<Segment> stages;
  std::optional<Segment> whole;
  at::Tensor input;
};

StageProbe::StageProbe(const BaseModel& base) : impl_(std::make_unique<Impl>()) {
  for (int k = 0; k < base.num_stages(); ++k)
    impl_->stages.push_back(Segment::Build(base, k, k + 1));
  impl_->whole.emplace(Segment::Build(base, 0, base.num_stages()));
  impl_->input = base.DummyInput(1, ProfileConfig{}.seed);
}
StageProbe::StageProbe(StageProbe&&) noexcept = default;
StageProbe& StageProbe::operator=(StageProbe&&) noexcept = default;
StageProbe::~StageProbe() = default;

double StageProbe::MeasureMs(int repeats, int warmup) {
  MS_CHECK(repeats >= 1 && warmup >= 0, "StageProbe: {} repeats, {} warmup", repeats, warmup);
  torch::NoGradGuard no_grad;
  // msprofile's reference passes (the chain on a fixed input, each stage
  // alone, the whole model), timed as the profile's speed_reference_ms was.
  ProfileConfig config;
  config.repeats = repeats;
  config.warmup = warmup;
  const Timings t =
      TimeSegments(impl_->stages, *impl_->whole, impl_->input, config, nullptr, nullptr, 0);
  double sum = 0;
  for (const auto& v : t.chained) sum += SummarizeLatency(v).p50_ms;
  return sum;
}

ProfileResult RunProfile(const ProfileConfig& config) {
  config.Validate();
  const int threads = SetTorchThreads(config.threads);
  SetVideoThreads(config.threads);
  LogInfo("msprofile: {}", config.ToString());
  BaseModel base = BaseModel::Load(config.base_dir, LoadOptions{true, true, config.seed});
  const BaseInfo& info = base.info();
  const int n = base.num_stages();
  const size_t un = static_cast<size_t>(n);
  const int batch = config.batch;
  Json before = DescribeMachine();
  WarnIfBusy(before);

  // A dummy batch through the plain stages: NaN/Inf here is bad input. The
  // memory model's bytes come from the same pass: each stage's output for
  // one frame, and its parameters and buffers (docs/model.md, "Memory model").
  at::Tensor x = base.DummyInput(batch, config.seed);
  const auto frame_bytes = [batch](const at::Tensor& t) {
    return static_cast<double>(t.numel()) / batch * static_cast<double>(t.element_size());
  };
  std::vector<double> activation_bytes, param_bytes;
  {
    at::Tensor h = x;
    for (int k = 0; k < n; ++k) {
      h = base.RunStages(h, k, k + 1);
      CheckFinite(h, base,
                  fmt::format("stage {} '{}'", k, info.stages[static_cast<size_t>(k)].name));
      activation_bytes.push_back(frame_bytes(h));
      double bytes = 0;
      for (const at::Tensor& t : base.stage(k).parameters(/*recurse=*/true))
        bytes += static_cast<double>(t.numel() * t.element_size());
      for (const at::Tensor& t : base.stage(k).buffers(/*recurse=*/true))
        bytes += static_cast<double>(t.numel() * t.element_size());
      param_bytes.push_back(bytes);
    }
  }

  // Segments: each stage and the whole model.
  Progress progress("msprofile", n + 1 + config.repeats + (config.cold ? n : 0));
  std::vector<Segment> stages;
  for (int k = 0; k < n; ++k) {
    stages.push_back(Segment::Build(base, k, k + 1));
    progress.Update(k + 1, "optimizing stages");
  }
  Segment whole = Segment::Build(base, 0, n);
  CheckFinite(whole.Forward(x), base, "the optimized model");
  // What an app runs as its last stage: not the base's own (its classifier
  // over the pretext task's outputs, 1000 classes for an ImageNet base) but
  // a new head for the app's two classes (model/suffix.h), as mstrain
  // builds every candidate. The cost model charges it to every branch.
  at::Tensor head_input = x;
  for (int k = 0; k + 1 < n; ++k) head_input = stages[static_cast<size_t>(k)].Forward(head_input);
  const Segment app_head =
      Segment::FromModule(BuildSuffix(base, n - 1), head_input, {}, "an app's own last stage");
  ProfileInput input = PrepareInput(config);
  FrameFeed feed(input.path, PreprocessConfigFor(info.input), x);
  Timings t = TimeSegments(stages, whole, x, config, &feed, &progress, n + 1, &app_head);
  const LatencyStats app_head_stats = SummarizeLatency(t.app_head);
  std::vector<at::Tensor> inputs;  // each stage's input as the chain hands it over
  {
    at::Tensor h = x;
    for (int k = 0; k < n; ++k) {
      inputs.push_back(h);
      h = stages[static_cast<size_t>(k)].ForwardKeepLayout(h);
    }
  }

  // Resident bytes of one optimized copy of each stage, as the runtime holds
  // a branch's copy (frozen, folded and prepacked weights, the segment's
  // graphs and oneDNN state): the growth of the process's resident memory
  // over kCopies more copies, kept alive and run once. After the timing, so
  // the shape-specific caches every copy shares already exist.
  constexpr int kCopies = 4;
  std::vector<double> resident_bytes;
  {
    at::Tensor h = x;
    for (int k = 0; k < n; ++k) {
      std::vector<Segment> copies;
      const double r0 = ResidentBytes();
      for (int c = 0; c < kCopies; ++c) {
        copies.push_back(Segment::Build(base, k, k + 1));
        copies.back().Forward(h);
      }
      const double r1 = ResidentBytes();
      resident_bytes.push_back(std::max(0.0, (r1 - r0) / kCopies));
      h = stages[static_cast<size_t>(k)].Forward(h);
    }
  }

  // Cold timings (docs/model.md, "Caches"), as a tree of many apps runs a
  // stage: C optimized copies of it (their own weights, the same code and
  // input) run one after another, round after round, so that between two
  // runs of a copy the other C - 1 stream their weights and outputs through
  // the caches. C = cold_bytes / the stage's bytes, within [2, cold_copies];
  // when the cap leaves the copies short of cold_bytes (a small stage), each
  // copy's run is followed by a read of the next `pad` bytes of a buffer of
  // cold_bytes, as the other apps' weights would pass, so that cold_bytes
  // pass between two runs of one copy while the code stays hot. The reuse
  // distance reached, C x (bytes + pad), is recorded with the timing.
  std::vector<double> cold_ms, cold_reuse;
  CacheProbe probe;
  if (config.cold) {
    constexpr size_t kWordsPerLine = 64 / sizeof(uint64_t);
    std::vector<uint64_t> pad_buffer;  // allocated for the first stage that needs it
    size_t pad_at = 0;
    volatile uint64_t sink = 0;
    auto stream_pad = [&](size_t words) {
      uint64_t sum = 0;
      for (size_t i = 0; i < words; i += kWordsPerLine) {
        sum += pad_buffer[pad_at];
        pad_at += kWordsPerLine;
        if (pad_at >= pad_buffer.size()) pad_at = 0;
      }
      sink = sink + sum;
    };
    for (int k = 0; k < n; ++k) {
      const size_t uk = static_cast<size_t>(k);
      const double bytes = std::max(1.0, param_bytes[uk] + activation_bytes[uk]);
      const int copies = static_cast<int>(
          std::clamp(std::ceil(config.cold_bytes / bytes), 2.0, double(config.cold_copies)));
      const double pad = std::max(0.0, config.cold_bytes / copies - bytes);
      const size_t pad_words = static_cast<size_t>(pad) / sizeof(uint64_t);
      if (pad_words > 0 && pad_buffer.empty())
        pad_buffer.assign(static_cast<size_t>(config.cold_bytes) / sizeof(uint64_t), 1);
      std::vector<Segment> ring;
      for (int c = 0; c < copies; ++c) ring.push_back(Segment::Build(base, k, k + 1));
      for (Segment& s : ring) s.ForwardKeepLayout(inputs[uk]);  // first-call setup
      std::vector<double> v;
      for (int r = 0; r < config.cold_repeats; ++r) {
        for (Segment& s : ring) {
          const double t0 = NowSeconds();
          s.ForwardKeepLayout(inputs[uk]);
          v.push_back((NowSeconds() - t0) * 1e3 / batch);
          stream_pad(pad_words);
        }
      }
      cold_ms.push_back(std::max(SummarizeLatency(v).p50_ms, 1e-6));
      cold_reuse.push_back((bytes + static_cast<double>(pad_words * sizeof(uint64_t))) * copies);
      progress.Update(n + 1 + config.repeats + k + 1, "timing stages cold");
    }
    probe = ProbeCaches(config.probe_bytes);
  }

  // The unoptimized model, for the speedup (fewer repeats: it is slow).
  double plain_p50 = 0;
  if (config.plain_reference) {
    Segment plain = Segment::Build(base, 0, n, SegmentOptions{/*optimize=*/false});
    plain_p50 =
        TimeForward(plain, x, std::min(config.warmup, 2), std::max(1, std::min(config.repeats, 5)))
            .p50_ms /
        batch;
  }
  Profile p;
  p.input = input.label;
  Json decode_extra = input.extra;
  // Decoding and preprocessing alone, frame after frame, for comparison.
  const DecodeCost decode_alone =
      MeasureDecodeCost(input.path, PreprocessConfigFor(info.input), config.decode_frames, 3);
  progress.Finish();

  // Stages: as msrun runs them (the frame passes), and the reference.
  p.base = base.ref();
  p.threads = threads;
  p.batch = batch;
  const LatencyStats decode_in_run = SummarizeLatency(t.decode);
  const LatencyStats preprocess_in_run = SummarizeLatency(t.preprocess);
  p.decode_ms = decode_alone.decode.mean_ms;
  p.preprocess_ms = decode_alone.preprocess_ms.mean_ms;
  p.decode_after_dnn_ms = std::max(decode_in_run.mean_w95_ms, 1e-6);
  p.input_bytes = frame_bytes(x);
  const LatencyStats whole_stats = SummarizeLatency(t.whole);
  p.whole_model_p50_ms = whole_stats.p50_ms;
  Json stages_json = Json::array();
  double standalone_sum = 0;
  int stage_conversions = 0;
  double chained_sum = 0;
  for (size_t k = 0; k < un; ++k) {
    const LatencyStats in_run = SummarizeLatency(t.in_run[k]);
    const LatencyStats chained = SummarizeLatency(t.chained[k]);
    const LatencyStats alone = SummarizeLatency(t.standalone[k]);
    const StageInfo& si = info.stages[k];
    StageTiming st{si.name, in_run.p50_ms, std::max(in_run.p95_ms, in_run.p50_ms)};
    st.ms = std::max(in_run.mean_w95_ms, 1e-6);
    // An app's own copy of the stage: the base's for all but the last, the
    // app's new head for the last (docs/model.md, "Cost model").
    st.branch_p50_ms = k + 1 < un ? st.ms : std::max(app_head_stats.mean_w95_ms, 1e-6);
    st.param_bytes = param_bytes[k];
    st.activation_bytes = activation_bytes[k];
    st.resident_bytes = resident_bytes[k];
    if (!cold_ms.empty()) {
      // Among copies streaming their weights, at least what the stage costs
      // as it runs (docs/model.md, "Caches").
      st.cold_p50_ms = std::max(st.ms, cold_ms[k]);
      st.cold_reuse_bytes = cold_reuse[k];
    }
    p.stages.push_back(std::move(st));
    chained_sum += chained.p50_ms;
    standalone_sum += alone.p50_ms;
    stage_conversions += stages[k].fusion().layout_conversions;
    Json sj{{"name", si.name},
            {"output_shape", si.output_shape},
            {"in_run", in_run.ToJson()},
            {"chained", chained.ToJson()},
            {"standalone", alone.ToJson()},
            {"fusion", stages[k].fusion().ToJson()}};
    if (!cold_ms.empty()) sj["cold"] = Json{{"copies_p50_ms", cold_ms[k]}};
    if (k + 1 == un) sj["app_head"] = app_head_stats.ToJson();
    stages_json.push_back(std::move(sj));
  }
  p.speed_reference_ms = chained_sum;

  // Sum of stages vs whole model (both on the fixed input), and what
  // converting at every boundary costs.
  const double sum = chained_sum;
  const double w = whole_stats.p50_ms;
  const double ratio = w > 0 ? sum / w : 0;
  const bool within = std::fabs(ratio - 1) <= 0.10;
  const double boundary = n > 1 ? (standalone_sum - sum) / (n - 1) : 0.0;
  Json sum_check{{"sum_stage_p50_ms", sum},
                 {"whole_model_p50_ms", w},
                 {"ratio", ratio},
                 {"within_10_percent", within},
                 {"standalone_sum_p50_ms", standalone_sum},
                 {"standalone_ratio", w > 0 ? standalone_sum / w : 0.0},
                 {"dense_boundary_cost_per_cut_ms", boundary},
                 {"layout_conversions_whole", whole.fusion().layout_conversions},
                 {"layout_conversions_stages", stage_conversions}};
  if (!within) {
    LogWarn("sum of stage latencies {:.3f} ms is {:.1f}% {} the whole model's {:.3f} ms", sum,
            std::fabs(ratio - 1) * 100, ratio > 1 ? "above" : "below", w);
  }

  p.cache = probe;
  p.machine = DescribeMachine();
  if (before.contains("load_average")) p.machine["load_average_before"] = before["load_average"];
  decode_extra["alone"] = decode_alone.ToJson();
  decode_extra["in_run"] =
      Json{{"decode", decode_in_run.ToJson()}, {"preprocess", preprocess_in_run.ToJson()}};
  p.extra = Json{
      {"tool", "msprofile"},
      {"config", config.ToJson()},
      {"timing",
       "ms per frame (wall clock per call / batch). Each pass decodes and preprocesses a frame of "
       "the input and runs the stages on it in order, each reading its predecessor's fresh "
       "output in oneDNN's layout (Segment::ForwardKeepLayout), as msrun does: stages[].ms and "
       "decode_after_dnn_ms are those samples' means winsorized at p95, stages[].p50_ms and "
       "p95_ms their percentiles (extra.stages[].in_run); decode_ms and preprocess_ms: the mean "
       "over frames decoded and preprocessed one after another (extra.decode.alone). Then the "
       "same chain on a fixed input (extra.stages[].chained; their p50s sum to "
       "speed_reference_ms, what msrun's speed probe repeats), dense input and output "
       "(extra.stages[].standalone), the whole model"},
      {"stages", stages_json},
      {"whole_model", whole_stats.ToJson()},
      {"whole_model_fusion", whole.fusion().ToJson()},
      {"plain_whole_model_p50_ms", plain_p50},
      {"optimized_speedup", plain_p50 > 0 && w > 0 ? plain_p50 / w : 0.0},
      {"sum_check", sum_check},
      {"decode", decode_extra},
      {"base_dir", config.base_dir.string()}};

  std::string s = fmt::format("{} ({} stages), {} thread(s), batch {}: ms per frame\n", info.name,
                              n, threads, batch);
  s += fmt::format("{:>3}  {:<16} {:>8} {:>8} {:>8} {:>9} {:>11} {:>8}  {}\n", "#", "stage", "ms",
                   "p50", "p95", "reference", "standalone", "cold", "fusion");
  for (size_t k = 0; k < un; ++k) {
    const auto& st = p.stages[k];
    s += fmt::format("{:>3}  {:<16} {:>8.3f} {:>8.3f} {:>8.3f} {:>9.3f} {:>11.3f} {:>8}  {}\n", k,
                     st.name, st.ms, st.p50_ms, st.p95_ms,
                     stages_json[k]["chained"]["p50_ms"].get<double>(),
                     stages_json[k]["standalone"]["p50_ms"].get<double>(),
                     st.cold_p50_ms > 0 ? fmt::format("{:.3f}", st.cold_p50_ms) : "-",
                     stages[k].fusion().ToString());
  }
  s += fmt::format("     {:<16} {:>8.3f} {:>8.3f} {:>8.3f} {:>9} {:>11} {:>8}  {}\n",
                   "an app's head", p.stages.back().branch_p50_ms, app_head_stats.p50_ms,
                   app_head_stats.p95_ms, "", "", "", "(every branch's last stage)");
  s += fmt::format("     {:<16} {:>8} {:>8.3f} {:>8.3f} {:>9} {:>11} {:>8}  {}\n", "whole model",
                   "", w, whole_stats.p95_ms, "", "", "", whole.fusion().ToString());
  s += fmt::format(
      "as msrun runs them (after decoding a frame): stages {:.3f} ms per frame = {:.3f} x the "
      "reference passes' {:.3f} ms (fixed input; msrun's speed probe repeats these)\n",
      p.TotalStageMs(), chained_sum > 0 ? p.TotalStageMs() / chained_sum : 0.0, chained_sum);
  s += fmt::format("reference passes: sum of stages {:.3f} ms = {:.3f} x whole model ({})\n", sum,
                   ratio, within ? "within 10%" : "NOT within 10%");
  s += fmt::format(
      "converting to dense at every boundary: sum {:.3f} ms = {:.3f} x whole model, {:.3f} ms "
      "per cut\n",
      standalone_sum, w > 0 ? standalone_sum / w : 0.0, boundary);
  if (!p.cache.empty()) {
    std::string curve;
    for (size_t i = 0; i < p.cache.bytes.size(); ++i) {
      curve += fmt::format("{}{:.0f}M {:.2f}", i ? ", " : "", p.cache.bytes[i] / (1 << 20),
                           p.cache.ns_per_line[i]);
    }
    std::string reuse;
    for (size_t k = 0; k < un; ++k)
      reuse += fmt::format("{}{:.0f}", k ? " " : "", p.stages[k].cold_reuse_bytes / (1 << 20));
    s += fmt::format(
        "cold: each stage timed among copies of itself streaming {} MiB between its runs "
        "(reported last-level cache {:.0f} MiB); ns per cache line by working set: {}\n",
        reuse, p.cache.reported_llc_bytes / (1 << 20), curve);
  }
  if (plain_p50 > 0) {
    s += fmt::format("plain TorchScript {:.3f} ms: optimized is {:.1f}x faster\n", plain_p50,
                     plain_p50 / w);
  }
  s += fmt::format(
      "decode ({}): {:.3f} ms per stream frame after another decode, {:.3f} ms after the DNN "
      "(per analyzed frame); preprocess: {:.3f} ms per analyzed frame ({:.3f} between the "
      "passes)\n",
      p.input, p.decode_ms, p.decode_after_dnn_ms, p.preprocess_ms, preprocess_in_run.mean_w95_ms);
  return ProfileResult{std::move(p), std::move(s)};
}

}  // namespace mainstream
