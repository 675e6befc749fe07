#pragma once
// Plain text from the sanitized HTML some platforms send as message content (Mastodon
// `content`, Discourse `cooked`): tags removed, block ends and <br> turned into line
// breaks, character references decoded. Used before the question heuristics and handler
// rules see the text. Pure function, callable from any thread.
#include <string>
#include <string_view>

namespace replywatch::connectors {

// Strips tags (and the contents of <script>/<style>), decodes named (the common ones),
// decimal and hexadecimal character references, and collapses runs of blanks. Malformed
// markup never fails: an unterminated tag ends the text, an unknown reference is kept as
// written. The result is valid UTF-8 when the input is.
std::string htmlToText(std::string_view html);

}  // namespace replywatch::connectors
