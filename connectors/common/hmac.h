#pragma once
// HMAC-SHA256 helpers for webhook signatures (X, Meta, the export connector, ...).
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace replywatch::connectors {

using Sha256Digest = std::array<unsigned char, 32>;

// HMAC-SHA256(key, data) as raw bytes.
Sha256Digest hmacSha256(std::string_view key, std::string_view data);
// The same as 64 lower-case hex digits.
std::string hmacSha256Hex(std::string_view key, std::string_view data);
// The same, base64-encoded (X's CRC challenge answers use this form).
std::string hmacSha256Base64(std::string_view key, std::string_view data);

std::string toHex(const unsigned char* data, std::size_t size);

// Compares two byte strings in time independent of their contents (CRYPTO_memcmp).
// Strings of different lengths compare unequal (only the length may leak).
bool constantTimeEquals(std::string_view a, std::string_view b);

// Parses a signature header of the form "<prefix><64 hex digits>", e.g.
// "sha256=162f...": returns the digest in lower-case hex, or nullopt when the header
// does not have that shape. Surrounding whitespace is ignored; the prefix is matched
// case-insensitively.
std::optional<std::string> parseSignatureHeader(std::string_view header, std::string_view prefix = "sha256=");

// True when `header` ("sha256=<hex>") carries HMAC-SHA256(secret, body). An empty secret
// never verifies. The comparison runs in constant time.
bool verifySha256Signature(std::string_view secret, std::string_view body, std::string_view header);

}  // namespace replywatch::connectors
