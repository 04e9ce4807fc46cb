// Max-min search: binary search over thresholds with a min-cost feasibility search, then the best
// mean among the schedules at the optimal minimum (docs/algorithms.md).
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"
#include "mainstream/schedule/search.h"
#include "search_internal.h"

namespace mainstream {

using namespace search_detail;

namespace {

// Minimum-cost feasibility for max-min: can every app get an option with
// f >= tau within the budget? Depth-first with an own-cost lower bound.
class MinCostSearch {
 public:
  explicit MinCostSearch(const Compiled& c) : c_(c) {
    const size_t n = c.apps.size();
    suffix_min_w_.assign(n + 1, 0.0);
    for (size_t d = n; d-- > 0;) {
      double mn = kInf;
      for (const auto& o : c.apps[d]) mn = std::min(mn, o.w);
      suffix_min_w_[d] = suffix_min_w_[d + 1] + mn;
    }
    env_.assign((n + 1) * static_cast<size_t>(std::max(c.m, 1)), 0.0);
    rmax_.assign(n + 1, 0.0);
    cur_.assign(n, 0);
    // Memory: the state at each depth and the least own bytes below it.
    mem_.assign(n + 1, MemState{});
    suffix_min_mem_.assign(n + 1, 0.0);
    for (size_t d = n; d-- > 0;) {
      double mn = kInf;
      for (const auto& o : c.apps[d]) mn = std::min(mn, o.mem);
      suffix_min_mem_[d] = suffix_min_mem_[d + 1] + (c.apps[d].empty() ? 0.0 : mn);
    }
  }
  // Returns true and the choice (compiled indices) if some schedule fits.
  bool Feasible(std::vector<int>* choice) {
    found_ = false;
    Dfs(0, 0.0);
    if (found_) *choice = found_choice_;
    return found_;
  }
  int64_t nodes() const { return nodes_; }

 private:
  double* Env(size_t d) { return env_.data() + d * static_cast<size_t>(std::max(c_.m, 1)); }
  void Dfs(size_t d, double cost) {
    ++nodes_;
    const size_t n = c_.apps.size();
    if (d == n) {
      found_ = true;
      found_choice_ = cur_;
      return;
    }
    const double* M = Env(d);
    const double rmax = rmax_[d];
    // Children in increasing increment order.
    std::vector<std::pair<double, int>> kids;
    for (size_t k = 0; k < c_.apps[d].size(); ++k) {
      const Opt& o = c_.apps[d][k];
      double nc = cost + Increment(c_, o, M, rmax);
      if (nc + suffix_min_w_[d + 1] > c_.budget + kCostEps) continue;
      if (c_.mem_on &&
          !MemFits(c_, mem_[d].used + MemIncrement(c_, o, mem_[d]) + suffix_min_mem_[d + 1]))
        continue;
      kids.emplace_back(nc, static_cast<int>(k));
    }
    std::sort(kids.begin(), kids.end());
    for (const auto& [nc, k] : kids) {
      const Opt& o = c_.apps[d][static_cast<size_t>(k)];
      double* child = Env(d + 1);
      std::copy(M, M + c_.m, child);
      Raise(o, child);
      rmax_[d + 1] = std::max(rmax, o.r);
      if (c_.mem_on) mem_[d + 1] = MemAdd(c_, o, mem_[d]);
      cur_[d] = k;
      Dfs(d + 1, nc);
      if (found_) return;
    }
  }
  const Compiled& c_;
  std::vector<double> suffix_min_w_;
  std::vector<double> env_, rmax_;
  std::vector<MemState> mem_;
  std::vector<double> suffix_min_mem_;
  std::vector<int> cur_, found_choice_;
  bool found_ = false;
  int64_t nodes_ = 0;
};

// Options dominated for cost purposes only (rate <=, level >=; with a memory
// budget, same level: see Dominates): for max-min feasibility the value no
// longer matters beyond the threshold.
std::vector<Opt> CostPareto(const Compiled& c, const std::vector<Opt>& opts) {
  std::vector<Opt> kept;
  for (size_t a = 0; a < opts.size(); ++a) {
    bool dominated = false;
    for (size_t b = 0; b < opts.size() && !dominated; ++b) {
      if (a == b) continue;
      bool le = CostDominates(c, opts[b], opts[a]);
      bool equal = opts[b].r == opts[a].r && opts[b].q == opts[a].q && opts[b].w == opts[a].w &&
                   opts[b].micro == opts[a].micro;
      dominated = le && (!equal || b < a);
    }
    if (!dominated) kept.push_back(opts[a]);
  }
  return kept;
}

}  // namespace

SearchResult MaxMinSearch(const ScheduleProblem& problem, const SearchLimits& limits) {
  double t0 = NowSeconds();
  CheckFeasible(problem);
  Compiled all = Compile(
      problem, [](size_t, const AppOption&) { return true; }, /*prune=*/false);
  // Candidate thresholds: every option value; the answer is one of them.
  std::vector<double> taus;
  for (const auto& app : all.apps)
    for (const auto& o : app) taus.push_back(o.f);
  std::sort(taus.begin(), taus.end());
  taus.erase(std::unique(taus.begin(), taus.end()), taus.end());
  // No app can exceed its own best value.
  double cap = kInf;
  for (const auto& app : all.apps) {
    double mx = -kInf;
    for (const auto& o : app) mx = std::max(mx, o.f);
    cap = std::min(cap, mx);
  }
  int64_t nodes = 0;
  auto feasible = [&](double tau) {
    Compiled c = all;
    for (auto& app : c.apps) {
      std::vector<Opt> keep;
      for (const auto& o : app)
        if (o.f >= tau) keep.push_back(o);
      app = CostPareto(c, keep);
      if (app.empty()) return false;
    }
    MinCostSearch s(c);
    std::vector<int> ch;
    bool ok = s.Feasible(&ch);
    nodes += s.nodes();
    return ok;
  };
  // Binary search the largest feasible threshold (feasibility is monotone).
  size_t lo = 0,
         hi = static_cast<size_t>(std::upper_bound(taus.begin(), taus.end(), cap) - taus.begin());
  // invariant: taus[lo] feasible (the lowest is: the cheapest schedule fits), taus[hi] not (or end)
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (feasible(taus[mid]))
      lo = mid;
    else
      hi = mid;
  }
  const double tau = taus[lo];
  // Best mean F1 among schedules whose minimum is tau.
  ScheduleProblem restricted = problem;
  for (auto& app : restricted.apps) {
    std::vector<AppOption> keep;
    for (const auto& o : app.options)
      if (o.pred.f1 >= tau) keep.push_back(o);
    app.options = std::move(keep);
  }
  ExhaustiveOptions eo;
  Compiled rc = Compile(
      restricted, [](size_t, const AppOption&) { return true; }, true);
  // A feasible start: the min-cost schedule at tau.
  Compiled fc = rc;
  for (auto& app : fc.apps) app = CostPareto(fc, app);
  MinCostSearch ms(fc);
  std::vector<int> ch;
  MS_ASSERT(ms.Feasible(&ch), "max-min threshold {} became infeasible", tau);
  std::vector<int> start_choice;
  for (size_t i = 0; i < ch.size(); ++i)
    start_choice.push_back(fc.apps[i][static_cast<size_t>(ch[i])].orig);
  Solution start = Evaluate(restricted, start_choice);
  eo.incumbent = &start;
  eo.limits = limits;
  eo.start_time = t0;
  SearchResult inner = ExhaustiveSearch(restricted, eo);
  // Map back to the full problem's option indices.
  std::vector<int> choice;
  for (size_t i = 0; i < inner.solution.choice.size(); ++i) {
    const AppOption& o = restricted.apps[i].options[static_cast<size_t>(inner.solution.choice[i])];
    int idx = -1;
    for (size_t k = 0; k < problem.apps[i].options.size(); ++k) {
      const AppOption& p = problem.apps[i].options[k];
      if (p.candidate == o.candidate && p.fps == o.fps) {
        idx = static_cast<int>(k);
        break;
      }
    }
    choice.push_back(idx);
  }
  SearchResult r;
  r.algorithm = "maxmin";
  r.solution = Evaluate(problem, choice);
  r.nodes = nodes + inner.nodes;
  r.exact = inner.exact;
  r.bound_mean_f1 = inner.bound_mean_f1;
  r.gap = inner.gap;
  r.stopped_by = inner.stopped_by;
  r.seconds = NowSeconds() - t0;
  return r;
}

}  // namespace mainstream
