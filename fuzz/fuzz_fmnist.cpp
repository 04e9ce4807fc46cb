// Fashion-MNIST files (gzip'd idx; train/fmnist.h), read by `mstrain
// pretrain --task fashion-mnist` from Debian's dataset-fashion-mnist or any
// --fmnist directory: ReadFashionMnist (zlib, the idx headers, counts and
// labels), then a canvas of the first and last item as pretraining draws it.
//
// Input: the images file, a "----" line, the labels file (gzip'd or not:
// ReadGzipFile reads plain files as they are).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/train/fmnist.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = fuzz::SplitParts(fuzz::AsText(data, size), 2);
  if (parts.size() < 2) return 0;
  const std::filesystem::path dir = fuzz::Scratch::Fresh("fmnist");
  fuzz::WriteFile(FashionMnistImagesFile(dir, "train"), parts[0]);
  fuzz::WriteFile(FashionMnistLabelsFile(dir, "train"), parts[1]);
  for (int64_t limit : {int64_t{0}, int64_t{1}}) {
    FashionMnistSet set;
    if (!fuzz::Accepts([&] { set = ReadFashionMnist(dir, "train", limit); })) return 0;
    if (set.size() < 1 || set.pixels.size() != static_cast<size_t>(set.size()) * kFashionMnistSide *
                                                   kFashionMnistSide)
      fuzz::Finding("fmnist: items without their pixels");
    for (int64_t item : {int64_t{0}, set.size() - 1}) {
      const Image canvas = ComposeCanvas(set, item, 40, 30, CanvasOptions{}, 7);
      if (canvas.width != 40 || canvas.height != 30)
        fuzz::Finding("fmnist: a canvas of another size");
    }
  }
  return 0;
}
