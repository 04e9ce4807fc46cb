// Threads and the machine description recorded with every measurement.
#pragma once

#include "mainstream/core/json_io.h"

namespace mainstream {

// Sets LibTorch's intra-op threads to `threads` (>= 1) and, the first time
// it is called in a process, its inter-op threads too (LibTorch allows that
// only once, before any parallel work). Returns the intra-op count in effect.
int SetTorchThreads(int threads);
int GetTorchThreads();
int GetTorchInteropThreads();

// CPU model, logical CPUs, physical cores, OS, library versions (LibTorch,
// oneDNN, OpenCV, compiler) and the current LibTorch thread counts.
Json DescribeMachine();

}  // namespace mainstream
