#pragma once
// Test doubles and helpers shared by the connector tests.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/connector.h"
#include "connectors/registry.h"
#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/source_health.h"

namespace replywatch::connectors::testing {

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(REPLYWATCH_FIXTURES) / "export" / name;
}

inline std::string readAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void writeAll(const std::filesystem::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary);
  out << data;
}

inline Timestamp at(const char* rfc3339) { return *parseRfc3339(rfc3339); }

// A fresh directory, removed with its contents at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rw-connectors-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// An IngestSink that records what it is given, deduplicating on message id.
class RecordingSink final : public IngestSink {
 public:
  Result<IngestOutcome> ingest(const config::SourceConfig& source, std::vector<Message> messages,
                               std::optional<std::string> cursor) override {
    std::lock_guard lock(mutex_);
    ++calls;
    if (fail) return makeError(fail_reason, "database is locked");
    last_source = source.name;
    IngestOutcome o;
    o.received = messages.size();
    for (auto& m : messages) {
      if (ids_.insert(m.id).second) {
        ++o.stored;
        stored.push_back(std::move(m));
      } else {
        ++o.duplicates;
      }
    }
    cursors.push_back(cursor);
    if (cursor) committed_cursor = cursor;
    return o;
  }

  Result<std::optional<std::string>> cursor(const std::string&) override {
    std::lock_guard lock(mutex_);
    return committed_cursor;
  }

  // Where each id was stored, from the messages recorded (any source).
  Result<std::vector<std::optional<MessagePlace>>> messagePlaces(
      const std::string&, const std::vector<std::string>& ids) override {
    if (before_places) before_places();
    std::lock_guard lock(mutex_);
    ++place_lookups;
    if (fail_places) return makeError("store", "disk I/O error");
    std::vector<std::optional<MessagePlace>> out(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      for (const auto& m : stored) {
        if (m.id == ids[i]) out[i] = MessagePlace{m.conversation_id, m.account};
      }
    }
    return out;
  }

  // Escalation records: an upsert by id, as the pipeline does.
  Result<IngestOutcome> ingestEscalations(const config::SourceConfig& source, std::vector<Escalation> records,
                                          std::optional<std::string> cursor) override {
    std::lock_guard lock(mutex_);
    ++calls;
    if (fail) return makeError(fail_reason, "database is locked");
    last_source = source.name;
    IngestOutcome o;
    o.received = records.size();
    for (auto& e : records) {
      auto [it, inserted] = escalations.try_emplace(e.id, e);
      if (inserted || it->second != e) {
        it->second = std::move(e);
        ++o.stored;
      } else {
        ++o.duplicates;
      }
    }
    if (cursor) committed_cursor = cursor;
    return o;
  }

  const Message* find(const std::string& id) const {
    for (const auto& m : stored) {
      if (m.id == id) return &m;
    }
    return nullptr;
  }

  std::size_t storedCount() {
    std::lock_guard lock(mutex_);
    return stored.size();
  }

  bool fail = false;
  std::string fail_reason = "store";  // the reason of the refusal when `fail`
  int calls = 0;
  int place_lookups = 0;     // messagePlaces() calls
  bool fail_places = false;  // messagePlaces() fails
  // Runs at each messagePlaces() call (the twcs connector's, between its two passes).
  std::function<void()> before_places;
  std::string last_source;
  std::vector<Message> stored;
  std::vector<std::optional<std::string>> cursors;
  std::optional<std::string> committed_cursor;
  std::map<std::string, Escalation> escalations;  // by record id

 private:
  std::mutex mutex_;
  std::set<std::string> ids_;
};

// A SourceConfig built by hand from YAML, as config::load() would.
inline config::SourceConfig makeSource(const std::string& yaml, const std::filesystem::path& base_dir = {}) {
  config::SourceConfig s;
  s.settings = YAML::Load(yaml);
  s.name = s.settings["name"].as<std::string>("test-export");
  s.type = s.settings["type"].as<std::string>("export");
  s.account = s.settings["account"].as<std::string>("acme");
  s.channel = s.settings["channel"].as<std::string>("export");
  s.file =
      (base_dir.empty() ? std::filesystem::path("/etc/replywatch") : base_dir).string() + "/replywatch.yml";
  s.line = 1;
  s.base_dir = base_dir.empty() ? std::filesystem::path("/etc/replywatch") : base_dir;
  return s;
}

// A connector of type `export` with its context: clock at 2024-06-01, fields limited
// to 1 KiB so the fixtures' long rows are refused.
struct Harness {
  explicit Harness(const std::string& yaml, const std::filesystem::path& base_dir = {})
      : source(makeSource(yaml, base_dir)) {
    config.ingest.max_field_bytes = 1024;
    connector = findConnectorType("export")->create(ConnectorContext{source, config, clock, health, sink});
  }

  config::Config config;
  config::SourceConfig source;
  ManualClock clock{at("2024-06-01T00:00:00Z")};
  SourceHealth health;
  RecordingSink sink;
  std::unique_ptr<Connector> connector;
};

}  // namespace replywatch::connectors::testing
