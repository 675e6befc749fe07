// Request accessors and Response constructors.
#include <cctype>
#include <string>
#include <string_view>

#include "daemon/core/http_fields.h"
#include "daemon/http/server.h"

namespace replywatch::http {
namespace {

void appendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  return findHeader(headers, name);
}

std::optional<std::string> Request::queryParam(std::string_view name) const {
  return findQueryParam(query, name);
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view message) {
  std::string body = R"({"status":"error","error":")";
  appendJsonEscaped(body, message);
  body += "\"}";
  return json(status, std::move(body));
}

}  // namespace replywatch::http
