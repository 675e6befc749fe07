#pragma once
// The `--web.config.file`: TLS and basic authentication for the HTTP listeners, in the
// format of the Prometheus exporter toolkit (the same file node_exporter reads):
//
//   tls_server_config:
//     cert_file: /etc/replywatch/tls.crt
//     key_file: /etc/replywatch/tls.key
//     client_auth_type: RequireAndVerifyClientCert   # optional
//     client_ca_file: /etc/replywatch/clients-ca.crt  # optional
//     min_version: TLS12                              # TLS10 .. TLS13, default TLS12
//     max_version: TLS13                              # optional
//   http_server_config:
//     headers: {Strict-Transport-Security: max-age=31536000}
//   basic_auth_users:
//     prometheus: $2y$10$...                          # bcrypt hash
//
// Keys this implementation does not support (cipher_suites, curve_preferences, http2,
// ...) are refused by name rather than silently ignored.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/core/result.h"

namespace replywatch::http {

enum class ClientAuth : std::uint8_t {
  None,              // NoClientCert (default without client_ca_file)
  Request,           // RequestClientCert: asked for, not required, not verified
  RequireAny,        // RequireAnyClientCert: required, not verified
  VerifyIfGiven,     // VerifyClientCertIfGiven: verified against client_ca_file when sent
  RequireAndVerify,  // RequireAndVerifyClientCert (default with client_ca_file)
};

struct TlsOptions {
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::filesystem::path client_ca_file;  // empty: none
  ClientAuth client_auth = ClientAuth::None;
  int min_version = 0x0303;  // TLS 1.2, as TLS1_2_VERSION
  int max_version = 0;       // 0: the highest the library supports
};

struct WebSecurity {
  std::optional<TlsOptions> tls;
  std::map<std::string, std::string> basic_auth_users;       // user -> bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // added to every response
};

// Reads and checks the file: YAML syntax, known keys, TLS versions and client auth type,
// certificate/key/CA files readable, bcrypt hashes well formed. Error reason
// "web_config"; the message has one line per problem found, each naming the file, the
// line and the key at fault. Blocks on file I/O.
Result<WebSecurity> loadWebConfigFile(const std::filesystem::path& path);

}  // namespace replywatch::http
