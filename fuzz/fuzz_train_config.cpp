// mstrain's configuration file (config.json, written by `mstrain plan` and
// into mstrain's work directory, read by `mstrain train --config`):
// ReadTrainConfig (TrainConfig::FromJson, then Validate), the description
// mstrain logs, and a write/read round trip of what it accepted.
// ReadTrainConfig takes a path: the input is written to a scratch file first.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/train/candidate_store.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path dir = fuzz::Scratch::Fresh("train_config");
  fuzz::WriteFile(dir / "config.json", fuzz::AsText(data, size));
  TrainConfig c;
  if (!fuzz::Accepts([&] { c = ReadTrainConfig(dir / "config.json"); })) return 0;
  c.ToString();
  c.TrainingJson();
  WriteJsonFileAtomic(dir / "again.json", c.ToJson());
  const TrainConfig back = ReadTrainConfig(dir / "again.json");
  if (back.ToJson() != c.ToJson())
    fuzz::Finding("config.json: a written configuration reads back differently");
  return 0;
}
