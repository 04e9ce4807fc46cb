// Exhaustive search: branch and bound with LP and stem-aware bounds, anytime with limits
// (docs/algorithms.md).
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

// ---------------------------------------------------------------------------
// LP relaxation of the multiple-choice knapsack: each app picks one option
// (weight w, value f); the bound allows fractional mixes along each app's
// upper concave hull. Used as an upper bound on what the remaining apps can add.

struct Segment {
  double dw, df;
};

// Appends app's hull segments to `segs`; returns (min weight, value at it).
std::pair<double, double> HullSegments(std::vector<std::pair<double, double>>& pts,
                                       std::vector<Segment>& segs) {
  std::sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  });
  // Keep only points that strictly increase f, then the upper concave hull.
  std::vector<std::pair<double, double>> hull;
  for (const auto& pt : pts) {
    if (!hull.empty() && pt.second <= hull.back().second) continue;
    while (hull.size() >= 2) {
      const auto& a = hull[hull.size() - 2];
      const auto& b = hull.back();
      // remove b if it lies on or below the segment a -> pt
      double cross = (b.first - a.first) * (pt.second - a.second) -
                     (b.second - a.second) * (pt.first - a.first);
      if (cross >= 0)
        hull.pop_back();
      else
        break;
    }
    hull.push_back(pt);
  }
  for (size_t k = 1; k < hull.size(); ++k) {
    segs.push_back(Segment{hull[k].first - hull[k - 1].first, hull[k].second - hull[k - 1].second});
  }
  return hull.front();
}

bool BySlope(const Segment& a, const Segment& b) {
  // dw > 0 for all hull segments except possibly the first at equal weight (not produced).
  return a.df * b.dw > b.df * a.dw;
}

// A precomputed LP bound for a fixed set of apps with static weights.
struct StaticBound {
  double w0 = 0, f0 = 0;
  std::vector<double> cum_w, cum_f;  // prefix sums of slope-sorted segments
  std::vector<Segment> segs;

  void Build(std::vector<std::vector<std::pair<double, double>>> apps) {
    w0 = f0 = 0;
    segs.clear();
    for (auto& pts : apps) {
      auto base = HullSegments(pts, segs);
      w0 += base.first;
      f0 += base.second;
    }
    std::sort(segs.begin(), segs.end(), BySlope);
    cum_w.assign(1, 0.0);
    cum_f.assign(1, 0.0);
    for (const auto& s : segs) {
      cum_w.push_back(cum_w.back() + s.dw);
      cum_f.push_back(cum_f.back() + s.df);
    }
  }
  // Upper bound on the value within `beta`; -inf if even the lightest choice does not fit.
  double Eval(double beta) const {
    double room = beta - w0;
    if (room < 0) return -kInf;  // callers add the feasibility tolerance to beta
    if (room <= 0) return f0;
    size_t k =
        static_cast<size_t>(std::upper_bound(cum_w.begin(), cum_w.end(), room) - cum_w.begin()) - 1;
    double ub = f0 + cum_f[k];
    if (k < segs.size()) ub += segs[k].df * (room - cum_w[k]) / segs[k].dw;
    return ub;
  }
};

// ---------------------------------------------------------------------------
// Exhaustive branch and bound.

class BranchAndBound {
 public:
  BranchAndBound(const Compiled& c, bool dynamic_bound, const SearchLimits& limits,
                 double start_time)
      : c_(c), dynamic_(dynamic_bound), max_nodes_(limits.max_nodes), start_time_(start_time) {
    if (limits.time_limit_s > 0) deadline_ = start_time + limits.time_limit_s;
    const size_t n = c.apps.size();
    // Apps with the widest spread of values first: their choice moves the bound most.
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    auto spread = [&](size_t i) {
      double lo = kInf, hi = -kInf;
      for (const auto& o : c.apps[i]) lo = std::min(lo, o.f), hi = std::max(hi, o.f);
      return hi - lo;
    };
    std::stable_sort(order_.begin(), order_.end(),
                     [&](size_t a, size_t b) { return spread(a) > spread(b); });
    opts_.resize(n);
    for (size_t d = 0; d < n; ++d) {
      opts_[d] = c.apps[order_[d]];
      std::stable_sort(opts_[d].begin(), opts_[d].end(), [](const Opt& a, const Opt& b) {
        return a.f > b.f || (a.f == b.f && (a.w < b.w || (a.w == b.w && a.q > b.q)));
      });
    }
    suffix_max_.assign(n + 1, 0.0);
    for (size_t d = n; d-- > 0;) {
      double mx = -kInf;
      for (const auto& o : opts_[d]) mx = std::max(mx, o.f);
      suffix_max_[d] = suffix_max_[d + 1] + mx;
    }
    static_.resize(n + 1);
    for (size_t d = 0; d <= n; ++d) {
      std::vector<std::vector<std::pair<double, double>>> pts;
      for (size_t e = d; e < n; ++e) {
        std::vector<std::pair<double, double>> p;
        for (const auto& o : opts_[e]) p.emplace_back(o.w, o.f);
        pts.push_back(std::move(p));
      }
      static_[d].Build(std::move(pts));
    }
    // With a memory budget, the same LP bound over own memory: the apps below
    // depth d hold at least their own bytes, whatever stem and cuts they add.
    if (c.mem_on) {
      static_mem_.resize(n + 1);
      for (size_t d = 0; d <= n; ++d) {
        std::vector<std::vector<std::pair<double, double>>> pts;
        for (size_t e = d; e < n; ++e) {
          std::vector<std::pair<double, double>> p;
          for (const auto& o : opts_[e]) p.emplace_back(o.mem, o.f);
          pts.push_back(std::move(p));
        }
        static_mem_[d].Build(std::move(pts));
      }
    }
    env_.assign((n + 1) * static_cast<size_t>(std::max(c.m, 1)), 0.0);
    rmax_.assign(n + 1, 0.0);
    cur_.assign(n, 0);
    // Memory: the state at each depth and the least own bytes the apps below
    // it need (a lower bound: the stem and cuts they add come on top).
    mem_.assign(n + 1, MemState{});
    suffix_min_mem_.assign(n + 1, 0.0);
    for (size_t d = n; d-- > 0;) {
      double mn = kInf;
      for (const auto& o : opts_[d]) mn = std::min(mn, o.mem);
      suffix_min_mem_[d] = suffix_min_mem_[d + 1] + (opts_[d].empty() ? 0.0 : mn);
    }
  }

  void SetIncumbent(const std::vector<int>& compiled_choice, double value) {
    best_value_ = value;
    best_ = compiled_choice;
  }

  // Returns true when the search completed (the incumbent is optimal).
  bool Run() {
    aborted_ = false;
    open_bound_ = -kInf;
    next_progress_ = start_time_ + kProgressSeconds;
    root_bound_ = c_.apps.empty() ? 0.0 : NodeBound(0, 0.0, Env(0), 0.0);
    Dfs(0, 0.0, 0.0);
    return !aborted_;
  }

  // A proven upper bound on the optimum: the incumbent when complete; else
  // the best of the incumbent and the bounds of the subtrees left open,
  // capped by the root's bound.
  double upper_bound() const {
    if (!aborted_) return best_value_;
    return std::max(best_value_, std::min(root_bound_, open_bound_));
  }
  const char* stopped_by() const {
    return !aborted_ ? "" : time_out_ ? "time limit" : "node limit";
  }

  double best_value() const { return best_value_; }
  const std::vector<int>& best() const { return best_; }  // in app order, compiled indices
  int64_t nodes() const { return nodes_; }

 private:
  double* Env(size_t d) { return env_.data() + d * static_cast<size_t>(std::max(c_.m, 1)); }

  void Record(double value) {
    best_value_ = value;
    best_.assign(c_.apps.size(), 0);
    for (size_t d = 0; d < c_.apps.size(); ++d) {
      // translate sorted index back to the compiled app's option index
      const Opt& o = opts_[d][static_cast<size_t>(cur_[d])];
      const auto& list = c_.apps[order_[d]];
      for (size_t k = 0; k < list.size(); ++k) {
        if (list[k].orig == o.orig) {
          best_[order_[d]] = static_cast<int>(k);
          break;
        }
      }
    }
  }

  // Upper bound on what apps d..n-1 can add within `beta`, given the stem
  // envelope M. Each remaining option o costs its own w plus an extra e (its
  // stem and decode increment over M if it were added alone); together the
  // remaining apps pay at least sum(w) + max(e), since the stem they raise is
  // shared. The bound is the Lagrangian dual of that relaxation:
  //   min over lambda >= 0 of  lambda*beta + max over theta of
  //     [ sum_j max{ f - lambda*w : option of j with e <= theta } - lambda*theta ],
  // convex in lambda, minimized by golden-section search.
  double StemAwareBound(size_t d, const double* M, double rmax, double beta) {
    const size_t n = c_.apps.size();
    items_.clear();
    for (size_t e = d; e < n; ++e) {
      for (const auto& o : opts_[e]) {
        double extra = Increment(c_, o, M, rmax) - o.w;
        if (o.w + extra > beta) continue;  // cannot fit even alone (beta includes the tolerance)
        items_.push_back(Item{extra, o.f, o.w, static_cast<int>(e - d)});
      }
    }
    std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.e < b.e; });
    const size_t apps = n - d;
    auto dual = [&](double lambda) {
      best_g_.assign(apps, -kInf);
      size_t defined = 0;
      double sum = 0, best = -kInf;
      for (const Item& it : items_) {
        double g = it.f - lambda * it.w;
        double& b = best_g_[static_cast<size_t>(it.app)];
        if (b == -kInf) {
          ++defined;
          b = g;
          sum += g;
        } else if (g > b) {
          sum += g - b;
          b = g;
        }
        if (defined == apps) best = std::max(best, sum - lambda * it.e);
      }
      return best == -kInf ? -kInf : lambda * beta + best;
    };
    double lo = 0, hi = lambda_hint_ > 0 ? 4 * lambda_hint_ : 1.0;
    // Expand until the dual grows at hi (the minimum lies below).
    double f_lo = dual(lo);
    if (f_lo == -kInf) return -kInf;
    double f_hi = dual(hi);
    for (int k = 0; k < 20 && f_hi < f_lo; ++k) {
      hi *= 4;
      f_hi = dual(hi);
    }
    const double phi = 0.6180339887498949;
    double a = lo, b = hi;
    double x1 = b - phi * (b - a), x2 = a + phi * (b - a);
    double f1 = dual(x1), f2 = dual(x2);
    double best = std::min({f_lo, f_hi, f1, f2});
    for (int it = 0; it < 14; ++it) {
      if (f1 <= f2) {
        b = x2;
        x2 = x1;
        f2 = f1;
        x1 = b - phi * (b - a);
        f1 = dual(x1);
      } else {
        a = x1;
        x1 = x2;
        f1 = f2;
        x2 = a + phi * (b - a);
        f2 = dual(x2);
      }
      best = std::min({best, f1, f2});
    }
    lambda_hint_ = f1 <= f2 ? x1 : x2;
    return best;
  }

  // Upper bound on the whole subtree below a node at depth d (its value excluded).
  double NodeBound(size_t d, double cost, const double* M, double rmax) {
    const double room = c_.budget + kCostEps - cost;
    double b = static_[d].Eval(room);
    if (dynamic_ && c_.apps.size() - d >= 2) b = std::min(b, StemAwareBound(d, M, rmax, room));
    if (c_.mem_on) b = std::min(b, MemoryBound(d, mem_[d]));
    return b;
  }
  // The LP bound over own memory for the apps from depth d, given the bytes held.
  double MemoryBound(size_t d, const MemState& mem) const {
    return static_mem_[d].Eval(c_.mem_budget * (1 + 1e-12) + 1e-6 - mem.used);
  }

  // Time and node limits, and progress on stderr every few seconds.
  bool LimitReached() {
    if (max_nodes_ > 0 && nodes_ > max_nodes_) return true;
    if ((nodes_ & 255) != 0) return false;
    const double now = NowSeconds();
    if (deadline_ > 0 && now >= deadline_) {
      time_out_ = true;
      return true;
    }
    if (now >= next_progress_) {
      next_progress_ = now + kProgressSeconds;
      const double n = static_cast<double>(c_.apps.size());
      LogInfo(
          "exhaustive: {:.0f} s, {} nodes, best mean F1 so far {:.6f} (bound at the root {:.6f})",
          now - start_time_, nodes_, best_value_ / n, root_bound_ / n);
    }
    return false;
  }

  void Dfs(size_t d, double cost, double value) {
    ++nodes_;
    const double* M = Env(d);
    const double rmax = rmax_[d];
    if (LimitReached()) {
      aborted_ = true;
      open_bound_ = std::max(open_bound_, value + NodeBound(d, cost, M, rmax));
      return;
    }
    const size_t n = c_.apps.size();
    const auto& opts = opts_[d];
    // Bounds are taken at the budget plus the feasibility tolerance: a schedule
    // costing exactly the budget, summed in another order, may come out a hair
    // above it, and a bound at the bare budget would prune it (issue 15).
    if (dynamic_ && n - d >= 2 &&
        value + StemAwareBound(d, M, rmax, c_.budget + kCostEps - cost) <=
            best_value_ + kValueEps) {
      return;
    }
    const MemState& mem = mem_[d];
    if (d + 1 == n) {
      for (size_t k = 0; k < opts.size(); ++k) {
        const Opt& o = opts[k];
        if (value + o.f <= best_value_ + kValueEps) break;
        if (cost + Increment(c_, o, M, rmax) <= c_.budget + kCostEps &&
            (!c_.mem_on || MemFits(c_, mem.used + MemIncrement(c_, o, mem)))) {
          cur_[d] = static_cast<int>(k);
          Record(value + o.f);
          break;
        }
      }
      return;
    }
    for (size_t k = 0; k < opts.size() && !aborted_; ++k) {
      const Opt& o = opts[k];
      const double nv = value + o.f;
      if (nv + suffix_max_[d + 1] <= best_value_ + kValueEps) break;
      const double nc = cost + Increment(c_, o, M, rmax);
      if (nc > c_.budget + kCostEps) continue;
      if (c_.mem_on) {
        mem_[d + 1] = MemAdd(c_, o, mem);
        if (!MemFits(c_, mem_[d + 1].used + suffix_min_mem_[d + 1])) continue;
        if (nv + MemoryBound(d + 1, mem_[d + 1]) <= best_value_ + kValueEps) continue;
      }
      if (nv + static_[d + 1].Eval(c_.budget + kCostEps - nc) <= best_value_ + kValueEps) continue;
      double* child = Env(d + 1);
      std::copy(M, M + c_.m, child);
      Raise(o, child);
      rmax_[d + 1] = std::max(rmax, o.r);
      cur_[d] = static_cast<int>(k);
      Dfs(d + 1, nc, nv);
      if (aborted_) OpenSiblings(d, k + 1, cost, value, M, rmax, mem);
    }
  }

  // After a stop: bound the children k0.. of the node at depth d, not searched.
  void OpenSiblings(size_t d, size_t k0, double cost, double value, const double* M, double rmax,
                    const MemState& mem) {
    for (size_t k = k0; k < opts_[d].size(); ++k) {
      const Opt& o = opts_[d][k];
      const double nc = cost + Increment(c_, o, M, rmax);
      if (nc > c_.budget + kCostEps) continue;
      if (c_.mem_on && !MemFits(c_, mem.used + MemIncrement(c_, o, mem) + suffix_min_mem_[d + 1]))
        continue;
      open_bound_ =
          std::max(open_bound_, value + o.f + static_[d + 1].Eval(c_.budget + kCostEps - nc));
    }
  }

  static constexpr double kProgressSeconds = 5;
  const Compiled& c_;
  bool dynamic_;
  int64_t max_nodes_;
  double start_time_ = 0, deadline_ = 0, next_progress_ = 0;
  bool time_out_ = false;
  double root_bound_ = kInf, open_bound_ = -kInf;
  std::vector<size_t> order_;
  std::vector<std::vector<Opt>> opts_;
  std::vector<double> suffix_max_;
  std::vector<StaticBound> static_, static_mem_;
  std::vector<double> env_, rmax_;
  std::vector<MemState> mem_;
  std::vector<double> suffix_min_mem_;
  std::vector<int> cur_;
  std::vector<int> best_;
  double best_value_ = -kInf;
  int64_t nodes_ = 0;
  bool aborted_ = false;
  struct Item {
    double e, f, w;
    int app;
  };
  std::vector<Item> items_;
  std::vector<double> best_g_;
  double lambda_hint_ = 0;
};

}  // namespace

SearchResult ExhaustiveSearch(const ScheduleProblem& problem, const ExhaustiveOptions& options) {
  double t0 = options.start_time > 0 ? options.start_time : NowSeconds();
  if (options.incumbent == nullptr) CheckFeasible(problem);
  Compiled c = Compile(
      problem, [](size_t, const AppOption&) { return true; }, /*prune=*/true);
  BranchAndBound bb(c, options.dynamic_bound, options.limits, t0);
  if (GetLogLevel() <= LogLevel::kDebug) {
    std::string sizes;
    for (const auto& a : c.apps) sizes += fmt::format(" {}", a.size());
    LogDebug("exhaustive: {} stem levels, options per app after pruning:{}", c.m, sizes);
  }
  // Start from the given incumbent, or the greedy's solution.
  Solution start;
  if (options.incumbent != nullptr) {
    start = *options.incumbent;
  } else {
    start = GreedySearch(problem).solution;
  }
  // Map the incumbent onto compiled (pruned) options: use a dominating one.
  std::vector<int> inc(c.apps.size(), 0);
  double inc_value = 0;
  std::vector<const Opt*> sel;
  for (size_t i = 0; i < c.apps.size(); ++i) {
    const int start_k = start.choice.at(i);
    // The start's option as compiled (pruning kept it or one dominating it).
    const Opt want = CompileOption(problem, c, i, start_k);
    int best = -1;
    for (size_t k = 0; k < c.apps[i].size(); ++k) {
      const Opt& x = c.apps[i][k];
      if (x.orig == start_k || Dominates(c, x, want)) {
        best = static_cast<int>(k);
        break;
      }
    }
    MS_ASSERT(best >= 0, "incumbent option of app {} has no dominating option", i);
    inc[i] = best;
    inc_value += c.apps[i][static_cast<size_t>(best)].f;
    sel.push_back(&c.apps[i][static_cast<size_t>(best)]);
  }
  MS_ASSERT(FullCost(c, sel) <= c.budget + kCostEps, "incumbent exceeds the budget");
  MS_ASSERT(MemFits(c, FullMemory(c, sel)), "incumbent exceeds the memory budget");
  bb.SetIncumbent(inc, inc_value);
  bool complete = bb.Run();
  SearchResult r;
  r.algorithm = "exhaustive";
  r.solution = ToSolution(problem, c, bb.best());
  r.nodes = bb.nodes();
  r.exact = complete;
  r.seconds = NowSeconds() - t0;
  const double n = static_cast<double>(c.apps.size());
  // Complete: the optimum itself (the compiled sum may differ in the last bit).
  r.bound_mean_f1 =
      complete ? r.solution.mean_f1() : std::max(bb.upper_bound() / n, r.solution.mean_f1());
  r.gap = r.bound_mean_f1 > 0 ? (r.bound_mean_f1 - r.solution.mean_f1()) / r.bound_mean_f1 : 0.0;
  r.stopped_by = bb.stopped_by();
  if (!complete) {
    LogWarn(
        "exhaustive: stopped by the {} after {:.3g} s and {} nodes: best mean F1 found {:.6f}, "
        "proven bound "
        "{:.6f} (gap {:.3f}%)",
        r.stopped_by, r.seconds, r.nodes, r.solution.mean_f1(), r.bound_mean_f1, 100 * r.gap);
  }
  return r;
}

}  // namespace mainstream
