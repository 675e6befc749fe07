// The configuration loader: parses the YAML document, validates every section and
// collects every problem before throwing a single ConfigError.
#include "daemon/config/config.h"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "daemon/config/internal.h"

namespace replywatch::config {

std::string Problem::str() const {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + message;
  return file + ": " + message;
}

namespace {

std::string joinProblems(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.str();
  }
  if (out.empty()) out = "invalid configuration";
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<Problem> problems)
    : std::runtime_error(joinProblems(problems)), problems_(std::move(problems)) {}

const AccountConfig* Config::account(std::string_view name) const {
  for (const auto& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const SourceConfig* Config::source(std::string_view name) const {
  for (const auto& s : sources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string_view> Config::sourceNames() const {
  std::vector<std::string_view> names;
  names.reserve(sources.size());
  for (const auto& s : sources) names.emplace_back(s.name);
  return names;
}

namespace {

using detail::child;
using detail::keyIn;
using detail::kindOf;

const std::vector<std::string> kTopKeys = {"web",      "store",    "ingest", "verdict",
                                           "accounts", "handlers", "sources"};
const std::vector<std::string> kVerdictKeys = {"window", "min_turns", "max_late_ratio", "min_relay_share",
                                               "interval"};
const std::vector<std::string> kCostKeys = {"agency_per_month", "inhouse_per_month", "currency"};
const std::vector<std::string> kWebKeys = {
    "listen_address", "webhook_listen_address", "config_file",     "max_header_bytes", "max_body_bytes",
    "read_timeout",   "idle_timeout",           "max_connections", "handler_threads",  "max_unsent_bytes"};
constexpr std::uint64_t kMaxHandlerThreads = 1024;
const std::vector<std::string> kStoreKeys = {"path", "retention", "prune_interval"};
const std::vector<std::string> kIngestKeys = {"max_future_skew", "max_field_bytes", "max_delivery_entries",
                                              "max_queued_messages"};
const std::vector<std::string> kAccountKeys = {
    "name", "threshold", "timezone", "business_hours", "ignored_authors", "brand_ids", "count", "cost"};
const std::vector<std::string> kDayKeys = {"monday", "tuesday",  "wednesday", "thursday",
                                           "friday", "saturday", "sunday"};
const std::vector<std::string> kHandlerKeys = {"name", "route", "match", "accounts"};
const std::vector<std::string> kMatchKeys = {"responder_ids", "text"};

std::string quote(const std::string& s) { return "\"" + s + "\""; }

// The text of a scalar as written in the file (before ${ENV} expansion).
std::string rawText(const YAML::Node& node) { return node.IsScalar() ? node.Scalar() : ""; }

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string formatClock(int minutes) {
  std::string out;
  int h = minutes / 60, m = minutes % 60;
  out += static_cast<char>('0' + h / 10);
  out += static_cast<char>('0' + h % 10);
  out += ':';
  out += static_cast<char>('0' + m / 10);
  out += static_cast<char>('0' + m % 10);
  return out;
}

bool validDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  int y = std::stoi(s.substr(0, 4));
  unsigned mo = static_cast<unsigned>(std::stoi(s.substr(5, 2)));
  unsigned d = static_cast<unsigned>(std::stoi(s.substr(8, 2)));
  return (date::year{y} / date::month{mo} / date::day{d}).ok();
}

bool validListenAddress(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || p != port.data() + port.size() || value > 65535) return false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return true;  // [::1]
  return host.find_first_of(":[] \t/") == std::string::npos;
}

std::string regexErrorText(RE2::ErrorCode code) {
  switch (code) {
    case RE2::ErrorBadEscape: return "bad escape sequence";
    case RE2::ErrorBadCharClass: return "bad character class";
    case RE2::ErrorBadCharRange: return "bad character class range";
    case RE2::ErrorMissingBracket: return "missing closing ]";
    case RE2::ErrorMissingParen: return "missing closing )";
    case RE2::ErrorUnexpectedParen: return "unexpected closing )";
    case RE2::ErrorTrailingBackslash: return "trailing \\ at end of the expression";
    case RE2::ErrorRepeatArgument: return "repeat argument missing";
    case RE2::ErrorRepeatSize: return "bad repetition argument";
    case RE2::ErrorRepeatOp: return "bad repetition operator";
    case RE2::ErrorBadPerlOp: return "bad perl operator";
    case RE2::ErrorBadUTF8: return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture: return "bad named capture group";
    case RE2::ErrorPatternTooLarge: return "pattern too large";
    case RE2::NoError:
    case RE2::ErrorInternal: break;
  }
  return "cannot compile";
}

class Loader {
 public:
  Loader(std::string file, std::filesystem::path base_dir, const SourceTypeLookup& types)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), types_(types) {
    config_.file = file_;
    config_.base_dir = base_dir_;
  }

  Config run(const std::string& yaml) {
    try {
      YAML::Node root;
      try {
        root = YAML::Load(yaml);
      } catch (const YAML::ParserException& e) {
        add(e.mark.line >= 0 ? e.mark.line + 1 : 0, "YAML syntax error: " + e.msg);
        finish();
      }
      readRoot(root);
    } catch (const ConfigError&) {
      throw;
    } catch (const YAML::Exception& e) {
      add(e.mark.line >= 0 ? e.mark.line + 1 : 0, "cannot read the configuration: " + e.msg);
    } catch (const std::exception& e) {
      add(0, std::string("cannot read the configuration: ") + e.what());
    }
    finish();
    return std::move(config_);
  }

 private:
  void add(int line, std::string message) { problems_.push_back({file_, line, std::move(message)}); }

  // Throws ConfigError when any problem was found (sorted by line, duplicates removed).
  void finish() {
    if (problems_.empty()) return;
    std::vector<Problem> unique;
    std::set<std::tuple<std::string, int, std::string>> seen;
    for (auto& p : problems_) {
      if (seen.emplace(p.file, p.line, p.message).second) unique.push_back(std::move(p));
    }
    std::stable_sort(unique.begin(), unique.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    throw ConfigError(std::move(unique));
  }

  // True when `node` is absent or a mapping; records a problem otherwise.
  bool expectMap(const YAML::Node& node, const std::string& what) {
    if (!node.IsDefined() || node.IsMap()) return true;
    add(lineOf(node), what + " must be a mapping, not a " + std::string(kindOf(node)));
    return false;
  }

  // A section value of a mapping that must be a list (absent or null = empty list).
  bool expectList(const YAML::Node& node, const std::string& what) {
    if (!node.IsDefined() || node.IsSequence()) return true;
    add(lineOf(node), what + " must be a list, not a " + std::string(kindOf(node)));
    return false;
  }

  std::optional<std::chrono::seconds> positiveDuration(const YAML::Node& map, const std::string& key,
                                                       const std::string& where) {
    auto d = readDuration(map, key, file_, where, problems_);
    if (d && d->count() <= 0) {
      add(lineOf(child(map, key)), keyIn(key, where) + " must be greater than zero");
      return std::nullopt;
    }
    return d;
  }

  std::optional<std::uint64_t> positiveSize(const YAML::Node& map, const std::string& key,
                                            const std::string& where) {
    auto s = readSize(map, key, file_, where, problems_);
    if (s && *s == 0) {
      add(lineOf(child(map, key)), keyIn(key, where) + " must be greater than zero");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::uint64_t> positiveCount(const YAML::Node& map, const std::string& key,
                                             const std::string& where) {
    YAML::Node node = child(map, key);
    if (!node.IsDefined()) return std::nullopt;
    auto text = detail::scalarText(node, key, file_, where, problems_);
    if (!text) return std::nullopt;
    std::uint64_t value = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (text->empty() || ec != std::errc{} || p != text->data() + text->size() || value == 0) {
      add(lineOf(node), "invalid number \"" + node.Scalar() + "\" for " + keyIn(key, where) +
                            " (use a whole number greater than zero)");
      return std::nullopt;
    }
    return value;
  }

  void readRoot(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      add(0, "the configuration is empty; at least one account is required");
      return;
    }
    if (!root.IsMap()) {
      add(lineOf(root), "the configuration must be a mapping of sections (" + joined(kTopKeys) + "), not a " +
                            std::string(kindOf(root)));
      return;
    }
    checkKeys(root, kTopKeys, file_, "the top level", problems_);
    // Unset ${VAR} references anywhere outside `sources` (sources' own settings are
    // read, and reported, by their connector's validator).
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!(it->first.IsScalar() && it->first.Scalar() == "sources")) {
        detail::reportUnsetEnv(it->second, file_, problems_);
      }
    }
    readWeb(child(root, "web"));
    readStore(child(root, "store"));
    readIngest(child(root, "ingest"));
    readVerdict(child(root, "verdict"));
    readAccounts(root);
    readHandlers(child(root, "handlers"));
    readSources(child(root, "sources"));
  }

  void readWeb(const YAML::Node& web) {
    if (!web.IsDefined() || !expectMap(web, "\"web\"")) return;
    const std::string where = "web";
    checkKeys(web, kWebKeys, file_, where, problems_);
    WebConfig& out = config_.web;
    if (YAML::Node node = child(web, "listen_address"); node.IsDefined()) {
      if (auto address = detail::scalarText(node, "listen_address", file_, where, problems_)) {
        if (validListenAddress(*address)) {
          out.listen_address = *address;
        } else {
          add(lineOf(node), "invalid listen_address \"" + node.Scalar() +
                                "\" in web (use host:port, e.g. 0.0.0.0:9488 or :9488)");
        }
      }
    }
    if (YAML::Node node = child(web, "webhook_listen_address"); node.IsDefined()) {
      if (auto address = detail::scalarText(node, "webhook_listen_address", file_, where, problems_)) {
        if (validListenAddress(*address)) {
          out.webhook_listen_address = *address;
        } else {
          add(lineOf(node), "invalid webhook_listen_address \"" + node.Scalar() +
                                "\" in web (use host:port, e.g. 0.0.0.0:9489 or :9489)");
        }
      }
    }
    if (YAML::Node node = child(web, "config_file"); node.IsDefined()) {
      if (auto path = detail::scalarText(node, "config_file", file_, where, problems_)) {
        std::filesystem::path p = *path;
        if (p.is_relative()) p = std::filesystem::path(base_dir_) / p;
        out.config_file = p.string();
      }
    }
    if (auto v = positiveSize(web, "max_header_bytes", where)) out.max_header_bytes = *v;
    if (auto v = positiveSize(web, "max_body_bytes", where)) out.max_body_bytes = *v;
    if (auto v = positiveDuration(web, "read_timeout", where)) out.read_timeout = *v;
    if (auto v = positiveDuration(web, "idle_timeout", where)) out.idle_timeout = *v;
    if (auto v = positiveCount(web, "max_connections", where)) out.max_connections = *v;
    if (auto v = positiveSize(web, "max_unsent_bytes", where)) out.max_unsent_bytes = *v;
    if (auto v = positiveCount(web, "handler_threads", where)) {
      if (*v > kMaxHandlerThreads) {
        const YAML::Node node = child(web, "handler_threads");
        add(lineOf(node), "invalid number \"" + node.Scalar() + "\" for " + keyIn("handler_threads", where) +
                              " (at most " + std::to_string(kMaxHandlerThreads) + ")");
      } else {
        out.handler_threads = *v;
      }
    }
    // More handler threads than connections could never all be busy: say so rather than
    // run fewer than asked.
    if (const YAML::Node node = child(web, "handler_threads"); !node.IsDefined()) {
      out.handler_threads = std::min(out.handler_threads, out.max_connections);  // the default, capped
    } else if (out.handler_threads > out.max_connections) {
      add(lineOf(node),
          fmt::format("{} ({}) is more than {} ({}): a handler thread serves one connection at a time",
                      keyIn("handler_threads", where), out.handler_threads, keyIn("max_connections", where),
                      out.max_connections));
    }
  }

  void readStore(const YAML::Node& store) {
    StoreConfig& out = config_.store;
    out.path = resolvePath(base_dir_, out.path).string();
    if (!store.IsDefined() || !expectMap(store, "\"store\"")) return;
    const std::string where = "store";
    checkKeys(store, kStoreKeys, file_, where, problems_);
    if (child(store, "path").IsDefined()) {
      std::string path = readString(store, "path", file_, where, problems_);
      if (!path.empty()) out.path = resolvePath(base_dir_, path).string();
    }
    if (auto v = readDuration(store, "retention", file_, where, problems_)) out.retention = *v;
    if (auto v = positiveDuration(store, "prune_interval", where)) out.prune_interval = *v;
  }

  void readIngest(const YAML::Node& ingest) {
    if (!ingest.IsDefined() || !expectMap(ingest, "\"ingest\"")) return;
    const std::string where = "ingest";
    checkKeys(ingest, kIngestKeys, file_, where, problems_);
    IngestConfig& out = config_.ingest;
    if (auto v = readDuration(ingest, "max_future_skew", file_, where, problems_)) out.max_future_skew = *v;
    if (auto v = positiveSize(ingest, "max_field_bytes", where)) out.max_field_bytes = *v;
    if (auto v = positiveCount(ingest, "max_delivery_entries", where)) out.max_delivery_entries = *v;
    if (auto v = positiveCount(ingest, "max_queued_messages", where)) out.max_queued_messages = *v;
  }

  // A decimal number in [min, max] (in (min, max] when `above_min`); nullopt (with a
  // problem) when invalid, or when absent.
  std::optional<double> boundedNumber(const YAML::Node& map, const std::string& key, const std::string& where,
                                      double min, double max, const std::string& hint,
                                      bool above_min = false) {
    YAML::Node node = child(map, key);
    if (!node.IsDefined()) return std::nullopt;
    auto text = detail::scalarText(node, key, file_, where, problems_);
    if (!text) return std::nullopt;
    double value = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (text->empty() || ec != std::errc{} || p != text->data() + text->size() ||
        !(above_min ? value > min : value >= min) || !(value <= max)) {
      add(lineOf(node),
          "invalid number \"" + node.Scalar() + "\" for " + keyIn(key, where) + " (" + hint + ")");
      return std::nullopt;
    }
    return value;
  }

  void readVerdict(const YAML::Node& verdict) {
    if (!verdict.IsDefined() || !expectMap(verdict, "\"verdict\"")) return;
    const std::string where = "verdict";
    checkKeys(verdict, kVerdictKeys, file_, where, problems_);
    VerdictConfig& out = config_.verdict;
    out.line = lineOf(verdict);
    if (auto v = positiveDuration(verdict, "window", where)) out.window = *v;
    if (auto v = positiveDuration(verdict, "interval", where)) out.interval = *v;
    if (auto v = positiveCount(verdict, "min_turns", where)) out.min_turns = *v;
    if (auto v =
            boundedNumber(verdict, "max_late_ratio", where, 0.0, 1.0, "use a ratio from 0 to 1, e.g. 0.10")) {
      out.max_late_ratio = *v;
    }
    // Above 0: a share of 0 would argue for in-house with no relay wait at all.
    if (auto v = boundedNumber(verdict, "min_relay_share", where, 0.0, 1.0,
                               "use a ratio above 0 and at most 1, e.g. 0.5", /*above_min=*/true)) {
      out.min_relay_share = *v;
    }
  }

  void readCost(const YAML::Node& cost, const std::string& account_where, CostConfig& out) {
    if (!expectMap(cost, keyIn("cost", account_where))) return;
    const std::string where = "cost of " + account_where;
    checkKeys(cost, kCostKeys, file_, where, problems_);
    constexpr double kMaxAmount = 1e12;
    const std::string hint = "use an amount per month, e.g. 4500";
    out.agency_per_month = boundedNumber(cost, "agency_per_month", where, 0.0, kMaxAmount, hint);
    out.inhouse_per_month = boundedNumber(cost, "inhouse_per_month", where, 0.0, kMaxAmount, hint);
    if (YAML::Node currency = child(cost, "currency"); currency.IsDefined()) {
      if (auto text = detail::scalarText(currency, "currency", file_, where, problems_)) {
        bool valid = text->size() == 3 && std::all_of(text->begin(), text->end(), [](char c) {
                       return std::isupper(static_cast<unsigned char>(c)) != 0;
                     });
        if (valid) {
          out.currency = *text;
        } else {
          add(lineOf(currency), "invalid currency \"" + currency.Scalar() + "\" in " + where +
                                    " (use an ISO 4217 code such as EUR)");
        }
      }
    }
  }

  // Reads the `name` of a list item; `kind` is "account", "handler" or "source".
  // Returns the name ("" when missing or invalid) and sets `where` for messages.
  std::string readName(const YAML::Node& item, const std::string& kind, std::size_t index, std::string& where,
                       std::map<std::string, int>& seen) {
    where = kind + " #" + std::to_string(index + 1);
    YAML::Node node = child(item, "name");
    if (!node.IsDefined()) {
      add(lineOf(item), "missing required key \"name\" in " + where);
      return "";
    }
    auto name = detail::scalarText(node, "name", file_, where, problems_);
    if (!name) return "";
    if (!detail::validName(*name)) {
      add(lineOf(node), "invalid " + kind + " name \"" + node.Scalar() +
                            "\" (use letters, digits, '-', '_' or '.', starting with a letter or digit)");
      return "";
    }
    where = kind + " " + quote(node.Scalar());
    auto [pos, inserted] = seen.emplace(*name, lineOf(node));
    if (!inserted) {
      add(lineOf(node), "duplicate " + kind + " name " + quote(node.Scalar()) + " (first defined on line " +
                            std::to_string(pos->second) + ")");
    }
    return *name;
  }

  void readAccounts(const YAML::Node& root) {
    YAML::Node accounts = child(root, "accounts");
    if (!accounts.IsDefined()) {
      add(0, "at least one account is required (\"accounts\" is missing)");
      return;
    }
    if (!expectList(accounts, "\"accounts\"")) return;
    if (accounts.size() == 0) {
      add(lineOf(accounts), "at least one account is required (\"accounts\" is empty)");
      return;
    }
    std::map<std::string, int> seen;
    std::size_t index = 0;
    for (const auto& item : accounts) {
      readAccount(item, index++, seen);
    }
  }

  void readAccount(const YAML::Node& item, std::size_t index, std::map<std::string, int>& seen) {
    if (!item.IsMap()) {
      add(lineOf(item),
          "account #" + std::to_string(index + 1) + " must be a mapping, not a " + std::string(kindOf(item)));
      return;
    }
    AccountConfig account;
    account.line = lineOf(item);
    std::string where;
    account.name = readName(item, "account", index, where, seen);
    if (std::string label = rawText(child(item, "name"));
        !account.name.empty() &&
        std::find(account_labels_.begin(), account_labels_.end(), label) == account_labels_.end()) {
      account_labels_.push_back(label);
    }
    checkKeys(item, kAccountKeys, file_, where, problems_);

    if (auto v = positiveDuration(item, "threshold", where)) account.threshold = *v;

    if (YAML::Node tz = child(item, "timezone"); tz.IsDefined()) {
      if (auto name = detail::scalarText(tz, "timezone", file_, where, problems_)) {
        if (validTimezone(*name)) {
          account.timezone = *name;
        } else {
          std::string message = "unknown time zone \"" + tz.Scalar() + "\" in " + where;
          std::string suggestion = tz.Scalar() == *name ? suggestTimezone(*name) : "";
          if (!suggestion.empty()) message += "; did you mean \"" + suggestion + "\"?";
          add(lineOf(tz), message + " (use an IANA name such as Europe/Paris)");
        }
      }
    }

    if (YAML::Node hours = child(item, "business_hours"); hours.IsDefined()) {
      readBusinessHours(hours, where, account.timezone, account.business_hours);
    }
    account.ignored_authors = readStringList(item, "ignored_authors", file_, where, problems_);
    account.brand_ids = readStringList(item, "brand_ids", file_, where, problems_);

    if (YAML::Node cost = child(item, "cost"); cost.IsDefined()) readCost(cost, where, account.cost);

    if (YAML::Node count = child(item, "count"); count.IsDefined()) {
      if (auto text = detail::scalarText(count, "count", file_, where, problems_)) {
        if (*text == "all") {
          account.count = CountMode::All;
        } else if (*text == "questions") {
          account.count = CountMode::Questions;
        } else {
          add(lineOf(count),
              "invalid count \"" + count.Scalar() + "\" in " + where + " (use all or questions)");
        }
      }
    }
    config_.accounts.push_back(std::move(account));
  }

  static bool validTimezone(const std::string& name) {
    try {
      return date::locate_zone(name) != nullptr;
    } catch (const std::exception&) {
      return false;
    }
  }

  static std::string suggestTimezone(const std::string& name) {
    try {
      std::vector<std::string> names;
      for (const auto& zone : date::get_tzdb().zones) names.emplace_back(zone.name());
      return detail::closestMatch(name, names);
    } catch (const std::exception&) {
      return "";
    }
  }

  // `timezone`: the account's, the zone of its holiday calendar's dates.
  void readBusinessHours(const YAML::Node& hours, const std::string& account_where,
                         const std::string& timezone, BusinessHours& out) {
    const std::string where = "business_hours of " + account_where;
    if (!expectMap(hours, keyIn("business_hours", account_where))) return;
    std::vector<std::string> allowed = kDayKeys;
    allowed.emplace_back("holidays");
    allowed.emplace_back("holidays_ical");
    checkKeys(hours, allowed, file_, where, problems_);

    for (std::size_t day = 0; day < kDayKeys.size(); ++day) {
      const std::string& day_name = kDayKeys[day];
      YAML::Node node = child(hours, day_name);
      if (!node.IsDefined()) continue;
      std::vector<YAML::Node> items;
      if (node.IsScalar()) {
        items.push_back(node);
      } else if (node.IsSequence()) {
        for (const auto& i : node) items.push_back(i);
      } else {
        add(lineOf(node), keyIn(day_name, where) +
                              " must be a list of time ranges such as \"09:00-18:00\", not a " +
                              std::string(kindOf(node)));
        continue;
      }
      std::vector<std::pair<TimeRange, int>> ranges;
      for (const auto& i : items) {
        auto text = detail::scalarText(i, day_name, file_, where, problems_);
        if (!text) continue;
        auto range = parseTimeRange(*text);
        if (!range) {
          std::string message = fmt::format(
              "invalid time range \"{}\" for {} in {} "
              "(use HH:MM-HH:MM with the end after the start, e.g. 09:00-18:00",
              i.Scalar(), day_name, where);
          auto dash = text->find('-');
          auto a =
              dash == std::string::npos ? std::nullopt : parseTimeRange(text->substr(0, dash) + "-24:00");
          auto b =
              dash == std::string::npos ? std::nullopt : parseTimeRange("00:00-" + text->substr(dash + 1));
          if (a && b) message += "; split a range that crosses midnight over two days";
          add(lineOf(i), message + ")");
          continue;
        }
        ranges.emplace_back(*range, lineOf(i));
      }
      std::sort(ranges.begin(), ranges.end(),
                [](const auto& x, const auto& y) { return x.first.start_minute < y.first.start_minute; });
      // Each range against the one before it that ends last: every overlap is reported.
      std::size_t furthest = 0;
      for (std::size_t k = 0; k < ranges.size(); ++k) {
        if (k > 0 && ranges[k].first.start_minute < ranges[furthest].first.end_minute) {
          const auto& p = ranges[furthest].first;
          const auto& c = ranges[k].first;
          add(ranges[k].second,
              fmt::format("time ranges {}-{} and {}-{} overlap on {} in {}", formatClock(p.start_minute),
                          formatClock(p.end_minute), formatClock(c.start_minute), formatClock(c.end_minute),
                          day_name, where));
        } else {
          out.week[day].push_back(ranges[k].first);
        }
        if (ranges[k].first.end_minute > ranges[furthest].first.end_minute) furthest = k;
      }
    }

    if (YAML::Node holidays = child(hours, "holidays"); holidays.IsDefined()) {
      if (!holidays.IsSequence() && !holidays.IsScalar()) {
        add(lineOf(holidays), keyIn("holidays", where) +
                                  " must be a list of dates such as \"2026-12-25\", not a " +
                                  std::string(kindOf(holidays)));
      } else {
        std::vector<YAML::Node> items;
        if (holidays.IsScalar()) {
          items.push_back(holidays);
        } else {
          for (const auto& i : holidays) items.push_back(i);
        }
        for (const auto& i : items) {
          auto text = detail::scalarText(i, "holidays", file_, where, problems_);
          if (!text) continue;
          if (!validDate(*text)) {
            add(lineOf(i), "invalid holiday date \"" + i.Scalar() + "\" in " + where + " (use YYYY-MM-DD)");
            continue;
          }
          out.holidays.push_back(*text);
        }
      }
    }

    if (YAML::Node ical = child(hours, "holidays_ical"); ical.IsDefined()) {
      std::string path = readString(hours, "holidays_ical", file_, where, problems_);
      if (!path.empty()) {
        auto resolved = resolvePath(base_dir_, path);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(resolved, ec)) {
          add(lineOf(ical),
              "holidays_ical file \"" + resolved.string() + "\" in " + where + " does not exist");
        } else {
          out.holidays_ical_file = resolved.string();
          auto content = detail::readFile(resolved);
          if (!content.ok()) {
            add(lineOf(ical), "cannot read holidays_ical file \"" + resolved.string() + "\" in " + where +
                                  ": " + content.error().message);
          } else {
            auto days = parseIcalHolidays(content.value(), resolved.string(), timezone, problems_);
            out.holidays.insert(out.holidays.end(), days.begin(), days.end());
          }
        }
      }
    }
    std::sort(out.holidays.begin(), out.holidays.end());
    out.holidays.erase(std::unique(out.holidays.begin(), out.holidays.end()), out.holidays.end());
  }

  void readHandlers(const YAML::Node& handlers) {
    if (!handlers.IsDefined() || !expectList(handlers, "\"handlers\"")) return;
    std::map<std::string, int> seen;
    std::size_t index = 0;
    for (const auto& item : handlers) readHandler(item, index++, seen);
  }

  void readHandler(const YAML::Node& item, std::size_t index, std::map<std::string, int>& seen) {
    if (!item.IsMap()) {
      add(lineOf(item),
          "handler #" + std::to_string(index + 1) + " must be a mapping, not a " + std::string(kindOf(item)));
      return;
    }
    HandlerConfig handler;
    handler.line = lineOf(item);
    std::string where;
    handler.name = readName(item, "handler", index, where, seen);
    if (handler.name == "unknown") {
      add(lineOf(child(item, "name")), "handler name \"unknown\" is reserved for replies no handler matches");
    }
    checkKeys(item, kHandlerKeys, file_, where, problems_);

    if (YAML::Node route = child(item, "route"); !route.IsDefined()) {
      add(handler.line, "missing required key \"route\" in " + where + " (use internal or agency)");
    } else if (auto text = detail::scalarText(route, "route", file_, where, problems_)) {
      auto parsed = parseRoute(*text);
      if (!parsed || *parsed == Route::Unknown) {
        add(lineOf(route),
            "invalid route \"" + route.Scalar() + "\" in " + where + " (use internal or agency)");
      } else {
        handler.route = *parsed;
      }
    }

    YAML::Node match = child(item, "match");
    if (!match.IsDefined()) {
      add(handler.line, "missing required key \"match\" in " + where + " (give responder_ids and/or text)");
    } else if (expectMap(match, keyIn("match", where))) {
      const std::string match_where = "match of " + where;
      checkKeys(match, kMatchKeys, file_, match_where, problems_);
      handler.responder_ids = readStringList(match, "responder_ids", file_, match_where, problems_);
      if (YAML::Node text = child(match, "text"); text.IsDefined()) {
        if (auto pattern = detail::scalarText(text, "text", file_, match_where, problems_)) {
          RE2 re(*pattern, RE2::Quiet);
          if (!re.ok()) {
            // RE2's own message quotes the pattern; it is only used when the pattern is
            // the raw text, so an expanded ${ENV} value never reaches the message.
            std::string reason = *pattern == text.Scalar() ? re.error() : regexErrorText(re.error_code());
            add(lineOf(text),
                "invalid regular expression \"" + text.Scalar() + "\" in " + match_where + ": " + reason);
          } else {
            handler.text_pattern = *pattern;
          }
        }
      }
      if (!child(match, "responder_ids").IsDefined() && !child(match, "text").IsDefined()) {
        add(lineOf(match), match_where + " needs responder_ids, text or both");
      }
    }

    if (YAML::Node accounts_node = child(item, "accounts"); accounts_node.IsDefined()) {
      handler.accounts = readStringList(item, "accounts", file_, where, problems_);
      std::vector<YAML::Node> items;
      if (accounts_node.IsScalar()) {
        items.push_back(accounts_node);
      } else if (accounts_node.IsSequence()) {
        for (const auto& i : accounts_node) items.push_back(i);
      }
      for (const auto& i : items) {
        if (!i.IsScalar()) continue;
        std::vector<std::string> missing;
        std::string account = expandEnv(i.Scalar(), missing);
        if (missing.empty() && config_.account(account) == nullptr) {
          add(lineOf(i), where + " refers to unknown account " + quote(i.Scalar()) + knownAccounts());
        }
      }
    }
    config_.handlers.push_back(std::move(handler));
  }

  // The configured account names as written in the file, for messages.
  std::string knownAccounts() const {
    if (account_labels_.empty()) return "";
    return " (accounts: " + joined(account_labels_) + ")";
  }

  void readSources(const YAML::Node& sources) {
    if (!sources.IsDefined() || !expectList(sources, "\"sources\"")) return;
    std::map<std::string, int> seen;
    std::size_t index = 0;
    for (const auto& item : sources) readSource(item, index++, seen);
  }

  void readSource(const YAML::Node& item, std::size_t index, std::map<std::string, int>& seen) {
    if (!item.IsMap()) {
      add(lineOf(item),
          "source #" + std::to_string(index + 1) + " must be a mapping, not a " + std::string(kindOf(item)));
      return;
    }
    SourceConfig source;
    source.line = lineOf(item);
    source.file = file_;
    source.base_dir = base_dir_;
    source.settings = item;
    std::string where;
    source.name = readName(item, "source", index, where, seen);
    requireKeys(item, {"type", "account", "channel"}, file_, where, problems_);
    std::size_t before = problems_.size();
    source.type = readString(item, "type", file_, where, problems_);
    source.account = readString(item, "account", file_, where, problems_);
    source.channel = readString(item, "channel", file_, where, problems_);
    bool common_ok = problems_.size() == before;
    if (auto v = positiveCount(item, "max_delivery_entries", where)) source.max_delivery_entries = *v;

    if (YAML::Node channel = child(item, "channel");
        !source.channel.empty() && !detail::validName(source.channel)) {
      add(lineOf(channel),
          "invalid channel \"" + channel.Scalar() + "\" in " + where +
              " (use a label such as facebook, instagram, x, mastodon, discourse or export)");
      common_ok = false;
    }
    if (!source.account.empty() && config_.account(source.account) == nullptr) {
      add(lineOf(child(item, "account")),
          where + " refers to unknown account " + quote(rawText(child(item, "account"))) + knownAccounts());
    }

    if (!source.type.empty()) {
      if (!types_) {
        // No registry given: every type is accepted as is.
      } else {
        SourceTypeInfo info;
        try {
          info = types_(source.type);
        } catch (const std::exception& e) {
          add(lineOf(child(item, "type")),
              "cannot look up source type " + quote(rawText(child(item, "type"))) + ": " + e.what());
          info.known = false;
        }
        source.carries_messages = info.carries_messages;
        if (!info.known) {
          std::string message = "unknown source type " + quote(rawText(child(item, "type"))) + " in " + where;
          if (!info.known_types.empty()) {
            std::string suggestion = rawText(child(item, "type")) == source.type
                                         ? detail::closestMatch(source.type, info.known_types)
                                         : "";
            if (!suggestion.empty()) message += "; did you mean " + quote(suggestion) + "?";
            message += " (known: " + joined(info.known_types) + ")";
          }
          add(lineOf(child(item, "type")), message);
        } else if (info.validate && common_ok && !source.name.empty()) {
          try {
            info.validate(source, problems_);
          } catch (const YAML::Exception& e) {
            add(e.mark.line >= 0 ? e.mark.line + 1 : source.line,
                "invalid settings in " + where + ": " + e.msg);
          } catch (const std::exception& e) {
            add(source.line, "invalid settings in " + where + ": " + e.what());
          }
        }
      }
    }
    config_.sources.push_back(std::move(source));
  }

  std::string file_;
  std::filesystem::path base_dir_;
  const SourceTypeLookup& types_;
  std::vector<Problem> problems_;
  std::vector<std::string> account_labels_;
  Config config_;
};

std::filesystem::path absoluteDir(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::path dir = file.parent_path();
  if (dir.empty()) {
    dir = std::filesystem::current_path(ec);
    if (ec) return {};
    return dir;
  }
  auto abs = std::filesystem::absolute(dir, ec);
  return ec ? dir : abs.lexically_normal();
}

}  // namespace

Config load(const std::filesystem::path& file, const SourceTypeLookup& types) {
  auto content = detail::readFile(file);
  if (!content.ok()) {
    throw ConfigError(
        {Problem{file.string(), 0, "cannot read the configuration file: " + content.error().message}});
  }
  return loadString(content.value(), file.string(), types);
}

Config loadString(const std::string& yaml, const std::string& file_name, const SourceTypeLookup& types) {
  Loader loader(file_name, absoluteDir(std::filesystem::path(file_name)), types);
  return loader.run(yaml);
}

}  // namespace replywatch::config
