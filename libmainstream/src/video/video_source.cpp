#include "mainstream/video/video_source.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/videoio/registry.hpp>
#include <utility>
#include <vector>

#include "mainstream/core/log.h"
#include "mainstream/video/cv_image.h"

namespace fs = std::filesystem;

namespace mainstream {
namespace {

constexpr double kMaxPlausibleFps = 1000;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool HasBackend(cv::VideoCaptureAPIs api) { return cv::videoio_registry::hasBackend(api); }

// Extra advice for a file that cannot be found.
std::string MissingFileHint(const std::string& path) {
  if (fs::path(path).filename() == "vtest.avi" || path.find("opencv-doc") != std::string::npos) {
    return " (vtest.avi ships with Debian's opencv-doc package: apt-get install opencv-doc)";
  }
  return "";
}

std::string ListCameras() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev", ec)) {
    std::string name = e.path().filename().string();
    if (StartsWith(name, "video")) found.push_back(e.path().string());
  }
  if (found.empty()) return "no /dev/video* devices exist";
  std::sort(found.begin(), found.end());
  std::string list;
  for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
  return "present: " + list;
}

std::string KindName(SourceKind kind) {
  switch (kind) {
    case SourceKind::kFile:
      return "video";
    case SourceKind::kStream:
      return "video stream";
    case SourceKind::kCamera:
      return "camera";
  }
  return "video";
}

}  // namespace

VideoInput ParseVideoInput(const std::string& input) {
  MS_CHECK(!input.empty(), "video input is empty (expected a file path, a URL or camera:N)");
  VideoInput in;
  if (StartsWith(input, "camera:")) {
    std::string num = input.substr(7);
    bool digits = !num.empty() && num.size() <= 6 &&
                  std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
    MS_CHECK(digits, "video input '{}': expected camera:N with N a non-negative integer", input);
    in.kind = SourceKind::kCamera;
    in.camera_index = std::stoi(num);
    in.location = "/dev/video" + num;
    return in;
  }
  size_t scheme_end = input.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = input.substr(0, scheme_end);
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "file") {
      in.kind = SourceKind::kFile;
      in.location = input.substr(scheme_end + 3);
      MS_CHECK(!in.location.empty(), "video input '{}': file:// URL without a path", input);
      return in;
    }
    static const char* kStreamSchemes[] = {"rtsp",  "rtsps", "rtmp", "http",
                                           "https", "udp",   "tcp",  "srt"};
    bool known = std::any_of(std::begin(kStreamSchemes), std::end(kStreamSchemes),
                             [&](const char* s) { return scheme == s; });
    MS_CHECK(
        known,
        "video input '{}': unsupported URL scheme '{}' (expected rtsp, rtsps, rtmp, http, https, "
        "udp, tcp, srt or file)",
        input, scheme);
    in.kind = SourceKind::kStream;
    in.location = input;
    return in;
  }
  in.kind = SourceKind::kFile;
  in.location = input;
  return in;
}

void VideoSourceOptions::Validate() const {
  MS_CHECK(std::isfinite(fps_override) && fps_override >= 0 && fps_override <= kMaxPlausibleFps,
           "fps override must be 0 (use the stream's rate) or in (0, {}], got {}", kMaxPlausibleFps,
           fps_override);
  MS_CHECK(start_frame >= 0, "start frame must be >= 0, got {}", start_frame);
  MS_CHECK(end_frame == -1 || end_frame > start_frame,
           "end frame must be -1 (to the end) or greater than the start frame {}, got {}",
           start_frame, end_frame);
  MS_CHECK(open_timeout_ms > 0, "open timeout must be > 0 ms, got {}", open_timeout_ms);
  MS_CHECK(read_timeout_ms > 0, "read timeout must be > 0 ms, got {}", read_timeout_ms);
}

std::string VideoSourceOptions::ToString() const {
  return fmt::format(
      "fps_override={} frames=[{}, {}) strict_count={} open_timeout_ms={} read_timeout_ms={}",
      fps_override, start_frame, end_frame == -1 ? std::string("end") : std::to_string(end_frame),
      strict_count, open_timeout_ms, read_timeout_ms);
}

struct VideoSource::Impl {
  std::string input;
  VideoInput parsed;
  VideoSourceOptions options;
  cv::VideoCapture cap;
  std::string backend;
  double reported_fps = 0;
  double fps = 0;
  int64_t frame_count = -1;
  int width = 0;
  int height = 0;
  int64_t next_index = 0;
  int64_t frames_read = 0;
  bool finished = false;
  bool has_pending = false;
  Image pending;  // the first frame of the range, decoded while opening

  std::string Name() const { return fmt::format("{} '{}'", KindName(parsed.kind), input); }

  void Open();
  void ReadProperties();
  void CheckRange();
  void SkipToStart();
  // Decodes the next frame into `image`; false at the end of the stream.
  bool DecodeNext(Image* image, int64_t index);
  // DecodeNext for Read: a corrupt frame is consumed, so the next Read
  // returns the frame after it.
  bool DecodeOrSkip(Image* image, int64_t index) {
    try {
      return DecodeNext(image, index);
    } catch (const CorruptFrameError&) {
      ++next_index;
      throw;
    }
  }
  [[noreturn]] void ThrowEndedEarly(int64_t expected_end, int64_t index);
};

void VideoSource::Impl::Open() {
  bool ok = false;
  try {
    switch (parsed.kind) {
      case SourceKind::kFile: {
        const std::string& path = parsed.location;
        std::error_code ec;
        MS_CHECK(fs::exists(path, ec), "video '{}': no such file{}", path, MissingFileHint(path));
        MS_CHECK(!fs::is_directory(path, ec), "video '{}': is a directory, expected a video file",
                 path);
        {
          std::ifstream probe(path, std::ios::binary);
          MS_CHECK(probe.good(), "video '{}': cannot be read: {}", path, std::strerror(errno));
        }
        MS_CHECK(fs::file_size(path, ec) > 0, "video '{}': the file is empty (0 bytes)", path);
        ok = cap.open(path, HasBackend(cv::CAP_FFMPEG) ? cv::CAP_FFMPEG : cv::CAP_ANY);
        MS_CHECK(
            ok,
            "video '{}': OpenCV could not open it: the file may be corrupt or truncated, or use a "
            "codec this FFmpeg build lacks (check it with: ffprobe '{}')",
            path, path);
        break;
      }
      case SourceKind::kStream: {
        if (HasBackend(cv::CAP_FFMPEG)) {
          std::vector<int> params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, options.open_timeout_ms,
                                     cv::CAP_PROP_READ_TIMEOUT_MSEC, options.read_timeout_ms};
          ok = cap.open(parsed.location, cv::CAP_FFMPEG, params);
        } else {
          ok = cap.open(parsed.location, cv::CAP_ANY);
        }
        MS_CHECK(
            ok,
            "video stream '{}': could not connect or find a decodable video stream within {} ms "
            "(check the URL, that the server is up, and credentials)",
            input, options.open_timeout_ms);
        break;
      }
      case SourceKind::kCamera: {
#ifdef __linux__
        std::error_code ec;
        MS_CHECK(fs::exists(parsed.location, ec), "camera '{}': no such device {} ({})", input,
                 parsed.location, ListCameras());
#endif
        ok = cap.open(parsed.camera_index, HasBackend(cv::CAP_V4L2) ? cv::CAP_V4L2 : cv::CAP_ANY);
        MS_CHECK(
            ok,
            "camera '{}': {} exists but could not be opened (busy, or no permission: is the user "
            "in the 'video' group?)",
            input, parsed.location);
        break;
      }
    }
  } catch (const cv::Exception& e) {
    ThrowInput("{}: OpenCV failed to open it: {}", Name(), e.what());
  }
  backend = cap.getBackendName();
}

void VideoSource::Impl::ReadProperties() {
  reported_fps = cap.get(cv::CAP_PROP_FPS);
  if (!std::isfinite(reported_fps) || reported_fps <= 0 || reported_fps > kMaxPlausibleFps)
    reported_fps = 0;
  if (options.fps_override > 0) {
    fps = options.fps_override;
    if (reported_fps > 0 && std::abs(reported_fps - fps) > 1e-6) {
      LogInfo("{}: using {} fps instead of the {} fps the stream reports", Name(), fps,
              reported_fps);
    }
  } else {
    MS_CHECK(reported_fps > 0, "{}: reports no usable frame rate (got {}); give an fps override",
             Name(), cap.get(cv::CAP_PROP_FPS));
    fps = reported_fps;
  }
  if (parsed.kind == SourceKind::kFile) {
    double n = cap.get(cv::CAP_PROP_FRAME_COUNT);
    if (std::isfinite(n) && n >= 1 && n < 1e12) frame_count = static_cast<int64_t>(std::llround(n));
  }
}

void VideoSource::Impl::CheckRange() {
  if (frame_count < 0) return;
  MS_CHECK(options.start_frame < frame_count,
           "{}: start frame {} is past the end: the video has {} frames", Name(),
           options.start_frame, frame_count);
  MS_CHECK(options.end_frame <= frame_count,
           "{}: frames [{}, {}) requested but the video has {} frames", Name(), options.start_frame,
           options.end_frame, frame_count);
}

void VideoSource::Impl::ThrowEndedEarly(int64_t expected_end, int64_t index) {
  int64_t expected = expected_end - options.start_frame;
  int64_t got = std::max<int64_t>(0, index - options.start_frame);
  std::string message = fmt::format(
      "{} ended early: expected {} frames (frames {}..{}), got {}; the file is truncated or "
      "damaged (FFmpeg skips frames it cannot decode, so frames after a damaged part may also "
      "be misnumbered)",
      Name(), expected, options.start_frame, expected_end - 1, got);
  throw VideoEndedEarlyError(std::move(message), expected, got);
}

void VideoSource::Impl::SkipToStart() {
  for (int64_t i = 0; i < options.start_frame; ++i) {
    // grab() decodes without the color conversion retrieve() would add.
    if (!cap.grab()) {
      int64_t end = options.end_frame >= 0 ? options.end_frame : frame_count;
      if (end < 0) end = options.start_frame + 1;
      ThrowEndedEarly(end, i);
    }
  }
  next_index = options.start_frame;
}

bool VideoSource::Impl::DecodeNext(Image* image, int64_t index) {
  if (!cap.grab()) return false;
  // Decode straight into the caller's buffer when the size is known: OpenCV
  // writes into an existing Mat of the right size and type without reallocating.
  if (width > 0 && (image->width != width || image->height != height ||
                    image->bgr.size() != image->num_bytes())) {
    *image = Image(width, height);
  }
  cv::Mat view = image->empty() ? cv::Mat() : AsMat(*image);
  bool retrieved = false;
  try {
    retrieved = cap.retrieve(view);
  } catch (const cv::Exception& e) {
    throw CorruptFrameError(
        fmt::format("{}: frame {} could not be decoded: {}", Name(), index, e.what()), index);
  }
  if (!retrieved) {
    throw CorruptFrameError(fmt::format("{}: frame {} could not be decoded", Name(), index), index);
  }
  if (view.empty())
    throw CorruptFrameError(fmt::format("{}: frame {} is empty", Name(), index), index);
  if (width > 0 && (view.cols != width || view.rows != height)) {
    throw CorruptFrameError(fmt::format("{}: frame {} is {}x{}, but the stream started at {}x{}",
                                        Name(), index, view.cols, view.rows, width, height),
                            index);
  }
  if (view.data != image->bgr.data()) {  // first frame, or a type OpenCV converted
    if (view.depth() != CV_8U ||
        (view.channels() != 1 && view.channels() != 3 && view.channels() != 4)) {
      throw CorruptFrameError(fmt::format("{}: frame {} has unexpected pixel type {}", Name(),
                                          index, cv::typeToString(view.type())),
                              index);
    }
    MatToImage(view, image, "video frame");
  }
  return true;
}

VideoSource::VideoSource(const std::string& input, const VideoSourceOptions& options)
    : impl_(std::make_unique<Impl>()) {
  options.Validate();
  Impl& m = *impl_;
  m.input = input;
  m.options = options;
  m.parsed = ParseVideoInput(input);
  m.Open();
  m.ReadProperties();
  m.CheckRange();
  m.SkipToStart();
  if (!m.DecodeNext(&m.pending, m.next_index)) {
    if (options.start_frame == 0) {
      ThrowInput(
          "{}: opened, but no frame could be decoded: the file may be corrupt or use an "
          "unsupported codec",
          m.Name());
    }
    int64_t end = options.end_frame >= 0 ? options.end_frame : m.frame_count;
    m.ThrowEndedEarly(end >= 0 ? end : options.start_frame + 1, m.next_index);
  }
  m.has_pending = true;
  m.width = m.pending.width;
  m.height = m.pending.height;
  LogDebug("opened {}", Describe());
}

VideoSource::~VideoSource() = default;
VideoSource::VideoSource(VideoSource&&) noexcept = default;
VideoSource& VideoSource::operator=(VideoSource&&) noexcept = default;

bool VideoSource::Read(Frame* frame) {
  Impl& m = *impl_;
  if (m.finished) return false;
  const int64_t index = m.next_index;
  if (m.options.end_frame >= 0 && index >= m.options.end_frame) {
    m.finished = true;
    return false;
  }
  if (m.has_pending) {
    std::swap(frame->image, m.pending);
    m.has_pending = false;
  } else if (!m.DecodeOrSkip(&frame->image, index)) {
    m.finished = true;
    int64_t expected_end = m.options.end_frame >= 0 ? m.options.end_frame : m.frame_count;
    if (expected_end >= 0 && index < expected_end) {
      if (m.options.end_frame >= 0 || m.options.strict_count)
        m.ThrowEndedEarly(expected_end, index);
      LogWarn("{}: ended after {} frames although the container reports {}", m.Name(), index,
              m.frame_count);
    }
    return false;
  }
  frame->index = index;
  frame->timestamp_s = static_cast<double>(index) / m.fps;
  ++m.next_index;
  ++m.frames_read;
  return true;
}

const std::string& VideoSource::input() const { return impl_->input; }
SourceKind VideoSource::kind() const { return impl_->parsed.kind; }
const VideoSourceOptions& VideoSource::options() const { return impl_->options; }
std::string VideoSource::backend() const { return impl_->backend; }
double VideoSource::fps() const { return impl_->fps; }
double VideoSource::reported_fps() const { return impl_->reported_fps; }
int64_t VideoSource::frame_count() const { return impl_->frame_count; }
int64_t VideoSource::start_frame() const { return impl_->options.start_frame; }
int64_t VideoSource::end_frame() const {
  return impl_->options.end_frame >= 0 ? impl_->options.end_frame : impl_->frame_count;
}
int64_t VideoSource::expected_frames() const {
  int64_t end = end_frame();
  return end >= 0 ? end - impl_->options.start_frame : -1;
}
int64_t VideoSource::next_index() const { return impl_->next_index; }
int64_t VideoSource::frames_read() const { return impl_->frames_read; }
int VideoSource::width() const { return impl_->width; }
int VideoSource::height() const { return impl_->height; }

std::string VideoSource::Describe() const {
  const Impl& m = *impl_;
  std::string rate = fmt::format("{:g} fps", m.fps);
  if (m.options.fps_override > 0 && m.reported_fps > 0 && std::abs(m.reported_fps - m.fps) > 1e-6) {
    rate += fmt::format(" (stream says {:g})", m.reported_fps);
  }
  std::string count =
      m.frame_count >= 0 ? fmt::format("{} frames", m.frame_count) : "unknown frame count";
  std::string range;
  if (m.options.start_frame > 0 || m.options.end_frame >= 0) {
    range = fmt::format(
        ", frames [{}, {})", m.options.start_frame,
        m.options.end_frame >= 0 ? std::to_string(m.options.end_frame) : std::string("end"));
  }
  return fmt::format("{}: {}x{}, {}, {}{}, {}", m.input, m.width, m.height, rate, count, range,
                     m.backend);
}

}  // namespace mainstream
