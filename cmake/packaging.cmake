# Debian package of the tools, the libraries, their headers and the CMake
# package config (docs/packaging.md):
#   cmake --build build --target package     ->  build/mainstream_<version>_<arch>.deb
#   sudo apt install ./build/mainstream_*.deb
# Everything is installed under /usr: bin/ (msschedule, and with LibTorch
# msprofile, mstrain, msrun), lib/ (static libmainstream_*.a),
# include/mainstream/, lib/cmake/mainstream/.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mainstream)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "mainstream")
set(MAINSTREAM_DEB_MAINTAINER "mainstream maintainers <maintainers@mainstream.invalid>"
    CACHE STRING "Maintainer field of the Debian package (name <email>)")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MAINSTREAM_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "video analytics apps sharing the stem of one DNN (Mainstream, ATC'18)")
# The extended description; CPack puts the summary above it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Many video-analytics applications fine-tuned from one base DNN share its
frozen stem on one edge machine. mstrain fine-tunes an app at several
branchpoints, msprofile times the base, msschedule picks each app's
branchpoint and frame rate under a compute budget and msrun executes the
merged tree on video. Also the static C++ library (libmainstream), its
headers and CMake package config: find_package(mainstream).")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # mainstream_<version>_<arch>.deb
set(CPACK_STRIP_FILES ON)

# Runtime dependencies: the shared libraries the tools link (libc6,
# libstdc++6, libfmt9, libtorch1.13, libopencv-*406, zlib1g, ...), computed by
# dpkg-shlibdeps from the binaries. Without dpkg-shlibdeps, bookworm's names.
find_program(MAINSTREAM_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(MAINSTREAM_DPKG_SHLIBDEPS)
set(ms_deb_depends)
if(MAINSTREAM_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  list(APPEND ms_deb_depends libc6 libstdc++6 libgcc-s1 libfmt9)
  if(MAINSTREAM_WITH_TORCH)
    list(APPEND ms_deb_depends libtorch1.13 libopencv-core406 libopencv-imgproc406
         libopencv-imgcodecs406 libopencv-videoio406 zlib1g)
  endif()
endif()
# What a consumer of the CMake config needs: the find_dependency() calls of
# cmake/mainstreamConfig.cmake.in (Threads comes with libc6-dev) and, for the
# static libraries, what they link.
list(APPEND ms_deb_depends libfmt-dev "nlohmann-json3-dev (>= 3.9)")
if(MAINSTREAM_WITH_TORCH)
  list(APPEND ms_deb_depends libtorch-dev libopencv-dev zlib1g-dev)
endif()
list(JOIN ms_deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)

# `package_source`: the sources without build trees and outputs (.gitignore).
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build/" "/build-[^/]*/" "/work/" "/results/"
    "__pycache__" "\\\\.pyc$")

include(CPack)
