#pragma once
// Header and query-string lookups shared by the HTTP server's Request and the
// connectors' WebhookRequest (which must not depend on the server).
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace replywatch {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive comparisons (header names, URL schemes, user names).
bool equalsIgnoreCase(std::string_view a, std::string_view b);
bool startsWithIgnoreCase(std::string_view s, std::string_view prefix);

// The first header named `name` (ASCII case-insensitive), or nullopt.
std::optional<std::string_view> findHeader(const HeaderList& headers, std::string_view name);

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte; a '%' not
// followed by two hex digits is kept as is.
std::string formDecode(std::string_view s);

// The decoded value of the first `name` parameter of a raw query string ("a=1&b=2"),
// "" for a parameter without '=', nullopt when absent.
std::optional<std::string> findQueryParam(std::string_view query, std::string_view name);

}  // namespace replywatch
