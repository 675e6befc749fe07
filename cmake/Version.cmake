# Embeds the version and the git revision (when built from a checkout) into replywatch_build_info.
set(REPLYWATCH_REVISION "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    OUTPUT_VARIABLE REPLYWATCH_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET RESULT_VARIABLE _rev_result)
  if(NOT _rev_result EQUAL 0 OR REPLYWATCH_REVISION STREQUAL "")
    set(REPLYWATCH_REVISION "unknown")
  endif()
endif()
configure_file(${PROJECT_SOURCE_DIR}/daemon/core/version.h.in
               ${PROJECT_BINARY_DIR}/generated/replywatch/version.h @ONLY)
