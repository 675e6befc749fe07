// The HTTP request path up to a handler: Beast's parser configured as the server does
// (header and body limits), then what replywatch itself does with the parsed request:
// target splitting, header and query-parameter lookups, form decoding, basic auth.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <map>
#include <string>

#include "daemon/core/http_fields.h"
#include "daemon/http/basic_auth.h"
#include "daemon/http/server.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  using namespace replywatch;
  // A cost-4 bcrypt hash keeps each check fast (password "fuzz").
  static const http::BasicAuth kAuth(std::map<std::string, std::string>{
      {"prometheus", "$2y$04$0123456789abcdefghijkuphmPWz/3rVEqGJPeqeRbCRAoY5W5xrK"}});

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  auto& msg = parser.get();
  http::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  for (const auto& field : msg)
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  req.body = msg.body();
  for (const char* name : {"account", "since", "until", "limit", "hub.mode", "hub.challenge"}) {
    (void)req.queryParam(name);
  }
  for (const char* name : {"Content-Type", "X-Hub-Signature-256", "webhook-signature", "Authorization"}) {
    (void)req.header(name);
  }
  (void)formDecode(req.body);
  (void)kAuth.check(req);
  return 0;
}
