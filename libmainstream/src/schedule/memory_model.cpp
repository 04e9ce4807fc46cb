#include "mainstream/schedule/memory_model.h"

#include <algorithm>
#include <set>

#include "mainstream/core/error.h"

namespace mainstream {

double StageMemory::CopyBytes(int begin, int end) const {
  MS_ASSERT(begin >= 0 && begin <= end && end <= num_stages(), "CopyBytes: [{}, {}) of {} stages",
            begin, end, num_stages());
  const std::vector<double>& per = resident_bytes.empty() ? param_bytes : resident_bytes;
  double s = 0;
  for (int k = begin; k < end; ++k) s += per[static_cast<size_t>(k)];
  return s;
}

double StageMemory::BaseBytes() const {
  double s = 0;
  for (double b : param_bytes) s += b;
  return s;
}

double StageMemory::ActivationAt(int b) const {
  MS_ASSERT(b >= 0 && b <= num_stages(), "ActivationAt: branchpoint {} of {} stages", b,
            num_stages());
  return b == 0 ? input_bytes : activation_bytes[static_cast<size_t>(b - 1)];
}

double StageMemory::WorkingSet() const {
  double w = 0;
  for (int k = 0; k < num_stages(); ++k) w = std::max(w, ActivationAt(k) + ActivationAt(k + 1));
  return w;
}

StageMemory ProfileMemory(const Profile& profile) {
  StageMemory m;
  if (!profile.HasMemory()) return m;
  for (const auto& s : profile.stages) {
    m.param_bytes.push_back(s.param_bytes);
    m.activation_bytes.push_back(s.activation_bytes);
    if (s.resident_bytes >= 0) m.resident_bytes.push_back(s.resident_bytes);
  }
  if (m.resident_bytes.size() != m.param_bytes.size()) m.resident_bytes.clear();
  m.input_bytes = profile.input_bytes;
  m.overhead_bytes = profile.memory_overhead_bytes;
  m.segment_bytes = profile.memory_segment_bytes;
  return m;
}

Json MemoryBreakdown::ToJson() const {
  return Json{{"overhead", overhead},
              {"base", base},
              {"stem_params", stem_params},
              {"branch_params", branch_params},
              {"activations", activations},
              {"segments", segments},
              {"total", total()}};
}

MemoryBreakdown ScheduleMemory(const StageMemory& memory, const std::vector<AppRequest>& apps) {
  MemoryBreakdown m;
  if (memory.empty()) return m;
  const int n = memory.num_stages();
  int bmax = 0;
  std::set<int> cuts;
  for (const AppRequest& a : apps) {
    MS_ASSERT(a.branchpoint >= 0 && a.branchpoint < n, "ScheduleMemory: branchpoint {} of {}",
              a.branchpoint, n);
    bmax = std::max(bmax, a.branchpoint);
    m.branch_params +=
        a.is_micro() ? std::max(0.0, a.own_bytes) : memory.CopyBytes(a.branchpoint, n);
    if (a.branchpoint > 0) cuts.insert(a.branchpoint);
  }
  m.stem_params = memory.CopyBytes(0, bmax);
  m.base = apps.empty() ? 0.0 : memory.BaseBytes();
  m.overhead = apps.empty() ? 0.0 : memory.overhead_bytes;
  m.activations = apps.empty() ? 0.0 : memory.WorkingSet();
  for (int b : cuts) m.activations += memory.ActivationAt(b);
  m.segments = memory.segment_bytes * static_cast<double>(cuts.size() + apps.size());
  return m;
}

std::string FormatMegabytes(double bytes) { return fmt::format("{:.4g} MB", bytes / 1e6); }

}  // namespace mainstream
