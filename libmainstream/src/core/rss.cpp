#include "mainstream/core/rss.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

namespace mainstream {

double ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  long long size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<double>(resident) * static_cast<double>(page) : 0.0;
}

double PeakResidentBytes() {
  struct rusage u {};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return static_cast<double>(u.ru_maxrss) * 1024.0;  // Linux reports KiB
}

}  // namespace mainstream
