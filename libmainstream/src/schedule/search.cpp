#include "mainstream/schedule/search.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "mainstream/core/error.h"
#include "mainstream/core/log.h"

namespace mainstream {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kValueEps = 1e-12;
constexpr double kCostEps = 1e-9;

// ---------------------------------------------------------------------------
// Compiled problem: branchpoints mapped to stem levels, options pruned.
//
// Levels: the distinct branchpoints of all options plus 0, ascending:
// B[0] = 0 < B[1] < ... < B[m]. Stem interval j covers stages [B[j], B[j+1])
// with latency L[j]; an option at level q needs intervals 0..q-1. The stem
// envelope M[j] is the highest rate among the apps whose level exceeds j, so
// the schedule costs D * max rate + sum_j L[j] * M[j] + sum_apps r * S(b).
struct Opt {
  int q = 0;       // level index of the branchpoint
  double r = 0;    // frame rate
  double w = 0;    // own (specialized suffix) cost: r * latency of [b, n)
  double f = 0;    // objective contribution (F1)
  int orig = 0;    // index in the problem's option list
};

struct Compiled {
  int m = 0;
  std::vector<double> L;
  double D = 0;
  std::vector<std::vector<Opt>> apps;
  double budget = 0;
};

// A dominates B when it is at least as good and never costs more in any
// schedule: f >= , rate <=, level >= (more of the stem shared).
bool Dominates(const Opt& a, const Opt& b) {
  return a.f >= b.f && a.r <= b.r && a.q >= b.q;
}

Compiled Compile(const ScheduleProblem& p, const std::function<bool(size_t, const AppOption&)>& keep,
                 bool prune) {
  Compiled c;
  c.D = p.costs.preprocess_ms;
  c.budget = p.budget - p.costs.FixedCost();  // decoding the stream costs the same in every schedule
  const int n = p.costs.num_stages();
  std::vector<int> levels{0};
  for (const auto& app : p.apps) {
    for (const auto& o : app.options) levels.push_back(o.branchpoint);
  }
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  c.m = static_cast<int>(levels.size()) - 1;
  for (int j = 0; j < c.m; ++j) c.L.push_back(p.costs.Range(levels[static_cast<size_t>(j)], levels[static_cast<size_t>(j + 1)]));
  c.apps.resize(p.apps.size());
  for (size_t i = 0; i < p.apps.size(); ++i) {
    std::vector<Opt> all;
    for (size_t k = 0; k < p.apps[i].options.size(); ++k) {
      const AppOption& o = p.apps[i].options[k];
      if (!keep(i, o)) continue;
      MS_CHECK(o.branchpoint >= 0 && o.branchpoint < n, "app {}: branchpoint {} outside the base's {} stages",
               p.apps[i].name, o.branchpoint, n);
      Opt x;
      x.q = static_cast<int>(std::lower_bound(levels.begin(), levels.end(), o.branchpoint) - levels.begin());
      x.r = o.fps;
      x.w = o.fps * p.costs.Range(o.branchpoint, n);
      x.f = o.pred.f1;
      x.orig = static_cast<int>(k);
      all.push_back(x);
    }
    if (prune) {
      std::vector<Opt> kept;
      for (size_t a = 0; a < all.size(); ++a) {
        bool dominated = false;
        for (size_t b = 0; b < all.size() && !dominated; ++b) {
          if (a == b || !Dominates(all[b], all[a])) continue;
          bool equal = all[b].f == all[a].f && all[b].r == all[a].r && all[b].q == all[a].q;
          dominated = !equal || b < a;  // among identical options keep the first
        }
        if (!dominated) kept.push_back(all[a]);
      }
      all.swap(kept);
    }
    c.apps[i] = std::move(all);
  }
  return c;
}

// Cost increment of adding option o to a partial schedule with envelope M and
// highest rate rmax.
inline double Increment(const Compiled& c, const Opt& o, const double* M, double rmax) {
  double inc = o.w;
  if (o.r > rmax) inc += c.D * (o.r - rmax);
  for (int j = o.q - 1; j >= 0 && M[j] < o.r; --j) inc += c.L[static_cast<size_t>(j)] * (o.r - M[j]);
  return inc;
}

inline void Raise(const Opt& o, double* M) {
  for (int j = o.q - 1; j >= 0 && M[j] < o.r; --j) M[j] = o.r;
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

Solution ToSolution(const ScheduleProblem& p, const Compiled& c, const std::vector<int>& compiled_choice) {
  std::vector<int> choice(compiled_choice.size());
  for (size_t i = 0; i < compiled_choice.size(); ++i) {
    choice[i] = c.apps[i][static_cast<size_t>(compiled_choice[i])].orig;
  }
  return Evaluate(p, choice);
}

// Index of the cheapest option of an app: most shared, then lowest rate, then best f.
int CheapestIndex(const std::vector<Opt>& opts) {
  int best = 0;
  for (size_t k = 1; k < opts.size(); ++k) {
    const Opt& a = opts[k];
    const Opt& b = opts[static_cast<size_t>(best)];
    if (a.q > b.q || (a.q == b.q && (a.r < b.r || (a.r == b.r && a.f > b.f)))) best = static_cast<int>(k);
  }
  return best;
}

// ---------------------------------------------------------------------------
// Greedy.

// Envelope bookkeeping: for each stem interval (and for the decode rate), the
// highest and second-highest rate among the apps, so that the envelope
// without any one app is available in O(m).
struct Envelope {
  std::vector<double> top1, top2;
  std::vector<int> cnt1;
  double r1 = 0, r2 = 0;
  int rc1 = 0;

  void Build(const Compiled& c, const std::vector<const Opt*>& sel) {
    top1.assign(static_cast<size_t>(c.m), 0.0);
    top2.assign(static_cast<size_t>(c.m), 0.0);
    cnt1.assign(static_cast<size_t>(c.m), 0);
    r1 = r2 = 0;
    rc1 = 0;
    auto push = [](double r, double& t1, double& t2, int& c1) {
      if (r > t1) {
        t2 = t1;
        t1 = r;
        c1 = 1;
      } else if (r == t1) {
        ++c1;
      } else if (r > t2) {
        t2 = r;
      }
    };
    for (const Opt* o : sel) {
      push(o->r, r1, r2, rc1);
      for (int j = 0; j < o->q; ++j) push(o->r, top1[static_cast<size_t>(j)], top2[static_cast<size_t>(j)], cnt1[static_cast<size_t>(j)]);
    }
  }

  // Envelope and decode rate without option o (which is in the schedule).
  void Without(const Opt& o, double* M, double* rmax) const {
    for (size_t j = 0; j < top1.size(); ++j) {
      bool covered = static_cast<int>(j) < o.q;
      M[j] = (covered && o.r == top1[j] && cnt1[j] == 1) ? top2[j] : top1[j];
    }
    *rmax = (o.r == r1 && rc1 == 1) ? r2 : r1;
  }
};

double StemCost(const Compiled& c, const double* M, double rmax) {
  double s = c.D * rmax;
  for (int j = 0; j < c.m; ++j) s += c.L[static_cast<size_t>(j)] * M[j];
  return s;
}

struct GreedyState {
  const Compiled& c;
  std::vector<int> choice;
  std::vector<const Opt*> sel;
  double cost = 0;
  double value = 0;
  Envelope env;

  explicit GreedyState(const Compiled& comp) : c(comp) {}
  void Set(size_t i, int k) {
    choice[i] = k;
    sel[i] = &c.apps[i][static_cast<size_t>(k)];
  }
  void Refresh() {
    cost = FullCost(c, sel);
    value = 0;
    for (const Opt* o : sel) value += o->f;
    env.Build(c, sel);
  }
  // Cost of the schedule with every app but i (base), its envelope in M/rmax.
  double BaseWithout(size_t i, double* M, double* rmax) const {
    env.Without(*sel[i], M, rmax);
    return cost - StemCost(c, env.top1.data(), env.r1) + StemCost(c, M, *rmax) - sel[i]->w;
  }
};

struct Move {
  size_t app = 0;
  int option = -1;
  double df = 0, new_cost = 0, ratio = -kInf;
};

// One greedy step; returns false when no move improves the objective within the budget.
bool GreedyStep(GreedyState& s, GreedyRatio ratio_kind, int64_t* evaluated) {
  const Compiled& c = s.c;
  std::vector<double> M(static_cast<size_t>(c.m));
  Move best;
  for (size_t i = 0; i < c.apps.size(); ++i) {
    double rmax;
    const double base = s.BaseWithout(i, M.data(), &rmax);
    const Opt& cur = *s.sel[i];
    for (size_t k = 0; k < c.apps[i].size(); ++k) {
      const Opt& o = c.apps[i][k];
      double df = o.f - cur.f;
      if (df <= kValueEps) continue;
      ++*evaluated;
      double nc = base + Increment(c, o, M.data(), rmax);
      if (nc > c.budget + kCostEps) continue;
      double dc = ratio_kind == GreedyRatio::kPaper ? o.w - cur.w : nc - s.cost;
      double ratio = dc <= kCostEps ? kInf : df / dc;
      if (ratio > best.ratio || (ratio == best.ratio && df > best.df)) {
        best = Move{i, static_cast<int>(k), df, nc, ratio};
      }
    }
  }
  if (best.option < 0) return false;
  s.Set(best.app, best.option);
  s.Refresh();
  return true;
}

// Local search: the best single-app move by objective gain (any cost that
// fits), then the best two-app move; repeat until neither improves.
bool PolishStep(GreedyState& s, int64_t* evaluated) {
  const Compiled& c = s.c;
  std::vector<double> M(static_cast<size_t>(c.m));
  Move best;
  best.ratio = 0;
  for (size_t i = 0; i < c.apps.size(); ++i) {
    double rmax;
    const double base = s.BaseWithout(i, M.data(), &rmax);
    const Opt& cur = *s.sel[i];
    for (size_t k = 0; k < c.apps[i].size(); ++k) {
      const Opt& o = c.apps[i][k];
      double df = o.f - cur.f;
      if (df <= kValueEps) continue;
      ++*evaluated;
      double nc = base + Increment(c, o, M.data(), rmax);
      if (nc > c.budget + kCostEps) continue;
      if (df > best.df + kValueEps || (df > best.df - kValueEps && nc < best.new_cost)) {
        best = Move{i, static_cast<int>(k), df, nc, 0};
      }
    }
  }
  if (best.option >= 0) {
    s.Set(best.app, best.option);
    s.Refresh();
    return true;
  }
  // Two-app moves: lower app a (frees budget or stem), raise app b.
  const size_t n = c.apps.size();
  double best_gain = kValueEps;
  size_t ba = 0, bb = 0;
  int ka = -1, kb = -1;
  std::vector<const Opt*> trial = s.sel;
  for (size_t a = 0; a < n; ++a) {
    for (size_t k1 = 0; k1 < c.apps[a].size(); ++k1) {
      const Opt& oa = c.apps[a][k1];
      if (&oa == s.sel[a]) continue;
      double dfa = oa.f - s.sel[a]->f;
      trial[a] = &oa;
      // Cost with a changed; b's change is then evaluated incrementally.
      GreedyState t(c);
      t.choice = s.choice;
      t.sel = trial;
      t.Refresh();
      for (size_t b = 0; b < n; ++b) {
        if (b == a) continue;
        double rmax;
        const double base = t.BaseWithout(b, M.data(), &rmax);
        for (size_t k2 = 0; k2 < c.apps[b].size(); ++k2) {
          const Opt& ob = c.apps[b][k2];
          double gain = dfa + ob.f - s.sel[b]->f;
          if (gain <= best_gain) continue;
          ++*evaluated;
          double nc = base + Increment(c, ob, M.data(), rmax);
          if (nc > c.budget + kCostEps) continue;
          best_gain = gain;
          ba = a, bb = b;
          ka = static_cast<int>(k1), kb = static_cast<int>(k2);
        }
      }
    }
    trial[a] = s.sel[a];
  }
  if (ka < 0) return false;
  s.Set(ba, ka);
  s.Set(bb, kb);
  s.Refresh();
  return true;
}

// ---------------------------------------------------------------------------
// LP relaxation of the multiple-choice knapsack: each app picks one option
// (weight w, value f); the bound allows fractional mixes along each app's
// upper concave hull. Used as an upper bound on what the remaining apps can add.

struct Segment {
  double dw, df;
};

// Appends app's hull segments to `segs`; returns (min weight, value at it).
std::pair<double, double> HullSegments(std::vector<std::pair<double, double>>& pts, std::vector<Segment>& segs) {
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
      double cross = (b.first - a.first) * (pt.second - a.second) - (b.second - a.second) * (pt.first - a.first);
      if (cross >= 0) hull.pop_back(); else break;
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
    if (room < -kCostEps) return -kInf;
    if (room <= 0) return f0;
    size_t k = static_cast<size_t>(std::upper_bound(cum_w.begin(), cum_w.end(), room) - cum_w.begin()) - 1;
    double ub = f0 + cum_f[k];
    if (k < segs.size()) ub += segs[k].df * (room - cum_w[k]) / segs[k].dw;
    return ub;
  }
};

// ---------------------------------------------------------------------------
// Exhaustive branch and bound.

class BranchAndBound {
 public:
  BranchAndBound(const Compiled& c, bool dynamic_bound, int64_t max_nodes)
      : c_(c), dynamic_(dynamic_bound), max_nodes_(max_nodes) {
    const size_t n = c.apps.size();
    // Apps with the widest spread of values first: their choice moves the bound most.
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    auto spread = [&](size_t i) {
      double lo = kInf, hi = -kInf;
      for (const auto& o : c.apps[i]) lo = std::min(lo, o.f), hi = std::max(hi, o.f);
      return hi - lo;
    };
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return spread(a) > spread(b); });
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
    env_.assign((n + 1) * static_cast<size_t>(std::max(c.m, 1)), 0.0);
    rmax_.assign(n + 1, 0.0);
    cur_.assign(n, 0);
  }

  void SetIncumbent(const std::vector<int>& compiled_choice, double value) {
    best_value_ = value;
    best_ = compiled_choice;
  }

  bool Run() {
    aborted_ = false;
    Dfs(0, 0.0, 0.0);
    return !aborted_;
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
        if (o.w + extra > beta + kCostEps) continue;  // cannot fit even alone
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

  void Dfs(size_t d, double cost, double value) {
    ++nodes_;
    if (max_nodes_ > 0 && nodes_ > max_nodes_) {
      aborted_ = true;
      return;
    }
    const size_t n = c_.apps.size();
    const double* M = Env(d);
    const double rmax = rmax_[d];
    const auto& opts = opts_[d];
    if (dynamic_ && n - d >= 2 && value + StemAwareBound(d, M, rmax, c_.budget - cost) <= best_value_ + kValueEps) {
      return;
    }
    if (d + 1 == n) {
      for (size_t k = 0; k < opts.size(); ++k) {
        const Opt& o = opts[k];
        if (value + o.f <= best_value_ + kValueEps) break;
        if (cost + Increment(c_, o, M, rmax) <= c_.budget + kCostEps) {
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
      if (nv + static_[d + 1].Eval(c_.budget - nc) <= best_value_ + kValueEps) continue;
      double* child = Env(d + 1);
      std::copy(M, M + c_.m, child);
      Raise(o, child);
      rmax_[d + 1] = std::max(rmax, o.r);
      cur_[d] = static_cast<int>(k);
      Dfs(d + 1, nc, nv);
    }
  }

  const Compiled& c_;
  bool dynamic_;
  int64_t max_nodes_;
  std::vector<size_t> order_;
  std::vector<std::vector<Opt>> opts_;
  std::vector<double> suffix_max_;
  std::vector<StaticBound> static_;
  std::vector<double> env_, rmax_;
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
      double nc = cost + Increment(c_, c_.apps[d][k], M, rmax);
      if (nc + suffix_min_w_[d + 1] <= c_.budget + kCostEps) kids.emplace_back(nc, static_cast<int>(k));
    }
    std::sort(kids.begin(), kids.end());
    for (const auto& [nc, k] : kids) {
      const Opt& o = c_.apps[d][static_cast<size_t>(k)];
      double* child = Env(d + 1);
      std::copy(M, M + c_.m, child);
      Raise(o, child);
      rmax_[d + 1] = std::max(rmax, o.r);
      cur_[d] = k;
      Dfs(d + 1, nc);
      if (found_) return;
    }
  }
  const Compiled& c_;
  std::vector<double> suffix_min_w_;
  std::vector<double> env_, rmax_;
  std::vector<int> cur_, found_choice_;
  bool found_ = false;
  int64_t nodes_ = 0;
};

// Options dominated for cost purposes only (rate <=, level >=): for max-min
// feasibility the value no longer matters beyond the threshold.
std::vector<Opt> CostPareto(const std::vector<Opt>& opts) {
  std::vector<Opt> kept;
  for (size_t a = 0; a < opts.size(); ++a) {
    bool dominated = false;
    for (size_t b = 0; b < opts.size() && !dominated; ++b) {
      if (a == b) continue;
      bool le = opts[b].r <= opts[a].r && opts[b].q >= opts[a].q;
      bool equal = opts[b].r == opts[a].r && opts[b].q == opts[a].q;
      dominated = le && (!equal || b < a);
    }
    if (!dominated) kept.push_back(opts[a]);
  }
  return kept;
}

}  // namespace

void CheckFeasible(const ScheduleProblem& problem) {
  MS_CHECK(!problem.apps.empty(), "no applications to schedule");
  MS_CHECK(std::isfinite(problem.budget) && problem.budget > 0, "budget must be a positive number, got {}",
           problem.budget);
  Solution cheapest = CheapestSolution(problem);
  if (cheapest.cost > problem.budget + kCostEps) {
    ThrowInput(
        "budget {:.6g} is infeasible: the cheapest schedule (every app at its most shared candidate and "
        "lowest frame rate) costs {:.6g} ms/s; use --budget {:.6g} or more, lower --fps options or fewer apps",
        problem.budget, cheapest.cost, std::ceil(cheapest.cost * 1000) / 1000);
  }
}

SearchResult GreedySearch(const ScheduleProblem& problem, const GreedyOptions& options) {
  double t0 = NowSeconds();
  CheckFeasible(problem);
  Compiled c = Compile(problem, [](size_t, const AppOption&) { return true; }, /*prune=*/true);
  GreedyState s(c);
  s.choice.assign(c.apps.size(), 0);
  s.sel.assign(c.apps.size(), nullptr);
  for (size_t i = 0; i < c.apps.size(); ++i) s.Set(i, CheapestIndex(c.apps[i]));
  s.Refresh();
  SearchResult r;
  r.algorithm = options.ratio == GreedyRatio::kPaper ? "greedy-paper" : "greedy-marginal";
  while (GreedyStep(s, options.ratio, &r.nodes)) ++r.steps;
  if (options.polish) {
    r.algorithm = options.ratio == GreedyRatio::kPaper ? "greedy-paper+polish" : "greedy";
    while (PolishStep(s, &r.nodes)) ++r.steps;
  }
  r.solution = ToSolution(problem, c, s.choice);
  r.seconds = NowSeconds() - t0;
  return r;
}

SearchResult ExhaustiveSearch(const ScheduleProblem& problem, const ExhaustiveOptions& options) {
  double t0 = NowSeconds();
  if (options.incumbent == nullptr) CheckFeasible(problem);
  Compiled c = Compile(problem, [](size_t, const AppOption&) { return true; }, /*prune=*/true);
  BranchAndBound bb(c, options.dynamic_bound, options.max_nodes);
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
    const AppOption& o = problem.apps[i].options.at(static_cast<size_t>(start.choice.at(i)));
    Opt want;
    want.f = o.pred.f1;
    want.r = o.fps;
    int best = -1;
    for (size_t k = 0; k < c.apps[i].size(); ++k) {
      const Opt& x = c.apps[i][k];
      const AppOption& xo = problem.apps[i].options[static_cast<size_t>(x.orig)];
      if (x.f >= want.f && x.r <= want.r && xo.branchpoint >= o.branchpoint) {
        best = static_cast<int>(k);
        break;
      }
    }
    MS_CHECK_RT(best >= 0, "internal: incumbent option of app {} has no dominating option", i);
    inc[i] = best;
    inc_value += c.apps[i][static_cast<size_t>(best)].f;
    sel.push_back(&c.apps[i][static_cast<size_t>(best)]);
  }
  MS_CHECK_RT(FullCost(c, sel) <= c.budget + kCostEps, "internal: incumbent exceeds the budget");
  bb.SetIncumbent(inc, inc_value);
  bool complete = bb.Run();
  SearchResult r;
  r.algorithm = "exhaustive";
  r.solution = ToSolution(problem, c, bb.best());
  r.nodes = bb.nodes();
  r.exact = complete;
  r.seconds = NowSeconds() - t0;
  if (!complete) LogWarn("exhaustive search stopped after {} nodes: the result is not proven optimal", r.nodes);
  return r;
}

SearchResult MaxMinSearch(const ScheduleProblem& problem) {
  double t0 = NowSeconds();
  CheckFeasible(problem);
  Compiled all = Compile(problem, [](size_t, const AppOption&) { return true; }, /*prune=*/false);
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
      for (const auto& o : app) if (o.f >= tau) keep.push_back(o);
      app = CostPareto(keep);
      if (app.empty()) return false;
    }
    MinCostSearch s(c);
    std::vector<int> ch;
    bool ok = s.Feasible(&ch);
    nodes += s.nodes();
    return ok;
  };
  // Binary search the largest feasible threshold (feasibility is monotone).
  size_t lo = 0, hi = static_cast<size_t>(std::upper_bound(taus.begin(), taus.end(), cap) - taus.begin());
  // invariant: taus[lo] feasible (the lowest is: the cheapest schedule fits), taus[hi] not (or end)
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (feasible(taus[mid])) lo = mid; else hi = mid;
  }
  const double tau = taus[lo];
  // Best mean F1 among schedules whose minimum is tau.
  ScheduleProblem restricted = problem;
  for (auto& app : restricted.apps) {
    std::vector<AppOption> keep;
    for (const auto& o : app.options) if (o.pred.f1 >= tau) keep.push_back(o);
    app.options = std::move(keep);
  }
  ExhaustiveOptions eo;
  Compiled rc = Compile(restricted, [](size_t, const AppOption&) { return true; }, true);
  // A feasible start: the min-cost schedule at tau.
  Compiled fc = rc;
  for (auto& app : fc.apps) app = CostPareto(app);
  MinCostSearch ms(fc);
  std::vector<int> ch;
  MS_CHECK_RT(ms.Feasible(&ch), "internal: max-min threshold {} became infeasible", tau);
  std::vector<int> start_choice;
  for (size_t i = 0; i < ch.size(); ++i) start_choice.push_back(fc.apps[i][static_cast<size_t>(ch[i])].orig);
  Solution start = Evaluate(restricted, start_choice);
  eo.incumbent = &start;
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
  r.seconds = NowSeconds() - t0;
  return r;
}

SearchResult StaticSearch(const ScheduleProblem& problem, bool max_sharing) {
  double t0 = NowSeconds();
  MS_CHECK(!problem.apps.empty(), "no applications to schedule");
  // Each app's fixed candidate.
  std::vector<int> cand(problem.apps.size());
  for (size_t i = 0; i < problem.apps.size(); ++i) {
    int pick = -1, pick_bp = 0;
    for (const auto& o : problem.apps[i].options) {
      if (pick < 0 || (max_sharing ? o.branchpoint > pick_bp : o.branchpoint < pick_bp)) {
        pick = o.candidate;
        pick_bp = o.branchpoint;
      }
    }
    cand[i] = pick;
  }
  std::vector<double> rates;
  for (const auto& o : problem.apps[0].options) rates.push_back(o.fps);
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  Solution best;
  bool have = false;
  double min_cost = kInf;
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
    if (s.cost > problem.budget + kCostEps) continue;
    if (!have || s.sum_f1 > best.sum_f1 + kValueEps) {
      best = s;
      have = true;
    }
  }
  if (!have) {
    ThrowInput("budget {:.6g} is infeasible for {}: running every app at the lowest common frame rate costs "
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

SearchResult BestGreedySearch(const ScheduleProblem& problem) {
  double t0 = NowSeconds();
  SearchResult a = GreedySearch(problem, {GreedyRatio::kPaper, true});
  SearchResult b = GreedySearch(problem, {GreedyRatio::kMarginal, true});
  SearchResult r = b.solution.sum_f1 > a.solution.sum_f1 + kValueEps ? b : a;
  r.algorithm = "greedy";
  r.nodes = a.nodes + b.nodes;
  r.steps = a.steps + b.steps;
  r.seconds = NowSeconds() - t0;
  return r;
}

const std::vector<std::string>& AlgorithmNames() {
  static const std::vector<std::string> names{"greedy",     "greedy-paper", "greedy-marginal", "exhaustive",
                                              "maxmin",     "nosharing",    "maxsharing"};
  return names;
}

SearchResult RunSearch(const ScheduleProblem& problem, const std::string& algorithm) {
  if (algorithm == "greedy") return BestGreedySearch(problem);
  if (algorithm == "greedy-paper") return GreedySearch(problem, {GreedyRatio::kPaper, false});
  if (algorithm == "greedy-marginal") return GreedySearch(problem, {GreedyRatio::kMarginal, false});
  if (algorithm == "exhaustive") return ExhaustiveSearch(problem);
  if (algorithm == "maxmin") return MaxMinSearch(problem);
  if (algorithm == "nosharing") return StaticSearch(problem, false);
  if (algorithm == "maxsharing") return StaticSearch(problem, true);
  ThrowInput("--algo: unknown algorithm '{}' (expected one of: greedy, greedy-paper, greedy-marginal, "
             "exhaustive, maxmin, nosharing, maxsharing)",
             algorithm);
}

}  // namespace mainstream
