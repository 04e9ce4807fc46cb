// The memory hierarchy as msprofile measures it (docs/model.md, "Caches"):
// a read loop's time per cache line over growing working sets. No LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mainstream/profile/profile.h"

namespace mainstream {

// The last-level cache the OS reports (sysconf, then sysfs), bytes; 0 when
// unknown. On a virtual machine it may be the whole socket's, not the share
// this process sees: the probe below is what the cost model uses.
double ReportedLlcBytes();

// ns per cache line of a read loop over working sets from 256 KiB doubling
// up to `max_bytes` (the last point is max_bytes), each read over and over
// for about `seconds_per_point`; the best of 3 sweeps per point. Fills
// bytes, ns_per_line and reported_llc_bytes.
CacheProbe ProbeCaches(double max_bytes, double seconds_per_point = 0.05);

// The probe's points as profiles and schedules store them: [{"bytes": B,
// "ns_per_line": T}, ...], and back (2-64 points, sizes ascending; errors
// name the point's field).
Json ProbeCurveToJson(const std::vector<double>& bytes, const std::vector<double>& ns_per_line);
void ReadProbeCurve(const JsonView& probe, std::vector<double>* bytes,
                    std::vector<double>* ns_per_line);

}  // namespace mainstream
