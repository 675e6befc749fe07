// Runs a fuzz target over files and directories of inputs (the seed corpus and the
// crashers kept as regressions), for builds without libFuzzer. Exits non-zero when an
// input cannot be read; a crash of the target is a crash of this program.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace fs = std::filesystem;

namespace {

bool runFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  (void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        ok = runFile(f) && ok;
        ++inputs;
      }
    } else if (fs::exists(arg, ec)) {
      ok = runFile(arg) && ok;
      ++inputs;
    }  // an absent directory (no regressions yet) is fine
  }
  std::printf("%zu inputs replayed\n", inputs);
  return ok ? 0 : 1;
}
