#include "mainstream/schedule/profile_costs.h"

#include <algorithm>

namespace mainstream {

CacheModel ProfileCacheModel(const Profile& profile) {
  CacheModel m;
  if (!profile.HasCache()) return m;
  for (const StageTiming& s : profile.stages) {
    m.cold_ms.push_back(s.cold_p50_ms);
    m.cold_reuse.push_back(s.cold_reuse_bytes);
    m.bytes.push_back(std::max(0.0, s.param_bytes) + std::max(0.0, s.activation_bytes));
    m.hot_bytes += m.bytes.back();
  }
  m.curve_bytes = profile.cache.bytes;
  m.curve_ns = profile.cache.ns_per_line;
  return m;
}

StageCosts ProfileCosts(const Profile& profile, double stream_fps) {
  StageCosts costs(profile.StageLatencies(), profile.preprocess_ms, profile.decode_ms, stream_fps);
  costs.decode_extra_ms = profile.DecodeExtraMs();
  costs.SetBranchStages(profile.BranchLatencies());
  costs.SetCache(ProfileCacheModel(profile));
  return costs;
}

}  // namespace mainstream
