# Compiler warnings applied to every replywatch target through replywatch_warnings.
add_library(replywatch_warnings INTERFACE)
target_compile_options(replywatch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(REPLYWATCH_WERROR)
  target_compile_options(replywatch_warnings INTERFACE -Werror)
endif()
if(REPLYWATCH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
