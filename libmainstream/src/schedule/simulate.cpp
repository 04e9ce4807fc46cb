#include "mainstream/schedule/simulate.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <thread>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/core/random.h"
#include "mainstream/schedule/schedule_doc.h"
#include "mainstream/schedule/search.h"

namespace mainstream {

UniformRange ParseRange(const std::string& text, const std::string& flag) {
  UniformRange r;
  auto parse = [&](const std::string& s) {
    try {
      size_t pos = 0;
      double v = std::stod(s, &pos);
      if (pos != s.size() || !std::isfinite(v)) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      ThrowInput("{}: '{}' is not a number (expected a value or a range lo:hi)", flag, s);
    }
  };
  auto colon = text.find(':');
  if (colon == std::string::npos) {
    r.lo = r.hi = parse(text);
  } else {
    r.lo = parse(text.substr(0, colon));
    r.hi = parse(text.substr(colon + 1));
  }
  MS_CHECK(r.lo <= r.hi, "{}: range {} has lo > hi", flag, text);
  return r;
}

void SimulateConfig::Validate() const {
  MS_CHECK(!num_apps.empty(), "--apps: give at least one number of apps");
  for (int n : num_apps)
    MS_CHECK(n >= 1 && n <= 10000, "--apps: number of apps must be in [1, 10000], got {}", n);
  MS_CHECK(!budgets.empty(), "--budgets: give at least one budget");
  for (double b : budgets)
    MS_CHECK(b > 0 && std::isfinite(b), "--budgets: budgets must be > 0, got {}", b);
  for (double m : memory_budgets_mb)
    MS_CHECK(m > 0 && std::isfinite(m), "--memory-budgets: memory budgets must be > 0 MB, got {}",
             m);
  MS_CHECK(!algorithms.empty(), "--algos: give at least one algorithm");
  for (const auto& a : algorithms) {
    const std::string unknown = UnknownAlgorithm(a);
    MS_CHECK(unknown.empty(), "--algos: {}", unknown);
  }
  MS_CHECK(workloads >= 1, "--workloads must be >= 1, got {}", workloads);
  MS_CHECK(event_length_ms.lo > 0, "--event-length-ms: lengths must be > 0");
  MS_CHECK(event_frequency.lo > 0 && event_frequency.hi <= 1,
           "--event-frequency: must be within (0, 1]");
  MS_CHECK(correlation.lo >= 0 && correlation.hi < 1, "--correlation: must be within [0, 1)");
  MS_CHECK(threads >= 1, "--threads must be >= 1");
  for (int x : x_options) MS_CHECK(x >= 1, "--x-vote: X must be >= 1, got {}", x);
}

Json SimulateConfig::ToJson() const {
  return Json{{"num_apps", num_apps},
              {"budgets", budgets},
              {"memory_budgets_mb", memory_budgets_mb},
              {"algorithms", algorithms},
              {"workloads", workloads},
              {"event_length_ms", {event_length_ms.lo, event_length_ms.hi}},
              {"event_frequency", {event_frequency.lo, event_frequency.hi}},
              {"correlation", {correlation.lo, correlation.hi}},
              {"fps_options", fps_options},
              {"x_options", x_options},
              {"seed", seed},
              {"threads", threads}};
}

std::vector<MPackage> MakeWorkload(const std::vector<MPackage>& templates,
                                   const SimulateConfig& config, int num_apps, int workload) {
  MS_CHECK(!templates.empty(), "no template packages");
  const double stream_fps = templates[0].stream_fps;
  Rng rng(SubSeed(config.seed,
                  static_cast<uint64_t>(num_apps) * 1000003ULL + static_cast<uint64_t>(workload)));
  std::vector<MPackage> apps;
  for (int i = 0; i < num_apps; ++i) {
    MPackage p = templates[rng.Index(templates.size())];
    p.app = p.app + "#" + std::to_string(i);
    double len_ms = rng.Uniform(config.event_length_ms.lo, config.event_length_ms.hi);
    double len_frames = std::max(len_ms / 1000.0 * stream_fps, 1e-3);
    p.events.mean_length = p.events.min_length = len_frames;
    p.events.lengths.clear();
    p.events.frequency = rng.Uniform(config.event_frequency.lo, config.event_frequency.hi);
    p.events.correlation = rng.Uniform(config.correlation.lo, config.correlation.hi);
    apps.push_back(std::move(p));
  }
  return apps;
}

namespace {
struct Task {
  int num_apps;
  int workload;
};
}  // namespace

SimulateOutput RunSimulation(const std::vector<MPackage>& templates, const Profile& profile,
                             const SimulateConfig& config) {
  config.Validate();
  MS_CHECK(!templates.empty(), "simulate needs at least one template M-Package");
  const double t0 = NowSeconds();
  const double stream_fps = templates[0].stream_fps;
  OptionSpace space;
  space.stream_fps = stream_fps;
  space.fps_options =
      config.fps_options.empty() ? DefaultFpsOptions(stream_fps) : config.fps_options;
  space.x_options = config.x_options;

  std::vector<Task> tasks;
  for (int n : config.num_apps)
    for (int w = 0; w < config.workloads; ++w) tasks.push_back(Task{n, w});

  // (budget, memory budget in MB) cells, in config order; memory 0 = none.
  std::vector<std::pair<double, double>> cells;
  for (double b : config.budgets) {
    if (config.memory_budgets_mb.empty()) cells.emplace_back(b, 0.0);
    for (double m : config.memory_budgets_mb) cells.emplace_back(b, m);
  }
  if (!config.memory_budgets_mb.empty()) {
    MS_CHECK(profile.HasMemory(),
             "--memory-budgets: the profile records no per-stage memory (param_bytes, "
             "activation_bytes); re-run msprofile or scripts/ref_to_packages.py");
  }
  const size_t per_task = cells.size() * config.algorithms.size();
  std::vector<SimulateRecord> records(tasks.size() * per_task);
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex progress_mutex;
  Progress progress("simulate: workloads", static_cast<long>(tasks.size()), 2.0);
  std::exception_ptr failure;
  std::mutex failure_mutex;

  auto worker = [&]() {
    for (;;) {
      size_t t = next.fetch_add(1);
      if (t >= tasks.size()) return;
      try {
        const Task& task = tasks[t];
        std::vector<MPackage> apps = MakeWorkload(templates, config, task.num_apps, task.workload);
        PredictionOptions model_only;  // simulated workloads are drawn from curves: no traces
        model_only.use_trace = false;
        ScheduleProblem problem = BuildProblem(apps, profile, config.budgets[0], space, model_only);
        // Best accuracy of each app, for relative accuracy of the chosen candidate.
        std::vector<double> best_acc(apps.size(), 0);
        for (size_t i = 0; i < apps.size(); ++i)
          for (const auto& c : apps[i].candidates) best_acc[i] = std::max(best_acc[i], c.accuracy);
        size_t slot = t * per_task;
        for (const auto& [budget, memory_mb] : cells) {
          problem.budget = budget;
          problem.memory_budget = memory_mb * 1e6;
          for (const auto& algo : config.algorithms) {
            SimulateRecord& r = records[slot++];
            r.num_apps = task.num_apps;
            r.workload = task.workload;
            r.budget = budget;
            r.memory_budget_mb = memory_mb;
            r.algorithm = algo;
            try {
              SearchResult res = RunSearch(problem, algo);
              r.feasible = true;
              r.seconds = res.seconds;
              r.nodes = res.nodes;
              r.cost = res.solution.cost;
              r.memory_mb = res.solution.memory / 1e6;
              r.mean_f1 = res.solution.mean_f1();
              r.min_f1 = res.solution.min_f1;
              double rec = 0, prec = 0, fps = 0;
              for (size_t i = 0; i < apps.size(); ++i) {
                const AppOption& o =
                    problem.apps[i].options[static_cast<size_t>(res.solution.choice[i])];
                rec += o.pred.recall;
                prec += o.pred.precision;
                fps += o.fps;
              }
              double n = static_cast<double>(apps.size());
              r.mean_recall = rec / n;
              r.mean_precision = prec / n;
              r.mean_fps = fps / n;
            } catch (const InfeasibleError&) {
              r.feasible = false;  // budget below what this algorithm needs: scores 0; any other
                                   // error propagates
            }
          }
        }
        size_t d = ++done;
        std::lock_guard<std::mutex> lock(progress_mutex);
        progress.Update(static_cast<long>(d));
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next = tasks.size();
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < config.threads; ++k) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
  progress.Finish();

  // Aggregate per (num_apps, budget, algorithm), in config order.
  SimulateOutput out;
  out.records = records;
  std::map<std::tuple<int, int, int>, size_t> row_index;
  for (int n : config.num_apps) {
    for (size_t b = 0; b < cells.size(); ++b) {
      for (size_t a = 0; a < config.algorithms.size(); ++a) {
        SimulateRow row;
        row.num_apps = n;
        row.budget = cells[b].first;
        row.memory_budget_mb = cells[b].second;
        row.algorithm = config.algorithms[a];
        row_index[{n, static_cast<int>(b), static_cast<int>(a)}] = out.rows.size();
        out.rows.push_back(row);
      }
    }
  }
  const auto exh = std::find(config.algorithms.begin(), config.algorithms.end(), "exhaustive");
  const bool have_exact = exh != config.algorithms.end();
  const size_t exh_index = static_cast<size_t>(exh - config.algorithms.begin());
  for (size_t t = 0; t < tasks.size(); ++t) {
    for (size_t b = 0; b < cells.size(); ++b) {
      const SimulateRecord* exact =
          have_exact ? &records[t * per_task + b * config.algorithms.size() + exh_index] : nullptr;
      for (size_t a = 0; a < config.algorithms.size(); ++a) {
        const SimulateRecord& r = records[t * per_task + b * config.algorithms.size() + a];
        SimulateRow& row =
            out.rows[row_index[{tasks[t].num_apps, static_cast<int>(b), static_cast<int>(a)}]];
        row.workloads += 1;
        if (!r.feasible) {
          row.infeasible += 1;
        } else {
          row.mean_f1 += r.mean_f1;
          row.mean_recall += r.mean_recall;
          row.mean_precision += r.mean_precision;
          row.mean_min_f1 += r.min_f1;
          row.mean_fps += r.mean_fps;
          row.mean_cost += r.cost;
          row.mean_memory_mb += r.memory_mb;
          row.mean_ms += r.seconds * 1000;
          row.max_ms = std::max(row.max_ms, r.seconds * 1000);
        }
        if (exact != nullptr && exact->feasible && exact->mean_f1 > 0) {
          double f = r.feasible ? r.mean_f1 : 0.0;
          double gap = (exact->mean_f1 - f) / exact->mean_f1;
          row.gap_mean += gap;
          row.gap_worst = std::max(row.gap_worst, gap);
          row.gap_count += 1;
        }
      }
    }
  }
  for (auto& row : out.rows) {
    double k = static_cast<double>(row.workloads);
    double feas = static_cast<double>(row.workloads - row.infeasible);
    row.mean_f1 /= k;
    row.mean_recall /= k;
    row.mean_precision /= k;
    row.mean_min_f1 /= k;
    if (feas > 0) {
      row.mean_fps /= feas;
      row.mean_cost /= feas;
      row.mean_memory_mb /= feas;
      row.mean_ms /= feas;
    }
    if (row.gap_count > 0) row.gap_mean /= row.gap_count;
  }
  out.seconds = NowSeconds() - t0;
  return out;
}

std::string SimulateRowsCsv(const std::vector<SimulateRow>& rows) {
  std::string s =
      "num_apps,budget,algorithm,workloads,infeasible,mean_f1,mean_recall,mean_precision,mean_min_"
      "f1,mean_fps,"
      "mean_cost,mean_schedule_ms,max_schedule_ms,gap_mean,gap_worst,memory_budget_mb,mean_memory_"
      "mb\n";
  for (const auto& r : rows) {
    s += fmt::format(
        "{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f},{:.4f},{:.4f},{:.4f},{},{},{},{:.4f}\n",
        r.num_apps, r.budget, r.algorithm, r.workloads, r.infeasible, r.mean_f1, r.mean_recall,
        r.mean_precision, r.mean_min_f1, r.mean_fps, r.mean_cost, r.mean_ms, r.max_ms,
        r.gap_count > 0 ? fmt::format("{:.6f}", r.gap_mean) : "",
        r.gap_count > 0 ? fmt::format("{:.6f}", r.gap_worst) : "",
        r.memory_budget_mb > 0 ? fmt::format("{}", r.memory_budget_mb) : "", r.mean_memory_mb);
  }
  return s;
}

std::string SimulateRecordsCsv(const std::vector<SimulateRecord>& records) {
  std::string s =
      "num_apps,workload,budget,algorithm,feasible,mean_f1,mean_recall,mean_precision,min_f1,mean_"
      "fps,cost,"
      "schedule_ms,nodes,memory_budget_mb,memory_mb\n";
  for (const auto& r : records) {
    s += fmt::format(
        "{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f},{:.4f},{:.4f},{},{},{:.4f}\n",
        r.num_apps, r.workload, r.budget, r.algorithm, r.feasible ? 1 : 0, r.mean_f1, r.mean_recall,
        r.mean_precision, r.min_f1, r.mean_fps, r.cost, r.seconds * 1000, r.nodes,
        r.memory_budget_mb > 0 ? fmt::format("{}", r.memory_budget_mb) : "", r.memory_mb);
  }
  return s;
}

Json SimulateRowsJson(const std::vector<SimulateRow>& rows) {
  Json out = Json::array();
  for (const auto& r : rows) {
    Json j{{"num_apps", r.num_apps},
           {"budget", r.budget},
           {"algorithm", r.algorithm},
           {"workloads", r.workloads},
           {"infeasible", r.infeasible},
           {"mean_f1", r.mean_f1},
           {"mean_recall", r.mean_recall},
           {"mean_precision", r.mean_precision},
           {"mean_min_f1", r.mean_min_f1},
           {"mean_fps", r.mean_fps},
           {"mean_cost", r.mean_cost},
           {"mean_schedule_ms", r.mean_ms},
           {"max_schedule_ms", r.max_ms},
           {"memory_budget_mb", r.memory_budget_mb > 0 ? Json(r.memory_budget_mb) : Json(nullptr)},
           {"mean_memory_mb", r.mean_memory_mb}};
    if (r.gap_count > 0) {
      j["gap_mean"] = r.gap_mean;
      j["gap_worst"] = r.gap_worst;
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace mainstream
