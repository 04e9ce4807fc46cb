// profile.json (msprofile's output, read by msschedule and msprofile
// --calibrate; docs/formats.md): Profile::FromJson as ReadProfile calls it,
// the per-stage views the cost model takes, and a write/read round trip.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/core/json_io.h"
#include "mainstream/profile/profile.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string origin = "profile.json";
  Json j;
  Profile p;
  if (!fuzz::Accepts([&] {
        j = ParseJson(fuzz::AsText(data, size), origin);
        p = Profile::FromJson(JsonView(j, origin));
      })) {
    return 0;
  }
  if (p.StageLatencies().size() != p.stages.size() || !(p.TotalStageMs() > 0))
    fuzz::Finding("profile.json: accepted a profile without stage latencies");
  const std::vector<double> branch = p.BranchLatencies();
  if (!branch.empty() && branch.size() != p.stages.size())
    fuzz::Finding("profile.json: branch latencies for some stages only");

  const Json written = p.ToJson();
  const Json reread = ParseJson(written.dump(2), origin);
  const Profile back = Profile::FromJson(JsonView(reread, origin));
  if (back.ToJson() != written)
    fuzz::Finding("profile.json: a written profile reads back differently");
  return 0;
}
