#include "mainstream/core/rss.h"

#include <sys/resource.h>
#include <unistd.h>  // defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

void KeepFreedMemoryInTheHeap() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc refuses more on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace mainstream
