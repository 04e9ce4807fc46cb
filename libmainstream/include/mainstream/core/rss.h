// Memory of this process: resident bytes (Linux: /proc/self/statm and
// getrusage) for msrun's memory report beside the schedule's predicted
// memory, and the allocator setting every tool that runs LibTorch uses.
#pragma once

namespace mainstream {

// Bytes resident now; 0 when it cannot be read.
double ResidentBytes();
// Highest resident bytes of the process so far (ru_maxrss); 0 when unknown.
double PeakResidentBytes();

// Keeps freed blocks of up to 32 MB (glibc's maximum) in the heap instead of
// mmap'ing each and trimming it again: LibTorch's activations of a few to 30
// MB were otherwise faulted in page by page on every forward and backward
// pass (measured: a third of pretraining's CPU time, and 17.5 s vs 7.1 s per
// epoch of a whole-model branch). Numerical results are unchanged (LibTorch
// aligns every tensor itself). Call once, first thing in main(); a no-op
// where the C library has no mallopt.
void KeepFreedMemoryInTheHeap();

}  // namespace mainstream
