// MOTChallenge ground truth (gt.txt) and its seqinfo.ini (docs/labels.md),
// read by `mstrain labels --mot` and pretraining: LoadMotSequence on the two
// files, then the per-frame labels of two person rules (anywhere; a region
// with a minimum height, count and classes).
//
// Input: gt.txt, optionally followed by a "----" line and seqinfo.ini.
// Without seqinfo.ini the sequence length is given as 1000 frames (as by
// --frames).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/labels/mot.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = fuzz::SplitParts(fuzz::AsText(data, size), 2);
  const std::filesystem::path dir = fuzz::Scratch::Fresh("mot");
  const std::filesystem::path gt = dir / "gt.txt";
  fuzz::WriteFile(gt, parts[0]);
  std::optional<int64_t> frames = int64_t{1000};
  if (parts.size() == 2) {
    fuzz::WriteFile(dir / "seqinfo.ini", parts[1]);
    frames.reset();
  }
  MotSequence seq;
  if (!fuzz::Accepts([&] { seq = LoadMotSequence(gt, frames); })) return 0;

  const PersonRule anywhere;
  PersonRuleArgs args;
  args.roi = "100,50,600,400";
  args.min_count = "2";
  args.min_height = "20";
  args.classes = "1,7";
  const PersonRule region = ParsePersonRule(args);
  for (const PersonRule* rule : {&anywhere, &region}) {
    FrameLabels labels;
    if (!fuzz::Accepts([&] { labels = LabelsFromMot(seq, *rule); })) continue;
    if (static_cast<int64_t>(labels.size()) != seq.num_frames)
      fuzz::Finding("gt.txt: labels for another number of frames than the sequence has");
  }
  return 0;
}
