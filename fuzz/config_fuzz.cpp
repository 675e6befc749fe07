// The configuration loader, with the real connector settings validators. A
// config::ConfigError is the expected answer to bad input; anything else escaping is a bug.
#include <string>

#include "connectors/registry.h"
#include "daemon/config/config.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace replywatch;
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    (void)config::loadString(yaml, "/nonexistent/fuzz.yml", &connectors::sourceTypeInfo);
  } catch (const config::ConfigError&) {
  }
  return 0;
}
