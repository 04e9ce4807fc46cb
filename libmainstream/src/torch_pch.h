// Precompiled header for the LibTorch modules (see libmainstream/CMakeLists.txt).
#pragma once
#include <torch/script.h>
#include <torch/torch.h>
