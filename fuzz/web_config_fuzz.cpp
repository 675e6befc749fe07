// The --web.config.file loader (exporter-toolkit YAML): any input gives a value or an
// Error, never an exception or a crash.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/http/web_config.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path kPath =
      std::filesystem::temp_directory_path() / ("replywatch-fuzz-web-" + std::to_string(::getpid()) + ".yml");
  {
    std::ofstream out(kPath, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  (void)replywatch::http::loadWebConfigFile(kPath);
  return 0;
}
