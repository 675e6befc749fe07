#pragma once
// gzip content coding (RFC 9110, section 8.4.1.3) for responses whose client asks for it,
// as Prometheus does on every scrape (`Accept-Encoding: gzip`).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http/server.h"

namespace replywatch::http {

// Bodies shorter than this go uncompressed: the gzip framing would outweigh the gain.
inline constexpr std::size_t kMinGzipBytes = 1024;

// True when an Accept-Encoding value takes gzip: "gzip" (or "x-gzip", or "*" when gzip is
// not named) with a q-value above 0. Names are case-insensitive. Pure.
bool acceptsGzip(std::string_view accept_encoding);

// The gzip member (RFC 1952) of `data` followed by `more`, compressed at zlib's fastest
// level; nullopt when zlib fails (out of memory). Pure apart from allocation.
std::optional<std::string> gzipCompress(std::string_view data, std::string_view more = {});

// Compresses `response.body` (with its body_tail, then dropped) in place when `request` accepts gzip and the
// body has at least kMinGzipBytes, adding `Content-Encoding: gzip`; always adds `Vary: Accept-Encoding`,
// since the answer depends on it. Left uncompressed when zlib fails. Called on a handler thread; takes CPU
// time in proportion to the body.
void gzipIfAccepted(const Request& request, Response& response);

}  // namespace replywatch::http
