#pragma once
// Parsing of --web.listen-address values: "host:port", "[v6]:port" and ":port"
// (every interface). Internal to rw_http; exposed for the tests.
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/core/result.h"

namespace replywatch::http {

struct ListenAddress {
  std::string host;  // empty for ":port" (every interface); brackets removed for IPv6
  std::uint16_t port = 0;
};

Result<ListenAddress> parseListenAddress(std::string_view text);

}  // namespace replywatch::http
