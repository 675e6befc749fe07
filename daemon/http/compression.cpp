#include "daemon/http/compression.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "daemon/core/http_fields.h"

namespace replywatch::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The q-value of one Accept-Encoding member's parameters ("q=0.5"); 1 without one, 0 for
// a q-value that does not read as a number.
double qValue(std::string_view params) {
  while (!params.empty()) {
    const auto semi = params.find(';');
    std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || !equalsIgnoreCase(trim(param.substr(0, eq)), "q")) continue;
    const std::string_view value = trim(param.substr(eq + 1));
    double q = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), q);
    if (ec != std::errc{} || end != value.data() + value.size()) return 0;
    return q;
  }
  return 1;
}

}  // namespace

bool acceptsGzip(std::string_view accept_encoding) {
  std::optional<double> gzip;
  std::optional<double> any;
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view member = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    const auto semi = member.find(';');
    const std::string_view name = trim(member.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1.0 : qValue(member.substr(semi + 1));
    if (equalsIgnoreCase(name, "gzip") || equalsIgnoreCase(name, "x-gzip")) {
      gzip = std::max(gzip.value_or(0.0), q);
    } else if (name == "*") {
      any = q;
    }
  }
  if (gzip) return *gzip > 0;
  return any.value_or(0.0) > 0;
}

std::optional<DeflatedText> deflateText(std::string_view text) {
  if (text.size() > std::numeric_limits<uInt>::max() / 2) return std::nullopt;
  z_stream z{};
  // windowBits -15: a raw deflate stream, without header or trailer.
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  DeflatedText out;
  out.deflated.resize(deflateBound(&z, static_cast<uLong>(text.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.deflated.data());
  z.avail_out = static_cast<uInt>(out.deflated.size());
  const int rc = deflate(&z, Z_FINISH);
  out.deflated.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.crc = static_cast<std::uint32_t>(crc32(
      crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  out.size = text.size();
  return out;
}

std::optional<std::string> gzipWithDeflatedTail(std::string_view head, const DeflatedText& tail) {
  if (head.size() > std::numeric_limits<uInt>::max() / 2) return std::nullopt;
  // RFC 1952 header: deflate, no flags, no time, fastest compression, Unix.
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03", 10);
  uLong crc = crc32(0L, Z_NULL, 0);
  if (!head.empty()) {
    z_stream z{};
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
    // The bound of a finished stream, plus the few bytes of the sync flush's empty block.
    const std::size_t at = out.size();
    out.resize(at + deflateBound(&z, static_cast<uLong>(head.size())) + 16);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(head.data()));
    z.avail_in = static_cast<uInt>(head.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    z.avail_out = static_cast<uInt>(out.size() - at);
    // A sync flush ends the head's blocks (none final) on a byte boundary, where the
    // tail's blocks can start; they refer to nothing before their own start.
    const int rc = deflate(&z, Z_SYNC_FLUSH);
    const bool ok = rc == Z_OK && z.avail_in == 0 && z.avail_out > 0;
    out.resize(at + z.total_out);
    deflateEnd(&z);
    if (!ok) return std::nullopt;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(head.data()), static_cast<uInt>(head.size()));
  }
  out += tail.deflated;
  crc = crc32_combine(crc, tail.crc, static_cast<z_off_t>(tail.size));
  const auto total = static_cast<std::uint32_t>(head.size() + tail.size);  // ISIZE: modulo 2^32
  for (const std::uint32_t v : {static_cast<std::uint32_t>(crc), total}) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
  return out;
}

std::optional<std::string> gzipCompress(std::string_view data, std::string_view more) {
  auto tail = deflateText(more);
  if (!tail) return std::nullopt;
  return gzipWithDeflatedTail(data, *tail);
}

std::shared_ptr<const DeflatedText> DeflatedTailCache::get(const std::shared_ptr<const std::string>& text) {
  std::lock_guard lock(mutex_);
  if (text != text_) {
    auto deflated = deflateText(*text);
    deflated_ = deflated ? std::make_shared<const DeflatedText>(std::move(*deflated)) : nullptr;
    text_ = text;
  }
  return deflated_;
}

void gzipIfAccepted(const Request& request, Response& response, DeflatedTailCache* tail_cache) {
  response.headers.emplace_back("Vary", "Accept-Encoding");
  const std::string_view tail =
      response.body_tail ? std::string_view(*response.body_tail) : std::string_view();
  if (response.body.size() + tail.size() < kMinGzipBytes) return;
  // Field lines repeated are one list (RFC 9110, section 5.3).
  std::string accepted;
  for (const auto& [name, value] : request.headers) {
    if (!equalsIgnoreCase(name, "Accept-Encoding")) continue;
    if (!accepted.empty()) accepted += ", ";
    accepted += value;
  }
  if (accepted.empty() || !acceptsGzip(accepted)) return;
  std::optional<std::string> compressed;
  if (tail_cache != nullptr && response.body_tail) {
    if (auto deflated = tail_cache->get(response.body_tail))
      compressed = gzipWithDeflatedTail(response.body, *deflated);
  } else {
    compressed = gzipCompress(response.body, tail);
  }
  if (!compressed) return;
  response.body = std::move(*compressed);
  response.body_tail.reset();
  response.headers.emplace_back("Content-Encoding", "gzip");
}

}  // namespace replywatch::http
