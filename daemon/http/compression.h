#pragma once
// gzip content coding (RFC 9110, section 8.4.1.3) for responses whose client asks for it,
// as Prometheus does on every scrape (`Accept-Encoding: gzip`).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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

// A text compressed once for many gzip answers (the verdict families of /metrics, the
// same between two evaluations): its raw deflate stream, final block included, and the
// CRC-32 and size of the text.
struct DeflatedText {
  std::string deflated;
  std::uint32_t crc = 0;
  std::size_t size = 0;
};

// Deflates `text` (zlib's fastest level) for gzipWithDeflatedTail(); nullopt when zlib
// fails. Pure apart from allocation.
std::optional<DeflatedText> deflateText(std::string_view text);

// The gzip member of `head` followed by the text `tail` was made from: `head` is
// compressed now and ends on a byte boundary (a sync flush), `tail`'s stream follows as
// it is, and the trailer's CRC-32 combines both. Decompresses to head + text. nullopt
// when zlib fails.
std::optional<std::string> gzipWithDeflatedTail(std::string_view head, const DeflatedText& tail);

// The deflated form of the last body_tail given, kept while that text is the one in use.
// Thread-safe: concurrent scrapes of the same text deflate it once.
class DeflatedTailCache {
 public:
  // The deflated form of `text`, computed when `text` is not the one held; null when
  // zlib fails.
  std::shared_ptr<const DeflatedText> get(const std::shared_ptr<const std::string>& text);

 private:
  std::mutex mutex_;
  std::shared_ptr<const std::string> text_;  // held: its address stays its own
  std::shared_ptr<const DeflatedText> deflated_;
};

// Compresses `response.body` (with its body_tail, then dropped) in place when `request` accepts gzip and the
// body has at least kMinGzipBytes, adding `Content-Encoding: gzip`; always adds `Vary: Accept-Encoding`,
// since the answer depends on it. Left uncompressed when zlib fails. Called on a handler thread; takes CPU
// time in proportion to the body.
// With `tail_cache`, a body_tail is taken already deflated from the cache.
void gzipIfAccepted(const Request& request, Response& response, DeflatedTailCache* tail_cache = nullptr);

}  // namespace replywatch::http
