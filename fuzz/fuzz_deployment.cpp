// What msrun reads before the first frame (runtime/deployment.h): the
// schedule, the base manifest, every scheduled app's M-Package and the
// --labels files, through LoadDeployment and LoadRunLabels, which check them
// against each other (base hash and stages, app names, candidates,
// thresholds, weights, label counts). No LibTorch: the weights files exist
// (empty) but are not loaded.
//
// Input: schedule.json, base.json, a label file and the manifests of the
// packages pkg0, pkg1, ... (which the schedule's apps name as "pkg0", ...),
// separated by "----" lines. Every package directory holds bp0.pt .. bp9.pt.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "mainstream/runtime/deployment.h"

using namespace mainstream;
namespace fs = std::filesystem;

namespace {
[[maybe_unused]] const int kQuiet = fuzz::Quiet();
constexpr size_t kMaxPackages = 4;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts =
      fuzz::SplitParts(fuzz::AsText(data, size), 3 + kMaxPackages);
  if (parts.size() < 3) return 0;
  const fs::path dir = fuzz::Scratch::Fresh("deployment");
  fuzz::WriteFile(dir / "schedule.json", parts[0]);
  fs::create_directories(dir / "base");
  fuzz::WriteFile(dir / "base" / kBaseManifest, parts[1]);
  fuzz::WriteFile(dir / "labels.csv", parts[2]);
  for (size_t k = 3; k < parts.size(); ++k) {
    const fs::path pkg = dir / ("pkg" + std::to_string(k - 3));
    fs::create_directories(pkg);
    fuzz::WriteFile(pkg / kMPackageManifest, parts[k]);
    for (int b = 0; b < 10; ++b) fuzz::WriteFile(pkg / ("bp" + std::to_string(b) + ".pt"), "");
  }

  Deployment d;
  if (!fuzz::Accepts([&] { d = LoadDeployment(dir / "schedule.json", dir / "base"); })) return 0;
  if (d.apps.size() != d.schedule.apps.size())
    fuzz::Finding("deployment: not every scheduled app was resolved");
  for (const DeployedApp& a : d.apps) {
    if (!fs::is_regular_file(a.weights)) fuzz::Finding("deployment: an app without weights");
    if (a.candidate.branchpoint >= d.base.num_stages())
      fuzz::Finding("deployment: a branchpoint beyond the base's stages");
  }
  PreprocessConfigFor(d.base).Validate();

  std::vector<LabelsArg> labels;
  for (const DeployedApp& a : d.apps)
    labels.push_back(LabelsArg{a.scheduled.app, dir / "labels.csv"});
  for (int64_t video_frames : {int64_t{-1}, int64_t{30}}) {
    fuzz::Accepts([&] {
      for (const AppLabels& l : LoadRunLabels(d, labels, video_frames, "video.avi", 30)) {
        if (l.app < 0 || static_cast<size_t>(l.app) >= d.apps.size())
          fuzz::Finding("deployment: labels for an app it does not run");
      }
    });
  }
  return 0;
}
