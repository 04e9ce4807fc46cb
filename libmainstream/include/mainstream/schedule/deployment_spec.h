// A live deployment (msrun --deployment FILE): what should run on the node
// now (the budget, the search and the apps with their M-Packages), not how.
// msrun plans it with the same search as msschedule, watches the file and
// re-plans when it changes (docs/runtime.md, "Live deployments"; the format:
// docs/formats.md). No LibTorch.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mainstream/core/json_io.h"
#include "mainstream/schedule/schedule_doc.h"

namespace mainstream {

inline constexpr int kDeploymentSpecSchemaVersion = 1;
inline constexpr const char* kDeploymentSpecKind = "mainstream.deployment";

// One camera of a deployment written in the "cameras" form: its stream, its
// profile and its apps. The cameras share the node's budget; each camera's
// apps share that camera's stem (docs/algorithms.md, "Several cameras").
struct DeploymentCamera {
  std::string name;   // letters, digits, '_', '-', '.'; unique (names its schedule file)
  std::string input;  // its video file or stream ("": not given)
  std::filesystem::path profile;                // the camera's "profile", else the deployment's
  std::vector<std::filesystem::path> packages;  // one per app
};

struct DeploymentSpec {
  std::filesystem::path file;     // where it was read (paths below are resolved against it)
  std::filesystem::path profile;  // profile.json (msprofile); in the "cameras" form, the default
  std::string budget;             // "25" (ms/s) or "1.5x" (of the cheapest schedule)
  double memory_budget_mb = 0;    // 0: none
  std::string algorithm = "greedy";
  std::vector<int> x_options{1};
  std::vector<double> fps_options;              // empty: integers 1..stream fps
  double time_limit_s = 0;                      // exhaustive/maxmin: anytime limit (0: none)
  std::vector<std::filesystem::path> packages;  // one per app, in the file's order ("apps" form)
  // The "cameras" form (instead of "apps"): every camera with its apps. With
  // one camera, `packages` and `profile` are that camera's too.
  std::vector<DeploymentCamera> cameras;
  bool several_cameras() const { return cameras.size() > 1; }

  // What msschedule would be given (throws InputError naming the field).
  ScheduleConfig ToScheduleConfig() const;
  Json ToJson() const;
};

// Parses a deployment file's text. Paths are resolved against
// `file`'s directory. Throws InputError naming the file and the JSON path:
// not JSON (e.g. half-written: write a temporary file and rename it over the
// deployment), a wrong kind or schema_version, no apps, a package listed
// twice, both or neither of "apps" and "cameras", a camera named twice.
DeploymentSpec ParseDeploymentSpec(const std::string& text, const std::filesystem::path& file);
DeploymentSpec ReadDeploymentSpec(const std::filesystem::path& file);
// The file's text as it is now (msrun keeps it to notice changes); InputError
// naming the file when it cannot be read.
std::string ReadDeploymentText(const std::filesystem::path& file);

// Plans the deployment like `msschedule schedule`: reads the profile and every
// package (an app whose package is gone or broken is an InputError naming it;
// two packages of the same app are an InputError), then runs the search.
// Throws InfeasibleError when no schedule fits the budget, and InputError for
// several cameras (one msrun runs one camera: plan them with PlanNode).
ScheduleDoc PlanDeployment(const DeploymentSpec& spec);

}  // namespace mainstream
