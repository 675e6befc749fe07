#pragma once
// Base64 (RFC 4648): the standard alphabet with '=' padding (HTTP Basic credentials,
// signatures, Standard Webhooks secrets) and the URL-safe alphabet without padding
// (values carried in URLs, such as the questions API's page cursors).
#include <optional>
#include <string>
#include <string_view>

namespace replywatch {

enum class Base64Alphabet {
  Standard,  // A-Z a-z 0-9 + /, padded with '=' to a multiple of 4 characters
  Url,       // A-Z a-z 0-9 - _, never padded
};

// Encodes `data` in the alphabet's form.
std::string base64Encode(std::string_view data, Base64Alphabet alphabet = Base64Alphabet::Standard);

// Decodes text written in the alphabet's form, and only such text: nullopt for a
// character outside the alphabet (whitespace included), padding anywhere but at the end
// of standard text or in url text, or a length no encoding produces. "" decodes to "".
std::optional<std::string> base64Decode(std::string_view text,
                                        Base64Alphabet alphabet = Base64Alphabet::Standard);

}  // namespace replywatch
