# Warnings applied to the project's own targets (not to third-party headers).
function(mainstream_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()
