// base.json (the base model's manifest; docs/models.md): BaseInfo::FromJson
// as ReadBaseInfo calls it, the preprocessing every tool derives from it
// (PreprocessConfigFor), the activation shape at every branchpoint, and a
// write/read round trip of what it accepted. No LibTorch: the model file is
// BaseModel::Load's business.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/core/json_io.h"
#include "mainstream/model/base_info.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string origin = "base.json";
  Json j;
  BaseInfo b;
  if (!fuzz::Accepts([&] {
        j = ParseJson(fuzz::AsText(data, size), origin);
        b = BaseInfo::FromJson(JsonView(j, origin));
      })) {
    return 0;
  }
  // The tools derive the preprocessing from an accepted manifest: it must not
  // reject what the reader accepted.
  PreprocessConfigFor(b).Validate();
  for (int bp = 0; bp <= b.num_stages(); ++bp) {
    if (b.ShapeAt(bp).empty()) fuzz::Finding("base.json: an empty activation shape");
  }
  if (b.FindStage(b.stages.back().name) != b.num_stages() - 1)
    fuzz::Finding("base.json: the last stage is not found by name");

  const Json written = b.ToJson();
  const Json reread = ParseJson(written.dump(2), origin);
  const BaseInfo back = BaseInfo::FromJson(JsonView(reread, origin));
  if (back.ToJson() != written)
    fuzz::Finding("base.json: a written manifest reads back differently");
  return 0;
}
