// Greedy search: the paper's Algorithm 1 with two ratios, and the local-search polish
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
      for (int j = 0; j < o->q; ++j)
        push(o->r, top1[static_cast<size_t>(j)], top2[static_cast<size_t>(j)],
             cnt1[static_cast<size_t>(j)]);
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
  // Memory bookkeeping (with a memory budget): apps per level, own bytes.
  std::vector<int> at_level;
  double own_mem = 0;

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
    if (c.mem_on) {
      at_level.assign(static_cast<size_t>(c.m) + 1, 0);
      own_mem = 0;
      for (const Opt* o : sel) {
        ++at_level[static_cast<size_t>(o->q)];
        own_mem += o->mem;
      }
    }
  }
  // Whether the schedule with app i at option o fits the memory budget (O(m)).
  bool FitsWith(size_t i, const Opt& o) const {
    if (!c.mem_on) return true;
    const Opt& cur = *sel[i];
    double bytes = own_mem - cur.mem + o.mem;
    int qmax = 0;
    for (int q = 1; q <= c.m; ++q) {
      const int k = at_level[static_cast<size_t>(q)] - (q == cur.q) + (q == o.q);
      if (k > 0) {
        qmax = q;
        bytes += c.CA[static_cast<size_t>(q)];
      }
    }
    for (int j = 0; j < qmax; ++j) bytes += c.LP[static_cast<size_t>(j)];
    return MemFits(c, bytes);
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
      if (nc > c.budget + kCostEps || !s.FitsWith(i, o)) continue;
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
      if (nc > c.budget + kCostEps || !s.FitsWith(i, o)) continue;
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
          if (nc > c.budget + kCostEps || !t.FitsWith(b, ob)) continue;
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

}  // namespace

SearchResult GreedySearch(const ScheduleProblem& problem, const GreedyOptions& options) {
  double t0 = NowSeconds();
  const std::vector<int> start = FeasibleStart(problem);
  Compiled c = Compile(
      problem, [](size_t, const AppOption&) { return true; }, /*prune=*/true);
  GreedyState s(c);
  s.choice.assign(c.apps.size(), 0);
  s.sel.assign(c.apps.size(), nullptr);
  // With microclassifiers, pruning may drop the cheapest branch (a
  // microclassifier dominates it): start from whatever dominates it then.
  bool micro = false;
  for (const auto& app : c.apps)
    for (const Opt& o : app) micro = micro || o.micro;
  for (size_t i = 0; i < c.apps.size(); ++i) {
    if (!c.mem_on && !micro) {
      s.Set(i, CheapestIndex(c.apps[i]));
    } else {
      // The start's option, or one that dominates it (with memory, the same
      // level: the same memory).
      const Opt want = CompileOption(problem, c, i, start[i]);
      int pick = -1;
      for (size_t k = 0; k < c.apps[i].size() && pick < 0; ++k) {
        const Opt& x = c.apps[i][k];
        if (x.orig == start[i] || Dominates(c, x, want)) pick = static_cast<int>(k);
      }
      MS_ASSERT(pick >= 0, "greedy: app {} has no option for its feasible start", i);
      s.Set(i, pick);
    }
  }
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

}  // namespace mainstream
