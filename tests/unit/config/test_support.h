#pragma once
// Shared helpers for the configuration tests: a fake connector registry and YAML text
// helpers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace replywatch::config::testing {

// What the fake "export" validator saw, for tests that inspect secrets and settings.
struct ExportSeen {
  Secret token;
  std::string spool_dir;
  int calls = 0;
};

// A registry with two types: "export" (validated: its own keys, a secret, a duration)
// and "twcs" (no validation).
inline SourceTypeLookup fakeTypes(std::shared_ptr<ExportSeen> seen = std::make_shared<ExportSeen>()) {
  return [seen](std::string_view type) {
    SourceTypeInfo info;
    info.known_types = {"export", "twcs"};
    if (type == "export") {
      info.known = true;
      info.validate = [seen](const SourceConfig& source, std::vector<Problem>& problems) {
        ++seen->calls;
        std::vector<std::string> allowed = kCommonSourceKeys;
        for (const char* k : {"spool_dir", "url", "token", "token_file", "poll_interval"}) {
          allowed.emplace_back(k);
        }
        const std::string where = "source \"" + source.name + "\"";
        checkKeys(source.settings, allowed, source.file, where, problems);
        seen->token = readSecret(source.settings, "token", source.file, source.base_dir, problems);
        seen->spool_dir = readString(source.settings, "spool_dir", source.file, where, problems);
        (void)readString(source.settings, "url", source.file, where, problems);
        (void)readDuration(source.settings, "poll_interval", source.file, where, problems);
      };
    } else if (type == "twcs" || type == "x") {
      info.known = true;
    }
    return info;
  };
}

// Drops the leading newline of a raw string literal so line 1 is the first YAML line.
inline std::string yaml(const char* text) {
  std::string s(text);
  if (!s.empty() && s.front() == '\n') s.erase(0, 1);
  return s;
}

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
};

// A fresh temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("replywatch-config-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// The problems of a configuration expected to fail (an empty list when it loads).
inline std::vector<Problem> problemsOf(const std::string& text, const SourceTypeLookup& types = fakeTypes(),
                                       const std::string& file = "test.yml") {
  try {
    (void)loadString(text, file, types);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

inline std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "  " + p.str() + "\n";
  return out;
}

}  // namespace replywatch::config::testing
