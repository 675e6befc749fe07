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

  // The bcrypt cost a name that is no user is checked at: the users' highest; 0 without
  // users.
  int unknownUserCost() const;

  // True when the users' hashes do not all have the same cost (then a request's time can
  // tell a user of a lower cost from a name that is no user; the daemon warns at start).
  bool costsDiffer() const;

  // True when authentication is disabled or the request's `Authorization: Basic`
  // credentials match a user. Unknown users are checked against a dummy hash at the
  // users' highest cost, so with one cost for every user the time taken does not tell
  // whether a user exists (with several, it tells apart the users of a lower cost). Successful checks are
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
