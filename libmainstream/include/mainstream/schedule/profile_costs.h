// The cost model's inputs read from a profile (docs/model.md, "Cost model"
// and "Caches").
#pragma once

#include "mainstream/profile/profile.h"
#include "mainstream/schedule/cost_model.h"

namespace mainstream {

// msprofile's cold timings, the stages' bytes and the cache probe as a
// CacheModel; empty (the cache-blind model) when the profile has none.
CacheModel ProfileCacheModel(const Profile& profile);

// Stage latencies (shared, and specialized when calibrated), preprocessing,
// decoding charged at `stream_fps` (0: no decode charge) and the cache model.
StageCosts ProfileCosts(const Profile& profile, double stream_fps);

}  // namespace mainstream
