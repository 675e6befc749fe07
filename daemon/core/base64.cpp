#include "daemon/core/base64.h"

#include <openssl/evp.h>

#include <climits>

namespace replywatch {
namespace {

bool isCommonBase64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string base64Encode(std::string_view data, Base64Alphabet alphabet) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  if (alphabet == Base64Alphabet::Url) {
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text, Base64Alphabet alphabet) {
  if (text.size() > static_cast<std::size_t>(INT_MAX) - 3) return std::nullopt;
  // OpenSSL decodes the standard, padded form; url text is brought to it first. What
  // OpenSSL would tolerate (surrounding whitespace, padding in the middle) is refused here.
  std::string padded;
  std::size_t padding = 0;
  if (alphabet == Base64Alphabet::Url) {
    if (text.size() % 4 == 1) return std::nullopt;
    padded.reserve(text.size() + 3);
    for (const char c : text) {
      if (c == '-') {
        padded.push_back('+');
      } else if (c == '_') {
        padded.push_back('/');
      } else if (isCommonBase64(c)) {
        padded.push_back(c);
      } else {
        return std::nullopt;
      }
    }
    padding = (4 - padded.size() % 4) % 4;
    padded.append(padding, '=');
  } else {
    if (text.size() % 4 != 0) return std::nullopt;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (isCommonBase64(c) || c == '+' || c == '/') {
        if (padding > 0) return std::nullopt;  // data after padding
        continue;
      }
      if (c != '=' || i + 2 < text.size()) return std::nullopt;
      ++padding;
    }
    padded.assign(text);
  }
  std::string out(padded.size() / 4 * 3, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts each padding character as a zero byte.
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace replywatch
