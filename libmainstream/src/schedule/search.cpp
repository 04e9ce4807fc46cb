// The searches' shared internals, the static baselines and the dispatcher.
// Greedy: search_greedy.cpp; exhaustive: search_exhaustive.cpp; max-min:
// search_maxmin.cpp.
#include "mainstream/schedule/search.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "search_internal.h"

namespace mainstream {
namespace search_detail {

// A dominates B when it is at least as good and never costs more in any
// schedule: f >= , rate <=, level >= (more of the stem shared).
bool Dominates(const Compiled& c, const Opt& a, const Opt& b) {
  return a.f >= b.f && CostDominates(c, a, b);
}

bool CostDominates(const Compiled& c, const Opt& a, const Opt& b) {
  if (!(a.r <= b.r)) return false;
  if (!a.micro && !b.micro) return c.mem_on ? a.q == b.q : a.q >= b.q;
  if (c.mem_on) return a.q == b.q && a.mem <= b.mem && a.w <= b.w;
  if (a.q < b.q) return a.w <= b.w;
  double stem = 0;
  for (int j = b.q; j < a.q; ++j) stem += c.L[static_cast<size_t>(j)];
  return a.r * stem + a.w <= b.w;
}

Opt CompileOption(const ScheduleProblem& p, const Compiled& c, size_t app, int k) {
  const AppOption& o = p.apps[app].options.at(static_cast<size_t>(k));
  const int n = p.costs.num_stages();
  Opt x;
  x.q = static_cast<int>(std::lower_bound(c.levels.begin(), c.levels.end(), o.branchpoint) -
                         c.levels.begin());
  x.r = o.fps;
  x.micro = o.is_micro();
  MS_ASSERT(!x.micro || o.own_ms >= 0, "app {}: a microclassifier option without its latency",
            p.apps[app].name);
  x.w = o.fps * (x.micro ? o.own_ms : p.costs.BranchRange(o.branchpoint, n));
  x.f = o.pred.f1;
  x.orig = k;
  if (c.mem_on) {
    x.mem = (x.micro ? std::max(0.0, o.own_bytes) : p.memory.CopyBytes(o.branchpoint, n)) +
            p.memory.segment_bytes;
  }
  return x;
}

Compiled Compile(const ScheduleProblem& p,
                 const std::function<bool(size_t, const AppOption&)>& keep, bool prune) {
  Compiled c;
  c.D = p.costs.PerAnalyzedFrameMs();
  c.budget =
      p.budget - p.costs.FixedCost();  // decoding the stream costs the same in every schedule
  const int n = p.costs.num_stages();
  std::vector<int> levels{0};
  for (const auto& app : p.apps) {
    for (const auto& o : app.options) levels.push_back(o.branchpoint);
  }
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  c.m = static_cast<int>(levels.size()) - 1;
  for (int j = 0; j < c.m; ++j)
    c.L.push_back(
        p.costs.Range(levels[static_cast<size_t>(j)], levels[static_cast<size_t>(j + 1)]));
  if (p.has_memory_budget()) {
    MS_CHECK(p.memory.num_stages() == n,
             "a memory budget needs the profile's parameter and activation bytes for each of the "
             "base's {} stages (profile has {}): re-run msprofile",
             n, p.memory.num_stages());
    MS_CHECK(c.m < 64, "a memory budget supports at most 63 distinct branchpoints, got {}", c.m);
    c.mem_on = true;
    c.mem_budget = p.memory_budget - p.memory.FixedBytes();
    c.CA.push_back(0.0);
    for (int j = 0; j < c.m; ++j) {
      const int b0 = levels[static_cast<size_t>(j)], b1 = levels[static_cast<size_t>(j + 1)];
      c.LP.push_back(p.memory.CopyBytes(b0, b1));
      c.CA.push_back(p.memory.ActivationAt(b1) + p.memory.segment_bytes);  // the cut's stem segment
    }
  }
  c.levels = levels;
  c.apps.resize(p.apps.size());
  for (size_t i = 0; i < p.apps.size(); ++i) {
    std::vector<Opt>& all = c.apps[i];
    for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
      const AppOption& o = p.apps[i].options[k];
      if (!keep(i, o)) continue;
      MS_CHECK(o.branchpoint >= 0 && o.branchpoint < n,
               "app {}: branchpoint {} outside the base's {} stages", p.apps[i].name, o.branchpoint,
               n);
      all.push_back(CompileOption(p, c, i, static_cast<int>(k)));
    }
  }
  if (c.mem_on) {
    // A budget no schedule can exceed (the whole stem, every cut and each
    // app's largest own copy) does not bind: search as without it, with the
    // stronger dominance.
    double most = 0;
    for (double x : c.LP) most += x;
    for (double x : c.CA) most += x;
    for (const auto& app : c.apps) {
      double mx = 0;
      for (const Opt& o : app) mx = std::max(mx, o.mem);
      most += mx;
    }
    if (MemFits(c, most)) {
      c.mem_on = false;
      for (auto& app : c.apps)
        for (Opt& o : app) o.mem = 0;
    }
  }
  if (prune) {
    for (auto& all : c.apps) {
      std::vector<Opt> kept;
      for (size_t a = 0; a < all.size(); ++a) {
        bool dominated = false;
        for (size_t b = 0; b < all.size() && !dominated; ++b) {
          if (a == b || !Dominates(c, all[b], all[a])) continue;
          bool equal = all[b].f == all[a].f && all[b].r == all[a].r && all[b].q == all[a].q &&
                       all[b].w == all[a].w && all[b].micro == all[a].micro;
          dominated = !equal || b < a;  // among identical options keep the first
        }
        if (!dominated) kept.push_back(all[a]);
      }
      all.swap(kept);
    }
  }
  return c;
}

double FullCost(const Compiled& c, const std::vector<const Opt*>& sel) {
  std::vector<double> M(static_cast<size_t>(c.m), 0.0);
  double rmax = 0, cost = 0;
  for (const Opt* o : sel) {
    cost += Increment(c, *o, M.data(), rmax);
    Raise(*o, M.data());
    rmax = std::max(rmax, o->r);
  }
  return cost;
}

double FullMemory(const Compiled& c, const std::vector<const Opt*>& sel) {
  if (!c.mem_on) return 0;
  MemState st;
  for (const Opt* o : sel) st = MemAdd(c, *o, st);
  return st.used;
}

Solution ToSolution(const ScheduleProblem& p, const Compiled& c,
                    const std::vector<int>& compiled_choice) {
  std::vector<int> choice(compiled_choice.size());
  for (size_t i = 0; i < compiled_choice.size(); ++i) {
    choice[i] = c.apps[i][static_cast<size_t>(compiled_choice[i])].orig;
  }
  return Evaluate(p, choice);
}

int CheapestIndex(const std::vector<Opt>& opts) {
  int best = 0;
  for (size_t k = 1; k < opts.size(); ++k) {
    const Opt& a = opts[k];
    const Opt& b = opts[static_cast<size_t>(best)];
    if (a.q > b.q || (a.q == b.q && (a.r < b.r || (a.r == b.r && a.f > b.f))))
      best = static_cast<int>(k);
  }
  return best;
}

}  // namespace search_detail

using namespace search_detail;

namespace {

bool FitsMemory(const ScheduleProblem& p, const Solution& s) {
  return !p.has_memory_budget() || s.memory <= p.memory_budget * (1 + 1e-12) + 1e-6;
}

// Schedules that hold little memory: for each branchpoint cap, every app at
// its most shared option at or below the cap (then lowest rate, best F1).
// Memory does not depend on rates, so the cheapest of them at equal memory
// is kept too.
std::vector<Solution> LowMemorySolutions(const ScheduleProblem& problem) {
  std::vector<int> caps;
  for (const auto& app : problem.apps)
    for (const auto& o : app.options) caps.push_back(o.branchpoint);
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  std::vector<Solution> out;
  for (int cap : caps) {
    std::vector<int> choice;
    for (const auto& app : problem.apps) {
      int best = -1;
      for (size_t k = 0; k < app.options.size(); ++k) {
        const AppOption& a = app.options[k];
        if (a.branchpoint > cap) continue;
        if (best < 0) {
          best = static_cast<int>(k);
          continue;
        }
        const AppOption& b = app.options[static_cast<size_t>(best)];
        if (a.branchpoint > b.branchpoint ||
            (a.branchpoint == b.branchpoint &&
             (a.fps < b.fps || (a.fps == b.fps && a.pred.f1 > b.pred.f1))))
          best = static_cast<int>(k);
      }
      if (best < 0) break;
      choice.push_back(best);
    }
    if (choice.size() == problem.apps.size()) out.push_back(Evaluate(problem, choice));
  }
  return out;
}

}  // namespace

std::vector<int> FeasibleStart(const ScheduleProblem& problem) {
  MS_CHECK(!problem.apps.empty(), "no applications to schedule");
  MS_CHECK(std::isfinite(problem.budget) && problem.budget > 0,
           "budget must be a positive number, got {}", problem.budget);
  Solution cheapest = CheapestSolution(problem);
  if (cheapest.cost > problem.budget + kCostEps) {
    ThrowInfeasible(
        "budget {:.6g} is infeasible: the cheapest schedule (every app at its most shared "
        "candidate and "
        "lowest frame rate) costs {:.6g} ms/s; use --budget {:.6g} or more, lower --fps options or "
        "fewer apps",
        problem.budget, cheapest.cost, std::ceil(cheapest.cost * 1000) / 1000);
  }
  if (FitsMemory(problem, cheapest)) return cheapest.choice;
  MS_CHECK(std::isfinite(problem.memory_budget), "memory budget must be a number of bytes, got {}",
           problem.memory_budget);
  const Solution* best = nullptr;
  const Solution* least = &cheapest;
  std::vector<Solution> low = LowMemorySolutions(problem);
  for (const Solution& s : low) {
    if (s.memory < least->memory || (s.memory == least->memory && s.cost < least->cost)) least = &s;
    if (FitsMemory(problem, s) && s.cost <= problem.budget + kCostEps &&
        (best == nullptr || s.cost < best->cost))
      best = &s;
  }
  if (best != nullptr) return best->choice;
  ThrowInfeasible(
      "memory budget {} with budget {:.6g} ms/s is infeasible: the least memory found is {} (a "
      "schedule costing {:.6g} ms/s); the cheapest schedule costs {:.6g} ms/s and holds {}; use "
      "--memory-budget {:.6g} and --budget {:.6g} or more, or fewer apps",
      FormatMegabytes(problem.memory_budget), problem.budget, FormatMegabytes(least->memory),
      least->cost, cheapest.cost, FormatMegabytes(cheapest.memory),
      std::ceil(least->memory / 1e3) / 1e3,
      std::ceil(std::max(least->cost, cheapest.cost) * 1000) / 1000);
}

void CheckFeasible(const ScheduleProblem& problem) { (void)FeasibleStart(problem); }

SearchResult StaticSearch(const ScheduleProblem& problem, bool max_sharing) {
  double t0 = NowSeconds();
  MS_CHECK(!problem.apps.empty(), "no applications to schedule");
  // Each app's fixed candidate.
  std::vector<int> cand(problem.apps.size());
  for (size_t i = 0; i < problem.apps.size(); ++i) {
    int pick = -1, pick_bp = 0;
    for (const auto& o : problem.apps[i].options) {
      if (o.is_micro()) continue;  // the baselines are the paper's: branches only
      if (pick < 0 || (max_sharing ? o.branchpoint > pick_bp : o.branchpoint < pick_bp)) {
        pick = o.candidate;
        pick_bp = o.branchpoint;
      }
    }
    if (pick < 0) {
      ThrowInput(
          "{}: app {} has only microclassifier candidates; the {} baseline schedules branches",
          max_sharing ? "maxsharing" : "nosharing", problem.apps[i].name,
          max_sharing ? "Max-Sharing" : "No-Sharing");
    }
    cand[i] = pick;
  }
  std::vector<double> rates;
  for (const auto& o : problem.apps[0].options) rates.push_back(o.fps);
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  Solution best;
  bool have = false;
  double min_cost = kInf, memory = 0;
  for (double r : rates) {
    std::vector<int> choice;
    for (size_t i = 0; i < problem.apps.size(); ++i) {
      int idx = -1;
      for (size_t k = 0; k < problem.apps[i].options.size(); ++k) {
        const AppOption& o = problem.apps[i].options[k];
        if (o.candidate == cand[i] && o.fps == r) idx = static_cast<int>(k);
      }
      if (idx < 0) break;
      choice.push_back(idx);
    }
    if (choice.size() != problem.apps.size()) continue;
    Solution s = Evaluate(problem, choice);
    min_cost = std::min(min_cost, s.cost);
    memory = s.memory;
    if (s.cost > problem.budget + kCostEps || !FitsMemory(problem, s)) continue;
    if (!have || s.sum_f1 > best.sum_f1 + kValueEps) {
      best = s;
      have = true;
    }
  }
  if (!have && min_cost <= problem.budget + kCostEps) {
    ThrowInfeasible(
        "memory budget {} is infeasible for {}: its apps' candidates hold {}; use --memory-budget "
        "{:.6g} or more",
        FormatMegabytes(problem.memory_budget), max_sharing ? "maxsharing" : "nosharing",
        FormatMegabytes(memory), std::ceil(memory / 1e3) / 1e3);
  }
  if (!have) {
    ThrowInfeasible(
        "budget {:.6g} is infeasible for {}: running every app at the lowest common frame rate "
        "costs "
        "{:.6g} ms/s; use --budget {:.6g} or more",
        problem.budget, max_sharing ? "maxsharing" : "nosharing", min_cost,
        std::ceil(min_cost * 1000) / 1000);
  }
  SearchResult r;
  r.algorithm = max_sharing ? "maxsharing" : "nosharing";
  r.solution = best;
  r.nodes = static_cast<int64_t>(rates.size());
  r.exact = true;
  r.seconds = NowSeconds() - t0;
  return r;
}

double FastScheduleCost(const ScheduleProblem& problem, const std::vector<int>& choice) {
  MS_ASSERT(choice.size() == problem.apps.size(), "FastScheduleCost: {} choices for {} apps",
            choice.size(), problem.apps.size());
  Compiled c = Compile(
      problem, [](size_t, const AppOption&) { return true; }, /*prune=*/false);
  std::vector<const Opt*> sel;
  for (size_t i = 0; i < choice.size(); ++i)
    sel.push_back(&c.apps[i].at(static_cast<size_t>(choice[i])));
  return FullCost(c, sel) + problem.costs.FixedCost();
}

const std::vector<std::string>& AlgorithmNames() {
  static const std::vector<std::string> names{"greedy",     "greedy-paper", "greedy-marginal",
                                              "exhaustive", "maxmin",       "nosharing",
                                              "maxsharing"};
  return names;
}

std::string UnknownAlgorithm(const std::string& name) {
  const auto& names = AlgorithmNames();
  if (std::find(names.begin(), names.end(), name) != names.end()) return "";
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  return fmt::format("unknown algorithm '{}' (expected one of: {})", name, known);
}

namespace {

SearchResult RunBlindSearch(const ScheduleProblem& problem, const std::string& algorithm,
                            const SearchLimits& limits) {
  MS_CHECK(std::isfinite(limits.time_limit_s) && limits.time_limit_s >= 0,
           "--time-limit must be a number of seconds >= 0 (0: none), got {}", limits.time_limit_s);
  MS_CHECK(limits.max_nodes >= 0, "--max-nodes must be >= 0 (0: none), got {}", limits.max_nodes);
  if (algorithm == "greedy") return BestGreedySearch(problem);
  if (algorithm == "greedy-paper") return GreedySearch(problem, {GreedyRatio::kPaper, false});
  if (algorithm == "greedy-marginal") return GreedySearch(problem, {GreedyRatio::kMarginal, false});
  if (algorithm == "exhaustive") {
    ExhaustiveOptions o;
    o.limits = limits;
    return ExhaustiveSearch(problem, o);
  }
  if (algorithm == "maxmin") return MaxMinSearch(problem, limits);
  if (algorithm == "nosharing") return StaticSearch(problem, false);
  if (algorithm == "maxsharing") return StaticSearch(problem, true);
  ThrowInput("--algo: {}", UnknownAlgorithm(algorithm));
}

}  // namespace

SearchResult RunSearch(const ScheduleProblem& problem, const std::string& algorithm,
                       const SearchLimits& limits) {
  if (!problem.costs.cache().enabled()) return RunBlindSearch(problem, algorithm, limits);
  ScheduleProblem regime = problem;
  const double tolerance = 1e-9 * std::max(1.0, problem.budget);
  double stem = 0, branch = 0;
  std::vector<SearchResult::CachePass> passes;
  std::optional<SearchResult> first, found;
  constexpr int kPasses = 4;      // all hot, two tightenings, all cold
  constexpr int kBisections = 5;  // then loosening the fitting regime
  double seconds = 0;
  // Every pass shares --time-limit: a pass gets what the earlier ones left.
  auto pass_limits = [&] {
    SearchLimits l = limits;
    if (l.time_limit_s > 0) l.time_limit_s = std::max(1e-3, limits.time_limit_s - seconds);
    return l;
  };
  // The algorithm's objective: maxmin's minimum first, then the mean.
  auto better = [&](const Solution& a, const Solution& b) {
    if (algorithm == "maxmin" && std::fabs(a.min_f1 - b.min_f1) > 1e-12) return a.min_f1 > b.min_f1;
    return a.mean_f1() > b.mean_f1() + 1e-12;
  };
  for (int pass = 0; pass < kPasses && !found; ++pass) {
    if (pass == kPasses - 1) stem = branch = CacheModel::kMaxFraction;
    regime.costs = problem.costs.AtFractions(stem, branch);
    SearchResult r;
    try {
      r = RunBlindSearch(regime, algorithm, pass_limits());
    } catch (const InfeasibleError&) {
      // All hot is the cheapest any schedule can be: nothing fits. A later
      // regime's infeasibility says only that this search cannot find one.
      if (pass == 0) throw;
      break;
    }
    seconds += r.seconds;
    const double searched = r.solution.cost;
    const Solution truth = Evaluate(problem, r.solution.choice);
    passes.push_back(
        {stem, branch, searched, truth.cost, truth.cost <= problem.budget + tolerance});
    if (!first) first = r;
    r.solution = truth;
    if (passes.back().fits) {
      found = std::move(r);
      break;
    }
    // Tighten to the fractions the answer really pays (never loosen: the
    // passes must end).
    const MergedTree tree = BuildMergedTree(problem.costs, Requests(problem, truth.choice));
    for (const TreeNode& node : tree.nodes) {
      (node.kind == TreeNode::Kind::kStem ? stem : branch) =
          std::max(node.kind == TreeNode::Kind::kStem ? stem : branch, node.cache_fraction);
    }
  }
  if (found && passes.size() > 1) {
    // The fitting regime overcharges schedules that stream less than its
    // answer: bisect a scale on its fractions for the loosest that still
    // gives an answer that fits, keeping the best answer.
    const double fit_stem = stem, fit_branch = branch;
    double lo = 0, hi = 1;
    for (int step = 0; step < kBisections; ++step) {
      const double mid = 0.5 * (lo + hi);
      regime.costs = problem.costs.AtFractions(mid * fit_stem, mid * fit_branch);
      SearchResult r;
      try {
        r = RunBlindSearch(regime, algorithm, pass_limits());
      } catch (const InfeasibleError&) {
        lo = mid;
        continue;
      }
      seconds += r.seconds;
      const Solution truth = Evaluate(problem, r.solution.choice);
      const bool fits = truth.cost <= problem.budget + tolerance;
      passes.push_back({mid * fit_stem, mid * fit_branch, r.solution.cost, truth.cost, fits});
      if (!fits) {
        lo = mid;
        continue;
      }
      hi = mid;
      if (better(truth, found->solution)) {
        r.solution = truth;
        found = std::move(r);
      }
    }
  }
  if (!found) {
    // The cheapest schedule pays little for caches (few bytes, low rates).
    const Solution cheapest = Evaluate(problem, CheapestSolution(regime).choice);
    if (cheapest.cost > problem.budget + tolerance) {
      ThrowInfeasible(
          "no schedule found within budget {:.4g} ms/s once caches are counted: the cheapest "
          "schedule costs {:.4g} ms/s with the cache model; raise the budget",
          problem.budget, cheapest.cost);
    }
    SearchResult r = first ? *first : SearchResult{};
    r.algorithm = algorithm;
    r.solution = cheapest;
    r.exact = false;
    found = std::move(r);
  }
  SearchResult& r = *found;
  r.seconds = seconds;
  r.cache_passes = std::move(passes);
  if (r.cache_passes.size() != 1 || !r.cache_passes[0].fits) {
    // Only the all-hot pass's answer is proven best; its bound still holds.
    r.exact = false;
    if (first && std::isfinite(first->bound_mean_f1)) {
      r.bound_mean_f1 = first->bound_mean_f1;
      r.gap = r.bound_mean_f1 > 0 ? (r.bound_mean_f1 - r.solution.mean_f1()) / r.bound_mean_f1 : 0;
    }
  }
  return r;
}

}  // namespace mainstream
