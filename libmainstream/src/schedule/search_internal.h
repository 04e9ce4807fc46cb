// Internals shared by the schedule searches (search.cpp, search_greedy.cpp,
// search_exhaustive.cpp, search_maxmin.cpp): the compiled problem and its
// incremental cost. Not installed; see docs/algorithms.md.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "mainstream/schedule/problem.h"

namespace mainstream::search_detail {

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kValueEps = 1e-12;
inline constexpr double kCostEps = 1e-9;

// ---------------------------------------------------------------------------
// Compiled problem: branchpoints mapped to stem levels, options pruned.
//
// Levels: the distinct branchpoints of all options plus 0, ascending:
// B[0] = 0 < B[1] < ... < B[m]. Stem interval j covers stages [B[j], B[j+1])
// with latency L[j]; an option at level q needs intervals 0..q-1. The stem
// envelope M[j] is the highest rate among the apps whose level exceeds j, so
// the schedule costs D * max rate + sum_j L[j] * M[j] + sum_apps r * S(b).
struct Opt {
  int q = 0;           // level index of the branchpoint
  double r = 0;        // frame rate
  double w = 0;        // own (specialized suffix) cost: r * latency of [b, n)
  double f = 0;        // objective contribution (F1)
  int orig = 0;        // index in the problem's option list
  double mem = 0;      // own parameter bytes (stages [b, n)); with a memory budget only
  bool micro = false;  // a microclassifier: w is its own latency, not [b, n)'s
};

// With a memory budget (docs/model.md, "Memory model"), a schedule holds the
// stem's parameters up to its highest level (LP[j] per interval), each app's
// own parameters (Opt::mem) and the activation at each distinct level q > 0
// that an app branches at (CA[q]); the working set is fixed and taken out of
// mem_budget. Memory does not depend on rates.
struct Compiled {
  int m = 0;
  std::vector<double> L;
  double D = 0;
  std::vector<std::vector<Opt>> apps;
  double budget = 0;
  bool mem_on = false;
  double mem_budget = kInf;
  std::vector<double> LP;   // m intervals
  std::vector<double> CA;   // m + 1 levels (CA[0] = 0)
  std::vector<int> levels;  // B[0..m]
};

// The memory side of a partial schedule: highest level used, the levels apps
// branch at (bit q), bytes so far.
struct MemState {
  int qmax = 0;
  uint64_t cuts = 0;
  double used = 0;
};

inline double MemIncrement(const Compiled& c, const Opt& o, const MemState& s) {
  double inc = o.mem;
  for (int j = s.qmax; j < o.q; ++j) inc += c.LP[static_cast<size_t>(j)];
  if (o.q > 0 && !((s.cuts >> o.q) & 1u)) inc += c.CA[static_cast<size_t>(o.q)];
  return inc;
}

inline MemState MemAdd(const Compiled& c, const Opt& o, const MemState& s) {
  MemState t;
  t.used = s.used + MemIncrement(c, o, s);
  t.qmax = s.qmax > o.q ? s.qmax : o.q;
  t.cuts = o.q > 0 ? (s.cuts | (uint64_t{1} << o.q)) : s.cuts;
  return t;
}

inline bool MemFits(const Compiled& c, double bytes) {
  return !c.mem_on || bytes <= c.mem_budget * (1 + 1e-12) + 1e-6;
}

// Without a memory budget: f >=, rate <=, level >= (between branches, a
// more shared option at a lower rate costs less in any schedule). With one,
// a more shared option may hold a larger activation, so only options at the
// same level dominate each other. With a microclassifier on either side,
// the costs are compared directly: a at a level >= b's must pay for the stem
// between them at its rate and its own cost within b's own cost; at a lower
// level, its own cost within b's (and, with memory, its bytes within b's).
bool Dominates(const Compiled& c, const Opt& a, const Opt& b);
// The same on cost (and memory) alone: a costs no more than b in any schedule.
bool CostDominates(const Compiled& c, const Opt& a, const Opt& b);
// Option k of app `app` as Compile makes it (c: its levels and memory flag).
Opt CompileOption(const ScheduleProblem& p, const Compiled& c, size_t app, int k);
// Memory of a whole selection (bytes, working set excluded).
double FullMemory(const Compiled& c, const std::vector<const Opt*>& sel);
// Maps branchpoints to stem levels and keeps the options `keep` accepts;
// with `prune`, drops options another option of the same app dominates.
Compiled Compile(const ScheduleProblem& p,
                 const std::function<bool(size_t, const AppOption&)>& keep, bool prune);

// Cost increment of adding option o to a partial schedule with envelope M and
// highest rate rmax.
inline double Increment(const Compiled& c, const Opt& o, const double* M, double rmax) {
  double inc = o.w;
  if (o.r > rmax) inc += c.D * (o.r - rmax);
  for (int j = o.q - 1; j >= 0 && M[j] < o.r; --j)
    inc += c.L[static_cast<size_t>(j)] * (o.r - M[j]);
  return inc;
}

inline void Raise(const Opt& o, double* M) {
  for (int j = o.q - 1; j >= 0 && M[j] < o.r; --j) M[j] = o.r;
}

// The cost of a whole selection, summed by Increment in app order (equals
// ScheduleCost of the same choice up to rounding; FastScheduleCost).
double FullCost(const Compiled& c, const std::vector<const Opt*>& sel);
// Compiled option indices -> the problem's, evaluated.
Solution ToSolution(const ScheduleProblem& p, const Compiled& c,
                    const std::vector<int>& compiled_choice);
// Index of the cheapest option of an app: most shared, then lowest rate, then best f.
// The cheapest schedule's option of an app without microclassifiers: the
// most shared at the lowest rate (best F1 among equals).
int CheapestIndex(const std::vector<Opt>& opts);

}  // namespace mainstream::search_detail
