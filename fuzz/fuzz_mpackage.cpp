// mpackage.json (M-Package manifest; docs/formats.md): MPackage::FromJson as
// ReadMPackage calls it, a write/read round trip of what it accepted, and the
// analytical prediction msschedule makes for every candidate from the
// package's numbers (no trace) at a few strides and X.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/core/json_io.h"
#include "mainstream/package/mpackage.h"
#include "mainstream/schedule/prediction.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string origin = "mpackage.json";
  Json j;
  MPackage p;
  if (!fuzz::Accepts([&] {
        j = ParseJson(fuzz::AsText(data, size), origin);
        p = MPackage::FromJson(JsonView(j, origin));
      })) {
    return 0;
  }

  // What the reader accepted, written and read again, reads the same.
  p.Validate(origin);
  const Json written = p.ToJson();
  const Json reread = ParseJson(written.dump(2), origin);
  const MPackage back = MPackage::FromJson(JsonView(reread, origin));
  if (back.ToJson() != written)
    fuzz::Finding("mpackage.json: a written manifest reads back differently");

  // The scheduler's analytical model on the package's figures.
  for (const Candidate& c : p.candidates) {
    for (double stride : {1.0, 2.5, 10.0}) {
      for (int x : {1, 3}) {
        fuzz::Accepts([&] { PredictCandidate(c, p.events, nullptr, stride, x); });
      }
    }
  }
  return 0;
}
