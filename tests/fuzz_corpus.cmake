# The fuzz targets (fuzz/, docs/fuzzing.md) as regression tests in the normal
# build: each target built with fuzz/standalone_main.cpp instead of libFuzzer
# and run on its seed corpus fuzz/corpus/<target>/ (valid files, invalid ones
# and the inputs of past findings, crash-*). Label unit; all of them together
# take about a second. Included by tests/CMakeLists.txt.
if(MAINSTREAM_FUZZ)
  message(STATUS "fuzz corpus tests: skipped in a MAINSTREAM_FUZZ build (run scripts/fuzz.sh)")
  return()
endif()

include(${PROJECT_SOURCE_DIR}/fuzz/targets.cmake)
add_library(mainstream_fuzz_standalone STATIC ${PROJECT_SOURCE_DIR}/fuzz/standalone_main.cpp)
mainstream_warnings(mainstream_fuzz_standalone)
foreach(name ${MS_FUZZ_TARGETS})
  mainstream_fuzz_executable(fuzz_${name}_corpus ${name})
  if(fuzz_${name}_corpus_ADDED)
    target_link_libraries(fuzz_${name}_corpus PRIVATE mainstream_fuzz_standalone)
    add_test(NAME fuzz_corpus_${name}
             COMMAND fuzz_${name}_corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
    set_tests_properties(fuzz_corpus_${name} PROPERTIES LABELS unit TIMEOUT 60)
  endif()
endforeach()
