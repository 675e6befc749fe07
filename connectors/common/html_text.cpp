#include "connectors/common/html_text.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <utility>

namespace replywatch::connectors {
namespace {

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// Decodes the reference starting at html[i] == '&'; returns the bytes consumed (0 when
// it is not a reference we know, the '&' is then kept as is).
std::size_t decodeReference(std::string_view html, std::size_t i, std::string& out) {
  // A reference is at most 10 bytes long: look no further (a text full of '&' would
  // otherwise be searched to its end once per '&').
  const std::size_t semi = html.substr(0, std::min(html.size(), i + 11)).find(';', i + 1);
  if (semi == std::string_view::npos) return 0;
  const std::string_view name = html.substr(i + 1, semi - i - 1);
  if (name.size() >= 2 && name[0] == '#') {
    std::uint32_t cp = 0;
    const bool hex = name[1] == 'x' || name[1] == 'X';
    const std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      const int v = hex ? (std::isxdigit(static_cast<unsigned char>(c)) != 0
                               ? (std::isdigit(static_cast<unsigned char>(c)) != 0
                                      ? c - '0'
                                      : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10)
                               : -1)
                        : (std::isdigit(static_cast<unsigned char>(c)) != 0 ? c - '0' : -1);
      if (v < 0) return 0;
      cp = cp * (hex ? 16U : 10U) + static_cast<std::uint32_t>(v);
      if (cp > 0x10FFFF) cp = 0x110000;  // stays invalid, becomes U+FFFD
    }
    appendUtf8(out, cp == 0xA0 ? ' ' : cp);  // a no-break space is a blank like any other
    return semi - i + 1;
  }
  static constexpr std::array<std::pair<std::string_view, std::uint32_t>, 12> kNamed = {{
      {"amp", '&'},
      {"lt", '<'},
      {"gt", '>'},
      {"quot", '"'},
      {"apos", '\''},
      {"nbsp", 0xA0},
      {"hellip", 0x2026},
      {"laquo", 0xAB},
      {"raquo", 0xBB},
      {"rsquo", 0x2019},
      {"lsquo", 0x2018},
      {"euro", 0x20AC},
  }};
  for (const auto& [n, cp] : kNamed) {
    if (n == name) {
      appendUtf8(out, cp == 0xA0 ? ' ' : cp);
      return semi - i + 1;
    }
  }
  return 0;
}

// Tags that end a line of text.
bool breaksLine(std::string_view tag) {
  for (std::string_view t :
       {"br", "p", "div", "li", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "ul", "ol"}) {
    if (equalsIgnoreCase(tag, t)) return true;
  }
  return false;
}

}  // namespace

std::string htmlToText(std::string_view html) {
  std::string raw;
  raw.reserve(html.size());
  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      const std::size_t close = html.find('>', i + 1);
      if (close == std::string_view::npos) break;  // unterminated tag: the text ends here
      std::string_view tag = html.substr(i + 1, close - i - 1);
      const bool closing = !tag.empty() && tag[0] == '/';
      if (closing) tag.remove_prefix(1);
      std::size_t name_end = 0;
      while (name_end < tag.size() && std::isalnum(static_cast<unsigned char>(tag[name_end])) != 0)
        ++name_end;
      const std::string_view name = tag.substr(0, name_end);
      i = close + 1;
      if (!closing && (equalsIgnoreCase(name, "script") || equalsIgnoreCase(name, "style"))) {
        // Skip to the matching end tag (case-insensitive search for "</").
        std::size_t end = i;
        for (;;) {
          end = html.find("</", end);
          if (end == std::string_view::npos) {
            i = html.size();
            break;
          }
          if (equalsIgnoreCase(html.substr(end + 2, name.size()), name)) {
            const std::size_t gt = html.find('>', end);
            i = gt == std::string_view::npos ? html.size() : gt + 1;
            break;
          }
          end += 2;
        }
        continue;
      }
      if (breaksLine(name)) raw.push_back('\n');
      continue;
    }
    if (c == '&') {
      const std::size_t used = decodeReference(html, i, raw);
      if (used > 0) {
        i += used;
        continue;
      }
    }
    raw.push_back(c);
    ++i;
  }
  // Collapse blanks: runs of spaces/tabs become one space, runs of line breaks one
  // line break, no blanks at the start or the end.
  std::string out;
  out.reserve(raw.size());
  bool pending_space = false;
  bool pending_newline = false;
  for (char c : raw) {
    if (c == '\n' || c == '\r') {
      pending_newline = true;
      continue;
    }
    if (c == ' ' || c == '\t') {
      pending_space = true;
      continue;
    }
    if (!out.empty()) {
      if (pending_newline) {
        out.push_back('\n');
      } else if (pending_space) {
        out.push_back(' ');
      }
    }
    pending_space = pending_newline = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace replywatch::connectors
