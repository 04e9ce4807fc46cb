#include "mainstream/schedule/node_plan.h"

#include <cmath>
#include <map>

#include "mainstream/core/atomic_file.h"
#include "mainstream/core/error.h"
#include "mainstream/core/log.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

constexpr const char* kNodeFile = "node.json";

Json NumberOrNull(double x) { return std::isfinite(x) ? Json(x) : Json(nullptr); }

}  // namespace

Json NodePlan::ToJson() const {
  Json cams = Json::array();
  for (const NodeCamera& c : cameras) {
    Json cj{{"name", c.name},
            {"schedule", c.schedule_file},
            {"share", c.share},
            {"cost", c.schedule.total_cost},
            {"apps", c.schedule.apps.size()},
            {"mean_f1", c.schedule.mean_f1},
            {"min_f1", c.schedule.min_f1}};
    if (!c.input.empty()) cj["input"] = c.input;
    cams.push_back(std::move(cj));
  }
  Json j{{"schema_version", kNodePlanSchemaVersion},
         {"kind", kNodePlanKind},
         {"algorithm", algorithm},
         {"budget", budget},
         {"cheapest_cost", cheapest_cost},
         {"total_cost", total_cost},
         {"apps", apps},
         {"mean_f1", mean_f1},
         {"min_f1", min_f1},
         {"search", Json{{"exact", exact},
                         {"bound_mean_f1", NumberOrNull(bound_mean_f1)},
                         {"gap", NumberOrNull(gap)},
                         {"searches", searches},
                         {"seconds", seconds}}},
         {"cameras", std::move(cams)}};
  if (budget_factor > 0) j["budget_factor"] = budget_factor;
  if (!deployment.empty()) j["deployment"] = deployment;
  return j;
}

NodePlan PlanNode(const DeploymentSpec& spec, const MultiCameraOptions& options) {
  const std::string origin = spec.file.string();
  // The "apps" form is one camera.
  std::vector<DeploymentCamera> cams = spec.cameras;
  if (cams.empty()) cams.push_back(DeploymentCamera{"camera", "", spec.profile, spec.packages});
  MS_CHECK(spec.memory_budget_mb <= 0,
           "{}: $.memory_budget_mb: a memory budget is not split between cameras yet; plan "
           "without one",
           origin);
  ScheduleConfig budget_config;
  ParseBudget(spec.budget, budget_config);

  std::map<std::string, Profile> profiles;
  std::vector<std::vector<MPackage>> packages(cams.size());
  std::vector<ScheduleProblem> problems;
  std::vector<OptionSpace> spaces;
  for (size_t c = 0; c < cams.size(); ++c) {
    const DeploymentCamera& cam = cams[c];
    const std::string where = spec.cameras.empty()
                                  ? std::string("$.apps")
                                  : fmt::format("$.cameras[{}] ('{}')", c, cam.name);
    auto it = profiles.find(cam.profile.string());
    if (it == profiles.end())
      it = profiles.emplace(cam.profile.string(), ReadProfile(cam.profile)).first;
    const Profile& profile = it->second;
    for (size_t i = 0; i < cam.packages.size(); ++i) {
      if (!fs::is_directory(cam.packages[i])) {
        ThrowInput("{}: {}: package directory {} does not exist", origin, where,
                   cam.packages[i].string());
      }
      packages[c].push_back(ReadMPackage(cam.packages[i]));
    }
    CheckCompatible(packages[c], profile, cam.profile.string());
    OptionSpace space;
    space.stream_fps = packages[c][0].stream_fps;
    space.fps_options.clear();
    for (double f : spec.fps_options) {
      if (f <= space.stream_fps + 1e-9) space.fps_options.push_back(f);
    }
    if (space.fps_options.empty()) {
      if (!spec.fps_options.empty()) {
        ThrowInput("{}: $.fps_options: none is at or below camera '{}''s stream rate of {} fps",
                   origin, cam.name, space.stream_fps);
      }
      space.fps_options = DefaultFpsOptions(space.stream_fps);
    }
    space.x_options = spec.x_options;
    problems.push_back(BuildProblem(packages[c], profile, 1e18, space, PredictionOptions{}));
    spaces.push_back(space);
  }

  NodePlan plan;
  plan.deployment = origin;
  plan.algorithm = spec.algorithm;
  plan.cheapest_cost = CheapestMultiCost(problems);
  plan.budget_factor = budget_config.budget_factor;
  plan.budget = budget_config.budget_factor > 0 ? budget_config.budget_factor * plan.cheapest_cost
                                                : budget_config.budget;
  MultiCameraOptions search_options = options;
  search_options.limits.time_limit_s = spec.time_limit_s;
  LogInfo(
      "planning {} camera(s), {} app(s) with {} under budget {:.4g} ms/s", cams.size(),
      [&] {
        size_t n = 0;
        for (const auto& p : packages) n += p.size();
        return n;
      }(),
      spec.algorithm, plan.budget);
  const MultiCameraResult r =
      MultiCameraSearch(problems, plan.budget, spec.algorithm, search_options);
  plan.total_cost = r.cost;
  plan.apps = r.apps;
  plan.mean_f1 = r.mean_f1();
  plan.min_f1 = r.min_f1;
  plan.exact = r.exact;
  plan.bound_mean_f1 = r.bound_mean_f1;
  plan.gap = r.gap;
  plan.searches = r.searches;
  plan.seconds = r.seconds;
  for (size_t c = 0; c < cams.size(); ++c) {
    NodeCamera nc;
    nc.name = cams[c].name;
    nc.input = cams[c].input;
    nc.schedule_file = cams[c].name + ".schedule.json";
    nc.share = r.shares[c];
    ScheduleProblem share = problems[c];
    share.budget = r.shares[c];
    const Profile& profile = profiles.at(cams[c].profile.string());
    nc.schedule =
        MakeScheduleDoc(packages[c], profile, cams[c].profile.string(), share, r.cameras[c]);
    nc.schedule.cheapest_cost = CheapestSolution(problems[c]).cost;
    nc.schedule.search["fps_options"] = spaces[c].fps_options;
    nc.schedule.search["x_options"] = spaces[c].x_options;
    nc.schedule.search["node"] = Json{{"camera", nc.name},
                                      {"cameras", cams.size()},
                                      {"node_budget", plan.budget},
                                      {"share", nc.share}};
    plan.cameras.push_back(std::move(nc));
  }
  return plan;
}

void WriteNodePlan(const NodePlan& plan, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    const bool is_plan = fs::is_directory(dir, ec) && fs::exists(dir / kNodeFile, ec);
    const bool empty = fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
    if (!is_plan && !empty) {
      ThrowInput(
          "{}: exists and is not a plan directory (no {}); give a new directory to -o, or remove "
          "it",
          dir.string(), kNodeFile);
    }
  }
  const fs::path staged = StagingPath(dir);
  try {
    fs::create_directories(staged);
    for (const NodeCamera& c : plan.cameras) WriteSchedule(c.schedule, staged / c.schedule_file);
    WriteJsonFileAtomic(staged / kNodeFile, plan.ToJson());
    ReplaceDirectory(staged, dir);
  } catch (...) {
    fs::remove_all(staged, ec);
    throw;
  }
}

NodePlan ReadNodePlan(const fs::path& path) {
  const fs::path file = fs::is_directory(path) ? path / kNodeFile : path;
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  const Json j = ReadJsonFile(file);
  const JsonView v(j, file.string());
  v.RequireKind(kNodePlanKind, "node plan (msschedule plan)");
  v.RequireSchema(kNodePlanSchemaVersion, "node plan");
  NodePlan p;
  if (auto d = v.OptionalField("deployment")) p.deployment = d->AsString();
  p.algorithm = v.Field("algorithm").AsNonEmptyString();
  if (const std::string unknown = UnknownAlgorithm(p.algorithm); !unknown.empty())
    v.Field("algorithm").Fail("{}", unknown);
  p.budget = v.NumberIn("budget", 1e-12, 1e12);
  if (auto f = v.OptionalField("budget_factor")) p.budget_factor = f->AsNumberIn(1e-9, 1e6);
  p.cheapest_cost = v.NumberIn("cheapest_cost", 0, 1e12);
  p.total_cost = v.NumberIn("total_cost", 0, 1e12);
  p.apps = static_cast<size_t>(v.IntIn("apps", 1, 1000000));
  p.mean_f1 = v.NumberIn("mean_f1", 0, 1);
  p.min_f1 = v.NumberIn("min_f1", 0, 1);
  const JsonView s = v.Field("search");
  p.exact = s.Field("exact").AsBool();
  if (auto b = s.OptionalField("bound_mean_f1")) p.bound_mean_f1 = b->AsNumberIn(0, 1);
  if (auto g = s.OptionalField("gap")) p.gap = g->AsNumberIn(0, 1);
  p.searches = s.IntIn("searches", 0, int64_t{1} << 50);
  p.seconds = s.NumberIn("seconds", 0, 1e9);
  const JsonView cams = v.Field("cameras");
  if (cams.Size() == 0) cams.Fail("no cameras");
  std::map<std::string, std::string> names;
  double cost = 0, sum = 0, mn = 1;
  size_t apps = 0;
  for (const JsonView& c : cams.Elements()) {
    NodeCamera nc;
    const JsonView name = c.Field("name");
    nc.name = name.AsNonEmptyString();
    if (auto [it, fresh] = names.emplace(nc.name, name.path()); !fresh)
      name.Fail("camera '{}' is named twice (also {})", nc.name, it->second);
    if (auto in = c.OptionalField("input")) nc.input = in->AsString();
    const JsonView sched = c.Field("schedule");
    nc.schedule_file = sched.AsNonEmptyString();
    const fs::path rel(nc.schedule_file);
    if (rel.is_absolute() || rel.lexically_normal().string().rfind("..", 0) == 0 ||
        rel.has_parent_path()) {
      sched.Fail("'{}': a camera's schedule must be a file beside {} (a plain file name)",
                 nc.schedule_file, kNodeFile);
    }
    nc.share = c.NumberIn("share", 0, 1e12);
    nc.schedule = ReadSchedule(dir / rel);
    const double recorded = c.NumberIn("cost", 0, 1e12);
    if (std::fabs(recorded - nc.schedule.total_cost) > 1e-6 * std::max(1.0, recorded)) {
      c.Field("cost").Fail("{} does not match {}'s total_cost {} (files from different plans?)",
                           recorded, nc.schedule_file, nc.schedule.total_cost);
    }
    cost += nc.schedule.total_cost;
    sum += nc.schedule.mean_f1 * static_cast<double>(nc.schedule.apps.size());
    mn = std::min(mn, nc.schedule.min_f1);
    apps += nc.schedule.apps.size();
    p.cameras.push_back(std::move(nc));
  }
  if (std::fabs(cost - p.total_cost) > 1e-6 * std::max(1.0, cost)) {
    v.Field("total_cost")
        .Fail("{} is not the sum of the cameras' schedules ({}); re-run msschedule plan",
              p.total_cost, cost);
  }
  if (apps != p.apps) v.Field("apps").Fail("{} apps, but the schedules hold {}", p.apps, apps);
  if (std::fabs(sum / static_cast<double>(apps) - p.mean_f1) > 1e-6)
    v.Field("mean_f1").Fail("{} is not the schedules' mean {}", p.mean_f1,
                            sum / static_cast<double>(apps));
  if (p.total_cost > p.budget * (1 + 1e-9) + 1e-9)
    v.Field("total_cost").Fail("{} exceeds the budget {}", p.total_cost, p.budget);
  return p;
}

NodePlanner::NodePlanner(fs::path file, MultiCameraOptions options)
    : file_(std::move(file)), options_(options) {}

std::shared_ptr<const NodePlan> NodePlanner::Plan(const std::string& text) {
  // One plan at a time: a camera that sees the change second waits for the
  // first's plan rather than searching again.
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : recent_) {
    if (e.text != text) continue;
    if (e.error) std::rethrow_exception(e.error);
    return e.plan;
  }
  Entry entry;
  entry.text = text;
  try {
    const DeploymentSpec spec = ParseDeploymentSpec(text, file_);
    std::vector<std::pair<std::string, std::string>> cams;
    for (const DeploymentCamera& c : spec.cameras) cams.emplace_back(c.name, c.input);
    if (cams.empty()) cams.emplace_back("camera", "");
    if (cameras_.empty()) {
      cameras_ = cams;
    } else if (cams != cameras_) {
      auto list = [](const std::vector<std::pair<std::string, std::string>>& v) {
        std::string s;
        for (const auto& [name, input] : v)
          s += fmt::format("{}{} ({})", s.empty() ? "" : ", ", name, input.empty() ? "-" : input);
        return s;
      };
      ThrowInput(
          "{}: $.cameras: {}; this node runs {}: a running msrun keeps the cameras it started "
          "with (change their apps and the budget freely; restart msrun to add, remove or "
          "re-point a camera)",
          file_.string(), list(cams), list(cameras_));
    }
    entry.plan = std::make_shared<const NodePlan>(PlanNode(spec, options_));
  } catch (...) {
    entry.error = std::current_exception();
  }
  recent_.push_back(entry);
  if (recent_.size() > 4) recent_.pop_front();
  if (entry.error) std::rethrow_exception(entry.error);
  return entry.plan;
}

ScheduleDoc NodePlanner::ScheduleFor(const std::string& text, const std::string& camera) {
  const std::shared_ptr<const NodePlan> plan = Plan(text);
  for (const NodeCamera& c : plan->cameras) {
    if (c.name == camera) return c.schedule;
  }
  ThrowInput("{}: no camera '{}' in the deployment", file_.string(), camera);
}

}  // namespace mainstream
