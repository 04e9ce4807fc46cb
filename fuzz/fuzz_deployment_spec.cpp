// msrun --deployment's file (deployment.json, written by the operator and
// re-read whenever it changes, possibly half-written): ParseDeploymentSpec,
// the msschedule configuration each camera becomes, and a write/read round
// trip of what it accepted.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "mainstream/schedule/deployment_spec.h"

using namespace mainstream;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path file = "/srv/node/deployment.json";
  DeploymentSpec s;
  if (!fuzz::Accepts([&] { s = ParseDeploymentSpec(std::string(fuzz::AsText(data, size)), file); }))
    return 0;
  // Each camera (one in the "apps" form) is what msschedule would schedule.
  std::vector<DeploymentCamera> cameras = s.cameras;
  if (cameras.empty()) cameras.push_back({"camera", "", s.profile, s.packages});
  for (const DeploymentCamera& cam : cameras) {
    DeploymentSpec one = s;
    one.cameras.clear();
    one.profile = cam.profile;
    one.packages = cam.packages;
    if (!fuzz::Accepts([&] { one.ToScheduleConfig().Validate(); }))
      fuzz::Finding("deployment.json: an accepted deployment gives an invalid msschedule config");
  }
  if (s.several_cameras() && fuzz::Accepts([&] { (void)PlanDeployment(s); }))
    fuzz::Finding("deployment.json: msrun would plan several cameras as one");
  const DeploymentSpec back = ParseDeploymentSpec(s.ToJson().dump(), file);
  if (back.ToJson() != s.ToJson())
    fuzz::Finding("deployment.json: a written deployment reads back differently");
  return 0;
}
