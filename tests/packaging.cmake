# The Debian package end to end (included by tests/CMakeLists.txt): CPack on
# this build tree, the .deb's dependencies and contents, the installed tools
# and a find_package(mainstream) consumer, all in a scratch root
# (tests/scripts/package_test.sh; docs/packaging.md). Skipped without dpkg-deb.
set(ms_packaged_tools)
foreach(tool msschedule msprofile mstrain msrun)
  if(TARGET ${tool})
    list(APPEND ms_packaged_tools ${tool})
  endif()
endforeach()
add_test(NAME package_install
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/package_test.sh
    --build ${PROJECT_BINARY_DIR} --source ${PROJECT_SOURCE_DIR}
    --cmake ${CMAKE_COMMAND} --cpack ${CMAKE_CPACK_COMMAND} --cxx ${CMAKE_CXX_COMPILER}
    --tools "${ms_packaged_tools}" --torch ${MAINSTREAM_WITH_TORCH})
set_tests_properties(package_install PROPERTIES LABELS e2e TIMEOUT 300 SKIP_RETURN_CODE 77)
