#pragma once
// The configuration model and its loader. Loading validates everything up front and
// reports *every* error with file:line and a plain sentence (ConfigError); unknown keys
// are errors. Secrets come from `${ENV_VAR}` references or `<key>_file:` entries and
// are held as Secret so they never reach a log.
#include <yaml-cpp/yaml.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/model.h"
#include "daemon/core/secret.h"

namespace replywatch::config {

// One problem found in the configuration.
struct Problem {
  std::string file;
  int line = 0;             // 1-based; 0 when unknown
  std::string message;      // one plain sentence, e.g. "unknown key \"treshold\" in account \"acme\""
  std::string str() const;  // "file:line: message"
};

// Thrown by load() when the configuration has one or more problems.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

enum class CountMode { All, Questions };

// A half-open interval of minutes since local midnight: [start, end).
struct TimeRange {
  int start_minute = 0;
  int end_minute = 0;
};

struct BusinessHours {
  // Index 0 = Monday ... 6 = Sunday, in the account's time zone.
  std::array<std::vector<TimeRange>, 7> week{};
  // ISO dates "2026-12-25": the `holidays` list followed by the days of the iCalendar
  // file's events (read and validated at load), sorted, without duplicates.
  std::vector<std::string> holidays;
  std::string holidays_ical_file;  // optional path, resolved against the config file's directory
};

// What each route costs, to turn the window's figures into a cost per answer.
struct CostConfig {
  std::optional<double> agency_per_month;   // the agency's monthly fee
  std::optional<double> inhouse_per_month;  // the in-house team's monthly cost
  std::string currency = "EUR";             // ISO 4217 code, only a label
  bool configured() const { return agency_per_month.has_value() || inhouse_per_month.has_value(); }
};

// How the verdict is computed (see README.md, "The verdict").
struct VerdictConfig {
  std::chrono::seconds window{28LL * 24 * 3600};  // rolling window ending now
  std::uint64_t min_turns = 30;                   // judged turns a compared route needs
  double max_late_ratio = 0.10;                   // the agency's acceptable late ratio
  double min_relay_share = 0.5;                   // relay share from which relays explain the lateness
  std::chrono::seconds interval{300};             // recomputation interval of the daemon
  int line = 0;
};

struct AccountConfig {
  std::string name;
  std::chrono::seconds threshold{3600};
  std::string timezone = "UTC";  // IANA name, validated at load
  BusinessHours business_hours;
  std::vector<std::string> ignored_authors;  // author ids or names, exact match
  std::vector<std::string> brand_ids;        // extra author ids/names counted as the brand
  CountMode count = CountMode::All;
  CostConfig cost;
  int line = 0;
};

struct HandlerConfig {
  std::string name;
  Route route = Route::Unknown;            // internal | agency (required)
  std::vector<std::string> responder_ids;  // exact match on author id or author name
  std::string text_pattern;                // RE2 syntax, searched in the reply text; empty = none
  std::vector<std::string> accounts;       // empty = applies to every account
  int line = 0;
};

// A configured connector instance. Type-specific settings are kept as YAML (validated at
// load time by the connector registry, through SourceSettingsValidator) with their
// location, so the connector can report its own errors with file:line.
struct SourceConfig {
  std::string name;
  std::string type;  // a connector type name, checked against the connector registry (today: export)
  std::string account;
  std::string channel;  // facebook | instagram | x | mastodon | discourse | export | ...
  YAML::Node settings;  // the whole source mapping (including the common keys above)
  std::string file;
  int line = 0;
  std::filesystem::path base_dir;  // directory of `file`: base of relative paths in settings
  // Entries one webhook delivery may carry (`max_delivery_entries`); nullopt: the
  // ingest-wide ingest.max_delivery_entries.
  std::optional<std::size_t> max_delivery_entries;
  // False for a type that brings no messages, only escalation records (`relay`): its
  // (account, channel) has no turns, so it gets no series in the turn metrics. Set by
  // load() from the type's SourceTypeInfo.
  bool carries_messages = true;
};

// The keys every source has; type validators pass them (plus their own) to checkKeys().
inline const std::vector<std::string> kCommonSourceKeys = {"name", "type", "account", "channel",
                                                           "max_delivery_entries"};

struct WebConfig {
  std::string listen_address = "0.0.0.0:9488";
  std::string webhook_listen_address;  // empty: webhooks on listen_address
  std::string config_file;             // exporter-toolkit web config (TLS, basic auth); empty: none
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::size_t max_connections = 512;
  // Bytes of answers not yet read by their clients, over every connection of a listener;
  // an answer over 64 KiB that would go past it gets 503 (http::ServerOptions).
  std::size_t max_unsent_bytes = std::size_t{256} * 1024 * 1024;
  // Threads running blocking request handlers (metrics, API, webhooks of connectors
  // without an asynchronous path) per listener, at most max_connections. Such a webhook
  // handler waits for the commit holding its batch, so this bounds how many of their
  // deliveries one group commit can gather. Each thread that ran keeps the allocator's
  // per-thread cache (up to about 240 KB), hence a modest default.
  std::size_t handler_threads = 16;
};

struct StoreConfig {
  std::string path = "replywatch.db";
  std::chrono::seconds retention{0};  // 0 = keep everything
  // How often retention pruning runs (the first run comes after this or a minute,
  // whichever is shorter). Greater than zero.
  std::chrono::seconds prune_interval{3600};
};

struct IngestConfig {
  std::chrono::seconds max_future_skew{300};  // messages further in the future are rejected
  std::size_t max_field_bytes = 64 * 1024;    // longer fields are rejected (field_too_long)
  // Entries (messages, changes, records) one webhook delivery may carry; a larger one is
  // refused whole with 413 (too_many_entries). Sources may set their own.
  std::size_t max_delivery_entries = 1000;
  // Messages that may wait for the store's writer; a batch that does not fit is refused
  // (webhooks answer 503 with Retry-After), except that a batch finding the queue empty is
  // always taken, however large.
  std::size_t max_queued_messages = 10000;
};

struct Config {
  std::string file;
  std::filesystem::path base_dir;  // directory of `file`, absolute
  WebConfig web;
  StoreConfig store;
  IngestConfig ingest;
  VerdictConfig verdict;
  std::vector<AccountConfig> accounts;
  std::vector<HandlerConfig> handlers;
  std::vector<SourceConfig> sources;

  const AccountConfig* account(std::string_view name) const;
  const SourceConfig* source(std::string_view name) const;
  // The sources' names, viewing this configuration.
  std::vector<std::string_view> sourceNames() const;
};

// Validates a source's type-specific settings; appends problems (with file:line taken
// from the nodes) and returns nothing. Provided by the connector registry; `known`
// tells whether the type exists at all.
struct SourceTypeInfo {
  bool known = false;
  bool carries_messages = true;  // copied to SourceConfig::carries_messages
  std::function<void(const SourceConfig&, std::vector<Problem>&)> validate;
  // Optional: every known type name, listed in the "unknown source type" message.
  std::vector<std::string> known_types;
};
// An empty lookup accepts every source type without validating its settings.
using SourceTypeLookup = std::function<SourceTypeInfo(std::string_view type)>;

// Loads and validates a configuration file. Relative paths inside it (store path,
// *_file secrets, spool directories) are resolved against the file's directory.
// Throws ConfigError listing every problem found.
Config load(const std::filesystem::path& file, const SourceTypeLookup& types);

// Same, from a string (file name only used in messages and for relative paths).
Config loadString(const std::string& yaml, const std::string& file_name, const SourceTypeLookup& types);

// Helpers for connector settings validation and reading (used by connectors/*).
// `map` is a YAML mapping (anything else reads as empty), `file` the file name for
// problems, `where` names the place in sentences ("source \"acme-spool\"").
// Messages quote the raw YAML text (before ${ENV} expansion), never an expanded value.

int lineOf(const YAML::Node& node);  // 1-based line of a node, 0 if unknown
// Reports every key of `map` that is not in `allowed` as "unknown key" problems (with a
// "did you mean" suggestion for close typos), and keys given twice.
void checkKeys(const YAML::Node& map, const std::vector<std::string>& allowed, const std::string& file,
               const std::string& where, std::vector<Problem>& problems);
// Reports every key of `keys` that is absent (or null) in `map` as a problem.
void requireKeys(const YAML::Node& map, const std::vector<std::string>& keys, const std::string& file,
                 const std::string& where, std::vector<Problem>& problems);
// Reads a string setting with ${ENV} expanded; a missing (or null) key gives "".
// Records a Problem (and returns "") for a wrong type or an unset variable.
std::string readString(const YAML::Node& map, const std::string& key, const std::string& file,
                       const std::string& where, std::vector<Problem>& problems);
// Reads a list of strings (a single string counts as a one-element list); missing = {}.
std::vector<std::string> readStringList(const YAML::Node& map, const std::string& key,
                                        const std::string& file, const std::string& where,
                                        std::vector<Problem>& problems);
// Reads a duration ("90s", "15m", "1h30m", "28d", "2w" or plain seconds).
// nullopt when the key is missing or the value is invalid (a Problem then).
std::optional<std::chrono::seconds> readDuration(const YAML::Node& map, const std::string& key,
                                                 const std::string& file, const std::string& where,
                                                 std::vector<Problem>& problems);
// Reads a byte size (plain bytes, or with a unit: "64KiB", "1MiB", "1GiB", "500kB", "2MB").
std::optional<std::uint64_t> readSize(const YAML::Node& map, const std::string& key, const std::string& file,
                                      const std::string& where, std::vector<Problem>& problems);
// Reads a boolean (true/false, yes/no, on/off).
std::optional<bool> readBool(const YAML::Node& map, const std::string& key, const std::string& file,
                             const std::string& where, std::vector<Problem>& problems);
// Resolves a secret given either as `key: ${ENV}` / literal, or as `key_file: path`
// (relative to base_dir; the file's trailing newline is dropped).
// Missing env var / unreadable file / both keys set is a Problem. Returns an empty
// Secret if neither key is set. The secret's value never appears in a Problem.
Secret readSecret(const YAML::Node& map, const std::string& key, const std::string& file,
                  const std::filesystem::path& base_dir, std::vector<Problem>& problems);
// Expands ${VAR} references ("$${" gives a literal "${"); missing variables are
// reported through `missing` (and expand to nothing).
std::string expandEnv(const std::string& value, std::vector<std::string>& missing);
// `path` if absolute, else base_dir / path (lexically normalized). Empty stays empty.
std::filesystem::path resolvePath(const std::filesystem::path& base_dir, const std::string& path);

// Value parsers used by the loader (exposed for tests and other tools).
// "09:00-18:00" -> [540, 1080); the end may be "24:00"; the end must come after the start.
std::optional<TimeRange> parseTimeRange(std::string_view text);
// The whole days of the events of an iCalendar (RFC 5545) text, as sorted unique local
// dates "YYYY-MM-DD" of the account's `timezone` (an IANA name; UTC when unknown): an
// all-day DTSTART;VALUE=DATE:20261225 ends at its exclusive DTEND or after its DURATION
// (P2D), one day without either; a date-time event (UTC "…Z", a TZID zone's local time,
// or floating: the account's local time) is converted to the account's zone and covers
// every local day it touches up to its exclusive end. Recurring events (RRULE), events
// without DTSTART or with both DTEND and DURATION, invalid values and unknown TZID zones
// are problems reported with `file` and the line of the event or of the property.
std::vector<std::string> parseIcalHolidays(std::string_view text, const std::string& file,
                                           const std::string& timezone, std::vector<Problem>& problems);
// "65536", "64KiB", "1MiB", "2GiB", "500kB", "2MB", "1GB" -> bytes.
std::optional<std::uint64_t> parseSize(std::string_view text);

}  // namespace replywatch::config
