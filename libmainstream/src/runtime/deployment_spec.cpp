#include "mainstream/runtime/deployment_spec.h"

#include <algorithm>
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
  Json apps = Json::array();
  for (const fs::path& p : packages) apps.push_back(Json{{"package", p.string()}});
  return Json{{"schema_version", kDeploymentSpecSchemaVersion},
              {"kind", kDeploymentSpecKind},
              {"profile", profile.string()},
              {"budget", budget},
              {"memory_budget_mb", memory_budget_mb},
              {"algorithm", algorithm},
              {"x_options", x_options},
              {"fps_options", fps_options},
              {"time_limit_s", time_limit_s},
              {"apps", apps}};
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
  s.profile = Resolve(dir, v.Field("profile").AsNonEmptyString());
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
  const JsonView apps = v.Field("apps");
  if (apps.Size() == 0) {
    apps.Fail(
        "no apps: a deployment runs at least one (to stop every app, stop msrun; the running "
        "tree is kept meanwhile)");
  }
  std::map<std::string, std::string> seen;  // canonical package dir -> where
  for (const JsonView& a : apps.Elements()) {
    // An app is its package directory, or {"package": DIR}.
    const JsonView p = a.raw().is_object() ? a.Field("package") : a;
    const fs::path pkg = Resolve(dir, p.AsNonEmptyString());
    std::error_code ec;
    fs::path key = fs::weakly_canonical(pkg, ec);
    if (ec) key = pkg.lexically_normal();
    if (auto [it, fresh] = seen.emplace(key.string(), p.path()); !fresh) {
      p.Fail("package {} is listed twice (also {}); list each app once", pkg.string(), it->second);
    }
    s.packages.push_back(pkg);
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
