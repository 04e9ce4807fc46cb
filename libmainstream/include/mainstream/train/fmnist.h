// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) as Debian's
// dataset-fashion-mnist ships it, for `mstrain pretrain --task fashion-mnist`:
//
//   <dir>/train-images-idx3-ubyte.gz  <dir>/train-labels-idx1-ubyte.gz   60,000 items
//   <dir>/t10k-images-idx3-ubyte.gz   <dir>/t10k-labels-idx1-ubyte.gz    10,000 items
//
// gzip-compressed idx files (big-endian): images start with the magic number
// 0x00000803 (unsigned bytes, 3 dimensions), the count, rows and columns,
// then count x 28 x 28 bytes (0 = background, 255 = the item); labels start
// with 0x00000801 and the count, then one byte 0-9 per item. zlib does the
// decompression. No LibTorch here.
//
// ComposeCanvas turns one item into a training frame of the base's input
// size: a random grey background with mild noise, the item scaled to a random
// height, placed at a random position and tinted with a random colour
// (docs/training.md, "Fashion-MNIST").
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/video/image.h"

namespace mainstream {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int kFashionMnistSide = 28;  // rows and columns of every item
inline constexpr int kFashionMnistClasses = 10;

// Names of the ten classes, index = label ("tshirt_top", "trouser", ...).
const std::vector<std::string>& FashionMnistClassNames();

// One split (or its first items), as read.
struct FashionMnistSet {
  std::string images_file;  // where it was read from (for messages)
  std::string labels_file;
  std::vector<uint8_t> pixels;  // size() x 28 x 28, row-major
  std::vector<uint8_t> labels;  // size(), each 0-9

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  const uint8_t* image(int64_t i) const {
    return pixels.data() + static_cast<size_t>(i) * kFashionMnistSide * kFashionMnistSide;
  }
};

// <dir>/<split>-images-idx3-ubyte.gz and <dir>/<split>-labels-idx1-ubyte.gz.
std::filesystem::path FashionMnistImagesFile(const std::filesystem::path& dir,
                                             const std::string& split);
std::filesystem::path FashionMnistLabelsFile(const std::filesystem::path& dir,
                                             const std::string& split);

// Reads split "train" or "t10k" of `dir` and keeps its first `limit` items
// (0: all). Both files are read and checked whole. Throws InputError naming
// the file and what is wrong: missing, corrupt or truncated gzip data, a bad
// magic number, images other than 28x28, fewer (or more) bytes than the
// header's count, a label above 9, different counts in the two files.
FashionMnistSet ReadFashionMnist(const std::filesystem::path& dir, const std::string& split,
                                 int64_t limit = 0);

// Writes `set` as <dir>/<split>-{images-idx3,labels-idx1}-ubyte.gz (tests and
// fixtures). Throws RuntimeError naming the file when writing fails.
void WriteFashionMnist(const std::filesystem::path& dir, const std::string& split,
                       const FashionMnistSet& set);

// The decompressed bytes of a gzip file (a file that is not gzip is read as
// is). Throws InputError naming the file when it is missing, unreadable,
// corrupt or truncated, or decompresses to more than `max_bytes`.
std::vector<uint8_t> ReadGzipFile(const std::filesystem::path& file,
                                  size_t max_bytes = size_t{1} << 30);
// Writes `bytes` gzip-compressed to `file` (not atomically: tests and
// fixtures). Throws RuntimeError naming the file.
void WriteGzipFile(const std::filesystem::path& file, const std::vector<uint8_t>& bytes);

// How an item becomes a canvas.
struct CanvasOptions {
  double min_height = 0.4;  // item height (= width), as a fraction of the canvas height
  double max_height = 1.0;  //   (never more than the canvas width)
  int min_grey = 20;        // background grey level, uniform in [min_grey, max_grey]
  int max_grey = 235;
  double noise = 6;          // pixel noise: uniform with this standard deviation (grey levels)
  double min_contrast = 64;  // |luma(tint) - background| at least this (redrawn up to 16 times)

  // Throws InputError naming the field.
  void Validate() const;
  Json ToJson() const;
};

// Item `item` of `set` on a width x height canvas (BGR), every random choice
// drawn from `seed`: background grey g, the item resized (bilinear) to a
// square of side s = round(U(min_height, max_height) * height) (at most the
// width), at a uniform position fully inside, colour c = alpha * tint +
// (1 - alpha) * g with alpha = intensity / 255, then noise on every pixel.
// The same arguments always give the same canvas.
Image ComposeCanvas(const FashionMnistSet& set, int64_t item, int width, int height,
                    const CanvasOptions& options, uint64_t seed);

}  // namespace mainstream
