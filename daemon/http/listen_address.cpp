// Listen address parsing.
#include "daemon/http/listen_address.h"

#include <charconv>
#include <string>

namespace replywatch::http {

Result<ListenAddress> parseListenAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return makeError("listen_address",
                     "invalid listen address \"" + std::string(text) + "\": " + std::string(why));
  };
  ListenAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) return bad("empty IPv6 address");
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("expected ':port' after ']'");
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port or :port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad("IPv6 addresses must be written [addr]:port");
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty()) return bad("missing port");
  unsigned long port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

}  // namespace replywatch::http
