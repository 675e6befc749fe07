# Every dependency comes from a Debian 12 package (see scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)                 # Asio + Beast are header-only
find_package(CURL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)
find_package(SQLite3 REQUIRED)
find_package(ZLIB REQUIRED)                       # CRC-32 of commit log records
find_package(yaml-cpp 0.7 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
find_package(spdlog 1.10 REQUIRED)
find_package(fmt 9 REQUIRED)
find_package(date 3 REQUIRED)                     # Howard Hinnant's date + tz
find_package(OpenSSL REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# bcrypt for basic_auth_users (libxcrypt)
pkg_check_modules(LIBCRYPT REQUIRED IMPORTED_TARGET libcrypt)
# The allocator of the replywatch executable (BENCHMARKS.md, "jemalloc"). Not with the
# sanitizers or libFuzzer, which bring allocators of their own.
if(NOT REPLYWATCH_SANITIZE AND NOT REPLYWATCH_FUZZ)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
  add_library(replywatch_allocator INTERFACE)
  # Kept even when nothing names one of its symbols: it replaces malloc() by being loaded.
  target_link_libraries(replywatch_allocator INTERFACE "-Wl,--push-state,--no-as-needed" PkgConfig::JEMALLOC
                        "-Wl,--pop-state")
else()
  add_library(replywatch_allocator INTERFACE)
endif()
if(REPLYWATCH_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(REPLYWATCH_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
