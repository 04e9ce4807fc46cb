#include "mainstream/train/pareto.h"

#include <algorithm>
#include <cmath>

#include "mainstream/core/error.h"

namespace mainstream {

ParetoResult ParetoPrune(std::vector<Candidate> candidates, int num_stages, double tolerance) {
  MS_CHECK(tolerance >= 0 && std::isfinite(tolerance), "Pareto tolerance must be >= 0, got {}", tolerance);
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.branchpoint < b.branchpoint; });
  for (size_t i = 1; i < candidates.size(); ++i) {
    MS_CHECK(candidates[i].branchpoint != candidates[i - 1].branchpoint, "duplicate candidate at branchpoint {}",
             candidates[i].branchpoint);
  }
  ParetoResult r;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const Candidate* best = nullptr;
    for (size_t j = i + 1; j < candidates.size(); ++j) {
      const Candidate& d = candidates[j];
      if (d.accuracy >= c.accuracy - tolerance && (!best || d.accuracy >= best->accuracy)) best = &d;
    }
    if (!best) {
      r.kept.push_back(c);
      continue;
    }
    r.pruned.push_back(c);
    const int more = best->branchpoint - c.branchpoint;
    r.log.push_back(Json{
        {"event", "pruned"},
        {"branchpoint", c.branchpoint},
        {"accuracy", c.accuracy},
        {"dominated_by", best->branchpoint},
        {"dominating_accuracy", best->accuracy},
        {"reason",
         fmt::format("dominated by branchpoint {}: accuracy {:.4f} {} {:.4f}{} with {} fewer specialized stage{} "
                     "({} vs {} of {})",
                     best->branchpoint, best->accuracy, best->accuracy >= c.accuracy ? ">=" : "within tolerance of",
                     c.accuracy, tolerance > 0 ? fmt::format(" (tolerance {})", tolerance) : "", more,
                     more == 1 ? "" : "s", num_stages - best->branchpoint, num_stages - c.branchpoint, num_stages)}});
  }
  return r;
}

}  // namespace mainstream
