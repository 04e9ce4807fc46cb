// Several cameras under one budget: per-camera frontiers from the
// single-camera searches, refined where the split needs them and joined by a
// multiple-choice knapsack (docs/algorithms.md, "Several cameras").
#include "mainstream/schedule/multi_camera.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"

namespace mainstream {

namespace {

constexpr double kCostTol = 1e-9;  // as the single-camera searches' feasibility
constexpr double kValueTol = 1e-12;
// A search "just below" a cost is this much below it (more than the
// searches' feasibility tolerance): costs closer than this are one budget.
constexpr double kBelow = 1e-8;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kExcluded = -1e12;  // the value of a point that is no answer

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

enum class Objective { kSum, kMin };

double ValueOf(const Solution& s, Objective o) {
  return o == Objective::kSum ? s.sum_f1 : s.min_f1;
}

// A problem with only the options `keep` accepts; `orig[i][k]` is the
// original index of the kept option k of app i.
ScheduleProblem Filtered(const ScheduleProblem& p,
                         const std::function<bool(const AppOption&)>& keep,
                         std::vector<std::vector<int>>* orig) {
  ScheduleProblem q = p;
  orig->assign(p.apps.size(), {});
  for (size_t i = 0; i < p.apps.size(); ++i) {
    q.apps[i].options.clear();
    for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
      if (!keep(p.apps[i].options[k])) continue;
      q.apps[i].options.push_back(p.apps[i].options[k]);
      (*orig)[i].push_back(static_cast<int>(k));
    }
  }
  return q;
}

bool AllHaveOptions(const ScheduleProblem& p) {
  return std::all_of(p.apps.begin(), p.apps.end(),
                     [](const AppChoices& a) { return !a.options.empty(); });
}

std::vector<int> MapBack(const std::vector<int>& choice,
                         const std::vector<std::vector<int>>& orig) {
  std::vector<int> out(choice.size());
  for (size_t i = 0; i < choice.size(); ++i) out[i] = orig[i][static_cast<size_t>(choice[i])];
  return out;
}

struct Item {
  double cost = 0, value = 0;
};

// Multiple-choice knapsack over the cameras' items: one item per camera,
// the largest total value with total cost <= budget (ties: the cheaper,
// then the earlier items). Pareto lists per prefix of cameras; exact.
bool Knapsack(const std::vector<std::vector<Item>>& items, double budget, std::vector<int>* pick,
              double* value) {
  const size_t n = items.size();
  std::vector<double> min_rest(n + 1, 0.0);
  for (size_t c = n; c-- > 0;) {
    double mn = std::numeric_limits<double>::infinity();
    for (const Item& it : items[c]) mn = std::min(mn, it.cost);
    min_rest[c] = min_rest[c + 1] + mn;
  }
  if (!(min_rest[0] <= budget + kCostTol)) return false;
  struct Entry {
    double cost, value;
    int prev, item;
  };
  std::vector<std::vector<Entry>> stages(n);
  std::vector<Entry> prev{{0, 0, -1, -1}};
  for (size_t c = 0; c < n; ++c) {
    std::vector<Entry> next;
    const double cap = budget + kCostTol - min_rest[c + 1];
    for (size_t e = 0; e < prev.size(); ++e) {
      for (size_t k = 0; k < items[c].size(); ++k) {
        const double cost = prev[e].cost + items[c][k].cost;
        if (cost > cap) continue;
        next.push_back(
            {cost, prev[e].value + items[c][k].value, static_cast<int>(e), static_cast<int>(k)});
      }
    }
    std::stable_sort(next.begin(), next.end(), [](const Entry& a, const Entry& b) {
      return a.cost < b.cost || (a.cost == b.cost && a.value > b.value);
    });
    std::vector<Entry> kept;
    for (const Entry& e : next) {
      if (!kept.empty() && e.value <= kept.back().value + kValueTol) continue;
      kept.push_back(e);
    }
    if (kept.empty()) return false;
    stages[c] = kept;
    prev = std::move(kept);
  }
  int e = static_cast<int>(stages[n - 1].size()) - 1;  // Pareto: the last is the best
  *value = stages[n - 1][static_cast<size_t>(e)].value;
  pick->assign(n, 0);
  for (size_t c = n; c-- > 0;) {
    const Entry& en = stages[c][static_cast<size_t>(e)];
    (*pick)[c] = en.item;
    e = en.prev;
  }
  return true;
}

struct Context {
  std::string algorithm;
  Objective objective = Objective::kSum;
  SearchLimits limits;  // per single-camera search
  double deadline = 0;  // 0: none
  int64_t searches = 0;
  bool stopped = false;  // a limit cut the refinement short
};

// One camera's frontier as far as it was searched: the best schedule the
// algorithm finds at each budget searched, in decreasing budget. Point k was
// searched at budget q_k and answered a schedule of cost c_k <= q_k with
// value v_k; for every budget in (q_{k+1}, q_k] the best value is at most
// upper_k (what the search proved at q_k: v_k when exact). The interval is
// closed when q_{k+1} is just below c_k: then the value is known on all of it.
// Below the last point lies the floor, the search's cheapest schedule.
class Frontier {
 public:
  struct Point {
    double budget = 0;
    Solution solution;  // in the camera's own option indices
    double upper = kNaN;
  };

  // `searched`: the camera's problem as its searches see it (the same
  // options; max-min's second step changes their values).
  Frontier(const ScheduleProblem& camera, ScheduleProblem searched, double top, int max_points,
           Context& ctx)
      : camera_(&camera),
        searched_(std::move(searched)),
        top_(top),
        max_points_(max_points),
        ctx_(&ctx) {
    floor_ = CheapestSolution(searched_).cost;
  }

  // The top, `coarse` budgets evenly down to the floor, and the floor;
  // false when not even the floor fits under the top.
  bool Init(int coarse) {
    if (top_ < floor_ - kCostTol) return false;
    std::vector<double> budgets{top_};
    for (int i = 1; i <= coarse; ++i) budgets.push_back(top_ - (top_ - floor_) * i / (coarse + 1));
    budgets.push_back(floor_);
    for (double b : budgets) {
      if (!points_.empty() && b >= points_.back().solution.cost - kBelow) continue;
      Point p;
      if (!Search(std::max(b, floor_), &p)) break;
      points_.push_back(std::move(p));
    }
    return !points_.empty();
  }

  size_t size() const { return points_.size(); }
  const Point& point(size_t k) const { return points_[k]; }
  // The next budget searched below point k (the floor after the last).
  double Next(size_t k) const { return k + 1 < points_.size() ? points_[k + 1].budget : floor_; }
  bool Closed(size_t k) const { return Next(k) >= points_[k].solution.cost - 2 * kBelow; }
  // What the split may assume of interval k: a closed one costs what its
  // schedule costs; an open one may cost as little as the next budget.
  Item Upper(size_t k) const {
    return {Closed(k) ? points_[k].solution.cost : Next(k), points_[k].upper};
  }
  Item Lower(size_t k) const {
    const Solution& s = points_[k].solution;
    // A schedule below the required minimum is no answer (max-min's sums).
    if (s.min_f1 < min_required_ - kValueTol) return {s.cost, kExcluded};
    return {s.cost, ValueOf(s, ctx_->objective)};
  }
  // Only schedules whose every app reaches `t` count as answers.
  void RequireMinimum(double t) { min_required_ = t; }
  // Searches just below point k's cost; false when nothing can be searched.
  bool Split(size_t k) {
    if (Closed(k) || static_cast<int>(points_.size()) >= max_points_) return false;
    Point p;
    if (!Search(points_[k].solution.cost - kBelow, &p)) return false;
    points_.insert(points_.begin() + static_cast<std::ptrdiff_t>(k) + 1, std::move(p));
    return true;
  }
  // Every upper value is a proof (not a heuristic's own value).
  bool proven() const { return proven_; }

 private:
  bool Search(double budget, Point* p) {
    SearchLimits limits = ctx_->limits;
    if (ctx_->deadline > 0) {
      const double left = ctx_->deadline - Now();
      if (left <= 0 && !points_.empty()) {
        ctx_->stopped = true;
        return false;
      }
      limits.time_limit_s = std::max(1e-3, left);
    }
    searched_.budget = budget;
    SearchResult r;
    try {
      r = RunSearch(searched_, ctx_->algorithm, limits);
    } catch (const InfeasibleError&) {
      return false;
    }
    ++ctx_->searches;
    p->budget = budget;
    p->solution = Evaluate(*camera_, r.solution.choice);
    p->upper = ProvenUpper(r, budget, limits);
    if (!std::isfinite(p->upper)) {
      // A heuristic: its own value guides the refinement, proving nothing.
      proven_ = false;
      p->upper = ValueOf(p->solution, ctx_->objective);
    }
    return true;
  }

  double ProvenUpper(const SearchResult& r, double budget, const SearchLimits& limits) {
    const size_t n = camera_->apps.size();
    if (ctx_->objective == Objective::kSum) {
      if (r.exact) return r.solution.sum_f1;
      if (std::isfinite(r.bound_mean_f1)) return r.bound_mean_f1 * static_cast<double>(n);
      return kNaN;
    }
    if (r.exact) return r.solution.min_f1;
    if (searched_.costs.cache().enabled()) {
      // With a cache model, max-min is proven only when its all-hot pass
      // fits; that pass's optimum (every stage hot: no schedule costs less)
      // still bounds the minimum.
      ScheduleProblem hot = searched_;
      hot.budget = budget;
      hot.costs = searched_.costs.AtFractions(0, 0);
      try {
        const SearchResult h = MaxMinSearch(hot, limits);
        ++ctx_->searches;
        if (h.exact) return std::max(h.solution.min_f1, r.solution.min_f1);
      } catch (const InfeasibleError&) {
      }
    }
    return kNaN;
  }

  const ScheduleProblem* camera_;
  ScheduleProblem searched_;
  double top_ = 0, floor_ = 0;
  int max_points_ = 0;
  Context* ctx_;
  std::vector<Point> points_;
  bool proven_ = true;
  double min_required_ = -std::numeric_limits<double>::infinity();
};

constexpr int kCoarse = 6;  // budgets between top and floor at the start

std::vector<Frontier> MakeFrontiers(const std::vector<ScheduleProblem>& cameras,
                                    const std::vector<ScheduleProblem>& searched, double budget,
                                    const MultiCameraOptions& options, Context& ctx) {
  double total_floor = 0;
  for (const ScheduleProblem& p : searched) total_floor += CheapestSolution(p).cost;
  std::vector<Frontier> out;
  for (size_t c = 0; c < cameras.size(); ++c) {
    // The most a camera can get: the budget less every other camera's floor.
    const double top = budget - (total_floor - CheapestSolution(searched[c]).cost);
    out.emplace_back(cameras[c], searched[c], top, options.max_points, ctx);
  }
  return out;
}

// The split of the budget on the sum of F1: refines, camera by camera, the
// intervals the upper knapsack picks until every pick is closed (its value
// then reached by a schedule: the lower knapsack attains the bound).
struct SumSplit {
  std::vector<int> pick;  // point per camera (lower knapsack)
  double value = 0;
  double upper = kNaN;  // proven bound on the sum (NaN: none)
};

SumSplit SplitOnSum(std::vector<Frontier>& fr, double budget, Context& ctx,
                    const std::vector<std::vector<Solution>>& extra = {}) {
  std::vector<int> upick;
  double uvalue = 0;
  bool upper_ok = false;
  for (;;) {
    std::vector<std::vector<Item>> upper(fr.size());
    for (size_t c = 0; c < fr.size(); ++c)
      for (size_t k = 0; k < fr[c].size(); ++k) upper[c].push_back(fr[c].Upper(k));
    upper_ok = Knapsack(upper, budget, &upick, &uvalue);
    if (!upper_ok) break;
    bool open = false, progress = false;
    for (size_t c = 0; c < fr.size(); ++c) {
      const size_t k = static_cast<size_t>(upick[c]);
      if (fr[c].Closed(k)) continue;
      open = true;
      progress = fr[c].Split(k) || progress;
    }
    if (!open) break;
    if (!progress) {
      ctx.stopped = true;
      break;
    }
  }
  std::vector<std::vector<Item>> lower(fr.size());
  for (size_t c = 0; c < fr.size(); ++c) {
    for (size_t k = 0; k < fr[c].size(); ++k) lower[c].push_back(fr[c].Lower(k));
    if (c < extra.size())
      for (const Solution& s : extra[c]) lower[c].push_back({s.cost, s.sum_f1});
  }
  SumSplit out;
  if (!Knapsack(lower, budget, &out.pick, &out.value))
    ThrowInternal(__FILE__, __LINE__, "no split of the budget fits the cameras' cheapest points");
  const bool proven =
      std::all_of(fr.begin(), fr.end(), [](const Frontier& f) { return f.proven(); });
  if (upper_ok && proven) out.upper = std::max(uvalue, out.value);
  return out;
}

// The schedule of camera c at pick k: a frontier point, or (past its end)
// one of the extra solutions.
const Solution& Picked(const std::vector<Frontier>& fr,
                       const std::vector<std::vector<Solution>>& extra, size_t c, int k) {
  const size_t n = fr[c].size();
  if (static_cast<size_t>(k) < n) return fr[c].point(static_cast<size_t>(k)).solution;
  return extra[c][static_cast<size_t>(k) - n];
}

void Finish(const std::vector<ScheduleProblem>& cameras, const std::vector<Solution>& chosen,
            MultiCameraResult& out) {
  out.cameras.clear();
  out.cost = out.sum_f1 = 0;
  out.min_f1 = std::numeric_limits<double>::infinity();
  out.apps = 0;
  for (size_t c = 0; c < cameras.size(); ++c) {
    SearchResult r;
    r.algorithm = out.algorithm;
    r.solution = chosen[c];
    out.cost += r.solution.cost;
    out.sum_f1 += r.solution.sum_f1;
    out.min_f1 = std::min(out.min_f1, r.solution.min_f1);
    out.apps += cameras[c].apps.size();
    out.cameras.push_back(std::move(r));
  }
  const double spare = std::max(0.0, out.budget - out.cost) / static_cast<double>(cameras.size());
  out.shares.clear();
  for (const SearchResult& r : out.cameras) out.shares.push_back(r.solution.cost + spare);
}

void SetBound(double upper_sum, MultiCameraResult& out) {
  if (!std::isfinite(upper_sum)) return;
  out.bound_mean_f1 = std::max(upper_sum, out.sum_f1) / static_cast<double>(out.apps);
  out.gap = out.bound_mean_f1 > 0
                ? std::max(0.0, (out.bound_mean_f1 - out.mean_f1()) / out.bound_mean_f1)
                : 0;
  out.exact = out.gap <= 1e-9;
}

MultiCameraResult StaticJoint(const std::vector<ScheduleProblem>& cameras, double budget,
                              const std::string& algorithm, MultiCameraResult out) {
  const bool max_sharing = algorithm == "maxsharing";
  std::vector<double> rates;
  for (const ScheduleProblem& p : cameras)
    for (const AppChoices& a : p.apps)
      for (const AppOption& o : a.options) rates.push_back(o.fps);
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  bool have = false;
  double least = std::numeric_limits<double>::infinity();
  std::vector<Solution> best;
  double best_sum = 0, best_cost = 0;
  for (double r : rates) {
    std::vector<Solution> picks;
    double cost = 0, sum = 0;
    for (const ScheduleProblem& p : cameras) {
      std::vector<std::vector<int>> orig;
      ScheduleProblem q = Filtered(
          p, [r](const AppOption& o) { return o.fps == r; }, &orig);
      if (!AllHaveOptions(q)) break;
      q.budget = 1e300;
      const SearchResult s = StaticSearch(q, max_sharing);
      ++out.searches;
      picks.push_back(Evaluate(p, MapBack(s.solution.choice, orig)));
      cost += picks.back().cost;
      sum += picks.back().sum_f1;
    }
    if (picks.size() != cameras.size()) continue;
    least = std::min(least, cost);
    if (cost > budget + kCostTol) continue;
    if (!have || sum > best_sum + kValueTol || (sum >= best_sum - kValueTol && cost < best_cost)) {
      have = true;
      best = std::move(picks);
      best_sum = sum;
      best_cost = cost;
    }
  }
  if (!have) {
    if (!std::isfinite(least)) {
      ThrowInfeasible("{}: no frame rate is offered to every app of every camera", algorithm);
    }
    ThrowInfeasible(
        "budget {:.6g} is infeasible for {}: every app of every camera at the lowest common frame "
        "rate costs {:.6g} ms/s; use a budget of {:.6g} or more",
        budget, algorithm, least, std::ceil(least * 1000) / 1000);
  }
  Finish(cameras, best, out);
  out.exact = true;  // the baseline's rule, applied exactly
  return out;
}

}  // namespace

double CheapestMultiCost(const std::vector<ScheduleProblem>& cameras) {
  double total = 0;
  for (const ScheduleProblem& p : cameras) total += CheapestSolution(p).cost;
  return total;
}

MultiCameraResult MultiCameraSearch(const std::vector<ScheduleProblem>& cameras, double budget,
                                    const std::string& algorithm,
                                    const MultiCameraOptions& options) {
  const double t0 = Now();
  MS_CHECK(!cameras.empty(), "no cameras to schedule");
  MS_CHECK(std::isfinite(budget) && budget > 0, "budget must be a positive number, got {}", budget);
  MS_CHECK(options.max_points >= 2, "max_points must be >= 2, got {}", options.max_points);
  if (const std::string unknown = UnknownAlgorithm(algorithm); !unknown.empty())
    ThrowInput("{}", unknown);
  for (size_t c = 0; c < cameras.size(); ++c) {
    MS_CHECK(!cameras[c].apps.empty(), "camera {}: no applications to schedule", c);
    MS_CHECK(!cameras[c].has_memory_budget(),
             "camera {}: a memory budget is not split between cameras yet; schedule several "
             "cameras without one",
             c);
  }
  const double total_cheapest = CheapestMultiCost(cameras);
  if (total_cheapest > budget + kCostTol) {
    ThrowInfeasible(
        "budget {:.6g} is infeasible for {} cameras: their cheapest schedules (every app at its "
        "most shared candidate and lowest frame rate) cost {:.6g} ms/s together; use a budget of "
        "{:.6g} or more, lower frame rates or fewer apps",
        budget, cameras.size(), total_cheapest, std::ceil(total_cheapest * 1000) / 1000);
  }
  MultiCameraResult out;
  out.algorithm = algorithm;
  out.budget = budget;
  if (algorithm == "nosharing" || algorithm == "maxsharing") {
    out = StaticJoint(cameras, budget, algorithm, std::move(out));
    out.seconds = Now() - t0;
    return out;
  }
  Context ctx;
  ctx.limits = options.limits;
  ctx.limits.time_limit_s = 0;  // the whole search's limit is the deadline below
  if (options.limits.time_limit_s > 0) ctx.deadline = t0 + options.limits.time_limit_s;
  // Each frontier starts at its top and floor with a few budgets between,
  // within max_points searches.
  const int coarse = std::clamp(options.max_points - 2, 0, kCoarse);
  auto init_all = [&](std::vector<Frontier>& fr) {
    for (Frontier& f : fr) {
      if (!f.Init(coarse))
        ThrowInternal(__FILE__, __LINE__, "a camera's cheapest schedule does not fit its part");
    }
  };

  if (algorithm != "maxmin") {
    // greedy: frontiers from the plain marginal greedy (its local-search
    // polish costs most of its time), then the full greedy once per camera
    // at the share it got, kept where it does better.
    ctx.algorithm = algorithm == "greedy" ? "greedy-marginal" : algorithm;
    ctx.objective = Objective::kSum;
    std::vector<Frontier> fr = MakeFrontiers(cameras, cameras, budget, options, ctx);
    init_all(fr);
    const SumSplit split = SplitOnSum(fr, budget, ctx);
    std::vector<Solution> chosen;
    for (size_t c = 0; c < fr.size(); ++c) chosen.push_back(Picked(fr, {}, c, split.pick[c]));
    Finish(cameras, chosen, out);
    if (algorithm == "greedy") {
      for (size_t c = 0; c < cameras.size(); ++c) {
        ScheduleProblem p = cameras[c];
        p.budget = out.shares[c];
        const SearchResult r = RunSearch(p, "greedy", ctx.limits);
        ++ctx.searches;
        if (r.solution.sum_f1 > chosen[c].sum_f1 + kValueTol) chosen[c] = r.solution;
      }
      Finish(cameras, chosen, out);
    }
    SetBound(split.upper, out);
    out.searches = ctx.searches;
    out.seconds = Now() - t0;
    return out;
  }

  // Max-min: the largest minimum t every camera reaches within its part of
  // the budget (each camera's least cost to reach t, from its max-min
  // frontier), then the best sum among schedules whose every app is at t
  // or more.
  ctx.algorithm = "maxmin";
  ctx.objective = Objective::kMin;
  std::vector<Frontier> mins = MakeFrontiers(cameras, cameras, budget, options, ctx);
  init_all(mins);
  // The largest t whose least costs fit, from upper (what may be) or lower
  // (what was found) items; `at` gets each camera's cheapest point reaching t.
  auto largest_min = [&](bool upper, double* t_out, std::vector<size_t>* at) {
    std::vector<double> ts;
    for (const Frontier& f : mins)
      for (size_t k = 0; k < f.size(); ++k)
        ts.push_back(upper ? f.Upper(k).value : f.Lower(k).value);
    std::sort(ts.rbegin(), ts.rend());
    ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
    for (double t : ts) {
      double cost = 0;
      std::vector<size_t> arg(mins.size(), 0);
      bool ok = true;
      for (size_t c = 0; c < mins.size() && ok; ++c) {
        double mc = std::numeric_limits<double>::infinity();
        for (size_t k = 0; k < mins[c].size(); ++k) {
          const Item it = upper ? mins[c].Upper(k) : mins[c].Lower(k);
          if (it.value >= t - kValueTol && it.cost < mc) {
            mc = it.cost;
            arg[c] = k;
          }
        }
        ok = std::isfinite(mc);
        cost += mc;
      }
      if (ok && cost <= budget + kCostTol) {
        *t_out = t;
        if (at != nullptr) *at = arg;
        return true;
      }
    }
    return false;
  };
  double t_upper = 0;
  std::vector<size_t> at;
  for (;;) {
    if (!largest_min(true, &t_upper, &at)) break;
    bool open = false, progress = false;
    for (size_t c = 0; c < mins.size(); ++c) {
      if (mins[c].Closed(at[c])) continue;
      open = true;
      progress = mins[c].Split(at[c]) || progress;
    }
    if (!open) break;
    if (!progress) {
      ctx.stopped = true;
      break;
    }
  }
  double t = 0;
  if (!largest_min(false, &t, nullptr))
    ThrowInternal(__FILE__, __LINE__, "no minimum fits although the cheapest schedules do");
  const bool t_proven =
      std::all_of(mins.begin(), mins.end(), [](const Frontier& f) { return f.proven(); }) &&
      largest_min(true, &t_upper, nullptr) && t_upper <= t + kValueTol;
  LogDebug("max-min: minimum {:.6f} reached by every camera; proven at most {:.6f}", t, t_upper);
  // The best sum at minimum >= t: exhaustive search where every option
  // below t is worth -(apps + 1), so that any schedule using one sums below
  // any schedule without (the same options and cheapest schedule as the
  // camera's: a filtered problem's cheapest "most shared, lowest rate"
  // schedule need not be its cheapest), plus the max-min points that reach
  // t (so a split always exists).
  std::vector<ScheduleProblem> at_t = cameras;
  std::vector<std::vector<Solution>> extra(cameras.size());
  for (size_t c = 0; c < cameras.size(); ++c) {
    const double penalty = -static_cast<double>(cameras[c].apps.size() + 1);
    for (AppChoices& a : at_t[c].apps)
      for (AppOption& o : a.options)
        if (o.pred.f1 < t - kValueTol) o.pred.f1 = penalty;
    for (size_t k = 0; k < mins[c].size(); ++k) {
      const Solution& s = mins[c].point(k).solution;
      if (s.min_f1 >= t - kValueTol) extra[c].push_back(s);
    }
  }
  ctx.algorithm = "exhaustive";
  ctx.objective = Objective::kSum;
  std::vector<Frontier> fr = MakeFrontiers(cameras, at_t, budget, options, ctx);
  for (Frontier& f : fr) f.RequireMinimum(t);
  init_all(fr);
  LogDebug("max-min: minimum {}", t_proven ? "proven" : "not proven");
  const SumSplit split = SplitOnSum(fr, budget, ctx, extra);
  std::vector<Solution> chosen;
  for (size_t c = 0; c < fr.size(); ++c) chosen.push_back(Picked(fr, extra, c, split.pick[c]));
  const double upper_sum = split.upper;
  Finish(cameras, chosen, out);
  if (t_proven) SetBound(upper_sum, out);
  out.searches = ctx.searches;
  out.seconds = Now() - t0;
  return out;
}

}  // namespace mainstream
