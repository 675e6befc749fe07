# Compiler warnings applied to every replywatch target through replywatch_warnings.
add_library(replywatch_warnings INTERFACE)
target_compile_options(replywatch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough)
# GCC 12 reports -Wrestrict false positives inside libstdc++'s std::string at -O2/-O3
# (GCC bug 105329); they are not in replywatch code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(replywatch_warnings INTERFACE -Wno-restrict)
endif()
if(REPLYWATCH_WERROR)
  target_compile_options(replywatch_warnings INTERFACE -Werror)
endif()
if(REPLYWATCH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
