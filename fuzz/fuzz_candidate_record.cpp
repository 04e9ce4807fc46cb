// mstrain's candidate records (<work dir>/<hash>/bp<b>.json), read when a
// training resumes (CandidateStore::Find, which retrains a candidate whose
// record throws InputError): CandidateRecord::FromJson and a write/read
// round trip of what it accepted.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/core/json_io.h"
#include "mainstream/train/candidate_store.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string origin = "bp3.json";
  Json j;
  CandidateRecord r;
  if (!fuzz::Accepts([&] {
        j = ParseJson(fuzz::AsText(data, size), origin);
        r = CandidateRecord::FromJson(JsonView(j, origin));
      })) {
    return 0;
  }
  const Json written = r.ToJson();
  const Json reread = ParseJson(written.dump(2), origin);
  if (CandidateRecord::FromJson(JsonView(reread, origin)).ToJson() != written)
    fuzz::Finding("candidate record: a written record reads back differently");
  return 0;
}
