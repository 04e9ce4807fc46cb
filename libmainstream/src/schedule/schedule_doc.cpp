#include "mainstream/schedule/schedule_doc.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <set>

#include "mainstream/core/log.h"
#include "mainstream/labels/score_trace.h"
#include "mainstream/profile/cache_probe.h"
#include "mainstream/schedule/profile_costs.h"

namespace fs = std::filesystem;

namespace mainstream {

namespace {

// True the first time `key` is seen in this process (thread-safe).
bool FirstTimeFor(const std::string& key) {
  static std::mutex mutex;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mutex);
  return seen.insert(key).second;
}

}  // namespace

std::vector<AppRequest> ScheduleDoc::Requests() const {
  std::vector<AppRequest> r;
  for (const auto& a : apps) {
    const bool micro = a.kind == CandidateKind::kMicro;
    r.push_back(AppRequest{a.branchpoint, a.fps, micro ? a.own_ms : -1, micro ? a.own_bytes : -1});
  }
  return r;
}

std::vector<std::string> ScheduleDoc::AppNames() const {
  std::vector<std::string> n;
  for (const auto& a : apps) n.push_back(a.app);
  return n;
}

namespace {
std::string RelativePath(const fs::path& p, const fs::path& base) {
  std::error_code ec;
  fs::path abs_p = fs::absolute(p, ec);
  fs::path abs_b = fs::absolute(base.empty() ? fs::path(".") : base, ec);
  fs::path rel = fs::relative(abs_p, abs_b, ec);
  if (ec || rel.empty()) return abs_p.string();
  return rel.string();
}
}  // namespace

Json ScheduleDoc::ToJson(const fs::path& relative_to) const {
  Json apps_json = Json::array();
  for (const auto& a : apps) {
    Json& aj = apps_json.emplace_back(
        Json{{"app", a.app},
             {"package", RelativePath(a.package, relative_to)},
             {"candidate", a.candidate},
             {"kind", CandidateKindName(a.kind)},
             {"branchpoint", a.branchpoint},
             {"fps", a.fps},
             {"x_vote", a.x_vote},
             {"tpr", a.tpr},
             {"fpr", a.fpr},
             {"threshold", a.threshold},
             {"weights", a.weights.empty() ? Json(nullptr) : Json(a.weights)},
             {"own_cost", a.own_cost},
             {"predicted", a.predicted.ToJson()}});
    if (a.kind == CandidateKind::kMicro) {
      aj["own_ms"] = a.own_ms;
      aj["own_bytes"] = a.own_bytes;
    }
  }
  Json stages = Json::array();
  for (size_t k = 0; k < costs.stage_ms.size(); ++k) {
    Json stage{{"name", k < stage_names.size() ? stage_names[k] : std::to_string(k)},
               {"ms", costs.stage_ms[k]}};
    if (costs.HasBranchStages()) stage["branch_ms"] = costs.branch_stage_ms[k];
    if (costs.cache().enabled()) {
      stage["cold_ms"] = costs.cache().cold_ms[k];
      stage["cold_reuse_bytes"] = costs.cache().cold_reuse[k];
      stage["cache_bytes"] = costs.cache().bytes[k];
    }
    if (!memory.empty()) {
      stage["param_bytes"] = memory.param_bytes[k];
      stage["activation_bytes"] = memory.activation_bytes[k];
      if (!memory.resident_bytes.empty()) stage["resident_bytes"] = memory.resident_bytes[k];
    }
    stages.push_back(std::move(stage));
  }
  Json j{
      {"schema_version", kScheduleSchemaVersion},
      {"kind", "mainstream.schedule"},
      {"budget", budget},
      {"budget_factor", budget_factor > 0 ? Json(budget_factor) : Json(nullptr)},
      {"cheapest_cost", cheapest_cost},
      {"algorithm", algorithm},
      {"objective", objective},
      {"stream_fps", stream_fps},
      {"base", base.ToJson()},
      {"profile", profile},
      {"decode_ms", costs.decode_ms},
      {"preprocess_ms", costs.preprocess_ms},
      {"decode_extra_ms", costs.decode_extra_ms > 0 ? Json(costs.decode_extra_ms) : Json(nullptr)},
      {"speed_reference_ms", speed_reference_ms > 0 ? Json(speed_reference_ms) : Json(nullptr)},
      {"stages", stages},
      {"total_cost", total_cost},
      {"predicted", Json{{"mean_f1", mean_f1},
                         {"min_f1", min_f1},
                         {"mean_recall", mean_recall},
                         {"mean_precision", mean_precision}}},
      {"search", search},
      {"apps", apps_json},
      {"tree", tree.ToJson(AppNames())}};
  if (costs.cache().enabled()) {
    const CacheModel& c = costs.cache();
    j["cache"] = Json{{"probe", ProbeCurveToJson(c.curve_bytes, c.curve_ns)},
                      {"hot_bytes", c.hot_bytes},
                      {"traffic_bytes", tree.traffic_bytes}};
  }
  j["memory_budget"] = memory_budget > 0 ? Json(memory_budget) : Json(nullptr);
  if (!memory.empty()) {
    j["input_bytes"] = memory.input_bytes;
    if (memory.overhead_bytes > 0) j["memory_overhead_bytes"] = memory.overhead_bytes;
    if (memory.segment_bytes > 0) j["memory_segment_bytes"] = memory.segment_bytes;
    j["memory"] = predicted_memory.ToJson();
  }
  return j;
}

ScheduleDoc ReadSchedule(const fs::path& file) {
  Json j = ReadJsonFile(file);
  JsonView v(j, file.string());
  v.RequireKind("mainstream.schedule", "schedule");
  v.RequireSchema(kScheduleSchemaVersion, "schedule");
  ScheduleDoc d;
  d.budget = v.NumberIn("budget", 0, 1e12);
  if (auto f = v.OptionalField("budget_factor")) d.budget_factor = f->AsNumberIn(1e-9, 1e9);
  if (auto c = v.OptionalField("cheapest_cost")) d.cheapest_cost = c->AsNumberIn(0, 1e12);
  d.algorithm = v.String("algorithm");
  if (auto o = v.OptionalField("objective")) d.objective = o->AsString();
  d.stream_fps = v.NumberIn("stream_fps", kMinFps, kMaxFps);
  d.base = BaseRef::FromJson(v.Field("base"));
  if (auto p = v.OptionalField("profile")) d.profile = p->AsString();
  double decode = v.NumberIn("decode_ms", 0, 1e7);
  double preprocess = 0;
  if (auto pre = v.OptionalField("preprocess_ms")) preprocess = pre->AsNumberIn(0, 1e7);
  if (auto r = v.OptionalField("speed_reference_ms"))
    d.speed_reference_ms = r->AsNumberIn(1e-9, 1e7);
  std::vector<double> stage_ms, branch_ms;
  CacheModel cache;
  JsonView stages = v.Field("stages");
  if (stages.Size() != static_cast<size_t>(d.base.num_stages)) {
    stages.Fail("has {} stages but base.num_stages is {}", stages.Size(), d.base.num_stages);
  }
  for (const JsonView& s : stages.Elements()) {
    d.stage_names.push_back(s.String("name"));
    stage_ms.push_back(s.NumberIn("ms", 0, 1e7));
    if (auto b = s.OptionalField("branch_ms")) branch_ms.push_back(b->AsNumberIn(0, 1e7));
    if (auto c = s.OptionalField("cold_ms")) cache.cold_ms.push_back(c->AsNumberIn(0, 1e7));
    if (auto c = s.OptionalField("cold_reuse_bytes"))
      cache.cold_reuse.push_back(c->AsNumberIn(1, 1e13));
    if (auto c = s.OptionalField("cache_bytes")) cache.bytes.push_back(c->AsNumberIn(0, 1e13));
    if (auto b = s.OptionalField("param_bytes"))
      d.memory.param_bytes.push_back(b->AsNumberIn(0, 1e13));
    if (auto b = s.OptionalField("activation_bytes"))
      d.memory.activation_bytes.push_back(b->AsNumberIn(0, 1e13));
    if (auto b = s.OptionalField("resident_bytes"))
      d.memory.resident_bytes.push_back(b->AsNumberIn(0, 1e13));
  }
  if ((!d.memory.param_bytes.empty() || !d.memory.activation_bytes.empty()) &&
      (d.memory.param_bytes.size() != stage_ms.size() ||
       d.memory.activation_bytes.size() != stage_ms.size())) {
    stages.Fail(
        "{} of its {} stages have param_bytes and {} activation_bytes: give both for every stage "
        "or none",
        d.memory.param_bytes.size(), stage_ms.size(), d.memory.activation_bytes.size());
  }
  if (!d.memory.resident_bytes.empty() && d.memory.resident_bytes.size() != stage_ms.size()) {
    stages.Fail("{} of its {} stages have resident_bytes: give it for every stage or none",
                d.memory.resident_bytes.size(), stage_ms.size());
  }
  if (!branch_ms.empty() && branch_ms.size() != stage_ms.size()) {
    stages.Fail("{} of its {} stages have branch_ms: give it for every stage or none",
                branch_ms.size(), stage_ms.size());
  }
  d.costs = StageCosts(stage_ms, preprocess, decode, d.stream_fps);
  if (auto e = v.OptionalField("decode_extra_ms")) d.costs.decode_extra_ms = e->AsNumberIn(0, 1e7);
  d.costs.SetBranchStages(branch_ms);
  if (auto c = v.OptionalField("cache")) {
    if (cache.cold_ms.size() != stage_ms.size() || cache.bytes.size() != stage_ms.size() ||
        cache.cold_reuse.size() != stage_ms.size()) {
      stages.Fail(
          "a schedule with a cache model needs cold_ms, cold_reuse_bytes and cache_bytes for "
          "every stage");
    }
    ReadProbeCurve(c->Field("probe"), &cache.curve_bytes, &cache.curve_ns);
    cache.hot_bytes = c->NumberIn("hot_bytes", 1, 1e13);
    try {
      d.costs.SetCache(std::move(cache));
    } catch (const InputError& e) {
      c->Fail("{}", e.what());
    }
  } else if (!cache.cold_ms.empty() || !cache.bytes.empty() || !cache.cold_reuse.empty()) {
    stages.Fail("cold_ms, cold_reuse_bytes or cache_bytes without the cache model ($.cache)");
  }
  fs::path base_dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  JsonView apps = v.Field("apps");
  if (apps.Size() == 0) apps.Fail("no apps in the schedule");
  std::set<std::string> names;
  for (const JsonView& a : apps.Elements()) {
    ScheduledApp s;
    s.app = a.Field("app").AsNonEmptyString();
    if (!names.insert(s.app).second) a.Field("app").Fail("duplicate app name \"{}\"", s.app);
    fs::path pkg = a.Field("package").AsNonEmptyString();
    s.package = pkg.is_absolute() ? pkg : fs::absolute(base_dir / pkg).lexically_normal();
    s.candidate = static_cast<int>(a.IntIn("candidate", 0, 1 << 20));
    s.branchpoint = static_cast<int>(a.IntIn("branchpoint", 0, d.base.num_stages - 1));
    s.kind = ParseCandidateKind(a);
    if (s.kind == CandidateKind::kMicro) {
      if (s.branchpoint < 1)
        a.Field("branchpoint").Fail("a microclassifier reads a feature map: branchpoint >= 1");
      s.own_ms = a.NumberIn("own_ms", 0, 1e6);
      s.own_bytes = a.NumberIn("own_bytes", 0, 1e15);
    }
    s.fps = a.NumberIn("fps", kMinFps, d.stream_fps + 1e-9);
    s.x_vote = static_cast<int>(a.IntIn("x_vote", 1, 1000));
    s.tpr = a.NumberIn("tpr", 0, 1);
    s.fpr = a.NumberIn("fpr", 0, 1);
    if (auto t = a.OptionalField("threshold")) s.threshold = t->AsNumberIn(0, 1);
    if (auto w = a.OptionalField("weights")) s.weights = FileInsidePackage(*w);
    if (auto oc = a.OptionalField("own_cost")) s.own_cost = oc->AsNumber();
    s.predicted = AppPrediction::FromJson(a.Field("predicted"));
    d.apps.push_back(std::move(s));
  }
  d.tree = BuildMergedTree(d.costs, d.Requests());
  d.total_cost = v.NumberIn("total_cost", 0, 1e12);
  if (std::fabs(d.total_cost - d.tree.total_cost()) > 1e-6 * std::max(1.0, d.total_cost)) {
    v.Field("total_cost")
        .Fail(
            "recorded cost {} disagrees with the cost of its apps and stages {} "
            "(was the file edited by hand?)",
            d.total_cost, d.tree.total_cost());
  }
  if (auto mb = v.OptionalField("memory_budget"); mb && !mb->IsNull())
    d.memory_budget = mb->AsNumberIn(1, 1e13);
  if (!d.memory.empty()) {
    d.memory.input_bytes = v.NumberIn("input_bytes", 0, 1e13);
    if (auto o = v.OptionalField("memory_overhead_bytes"))
      d.memory.overhead_bytes = o->AsNumberIn(0, 1e13);
    if (auto o = v.OptionalField("memory_segment_bytes"))
      d.memory.segment_bytes = o->AsNumberIn(0, 1e13);
    d.predicted_memory = ScheduleMemory(d.memory, d.Requests());
    const double recorded = v.Field("memory").NumberIn("total", 0, 1e13);
    if (std::fabs(recorded - d.predicted_memory.total()) > 1e-6 * std::max(1.0, recorded)) {
      v.Field("memory").Field("total").Fail(
          "recorded memory {} disagrees with the memory of its apps and stages {} (was the file "
          "edited by hand?)",
          recorded, d.predicted_memory.total());
    }
  } else if (d.memory_budget > 0) {
    v.Field("memory_budget")
        .Fail("a memory budget needs the stages' param_bytes and activation_bytes");
  }
  if (auto p = v.OptionalField("predicted")) {
    d.mean_f1 = p->NumberIn("mean_f1", 0, 1);
    if (auto m = p->OptionalField("min_f1")) d.min_f1 = m->AsNumberIn(0, 1);
    if (auto m = p->OptionalField("mean_recall")) d.mean_recall = m->AsNumberIn(0, 1);
    if (auto m = p->OptionalField("mean_precision")) d.mean_precision = m->AsNumberIn(0, 1);
  }
  if (auto s = v.OptionalField("search")) d.search = s->raw();
  return d;
}

void WriteSchedule(const ScheduleDoc& doc, const fs::path& file) {
  fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  WriteJsonFileAtomic(file, doc.ToJson(dir));
}

// A budget given as a multiple of the cheapest schedule's cost: the range
// every reader (flags, deployment files, ScheduleConfig) accepts.
static void CheckBudgetFactor(double factor) {
  MS_CHECK(std::isfinite(factor) && factor > 0 && factor <= 1e6,
           "--budget: the factor must be in (0, 10^6], got {}x", factor);
}

void ScheduleConfig::Validate() const {
  MS_CHECK(!packages.empty(), "--packages: give at least one M-Package directory");
  MS_CHECK(!profile.empty(), "--profile: a profile JSON file is required");
  if (budget_factor > 0) {
    CheckBudgetFactor(budget_factor);
  } else {
    MS_CHECK(std::isfinite(budget) && budget > 0,
             "--budget must be a positive number (ms of compute per second of video) or a multiple "
             "of the cheapest "
             "schedule's cost such as 1.5x, got {}",
             budget);
  }
  for (double f : fps_options)
    MS_CHECK(f >= kMinFps && f <= kMaxFps, "--fps: frame rates must be in [{}, {}], got {}",
             kMinFps, kMaxFps, f);
  MS_CHECK(!x_options.empty(), "--x-vote: give at least one X");
  for (int x : x_options)
    MS_CHECK(x >= 1 && x <= 1000, "--x-vote: X must be in [1, 1000], got {}", x);
  MS_CHECK(std::isfinite(limits.time_limit_s) && limits.time_limit_s >= 0,
           "--time-limit must be a number of seconds >= 0 (0: none), got {}", limits.time_limit_s);
  MS_CHECK(limits.max_nodes >= 0, "--max-nodes must be >= 0 (0: none), got {}", limits.max_nodes);
  MS_CHECK(std::isfinite(memory_budget) && memory_budget >= 0,
           "--memory-budget must be a positive number of MB (0: none), got {} bytes",
           memory_budget);
  const std::string unknown = UnknownAlgorithm(algorithm);
  MS_CHECK(unknown.empty(), "--algo: {}", unknown);
}

Json ScheduleConfig::ToJson() const {
  Json pk = Json::array();
  for (const auto& p : packages) pk.push_back(p.string());
  return Json{{"packages", pk},         {"profile", profile.string()},
              {"budget", budget},       {"budget_factor", budget_factor},
              {"algorithm", algorithm}, {"fps_options", fps_options},
              {"x_options", x_options}, {"memory_budget", memory_budget}};
}

void CheckCompatible(const std::vector<MPackage>& packages, const Profile& profile,
                     const std::string& profile_origin) {
  MS_CHECK(!packages.empty(), "no M-Packages given");
  std::set<std::string> names;
  for (const auto& p : packages) {
    std::string origin = (p.dir / kMPackageManifest).string();
    if (p.base.sha256 != profile.base.sha256) {
      ThrowInput(
          "{}: $.base.sha256: package was trained on base {} ({}...) but {} profiles base {} "
          "({}...); "
          "profile the package's base or retrain the package",
          origin, p.base.id, p.base.sha256.substr(0, 12), profile_origin, profile.base.id,
          profile.base.sha256.substr(0, 12));
    }
    if (p.base.num_stages != profile.base.num_stages) {
      ThrowInput("{}: $.base.num_stages: {} disagrees with {} ({})", origin, p.base.num_stages,
                 profile_origin, profile.base.num_stages);
    }
    if (std::fabs(p.stream_fps - packages[0].stream_fps) > 1e-9) {
      ThrowInput("{}: $.stream_fps: {} differs from {} in {}; all apps must watch the same stream",
                 origin, p.stream_fps, packages[0].stream_fps,
                 (packages[0].dir / kMPackageManifest).string());
    }
    if (!names.insert(p.app).second) {
      ThrowInput("{}: $.app: app name \"{}\" is used by two packages; app names must be unique",
                 origin, p.app);
    }
  }
}

void ParseBudget(const std::string& text, ScheduleConfig& config) {
  std::string t = text;
  const bool relative = !t.empty() && (t.back() == 'x' || t.back() == 'X');
  if (relative) t.pop_back();
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  MS_CHECK(!t.empty() && end == t.c_str() + t.size() && std::isfinite(v) && v > 0,
           "--budget: '{}' is neither a positive number of ms per second of video (e.g. 12.5) nor "
           "a multiple of the "
           "cheapest schedule's cost (e.g. 1.5x)",
           text);
  if (relative) CheckBudgetFactor(v);
  config.budget_factor = relative ? v : 0;
  config.budget = relative ? 0 : v;
}

ScheduleProblem BuildProblem(const std::vector<MPackage>& packages, const Profile& profile,
                             double budget, const OptionSpace& space,
                             const PredictionOptions& options) {
  ScheduleProblem problem;
  MS_CHECK(!packages.empty(), "no packages");
  problem.costs = ProfileCosts(profile, packages[0].stream_fps);
  problem.memory = ProfileMemory(profile);
  problem.budget = budget;
  // Microclassifiers are charged their measured latency scaled to this
  // machine by the whole base's (MicroSpec::LatencyOn).
  const double whole_ms =
      profile.whole_model_p50_ms > 0 ? profile.whole_model_p50_ms : problem.costs.Total();
  options.Validate();
  for (const auto& p : packages) {
    std::optional<ScoreTrace> trace;
    if (p.trace && options.use_trace) {
      trace = LoadPackageTrace(p);
    } else if (options.use_trace && FirstTimeFor((p.dir / kMPackageManifest).string())) {
      // Once per package and process: msrun --deployment re-plans often.
      LogWarn(
          "{}: no score trace (a package from before out-of-fold estimates): predicting its F1 "
          "with the "
          "analytical model only; retrain it with mstrain for trace-driven predictions",
          (p.dir / kMPackageManifest).string());
    }
    AppChoices& app = problem.apps.emplace_back(
        BuildAppChoices(p.app, p.candidates, p.events, space, trace ? &*trace : nullptr, options));
    for (AppOption& o : app.options) {
      if (!o.is_micro()) continue;
      const MicroSpec& m = p.candidates.at(static_cast<size_t>(o.candidate)).micro;
      o.own_ms = m.LatencyOn(whole_ms);
      o.own_bytes = m.param_bytes;
    }
  }
  return problem;
}

ScheduleDoc MakeScheduleDoc(const std::vector<MPackage>& packages, const Profile& profile,
                            const std::string& profile_path, const ScheduleProblem& problem,
                            const SearchResult& result) {
  ScheduleDoc d;
  d.budget = problem.budget;
  d.algorithm = result.algorithm;
  d.objective = result.algorithm == "maxmin" ? "min_f1" : "mean_f1";
  d.stream_fps = packages.at(0).stream_fps;
  d.base = profile.base;
  d.profile = profile_path;
  d.costs = problem.costs;
  d.speed_reference_ms = profile.speed_reference_ms;
  for (const auto& s : profile.stages) d.stage_names.push_back(s.name);
  const Solution& sol = result.solution;
  double rec = 0, prec = 0;
  for (size_t i = 0; i < packages.size(); ++i) {
    const AppOption& o = problem.apps[i].options.at(static_cast<size_t>(sol.choice.at(i)));
    const Candidate& c = packages[i].candidates.at(static_cast<size_t>(o.candidate));
    ScheduledApp a;
    a.app = packages[i].app;
    a.package = packages[i].dir;
    a.candidate = o.candidate;
    a.branchpoint = o.branchpoint;
    a.kind = o.kind;
    a.own_ms = o.own_ms;
    a.own_bytes = o.own_bytes;
    a.fps = o.fps;
    a.x_vote = o.x_vote;
    a.tpr = c.tpr;
    a.fpr = c.fpr;
    a.threshold = c.threshold;
    a.weights = c.weights;
    a.predicted = o.pred;
    rec += o.pred.recall;
    prec += o.pred.precision;
    d.apps.push_back(std::move(a));
  }
  d.tree = BuildMergedTree(d.costs, d.Requests());
  d.total_cost = d.tree.total_cost();
  for (size_t i = 0; i < d.apps.size(); ++i)  // with a cache model, what the branch pays
    d.apps[i].own_cost = d.tree.nodes.at(static_cast<size_t>(d.tree.branch_of_app[i])).cost();
  d.memory = problem.memory;
  d.memory_budget = problem.memory_budget;
  d.predicted_memory = ScheduleMemory(d.memory, d.Requests());
  d.mean_f1 = sol.mean_f1();
  d.min_f1 = sol.min_f1;
  d.mean_recall = rec / static_cast<double>(packages.size());
  d.mean_precision = prec / static_cast<double>(packages.size());
  d.search = Json{{"seconds", result.seconds},
                  {"nodes", result.nodes},
                  {"steps", result.steps},
                  {"exact", result.exact}};
  if (std::isfinite(result.bound_mean_f1)) {
    d.search["bound_mean_f1"] = result.bound_mean_f1;
    d.search["gap"] = result.gap;
  }
  if (!result.stopped_by.empty()) d.search["stopped_by"] = result.stopped_by;
  if (!result.cache_passes.empty()) {
    Json passes = Json::array();
    for (const auto& p : result.cache_passes) {
      passes.push_back(Json{{"stem_fraction", p.stem_fraction},
                            {"branch_fraction", p.branch_fraction},
                            {"searched_cost", p.searched_cost},
                            {"cost", p.cost},
                            {"fits", p.fits}});
    }
    d.search["cache_passes"] = passes;
  }
  return d;
}

ScheduleDoc PlanSchedule(const ScheduleConfig& config) {
  config.Validate();
  Profile profile = ReadProfile(config.profile);
  std::vector<MPackage> packages;
  for (const auto& p : config.packages) packages.push_back(ReadMPackage(p));
  CheckCompatible(packages, profile, config.profile.string());
  OptionSpace space;
  space.stream_fps = packages[0].stream_fps;
  space.fps_options =
      config.fps_options.empty() ? DefaultFpsOptions(space.stream_fps) : config.fps_options;
  for (double f : space.fps_options) {
    MS_CHECK(f <= space.stream_fps + 1e-9, "--fps: {} exceeds the stream's {} fps", f,
             space.stream_fps);
  }
  space.x_options = config.x_options;
  ScheduleProblem problem =
      BuildProblem(packages, profile, config.budget, space, config.prediction);
  if (config.memory_budget > 0) {
    if (!profile.HasMemory()) {
      ThrowInput(
          "{}: $.stages[0].param_bytes: --memory-budget needs a profile that records each stage's "
          "parameter and activation bytes; re-run msprofile to get one",
          config.profile.string());
    }
    problem.memory_budget = config.memory_budget;
  }
  const double cheapest = CheapestSolution(problem).cost;
  if (config.budget_factor > 0) {
    problem.budget = config.budget_factor * cheapest;
    LogInfo("budget {}x the cheapest schedule's {:.4g} ms/s = {:.4g} ms/s", config.budget_factor,
            cheapest, problem.budget);
  }
  LogInfo("scheduling {} apps with {} under budget {} ({} candidates x {} rates x {} X each)",
          packages.size(), config.algorithm, problem.budget, packages[0].candidates.size(),
          space.fps_options.size(), space.x_options.size());
  SearchResult result = RunSearch(problem, config.algorithm, config.limits);
  ScheduleDoc doc = MakeScheduleDoc(packages, profile, config.profile.string(), problem, result);
  doc.budget_factor = config.budget_factor;
  doc.cheapest_cost = cheapest;
  doc.search["fps_options"] = space.fps_options;
  doc.search["x_options"] = space.x_options;
  doc.search["prediction"] =
      Json{{"trace", config.prediction.use_trace},
           {"trace_prior", config.prediction.prior_events},
           {"selection_resamples", config.prediction.selection_resamples},
           {"selection_unit", config.prediction.selection_by_fold ? "fold" : "event"},
           {"selection_seed", config.prediction.selection_seed},
           {"heterogeneity_null", config.prediction.permutation_null ? "permutation" : "normal"},
           {"microclassifiers", config.prediction.use_micro}};
  if (config.limits.time_limit_s > 0) doc.search["time_limit"] = config.limits.time_limit_s;
  if (config.limits.max_nodes > 0) doc.search["max_nodes"] = config.limits.max_nodes;
  return doc;
}

}  // namespace mainstream
