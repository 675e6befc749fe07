#pragma once
// HTTP basic authentication against bcrypt hashes (the exporter toolkit's
// `basic_auth_users`). Thread-safe: called from handler threads concurrently.
#include <map>
#include <memory>
#include <string>

#include "daemon/http/server.h"

namespace replywatch::http {

class BasicAuth {
 public:
  // `users`: user name -> bcrypt hash ($2a$/$2b$/$2y$). An empty map disables the check.
  explicit BasicAuth(std::map<std::string, std::string> users);
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  bool enabled() const;

  // True when authentication is disabled or the request's `Authorization: Basic`
  // credentials match a user. Unknown users are checked against a dummy hash of the same
  // cost, so the time taken does not tell whether a user exists. Successful checks are
  // remembered (as a SHA-256 of user and password, never the password) so a scraper
  // does not pay bcrypt's cost on every request; failures always pay it. May take tens
  // of milliseconds (one bcrypt computation); never blocks on I/O.
  bool check(const Request& request) const;

  // 401 with `WWW-Authenticate: Basic realm="replywatch"`.
  static Response challenge();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replywatch::http
