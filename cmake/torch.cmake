# How LibTorch is found and which flags it needs, in one place.
# Debian's libtorch-dev installs TorchConfig.cmake under the multiarch cmake dir.
find_package(Torch REQUIRED)
# TorchConfig appends its flags to CMAKE_CXX_FLAGS; keep them but silence the
# noisy warnings its headers trigger.
message(STATUS "LibTorch ${Torch_VERSION}: ${TORCH_LIBRARIES}")
