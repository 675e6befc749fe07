#include "daemon/http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "daemon/core/base64.h"

namespace replywatch::http {
namespace {

constexpr std::size_t kMaxCachedCredentials = 1024;
constexpr std::size_t kMaxCredentialBytes = 4096;

// bcrypt via libxcrypt; empty on failure. crypt_data is large: keep it off the stack.
std::string bcrypt(const std::string& password, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_r(password.c_str(), setting.c_str(), data.get());
  if (out == nullptr || out[0] == '*') return {};
  return out;
}

// The cost of a hash checked by the web configuration's loader ($2y$<cost>$...).
int costOf(const std::string& hash) {
  if (hash.size() < 7) return 0;
  return (hash[4] - '0') * 10 + (hash[5] - '0');
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string cacheKey(std::string_view user, std::string_view password, const std::string& hash) {
  std::string material;
  material.reserve(user.size() + password.size() + hash.size() + 2);
  material.append(user).push_back('\0');
  material.append(password).push_back('\0');
  material.append(hash);
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

}  // namespace

struct BasicAuth::Impl {
  std::map<std::string, std::string> users;
  std::string dummy_hash;  // a real hash of a random password, at the users' highest cost
  int min_cost = 0;
  int max_cost = 0;
  mutable std::mutex mu;
  mutable std::unordered_set<std::string> verified;  // cacheKey() of credentials that matched
};

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : impl_(std::make_unique<Impl>()) {
  impl_->users = std::move(users);
  if (impl_->users.empty()) return;
  // Same algorithm prefix as the costliest user's hash, at its cost: a name that is not a
  // user then takes as long as the slowest user, never less. Random salt and password.
  const std::string* model = nullptr;
  for (const auto& [user, hash] : impl_->users) {
    const int cost = costOf(hash);
    if (model == nullptr || cost > impl_->max_cost) {
      model = &hash;
      impl_->max_cost = cost;
    }
    if (impl_->min_cost == 0 || cost < impl_->min_cost) impl_->min_cost = cost;
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(model->substr(0, 4).c_str(), static_cast<unsigned long>(impl_->max_cost), nullptr, 0,
                       setting, sizeof setting) != nullptr) {
    unsigned char random[16] = {};
    std::string password = "replywatch-dummy";
    if (RAND_bytes(random, sizeof random) == 1) {
      static constexpr char kHex[] = "0123456789abcdef";
      for (unsigned char b : random) {
        password.push_back(kHex[b >> 4]);
        password.push_back(kHex[b & 0xF]);
      }
    }
    impl_->dummy_hash = bcrypt(password, setting);
  }
  if (impl_->dummy_hash.empty()) impl_->dummy_hash = *model;  // still costs the same to check
}

BasicAuth::~BasicAuth() = default;

bool BasicAuth::enabled() const { return !impl_->users.empty(); }

int BasicAuth::unknownUserCost() const { return impl_->dummy_hash.empty() ? 0 : costOf(impl_->dummy_hash); }

bool BasicAuth::costsDiffer() const { return impl_->min_cost != impl_->max_cost; }

bool BasicAuth::check(const Request& request) const {
  if (!enabled()) return true;
  auto header = request.header("Authorization");
  if (!header) return false;
  std::string_view value = *header;
  constexpr std::string_view kScheme = "Basic ";
  if (value.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  auto decoded = value.size() > kMaxCredentialBytes ? std::nullopt : base64Decode(value);
  if (!decoded) return false;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return false;
  std::string user = decoded->substr(0, colon);
  std::string password = decoded->substr(colon + 1);

  auto it = impl_->users.find(user);
  const std::string& hash = it == impl_->users.end() ? impl_->dummy_hash : it->second;
  const std::string key = cacheKey(user, password, hash);
  if (it != impl_->users.end()) {
    std::lock_guard lock(impl_->mu);
    if (impl_->verified.count(key) != 0) return true;
  }
  // bcrypt reads the password as a C string: one holding a NUL would be cut there and
  // match the password before it. Such a password is refused, after the same hashing.
  const bool has_nul = password.find('\0') != std::string::npos;
  const bool match = constantTimeEqual(bcrypt(password, hash), hash) && it != impl_->users.end() && !has_nul;
  if (match) {
    std::lock_guard lock(impl_->mu);
    if (impl_->verified.size() >= kMaxCachedCredentials) impl_->verified.clear();
    impl_->verified.insert(key);
  }
  return match;
}

Response BasicAuth::challenge() {
  Response r = Response::error(401, "unauthorized");
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"replywatch\"");
  return r;
}

}  // namespace replywatch::http
