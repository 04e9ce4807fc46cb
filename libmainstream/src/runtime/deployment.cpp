#include "mainstream/runtime/deployment.h"

#include <cmath>
#include <set>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"

namespace fs = std::filesystem;

namespace mainstream {

int Deployment::FindApp(const std::string& name) const {
  for (size_t i = 0; i < apps.size(); ++i) {
    if (apps[i].scheduled.app == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

DeployedApp ResolveApp(const ScheduleDoc& schedule, const std::string& schedule_origin,
                       size_t index) {
  const ScheduledApp& s = schedule.apps[index];
  const std::string where = fmt::format("{}: $.apps[{}]", schedule_origin, index);
  DeployedApp d;
  d.scheduled = s;
  if (!fs::exists(s.package)) {
    ThrowInput("{}.package: app \"{}\": package directory {} does not exist", where, s.app,
               s.package.string());
  }
  d.package = ReadMPackage(s.package);
  const std::string pkg = (d.package.dir / kMPackageManifest).string();
  if (d.package.app != s.app) {
    ThrowInput("{}: $.app is \"{}\" but {} schedules it as app \"{}\"", pkg, d.package.app,
               schedule_origin, s.app);
  }
  if (d.package.base.sha256 != schedule.base.sha256) {
    ThrowInput(
        "{}: $.base.sha256: package was trained on base '{}' ({}...) but {} runs base '{}' "
        "({}...); "
        "retrain the package on this base or schedule with packages of this base",
        pkg, d.package.base.id, d.package.base.sha256.substr(0, 12), schedule_origin,
        schedule.base.id, schedule.base.sha256.substr(0, 12));
  }
  if (std::fabs(d.package.stream_fps - schedule.stream_fps) >
      1e-6 * std::max(1.0, schedule.stream_fps)) {
    ThrowInput("{}: $.stream_fps is {} but {} was planned for a {} fps stream", pkg,
               d.package.stream_fps, schedule_origin, schedule.stream_fps);
  }
  if (s.candidate < 0 || static_cast<size_t>(s.candidate) >= d.package.candidates.size()) {
    ThrowInput(
        "{}.candidate: {} but {} has {} candidates (the package changed after scheduling; re-run "
        "msschedule)",
        where, s.candidate, pkg, d.package.candidates.size());
  }
  d.candidate = d.package.candidates[static_cast<size_t>(s.candidate)];
  const std::string cand = fmt::format("{}: $.candidates[{}]", pkg, s.candidate);
  if (d.candidate.branchpoint != s.branchpoint) {
    ThrowInput(
        "{}.branchpoint is {} but {}.branchpoint is {} (the package changed after scheduling; "
        "re-run "
        "msschedule)",
        cand, d.candidate.branchpoint, where, s.branchpoint);
  }
  if (d.candidate.kind != s.kind) {
    ThrowInput(
        "{}.kind is \"{}\" but {}.kind is \"{}\" (the package changed after scheduling; re-run "
        "msschedule)",
        cand, CandidateKindName(d.candidate.kind), where, CandidateKindName(s.kind));
  }
  if (std::fabs(d.candidate.threshold - s.threshold) > 1e-9) {
    ThrowInput(
        "{}.threshold is {} but {}.threshold is {} (the package changed after scheduling; re-run "
        "msschedule)",
        cand, d.candidate.threshold, where, s.threshold);
  }
  if (d.candidate.weights.empty()) {
    ThrowInput(
        "{}.weights is null: app \"{}\" is a simulation-only package (no trained model at "
        "branchpoint "
        "{}); msrun needs packages made by mstrain",
        cand, s.app, s.branchpoint);
  }
  if (!s.weights.empty() && s.weights != d.candidate.weights) {
    ThrowInput(
        "{}.weights is \"{}\" but {}.weights is \"{}\" (the package changed after scheduling; "
        "re-run "
        "msschedule)",
        cand, d.candidate.weights, where, s.weights);
  }
  d.weights = fs::path(d.candidate.weights).is_absolute() ? fs::path(d.candidate.weights)
                                                          : d.package.dir / d.candidate.weights;
  if (!fs::is_regular_file(d.weights)) {
    ThrowInput("{}.weights: {} does not exist (app \"{}\", branchpoint {})", cand,
               d.weights.string(), s.app, s.branchpoint);
  }
  return d;
}

// A microclassifier's crop must lie inside the base's feature map at its
// layer (the weights would otherwise slice a smaller map and fail, or worse).
void CheckMicroCrop(const DeployedApp& d, const BaseInfo& base, const std::string& base_origin) {
  if (!d.candidate.is_micro()) return;
  const MicroSpec& m = d.candidate.micro;
  const std::vector<int64_t> shape = base.ShapeAt(d.candidate.branchpoint);
  const std::string field =
      fmt::format("{}: $.candidates[{}].micro.crop", (d.package.dir / kMPackageManifest).string(),
                  d.scheduled.candidate);
  if (shape.size() != 3) {
    ThrowInput(
        "{}: a microclassifier at branchpoint {}, where {}'s activation is not a feature map "
        "(shape {})",
        field, d.candidate.branchpoint, base_origin, ShapeToString(shape));
  }
  if (m.x1 > shape[2] || m.y1 > shape[1]) {
    ThrowInput("{}: [{}, {}, {}, {}] lies outside the {}x{} feature map at branchpoint {} of {}",
               field, m.x0, m.y0, m.x1, m.y1, shape[2], shape[1], d.candidate.branchpoint,
               base_origin);
  }
}

}  // namespace

Deployment LoadDeployment(const fs::path& schedule_file, const fs::path& base_dir) {
  if (!fs::exists(schedule_file)) ThrowInput("{}: no such schedule file", schedule_file.string());
  return ResolveDeployment(ReadSchedule(schedule_file), schedule_file, base_dir);
}

Deployment ResolveDeployment(ScheduleDoc schedule, const fs::path& schedule_file,
                             const fs::path& base_dir) {
  Deployment d;
  d.schedule_file = schedule_file;
  d.base_dir = base_dir;
  d.schedule = std::move(schedule);
  const std::string origin = schedule_file.string();
  if (!fs::is_directory(base_dir)) {
    ThrowInput("{}: no such base directory (--base: the directory with model.pt and base.json)",
               base_dir.string());
  }
  d.base = ReadBaseInfo(base_dir);
  CheckSameBase(d.schedule.base, origin, d.base, (base_dir / kBaseManifest).string());
  const std::vector<std::string> names = d.base.stage_names();
  for (size_t k = 0; k < names.size() && k < d.schedule.stage_names.size(); ++k) {
    if (names[k] != d.schedule.stage_names[k]) {
      ThrowInput("{}: $.stages[{}].name is \"{}\" but stage {} of {} is \"{}\"", origin, k,
                 d.schedule.stage_names[k], k, (base_dir / kBaseManifest).string(), names[k]);
    }
  }
  for (size_t i = 0; i < d.schedule.apps.size(); ++i) {
    d.apps.push_back(ResolveApp(d.schedule, origin, i));
    CheckMicroCrop(d.apps.back(), d.base, (base_dir / kBaseManifest).string());
  }
  return d;
}

std::vector<AppLabels> LoadRunLabels(const Deployment& deployment,
                                     const std::vector<LabelsArg>& args, int64_t video_frames,
                                     const std::string& video_origin, int64_t last_frame,
                                     bool any_app) {
  std::vector<AppLabels> out;
  std::set<std::string> seen;
  for (const LabelsArg& a : args) {
    const int app = deployment.FindApp(a.app);
    if (app < 0 && !any_app) {
      std::string known;
      for (const auto& x : deployment.apps) known += (known.empty() ? "" : ", ") + x.scheduled.app;
      ThrowInput("--labels {}={}: the schedule {} runs no app \"{}\" (its apps: {})", a.app,
                 a.file.string(), deployment.schedule_file.string(), a.app, known);
    }
    if (!seen.insert(a.app).second) ThrowInput("--labels: app \"{}\" is given twice", a.app);
    AppLabels l;
    l.app = app;
    l.name = a.app;
    l.file = a.file;
    l.labels = ReadLabelFile(a.file);
    const auto rows = static_cast<int64_t>(l.labels.size());
    if (video_frames > 0) {
      CheckLabelFrameCount(l.labels, a.file.string(), video_frames, video_origin);
    } else if (last_frame > 0 && rows < last_frame) {
      ThrowInput("{}: has labels for {} frames, but the run covers frames up to {} of {}",
                 a.file.string(), rows, last_frame, video_origin);
    } else if (last_frame <= 0) {
      LogWarn("{}: {} has no known frame count; scoring stops at the last labelled frame {}",
              a.file.string(), video_origin, rows);
    }
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace mainstream
