#pragma once
// The libFuzzer entry point every target in this folder defines. Built two ways (see
// CMakeLists.txt): with clang's -fsanitize=fuzzer to fuzz (fuzz/run.sh), and, in every
// normal build, with replay_main.cpp to run the seed corpus and the kept crashers as
// regression tests.
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
