#include "mainstream/train/fmnist.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "mainstream/core/error.h"
#include "mainstream/core/random.h"

namespace mainstream {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr size_t kItemBytes = static_cast<size_t>(kFashionMnistSide) * kFashionMnistSide;

uint32_t BigEndian32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

void PutBigEndian32(std::vector<uint8_t>* b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b->push_back(static_cast<uint8_t>(v >> shift));
}

// Closes a gzFile on every path out.
struct GzCloser {
  gzFile f;
  ~GzCloser() {
    if (f) gzclose(f);
  }
};

std::string GzMessage(gzFile f) {
  int code = Z_OK;
  const char* msg = gzerror(f, &code);
  return code == Z_ERRNO ? std::string(std::strerror(errno))
                         : std::string(msg ? msg : "unknown zlib error");
}

// Checks the idx header of `bytes` (read from `file`): the magic number,
// 28x28 images, and that the data after the header is exactly `count` items
// of `item_bytes`. Returns the count.
uint32_t CheckIdx(const std::vector<uint8_t>& bytes, const std::string& file, uint32_t magic,
                  size_t header, size_t item_bytes, const char* what) {
  const uint32_t got = bytes.size() >= 4 ? BigEndian32(bytes, 0) : 0;
  MS_CHECK(bytes.size() < 4 || got == magic,
           "Fashion-MNIST file '{}': bad magic number 0x{:08x}, expected 0x{:08x} (an idx file of "
           "{}); is it the "
           "right file?",
           file, got, magic, what);
  MS_CHECK(bytes.size() >= header,
           "Fashion-MNIST file '{}': truncated: {} bytes after decompression, shorter than the "
           "{}-byte idx header",
           file, bytes.size(), header);
  if (magic == kImagesMagic) {
    const uint32_t rows = BigEndian32(bytes, 8), cols = BigEndian32(bytes, 12);
    MS_CHECK(
        rows == kFashionMnistSide && cols == kFashionMnistSide,
        "Fashion-MNIST file '{}': images are {}x{} (rows x columns in the header), expected {}x{}",
        file, rows, cols, kFashionMnistSide, kFashionMnistSide);
  }
  const uint32_t count = BigEndian32(bytes, 4);
  MS_CHECK(count > 0, "Fashion-MNIST file '{}': the header says it holds no {}", file, what);
  const size_t expected = header + static_cast<size_t>(count) * item_bytes;
  MS_CHECK(bytes.size() >= expected,
           "Fashion-MNIST file '{}': truncated: the header says {} {} ({} bytes), the file has {} "
           "bytes after "
           "decompression",
           file, count, what, expected, bytes.size());
  MS_CHECK(bytes.size() == expected,
           "Fashion-MNIST file '{}': {} unexpected bytes after the {} {} the header announces",
           file, bytes.size() - expected, count, what);
  return count;
}

}  // namespace

const std::vector<std::string>& FashionMnistClassNames() {
  static const std::vector<std::string> names = {"tshirt_top", "trouser",   "pullover", "dress",
                                                 "coat",       "sandal",    "shirt",    "sneaker",
                                                 "bag",        "ankle_boot"};
  return names;
}

fs::path FashionMnistImagesFile(const fs::path& dir, const std::string& split) {
  return dir / (split + "-images-idx3-ubyte.gz");
}

fs::path FashionMnistLabelsFile(const fs::path& dir, const std::string& split) {
  return dir / (split + "-labels-idx1-ubyte.gz");
}

std::vector<uint8_t> ReadGzipFile(const fs::path& file, size_t max_bytes) {
  std::error_code ec;
  MS_CHECK(
      fs::is_regular_file(file, ec), "Fashion-MNIST file '{}': no such file{}", file.string(),
      fs::exists(file.parent_path(), ec)
          ? ""
          : fmt::format(
                " (no directory {}: install Debian's dataset-fashion-mnist or pass --fmnist DIR)",
                file.parent_path().string()));
  GzCloser gz{gzopen(file.c_str(), "rb")};
  MS_CHECK(gz.f != nullptr, "Fashion-MNIST file '{}': cannot open it: {}", file.string(),
           std::strerror(errno));
  gzbuffer(gz.f, 1u << 18);
  std::vector<uint8_t> out;
  out.reserve(std::min<size_t>(max_bytes, 4 * fs::file_size(file, ec) + 1024));
  constexpr unsigned kChunk = 1u << 20;
  for (;;) {
    const size_t at = out.size();
    MS_CHECK(at <= max_bytes, "Fashion-MNIST file '{}': decompresses to more than {} bytes",
             file.string(), max_bytes);
    out.resize(at + kChunk);
    const int n = gzread(gz.f, out.data() + at, kChunk);
    if (n < 0) {
      ThrowInput("Fashion-MNIST file '{}': corrupt or truncated gzip data after {} bytes: {}",
                 file.string(), at, GzMessage(gz.f));
    }
    out.resize(at + static_cast<size_t>(n));
    if (n == 0) break;
  }
  // zlib reports a stream cut short only through gzerror once reading stops.
  int code = Z_OK;
  gzerror(gz.f, &code);
  MS_CHECK(code == Z_OK || code == Z_STREAM_END,
           "Fashion-MNIST file '{}': corrupt or truncated gzip data: {}", file.string(),
           GzMessage(gz.f));
  return out;
}

void WriteGzipFile(const fs::path& file, const std::vector<uint8_t>& bytes) {
  GzCloser gz{gzopen(file.c_str(), "wb")};
  MS_CHECK_RT(gz.f != nullptr, "cannot create '{}': {}", file.string(), std::strerror(errno));
  size_t at = 0;
  while (at < bytes.size()) {
    const auto n = static_cast<unsigned>(std::min<size_t>(bytes.size() - at, 1u << 20));
    MS_CHECK_RT(gzwrite(gz.f, bytes.data() + at, n) == static_cast<int>(n),
                "writing '{}' failed: {}", file.string(), GzMessage(gz.f));
    at += n;
  }
  const int rc = gzclose(gz.f);
  gz.f = nullptr;
  MS_CHECK_RT(rc == Z_OK, "closing '{}' failed (zlib error {})", file.string(), rc);
}

FashionMnistSet ReadFashionMnist(const fs::path& dir, const std::string& split, int64_t limit) {
  MS_CHECK(limit >= 0, "Fashion-MNIST: the number of items to keep must be >= 0, got {}", limit);
  FashionMnistSet set;
  set.images_file = FashionMnistImagesFile(dir, split).string();
  set.labels_file = FashionMnistLabelsFile(dir, split).string();

  std::vector<uint8_t> images = ReadGzipFile(set.images_file);
  const uint32_t n_images =
      CheckIdx(images, set.images_file, kImagesMagic, 16, kItemBytes, "images");

  std::vector<uint8_t> labels = ReadGzipFile(set.labels_file);
  const uint32_t n_labels = CheckIdx(labels, set.labels_file, kLabelsMagic, 8, 1, "labels");
  MS_CHECK(n_images == n_labels, "Fashion-MNIST: '{}' holds {} images but '{}' holds {} labels",
           set.images_file, n_images, set.labels_file, n_labels);
  for (uint32_t i = 0; i < n_labels; ++i) {
    MS_CHECK(labels[8 + i] < kFashionMnistClasses,
             "Fashion-MNIST file '{}': label {} of item {} is not 0-{}", set.labels_file,
             labels[8 + i], i, kFashionMnistClasses - 1);
  }

  const auto keep = static_cast<size_t>(limit == 0 ? n_images : std::min<int64_t>(limit, n_images));
  set.pixels.assign(images.begin() + 16,
                    images.begin() + 16 + static_cast<std::ptrdiff_t>(keep * kItemBytes));
  set.labels.assign(labels.begin() + 8, labels.begin() + 8 + static_cast<std::ptrdiff_t>(keep));
  return set;
}

void WriteFashionMnist(const fs::path& dir, const std::string& split, const FashionMnistSet& set) {
  MS_CHECK_RT(set.pixels.size() == static_cast<size_t>(set.size()) * kItemBytes,
              "WriteFashionMnist: {} pixel bytes for {} items", set.pixels.size(), set.size());
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<uint8_t> images;
  PutBigEndian32(&images, kImagesMagic);
  PutBigEndian32(&images, static_cast<uint32_t>(set.size()));
  PutBigEndian32(&images, kFashionMnistSide);
  PutBigEndian32(&images, kFashionMnistSide);
  images.insert(images.end(), set.pixels.begin(), set.pixels.end());
  WriteGzipFile(FashionMnistImagesFile(dir, split), images);
  std::vector<uint8_t> labels;
  PutBigEndian32(&labels, kLabelsMagic);
  PutBigEndian32(&labels, static_cast<uint32_t>(set.size()));
  labels.insert(labels.end(), set.labels.begin(), set.labels.end());
  WriteGzipFile(FashionMnistLabelsFile(dir, split), labels);
}

void CanvasOptions::Validate() const {
  MS_CHECK(min_height > 0 && min_height <= max_height && max_height <= 1,
           "canvas: item height range [{}, {}] must satisfy 0 < min <= max <= 1", min_height,
           max_height);
  MS_CHECK(min_grey >= 0 && min_grey <= max_grey && max_grey <= 255,
           "canvas: grey range [{}, {}] must lie in [0, 255]", min_grey, max_grey);
  MS_CHECK(noise >= 0 && noise <= 64, "canvas: noise {} outside [0, 64]", noise);
  MS_CHECK(min_contrast >= 0 && min_contrast <= 128, "canvas: min_contrast {} outside [0, 128]",
           min_contrast);
}

Json CanvasOptions::ToJson() const {
  return Json{{"min_height", min_height}, {"max_height", max_height},
              {"min_grey", min_grey},     {"max_grey", max_grey},
              {"noise", noise},           {"min_contrast", min_contrast}};
}

Image ComposeCanvas(const FashionMnistSet& set, int64_t item, int width, int height,
                    const CanvasOptions& o, uint64_t seed) {
  MS_CHECK_RT(item >= 0 && item < set.size(), "ComposeCanvas: item {} of {}", item, set.size());
  MS_CHECK_RT(width >= 1 && height >= 1, "ComposeCanvas: canvas {}x{}", width, height);
  Rng rng(seed);
  const auto grey = static_cast<double>(
      o.min_grey + static_cast<int>(rng.Index(static_cast<uint64_t>(o.max_grey - o.min_grey + 1))));
  const int max_side = std::min(width, height);
  const int side = std::clamp(
      static_cast<int>(std::lround(rng.Uniform(o.min_height, o.max_height) * height)), 1, max_side);
  const int x0 = static_cast<int>(rng.Index(static_cast<uint64_t>(width - side + 1)));
  const int y0 = static_cast<int>(rng.Index(static_cast<uint64_t>(height - side + 1)));
  double tint[3] = {0, 0, 0};  // B, G, R
  bool contrast = false;
  for (int attempt = 0; attempt < 16 && !contrast; ++attempt) {
    for (double& c : tint) c = static_cast<double>(rng.Index(256));
    const double luma = 0.114 * tint[0] + 0.587 * tint[1] + 0.299 * tint[2];
    contrast = std::abs(luma - grey) >= o.min_contrast;
  }
  if (!contrast) std::fill(tint, tint + 3, grey < 128 ? 255.0 : 0.0);

  // Alpha of the item resized to side x side: bilinear with pixel centres
  // aligned (OpenCV's INTER_LINEAR convention), edges clamped.
  const uint8_t* src = set.image(item);
  const int n = kFashionMnistSide;
  std::vector<float> alpha(static_cast<size_t>(side) * side);
  const double scale = static_cast<double>(n) / side;
  std::vector<int> x1s(static_cast<size_t>(side)), x2s(static_cast<size_t>(side));
  std::vector<float> fxs(static_cast<size_t>(side));
  for (int x = 0; x < side; ++x) {
    const double sx = std::clamp((x + 0.5) * scale - 0.5, 0.0, n - 1.0);
    x1s[static_cast<size_t>(x)] = static_cast<int>(sx);
    x2s[static_cast<size_t>(x)] = std::min(static_cast<int>(sx) + 1, n - 1);
    fxs[static_cast<size_t>(x)] = static_cast<float>(sx - static_cast<int>(sx));
  }
  for (int y = 0; y < side; ++y) {
    const double sy = std::clamp((y + 0.5) * scale - 0.5, 0.0, n - 1.0);
    const int y1 = static_cast<int>(sy), y2 = std::min(y1 + 1, n - 1);
    const auto fy = static_cast<float>(sy - y1);
    const uint8_t* r1 = src + y1 * n;
    const uint8_t* r2 = src + y2 * n;
    float* dst = alpha.data() + static_cast<size_t>(y) * side;
    for (int x = 0; x < side; ++x) {
      const auto k = static_cast<size_t>(x);
      const float fx = fxs[k];
      const float top = (1 - fx) * r1[x1s[k]] + fx * r1[x2s[k]];
      const float bottom = (1 - fx) * r2[x1s[k]] + fx * r2[x2s[k]];
      dst[x] = ((1 - fy) * top + fy * bottom) * (1.0f / 255.0f);
    }
  }

  // Pixels: one 64-bit draw gives the three channels' noise (21 bits each).
  Image out(width, height);
  const auto half_range =
      static_cast<float>(o.noise * std::sqrt(3.0));  // uniform noise with std `noise`
  const float noise_scale = 2 * half_range / static_cast<float>(1u << 21);
  const float fill[3] = {static_cast<float>(grey), static_cast<float>(grey),
                         static_cast<float>(grey)};
  uint8_t* p = out.bgr.data();
  for (int y = 0; y < height; ++y) {
    const bool row_inside = y >= y0 && y < y0 + side;
    const float* arow = row_inside ? alpha.data() + static_cast<size_t>(y - y0) * side : nullptr;
    for (int x = 0; x < width; ++x, p += 3) {
      const float a = (arow && x >= x0 && x < x0 + side) ? arow[x - x0] : 0.0f;
      uint64_t bits = half_range > 0 ? rng.Next() : 0;
      for (int c = 0; c < 3; ++c, bits >>= 21) {
        const float noise =
            half_range > 0 ? static_cast<float>(bits & 0x1FFFFF) * noise_scale - half_range : 0.0f;
        const float v = a * static_cast<float>(tint[c]) + (1 - a) * fill[c] + noise;
        p[c] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f) + 0.5f);
      }
    }
  }
  return out;
}

}  // namespace mainstream
