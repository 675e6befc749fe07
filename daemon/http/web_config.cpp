#include "daemon/http/web_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/core/http_fields.h"

namespace replywatch::http {
namespace {

struct Fail {
  std::string message;
};

[[noreturn]] void fail(const std::filesystem::path& file, const YAML::Node& node, std::string_view what) {
  std::string where = file.string();
  if (node.IsDefined() && node.Mark().line >= 0) where += fmt::format(":{}", node.Mark().line + 1);
  throw Fail{fmt::format("{}: {}", where, what)};
}

// Runs `read`, adding the problem it fails with to `problems`: what can still be read
// after a problem is read, so that every problem of the file is reported at once.
template <typename Read>
void attempt(std::vector<std::string>& problems, Read read) {
  try {
    read();
  } catch (const Fail& f) {
    problems.push_back(f.message);
  }
}

// Adds a problem for each key of `map` not in `known`; fails when `map` is no mapping.
void checkKeys(const std::filesystem::path& file, const YAML::Node& map, std::string_view section,
               std::initializer_list<std::string_view> known,
               std::initializer_list<std::string_view> unsupported, std::vector<std::string>& problems) {
  if (!map.IsMap()) fail(file, map, fmt::format("{} must be a mapping", section));
  for (const auto& kv : map) {
    attempt(problems, [&] {
      auto key = kv.first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) != known.end()) return;
      if (std::find(unsupported.begin(), unsupported.end(), key) != unsupported.end()) {
        fail(file, kv.first, fmt::format("{}.{} is not supported by replywatch", section, key));
      }
      fail(file, kv.first, fmt::format("unknown key {}.{}", section, key));
    });
  }
}

// The headers http_server_config.headers may add to every answer, as in the
// exporter-toolkit format: security headers only, never one that frames or describes a
// body. `allowed` empty: any value.
struct ConfigurableHeader {
  std::string_view name;
  std::vector<std::string_view> allowed;
};

const std::array<ConfigurableHeader, 5> kConfigurableHeaders = {{
    {"Content-Security-Policy", {}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-Content-Type-Options", {"nosniff"}},
    {"X-XSS-Protection", {}},
    {"Strict-Transport-Security", {}},
}};

const ConfigurableHeader* configurableHeader(std::string_view name) {
  for (const auto& h : kConfigurableHeaders) {
    if (equalsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

std::string scalar(const std::filesystem::path& file, const YAML::Node& node, std::string_view name) {
  if (!node.IsScalar()) fail(file, node, fmt::format("{} must be a string", name));
  return node.as<std::string>();
}

std::filesystem::path readableFile(const std::filesystem::path& file, const YAML::Node& node,
                                   std::string_view name) {
  std::filesystem::path p = scalar(file, node, name);
  if (p.empty()) fail(file, node, fmt::format("{} is empty", name));
  if (p.is_relative()) p = file.parent_path() / p;  // relative to the web config file, as the toolkit does
  std::ifstream in(p);
  if (!in) fail(file, node, fmt::format("{} {} cannot be read", name, p.string()));
  return p;
}

int tlsVersion(const std::filesystem::path& file, const YAML::Node& node, std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, int>, 4> kVersions = {
      {{"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}}};
  auto v = scalar(file, node, name);
  for (const auto& [text, number] : kVersions) {
    if (v == text) return number;
  }
  fail(file, node, fmt::format("{} \"{}\" is not one of TLS10, TLS11, TLS12, TLS13", name, v));
}

ClientAuth clientAuth(const std::filesystem::path& file, const YAML::Node& node) {
  static constexpr std::array<std::pair<std::string_view, ClientAuth>, 5> kTypes = {{
      {"NoClientCert", ClientAuth::None},
      {"RequestClientCert", ClientAuth::Request},
      {"RequireAnyClientCert", ClientAuth::RequireAny},
      {"VerifyClientCertIfGiven", ClientAuth::VerifyIfGiven},
      {"RequireAndVerifyClientCert", ClientAuth::RequireAndVerify},
  }};
  auto v = scalar(file, node, "client_auth_type");
  for (const auto& [text, type] : kTypes) {
    if (v == text) return type;
  }
  fail(file, node,
       fmt::format("client_auth_type \"{}\" is not one of NoClientCert, RequestClientCert, "
                   "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
                   v));
}

// A bcrypt hash: $2a$, $2b$ or $2y$, two-digit cost 04..31, 53 characters of ./A-Za-z0-9.
bool isBcryptHash(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9') return false;
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(h.begin() + 7, h.end(), [](char c) {
    return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

// Reads the file's settings into `out`, adding every problem found to `problems`.
void parse(const std::filesystem::path& file, const YAML::Node& root, WebSecurity& out,
           std::vector<std::string>& problems) {
  if (!root.IsDefined() || root.IsNull()) return;  // an empty file: plain HTTP, no auth
  checkKeys(file, root, "web config", {"tls_server_config", "http_server_config", "basic_auth_users"},
            {"rate_limit"}, problems);

  if (auto tls = root["tls_server_config"]; tls.IsDefined() && !tls.IsNull()) {
    attempt(problems, [&] {
      checkKeys(file, tls, "tls_server_config",
                {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"},
                {"cert", "key", "client_ca", "cipher_suites", "curve_preferences",
                 "prefer_server_cipher_suites", "client_allowed_sans"},
                problems);
      TlsOptions t;
      attempt(problems, [&] {
        if (!tls["cert_file"].IsDefined()) fail(file, tls, "tls_server_config.cert_file is required");
        t.cert_file = readableFile(file, tls["cert_file"], "cert_file");
      });
      attempt(problems, [&] {
        if (!tls["key_file"].IsDefined()) fail(file, tls, "tls_server_config.key_file is required");
        t.key_file = readableFile(file, tls["key_file"], "key_file");
      });
      attempt(problems, [&] {
        if (tls["client_ca_file"].IsDefined()) {
          t.client_ca_file = readableFile(file, tls["client_ca_file"], "client_ca_file");
          t.client_auth = ClientAuth::RequireAndVerify;
        }
      });
      attempt(problems, [&] {
        if (tls["client_auth_type"].IsDefined()) t.client_auth = clientAuth(file, tls["client_auth_type"]);
        if ((t.client_auth == ClientAuth::VerifyIfGiven || t.client_auth == ClientAuth::RequireAndVerify) &&
            t.client_ca_file.empty() && !tls["client_ca_file"].IsDefined()) {
          fail(file, tls["client_auth_type"],
               "client_auth_type verifies client certificates: set client_ca_file");
        }
      });
      attempt(problems, [&] {
        if (tls["min_version"].IsDefined())
          t.min_version = tlsVersion(file, tls["min_version"], "min_version");
        if (tls["max_version"].IsDefined()) {
          t.max_version = tlsVersion(file, tls["max_version"], "max_version");
          if (t.max_version < t.min_version)
            fail(file, tls["max_version"], "max_version is below min_version");
        }
      });
      out.tls = std::move(t);
    });
  }

  if (auto server = root["http_server_config"]; server.IsDefined() && !server.IsNull()) {
    attempt(problems, [&] {
      checkKeys(file, server, "http_server_config", {"headers"}, {"http2"}, problems);
      if (auto headers = server["headers"]; headers.IsDefined() && !headers.IsNull()) {
        if (!headers.IsMap()) fail(file, headers, "http_server_config.headers must be a mapping");
        for (const auto& kv : headers) {
          attempt(problems, [&] {
            auto name = kv.first.as<std::string>();
            auto value = scalar(file, kv.second, name);
            const ConfigurableHeader* header = configurableHeader(name);
            if (header == nullptr) {
              std::vector<std::string_view> names;
              names.reserve(kConfigurableHeaders.size());
              for (const auto& h : kConfigurableHeaders) names.push_back(h.name);
              fail(file, kv.first,
                   fmt::format("header \"{}\" cannot be configured (these can: {})", name,
                               fmt::join(names, ", ")));
            }
            if (value.find_first_of("\r\n") != std::string::npos) {
              fail(file, kv.second, fmt::format("the value of header {} holds a line break", header->name));
            }
            if (value.empty()) return;  // blank: not set
            if (!header->allowed.empty() &&
                std::none_of(header->allowed.begin(), header->allowed.end(),
                             [&value](std::string_view a) { return equalsIgnoreCase(a, value); })) {
              fail(file, kv.second,
                   fmt::format("invalid value \"{}\" for header {} (expected {})", value, header->name,
                               fmt::join(header->allowed, " or ")));
            }
            out.headers.emplace_back(header->name, std::move(value));
          });
        }
      }
    });
  }

  if (auto users = root["basic_auth_users"]; users.IsDefined() && !users.IsNull()) {
    attempt(problems, [&] {
      if (!users.IsMap()) fail(file, users, "basic_auth_users must be a mapping of user name to bcrypt hash");
      for (const auto& kv : users) {
        attempt(problems, [&] {
          auto user = kv.first.as<std::string>();
          auto hash = scalar(file, kv.second, "basic_auth_users." + user);
          if (user.empty() || user.find(':') != std::string::npos) {
            fail(file, kv.first, fmt::format("user name \"{}\" must be non-empty and contain no ':'", user));
          }
          if (!isBcryptHash(hash)) {
            // The hash itself is not printed: it is a secret too.
            fail(file, kv.second,
                 fmt::format("basic_auth_users.{} is not a bcrypt hash ($2y$<cost>$..., 60 characters)",
                             user));
          }
          out.basic_auth_users.emplace(std::move(user), std::move(hash));
        });
      }
    });
  }
}

}  // namespace

Result<WebSecurity> loadWebConfigFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return makeError("web_config", fmt::format("{}: cannot be read", path.string()));
  try {
    WebSecurity out;
    std::vector<std::string> problems;
    attempt(problems, [&] { parse(path, YAML::Load(in), out, problems); });
    if (!problems.empty()) {
      std::string message = problems.front();
      for (std::size_t i = 1; i < problems.size(); ++i) message.append("\n").append(problems[i]);
      return makeError("web_config", std::move(message));
    }
    return out;
  } catch (const YAML::Exception& e) {
    return makeError("web_config", fmt::format("{}:{}: {}", path.string(), e.mark.line + 1, e.msg));
  }
}

}  // namespace replywatch::http
