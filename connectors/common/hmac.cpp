#include "connectors/common/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cctype>
#include <memory>
#include <stdexcept>

#include "daemon/core/base64.h"

namespace replywatch::connectors {

namespace {

// The HMAC implementation, looked up in the provider once: the one-shot HMAC() looks it
// up on every call, which costs about as much as hashing a small webhook body.
struct HmacAlgorithm {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  HmacAlgorithm() {
    if (mac == nullptr) throw std::runtime_error("HMAC is not available");
  }
  ~HmacAlgorithm() { EVP_MAC_free(mac); }
  HmacAlgorithm(const HmacAlgorithm&) = delete;
  HmacAlgorithm& operator=(const HmacAlgorithm&) = delete;
};

EVP_MAC* hmacAlgorithm() {
  static const HmacAlgorithm algorithm;
  return algorithm.mac;
}

}  // namespace

Sha256Digest hmacSha256(std::string_view key, std::string_view data) {
  Sha256Digest out{};
  // An empty key is passed as a valid pointer: a null key means "keep the previous one".
  static const unsigned char kEmpty = 0;
  const auto* key_ptr = key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* data_ptr = reinterpret_cast<const unsigned char*>(data.empty() ? "" : data.data());
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                               OSSL_PARAM_construct_end()};
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_new(hmacAlgorithm()),
                                                                &EVP_MAC_CTX_free);
  std::size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key_ptr, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data_ptr, data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

std::string toHex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0f];
  }
  return out;
}

std::string hmacSha256Hex(std::string_view key, std::string_view data) {
  auto digest = hmacSha256(key, data);
  return toHex(digest.data(), digest.size());
}

std::string hmacSha256Base64(std::string_view key, std::string_view data) {
  auto digest = hmacSha256(key, data);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> parseSignatureHeader(std::string_view header, std::string_view prefix) {
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!header.empty() && is_space(header.front())) header.remove_prefix(1);
  while (!header.empty() && is_space(header.back())) header.remove_suffix(1);
  if (header.size() != prefix.size() + 64) return std::nullopt;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return std::nullopt;
  }
  std::string hex(header.substr(prefix.size()));
  for (char& c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return hex;
}

bool verifySha256Signature(std::string_view secret, std::string_view body, std::string_view header) {
  if (secret.empty()) return false;
  auto given = parseSignatureHeader(header);
  if (!given) return false;
  auto expected = hmacSha256Hex(secret, body);
  return constantTimeEquals(expected, *given);
}

}  // namespace replywatch::connectors
