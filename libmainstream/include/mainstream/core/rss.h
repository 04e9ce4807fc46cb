// Resident memory of this process (Linux: /proc/self/statm and getrusage),
// for msrun's memory report beside the schedule's predicted memory.
#pragma once

namespace mainstream {

// Bytes resident now; 0 when it cannot be read.
double ResidentBytes();
// Highest resident bytes of the process so far (ru_maxrss); 0 when unknown.
double PeakResidentBytes();

}  // namespace mainstream
