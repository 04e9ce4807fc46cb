#include "mainstream/schedule/deployment_spec.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "mainstream/core/error.h"
#include "mainstream/package/mpackage.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

fs::path Resolve(const fs::path& dir, const std::string& p) {
  const fs::path path(p);
  return path.is_absolute() ? path : dir / path;
}

std::string BudgetText(const JsonView& v) {
  if (v.raw().is_number()) {
    const double b = v.AsNumber();
    if (!(b > 0))
      v.Fail("expected a positive budget (ms of compute per second of video), got {}", b);
    return fmt::format("{}", b);
  }
  const std::string s = v.AsNonEmptyString();
  ScheduleConfig probe;
  try {
    ParseBudget(s, probe);
  } catch (const InputError& e) {
    v.Fail("{}", e.what());
  }
  return s;
}

}  // namespace

ScheduleConfig DeploymentSpec::ToScheduleConfig() const {
  ScheduleConfig c;
  c.packages = packages;
  c.profile = profile;
  ParseBudget(budget, c);
  c.algorithm = algorithm;
  c.x_options = x_options;
  c.fps_options = fps_options;
  c.limits.time_limit_s = time_limit_s;
  c.memory_budget = memory_budget_mb * 1e6;
  return c;
}

Json DeploymentSpec::ToJson() const {
  auto apps_of = [](const std::vector<fs::path>& pkgs) {
    Json apps = Json::array();
    for (const fs::path& p : pkgs) apps.push_back(Json{{"package", p.string()}});
    return apps;
  };
  Json j{{"schema_version", kDeploymentSpecSchemaVersion},
         {"kind", kDeploymentSpecKind},
         {"budget", budget},
         {"memory_budget_mb", memory_budget_mb},
         {"algorithm", algorithm},
         {"x_options", x_options},
         {"fps_options", fps_options},
         {"time_limit_s", time_limit_s}};
  if (!profile.empty()) j["profile"] = profile.string();
  if (cameras.empty()) {
    j["apps"] = apps_of(packages);
    return j;
  }
  Json cams = Json::array();
  for (const DeploymentCamera& c : cameras) {
    Json cj{{"name", c.name}, {"profile", c.profile.string()}, {"apps", apps_of(c.packages)}};
    if (!c.input.empty()) cj["input"] = c.input;
    cams.push_back(std::move(cj));
  }
  j["cameras"] = std::move(cams);
  return j;
}

DeploymentSpec ParseDeploymentSpec(const std::string& text, const fs::path& file) {
  const std::string origin = file.string();
  Json j;
  try {
    j = ParseJson(text, origin);
  } catch (const InputError& e) {
    ThrowInput(
        "{} (a half-written file? update a deployment by writing a temporary file and renaming "
        "it over the old one)",
        e.what());
  }
  const JsonView v(j, origin);
  v.RequireKind(kDeploymentSpecKind, "deployment file (msrun --deployment)");
  v.RequireSchema(kDeploymentSpecSchemaVersion, "deployment file");
  const fs::path dir = file.parent_path();
  DeploymentSpec s;
  s.file = file;
  // The profile: required, except in the "cameras" form where each camera
  // may give its own.
  if (auto p = v.OptionalField("profile"); p || !v.OptionalField("cameras")) {
    s.profile = Resolve(dir, v.Field("profile").AsNonEmptyString());
  }
  s.budget = BudgetText(v.Field("budget"));
  if (auto m = v.OptionalField("memory_budget_mb")) s.memory_budget_mb = m->AsNumberIn(0, 1e9);
  if (auto a = v.OptionalField("algorithm")) {
    s.algorithm = a->AsNonEmptyString();
    if (const std::string unknown = UnknownAlgorithm(s.algorithm); !unknown.empty())
      a->Fail("{}", unknown);
  }
  if (auto x = v.OptionalField("x_options")) {
    s.x_options.clear();
    for (const JsonView& e : x->Elements())
      s.x_options.push_back(static_cast<int>(e.AsIntIn(1, 1000)));
    if (s.x_options.empty()) x->Fail("give at least one X");
  }
  if (auto f = v.OptionalField("fps_options")) {
    for (const JsonView& e : f->Elements()) s.fps_options.push_back(e.AsNumberIn(kMinFps, kMaxFps));
  }
  if (auto t = v.OptionalField("time_limit_s")) s.time_limit_s = t->AsNumberIn(0, 86400);
  const auto apps = v.OptionalField("apps");
  const auto cameras = v.OptionalField("cameras");
  if (apps && cameras) {
    cameras->Fail(
        "give either \"apps\" (one camera) or \"cameras\" (each with its own \"apps\"), not "
        "both");
  }
  if (!apps && !cameras) {
    v.Fail(
        "no \"apps\": list the apps' M-Packages in \"apps\" (one camera) or give \"cameras\", "
        "each with its \"name\" and \"apps\"");
  }
  // Packages are unique over the whole node: an app runs once.
  std::map<std::string, std::string> seen;  // canonical package dir -> where
  auto read_apps = [&](const JsonView& list) {
    if (list.Size() == 0) {
      list.Fail(
          "no apps: a deployment runs at least one (to stop every app, stop msrun; the running "
          "tree is kept meanwhile)");
    }
    std::vector<fs::path> out;
    for (const JsonView& a : list.Elements()) {
      // An app is its package directory, or {"package": DIR}.
      const JsonView p = a.raw().is_object() ? a.Field("package") : a;
      const fs::path pkg = Resolve(dir, p.AsNonEmptyString());
      std::error_code ec;
      fs::path key = fs::weakly_canonical(pkg, ec);
      if (ec) key = pkg.lexically_normal();
      if (auto [it, fresh] = seen.emplace(key.string(), p.path()); !fresh) {
        p.Fail("package {} is listed twice (also {}); list each app once", pkg.string(),
               it->second);
      }
      out.push_back(pkg);
    }
    return out;
  };
  if (apps) {
    s.packages = read_apps(*apps);
    return s;
  }
  if (cameras->Size() == 0) cameras->Fail("no cameras: give at least one");
  std::map<std::string, std::string> names;
  for (const JsonView& c : cameras->Elements()) {
    DeploymentCamera cam;
    const JsonView name = c.Field("name");
    cam.name = name.AsNonEmptyString();
    const bool ok = std::all_of(cam.name.begin(), cam.name.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
    });
    if (!ok || cam.name.size() > 64 || cam.name == "." || cam.name == "..")
      name.Fail("camera name '{}': use up to 64 letters, digits, '_', '-' or '.'", cam.name);
    if (auto [it, fresh] = names.emplace(cam.name, name.path()); !fresh)
      name.Fail("camera '{}' is named twice (also {})", cam.name, it->second);
    if (auto in = c.OptionalField("input")) cam.input = in->AsNonEmptyString();
    cam.profile = s.profile;
    if (auto p = c.OptionalField("profile")) cam.profile = Resolve(dir, p->AsNonEmptyString());
    if (cam.profile.empty()) {
      c.Fail("camera '{}' has no \"profile\": give one here or the deployment's \"profile\"",
             cam.name);
    }
    cam.packages = read_apps(c.Field("apps"));
    s.cameras.push_back(std::move(cam));
  }
  if (s.cameras.size() == 1) {
    s.packages = s.cameras[0].packages;
    s.profile = s.cameras[0].profile;
  }
  return s;
}

std::string ReadDeploymentText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) ThrowInput("{}: cannot read the deployment file", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

DeploymentSpec ReadDeploymentSpec(const fs::path& file) {
  return ParseDeploymentSpec(ReadDeploymentText(file), file);
}

ScheduleDoc PlanDeployment(const DeploymentSpec& spec) {
  if (spec.several_cameras()) {
    ThrowInput(
        "{}: $.cameras: {} cameras are planned together: `msschedule plan --deployment {}` "
        "(a schedule per camera), or `msrun --deployment {}` runs them all (docs/runtime.md, "
        "\"Several cameras\")",
        spec.file.string(), spec.cameras.size(), spec.file.string(), spec.file.string());
  }
  ScheduleConfig config = spec.ToScheduleConfig();
  for (size_t i = 0; i < config.packages.size(); ++i) {
    if (!fs::is_directory(config.packages[i])) {
      ThrowInput("{}: $.apps[{}]: package directory {} does not exist", spec.file.string(), i,
                 config.packages[i].string());
    }
  }
  return PlanSchedule(config);
}

}  // namespace mainstream
