# The fuzz targets (fuzz/fuzz_<name>.cpp; docs/fuzzing.md) and what they
# link besides mainstream_schedule: mainstream_fuzz_readers, the
# LibTorch-free sources of the model, video, runtime and train modules whose
# readers they cover (OpenCV for the video module's preprocessing names, zlib
# for Fashion-MNIST). Included by fuzz/CMakeLists.txt (libFuzzer, clang) and
# tests/fuzz_corpus.cmake (the seed corpus as unit tests, any compiler).
#
#   mainstream_fuzz_executable(<exe> <name>)
# adds executable <exe> for target <name> and sets <exe>_ADDED in the
# caller's scope (FALSE when a library it needs is missing); the caller adds
# the driver (libFuzzer or fuzz/standalone_main.cpp).

set(MS_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(MS_FUZZ_LIB ${PROJECT_SOURCE_DIR}/libmainstream/src)

set(MS_FUZZ_TARGETS
  mpackage profile schedule plan label_file mot score_trace run_summary events
  base_info deployment deployment_spec fmnist train_config candidate_record node_plan)
# Targets that need OpenCV (core, imgproc) or zlib, and the sources they add.
set(MS_FUZZ_OPENCV base_info deployment train_config candidate_record)
set(MS_FUZZ_ZLIB fmnist)
set(ms_fuzz_sources ${MS_FUZZ_LIB}/runtime/app_output.cpp)
set(ms_fuzz_opencv_sources
  ${MS_FUZZ_LIB}/model/base_info.cpp ${MS_FUZZ_LIB}/runtime/deployment.cpp
  ${MS_FUZZ_LIB}/video/preprocess.cpp ${MS_FUZZ_LIB}/video/cv_image.cpp
  ${MS_FUZZ_LIB}/video/augment.cpp ${MS_FUZZ_LIB}/train/train_config.cpp
  ${MS_FUZZ_LIB}/train/candidate_store.cpp)
set(ms_fuzz_zlib_sources ${MS_FUZZ_LIB}/train/fmnist.cpp)

if(NOT OpenCV_FOUND)
  find_package(OpenCV QUIET COMPONENTS core imgproc)
endif()
find_package(ZLIB QUIET)

if(NOT TARGET mainstream_fuzz_readers)
  set(ms_sources ${ms_fuzz_sources})
  if(OpenCV_FOUND)
    list(APPEND ms_sources ${ms_fuzz_opencv_sources})
  endif()
  if(ZLIB_FOUND)
    list(APPEND ms_sources ${ms_fuzz_zlib_sources})
  endif()
  add_library(mainstream_fuzz_readers STATIC ${ms_sources})
  target_include_directories(mainstream_fuzz_readers PUBLIC ${MS_FUZZ_DIR} ${MS_FUZZ_LIB})
  target_link_libraries(mainstream_fuzz_readers PUBLIC mainstream_schedule)
  if(OpenCV_FOUND)
    target_include_directories(mainstream_fuzz_readers SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
    target_link_libraries(mainstream_fuzz_readers PUBLIC ${OpenCV_LIBS})
  endif()
  if(ZLIB_FOUND)
    target_link_libraries(mainstream_fuzz_readers PUBLIC ZLIB::ZLIB)
  endif()
  mainstream_warnings(mainstream_fuzz_readers)
endif()

function(mainstream_fuzz_executable exe name)
  set(${exe}_ADDED FALSE PARENT_SCOPE)
  if(name IN_LIST MS_FUZZ_OPENCV AND NOT OpenCV_FOUND)
    message(STATUS "fuzz: skipping ${exe} (needs OpenCV core and imgproc)")
    return()
  endif()
  if(name IN_LIST MS_FUZZ_ZLIB AND NOT ZLIB_FOUND)
    message(STATUS "fuzz: skipping ${exe} (needs zlib)")
    return()
  endif()
  add_executable(${exe} ${MS_FUZZ_DIR}/fuzz_${name}.cpp)
  target_link_libraries(${exe} PRIVATE mainstream_fuzz_readers)
  mainstream_warnings(${exe})
  set(${exe}_ADDED TRUE PARENT_SCOPE)
endfunction()
