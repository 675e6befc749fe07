#include "connectors/export/export_connector.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <limits>
#include <memory>
#include <system_error>

#include "connectors/common/hmac.h"
#include "connectors/common/limits.h"
#include "daemon/core/http_fields.h"
#include "daemon/core/log.h"

namespace replywatch::connectors::exportfmt {
namespace fs = std::filesystem;
namespace {

// Rejected records logged one by one per file / body; further ones are only counted.
constexpr std::uint64_t kMaxLoggedRejections = 100;

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Files a writer has not finished yet (or does not want imported).
bool ignoredSpoolName(const std::string& name) {
  return name.empty() || name[0] == '.' || endsWith(name, ".tmp") || endsWith(name, ".part");
}

// Moves `file` into `dir`, keeping its name (with a numeric suffix when taken).
Result<fs::path> moveInto(const fs::path& file, const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError("io", fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  fs::path dest = dir / file.filename();
  for (int n = 1; fs::exists(dest, ec) && n < 10000; ++n) {
    dest = dir / (file.stem().string() + "." + std::to_string(n) + file.extension().string());
  }
  fs::rename(file, dest, ec);
  if (ec == std::errc::cross_device_link) {
    ec.clear();
    fs::copy_file(file, dest, fs::copy_options::none, ec);
    if (!ec) fs::remove(file, ec);
  }
  if (ec)
    return makeError("io",
                     fmt::format("cannot move {} to {}: {}", file.string(), dir.string(), ec.message()));
  return dest;
}

// Guesses the format from the first non-blank byte: '{' or '[' is JSON, anything else CSV.
Format sniffFormat(const char* data, std::size_t size) {
  std::size_t i = 0;
  if (size >= 3 && std::string_view(data, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) ++i;
  if (i < size && (data[i] == '{' || data[i] == '[')) return Format::Jsonl;
  return Format::Csv;
}

std::string urlPath(std::string_view url) {
  auto cut = url.find_first_of("?#");
  return std::string(url.substr(0, cut));
}

// What a first pass over an input found, before anything of it is stored.
struct Precheck {
  std::uint64_t records = 0;     // records read, good and bad (at most `limit` + 1)
  std::optional<Error> failure;  // the reader failed (reason kUnreadableReason or "io")
};

// Reads `input` without storing or reporting anything: its records are counted, up to
// one more than `limit`, and a failure of the reader before that is returned. Memory
// stays that of one Reader (a file is read in chunks).
Precheck precheck(Input input, Format format, const MessageValidator& validator,
                  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max()) {
  Precheck result;
  Reader reader(std::move(input), format, validator);
  if (auto started = reader.start(); !started) {
    result.failure = started.error();
    return result;
  }
  Message ignored;
  for (auto status = Reader::Status::Message; reader.records() <= limit && status != Reader::Status::End;) {
    status = reader.next(ignored);
    if (status == Reader::Status::Failed) {
      result.failure = reader.failure();
      break;
    }
  }
  result.records = reader.records();
  return result;
}

}  // namespace

// -------------------------------------------------------------------------- settings

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::kCommonSourceKeys;
    for (const char* own : {"format", "spool_dir", "processed_dir", "quarantine_dir", "poll_interval", "url",
                            "token", "token_file", "timeout", "webhook_secret", "webhook_secret_file"}) {
      k.emplace_back(own);
    }
    return k;
  }();
  return keys;
}

Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  Settings s;
  const YAML::Node map = source.settings;
  if (!map || !map.IsMap()) return s;
  const std::string& file = source.file;
  const std::string where = fmt::format("source \"{}\"", source.name);
  const fs::path base = source.base_dir.empty() ? fs::path(file).parent_path() : source.base_dir;
  auto node = [&](const char* key) -> YAML::Node {
    const YAML::Node n = map[key];
    return n && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Undefined);
  };
  auto problem = [&](const YAML::Node& at, std::string message) {
    int line = at.IsDefined() ? config::lineOf(at) : 0;
    problems.push_back(config::Problem{file, line != 0 ? line : source.line, std::move(message)});
  };
  auto path = [&](const char* key) -> fs::path {
    return config::resolvePath(base, config::readString(map, key, file, where, problems));
  };
  auto duration = [&](const char* key, std::chrono::seconds fallback) {
    auto d = config::readDuration(map, key, file, where, problems);
    if (!d) return fallback;
    if (d->count() <= 0) {
      problem(node(key), fmt::format("{} in {} must be longer than zero", key, where));
      return fallback;
    }
    return *d;
  };

  config::checkKeys(map, allowedKeys(), file, where, problems);

  if (node("format").IsDefined()) {
    const std::string f = config::readString(map, "format", file, where, problems);
    if (f == "jsonl") {
      s.format = Format::Jsonl;
    } else if (f == "csv") {
      s.format = Format::Csv;
    } else {
      problem(node("format"), fmt::format("format in {} must be \"jsonl\" or \"csv\"", where));
    }
  }
  s.spool_dir = path("spool_dir");
  s.processed_dir = path("processed_dir");
  s.quarantine_dir = path("quarantine_dir");
  if (s.spool_dir.empty()) {
    for (const char* key : {"processed_dir", "quarantine_dir"}) {
      if (node(key).IsDefined()) problem(node(key), fmt::format("{} in {} needs spool_dir", key, where));
    }
  } else {
    if (s.processed_dir.empty()) s.processed_dir = s.spool_dir / "processed";
    if (s.quarantine_dir.empty()) s.quarantine_dir = s.spool_dir / "quarantine";
  }
  s.poll_interval = duration("poll_interval", s.poll_interval);
  s.timeout = duration("timeout", s.timeout);
  s.url = config::readString(map, "url", file, where, problems);
  if (!s.url.empty()) {
    if (!startsWithIgnoreCase(s.url, "http://") && !startsWithIgnoreCase(s.url, "https://")) {
      problem(node("url"), fmt::format("url in {} must start with http:// or https://", where));
    } else if (s.url.find_first_of(" \t\r\n") != std::string::npos) {
      problem(node("url"), fmt::format("url in {} must not contain spaces", where));
    }
  }
  s.token = config::readSecret(map, "token", file, base, problems);
  if (s.url.empty() && (node("token").IsDefined() || node("token_file").IsDefined())) {
    problem(node("token").IsDefined() ? node("token") : node("token_file"),
            fmt::format("token in {} is only used with url", where));
  }
  s.webhook_secret = config::readSecret(map, "webhook_secret", file, base, problems);
  return s;
}

void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  (void)parseSettings(source, problems);
}

std::unique_ptr<Connector> create(const ConnectorContext& context) {
  std::vector<config::Problem> ignored;  // reported by validate() at load time
  return std::make_unique<ExportConnector>(context, parseSettings(context.source, ignored));
}

// ------------------------------------------------------------------------- connector

struct ExportConnector::Delivery {
  ImportStats stats;
  IngestOutcome outcome;
  std::optional<RecordProblem> first_problem;
  std::optional<Error> error;  // "store" or "io"
};

ExportConnector::ExportConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context), settings_(std::move(settings)), validator_(context.config.ingest, context.clock) {
  if (!settings_.url.empty()) {
    HttpClientOptions options;
    options.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings_.timeout);
    options.connect_timeout = std::min(options.connect_timeout, options.total_timeout);
    http_ = std::make_unique<HttpClient>(options);
  }
}

ExportConnector::~ExportConnector() = default;

void ExportConnector::setHttpOptions(const HttpClientOptions& options) {
  http_ = std::make_unique<HttpClient>(options);
}

bool ExportConnector::polls() const { return !settings_.spool_dir.empty() || !settings_.url.empty(); }

ExportConnector::Delivery ExportConnector::deliver(Reader& reader, const std::string& origin,
                                                   std::optional<std::string> cursor,
                                                   const ProgressFn& progress) {
  Delivery d;
  // Grows as needed: a webhook body usually holds a message or a few, and reserving a
  // whole batch for each would cost more than the growth.
  std::vector<Message> batch;
  std::uint64_t logged = 0;

  auto flush = [&](bool last) {
    if (batch.empty() && !(last && cursor)) return true;
    const std::size_t n = batch.size();
    auto r = ctx_.sink.ingest(ctx_.source, std::move(batch), last ? std::move(cursor) : std::nullopt);
    batch = {};
    if (!r) {
      // A refusal for load keeps its reason: the webhook answers it without marking the
      // source down; any other failure is a store error (files are retried later).
      d.error = isSinkBusy(r.error()) ? r.error() : makeError("store", r.error().message);
      if (!isSinkBusy(r.error())) {
        ctx_.health.addError(ErrorReason::Store);
        spdlog::error("export batch not stored source={} origin={} messages={} error={}",
                      logValue(ctx_.source.name), logValue(origin), n, logValue(r.error().message));
      }
      return false;
    }
    d.outcome.received += r->received;
    d.outcome.stored += r->stored;
    d.outcome.duplicates += r->duplicates;
    d.stats.stored += r->stored;
    d.stats.duplicates += r->duplicates;
    ctx_.health.addEvents(r->stored);
    if (progress) progress(reader.bytesDone(), reader.bytesTotal());
    return true;
  };

  Message m;
  for (bool more = true; more;) {
    switch (reader.next(m)) {
      case Reader::Status::Message:
        batch.push_back(std::move(m));
        m = Message{};
        if (batch.size() >= kBatchSize && !flush(false)) {
          d.stats.records = reader.records();
          return d;
        }
        break;
      case Reader::Status::Rejected: {
        const auto& p = reader.problem();
        ++d.stats.rejected;
        ctx_.health.addError(p.rejection.reason);
        if (!d.first_problem) d.first_problem = p;
        if (logged < kMaxLoggedRejections) {
          spdlog::warn("export record rejected source={} file={} line={} reason={} error={}",
                       logValue(ctx_.source.name), logValue(origin), p.line, toString(p.rejection.reason),
                       logValue(p.rejection.message));
        } else if (logged == kMaxLoggedRejections) {
          spdlog::warn("export records rejected, further ones only counted source={} file={}",
                       logValue(ctx_.source.name), logValue(origin));
        }
        ++logged;
        break;
      }
      case Reader::Status::Failed:
        d.stats.records = reader.records();
        d.error = reader.failure();
        return d;
      case Reader::Status::End: more = false; break;
    }
  }
  d.stats.records = reader.records();
  if (!flush(true)) return d;
  if (logged > kMaxLoggedRejections) {
    spdlog::warn("export records rejected source={} file={} rejected={}", logValue(ctx_.source.name),
                 logValue(origin), logged);
  }
  if (progress) progress(reader.bytesDone(), reader.bytesTotal());
  return d;
}

bool ExportConnector::readAll(Reader& reader, const std::string& origin, std::vector<Message>& messages,
                              Delivery& d) {
  std::uint64_t logged = 0;
  Message m;
  for (;;) {
    switch (reader.next(m)) {
      case Reader::Status::Message:
        messages.push_back(std::move(m));
        m = Message{};
        break;
      case Reader::Status::Rejected: {
        const auto& p = reader.problem();
        ++d.stats.rejected;
        ctx_.health.addError(p.rejection.reason);
        if (!d.first_problem) d.first_problem = p;
        if (logged < kMaxLoggedRejections) {
          spdlog::warn("export record rejected source={} file={} line={} reason={} error={}",
                       logValue(ctx_.source.name), logValue(origin), p.line, toString(p.rejection.reason),
                       logValue(p.rejection.message));
        } else if (logged == kMaxLoggedRejections) {
          spdlog::warn("export records rejected, further ones only counted source={} file={}",
                       logValue(ctx_.source.name), logValue(origin));
        }
        ++logged;
        break;
      }
      case Reader::Status::Failed:
        d.stats.records = reader.records();
        d.error = reader.failure();
        return false;
      case Reader::Status::End: d.stats.records = reader.records(); return true;
    }
  }
}

Result<ImportStats> ExportConnector::importFile(const fs::path& path, const ProgressFn& progress) {
  // `replywatch import` gives up a file that fails part way itself (its bulk load).
  return importPath(path, progress, false);
}

Result<ImportStats> ExportConnector::importPath(const fs::path& path, const ProgressFn& progress,
                                                bool check_first) {
  const std::string origin = path.string();
  auto fail = [&](const Error& e) -> Result<ImportStats> {
    ctx_.health.addError(ErrorReason::BadFile);
    spdlog::error("export file rejected source={} file={} error={}", logValue(ctx_.source.name),
                  logValue(origin), logValue(e.message));
    return makeError("bad_file", e.message);
  };
  auto input = Input::openFile(path);
  if (!input) return fail(input.error());
  std::optional<Format> format = settings_.format;
  if (!format) format = formatFromPath(origin);
  if (!format) {
    auto more = input->fill();
    if (!more && !input->eof()) return fail(more.error());
    format = sniffFormat(input->data(), input->size());
  }
  Reader reader(std::move(*input), *format, validator_);
  if (auto started = reader.start(); !started) return fail(started.error());
  if (check_first) {
    // Taken or refused whole: a file that cannot be read to its end stores nothing.
    auto again = Input::openFile(path);
    if (!again) return fail(again.error());
    if (auto checked = precheck(std::move(*again), *format, validator_); checked.failure) {
      return fail(*checked.failure);
    }
  }
  Delivery d = deliver(reader, origin, std::nullopt, progress);
  if (d.error) {
    if (d.error->reason == "store" || isSinkBusy(*d.error)) return *d.error;
    return fail(*d.error);
  }
  ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::info("export file imported source={} file={} records={} stored={} duplicates={} rejected={}",
               logValue(ctx_.source.name), logValue(origin), d.stats.records, d.stats.stored,
               d.stats.duplicates, d.stats.rejected);
  return d.stats;
}

SpoolScan ExportConnector::scanSpool(std::stop_token stop) {
  SpoolScan scan;
  if (settings_.spool_dir.empty()) return scan;
  std::error_code ec;
  fs::create_directories(settings_.spool_dir, ec);
  std::vector<fs::path> files;
  ec.clear();
  for (fs::directory_iterator it(settings_.spool_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (ignoredSpoolName(name)) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || type_ec) continue;
    files.push_back(it->path());
  }
  if (ec) {
    ctx_.health.addError(ErrorReason::Io);
    ctx_.health.markDown();
    spdlog::error("cannot read spool directory source={} dir={} error={}", logValue(ctx_.source.name),
                  logValue(settings_.spool_dir.string()), logValue(ec.message()));
    scan.ok = false;
    return scan;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    if (stop.stop_requested()) break;
    auto imported = importPath(file, {}, true);
    if (imported) {
      auto moved = moveInto(file, settings_.processed_dir);
      if (!moved) {
        ctx_.health.addError(ErrorReason::Io);
        spdlog::error("cannot move imported spool file source={} file={} error={}",
                      logValue(ctx_.source.name), logValue(file.string()), logValue(moved.error().message));
        scan.ok = false;
        continue;
      }
      ++scan.imported;
      continue;
    }
    if (imported.error().reason == "store" || isSinkBusy(imported.error())) {
      // The store refused: keep the file and try it again next scan.
      ++scan.retried;
      scan.ok = false;
      spdlog::warn("spool file kept for retry source={} file={} error={}", logValue(ctx_.source.name),
                   logValue(file.string()), logValue(imported.error().message));
      break;
    }
    auto moved = moveInto(file, settings_.quarantine_dir);
    if (!moved) {
      ctx_.health.addError(ErrorReason::Io);
      spdlog::error("cannot quarantine spool file source={} file={} error={}", logValue(ctx_.source.name),
                    logValue(file.string()), logValue(moved.error().message));
      scan.ok = false;
      continue;
    }
    ++scan.quarantined;
    spdlog::error("spool file quarantined source={} file={} to={} error={}", logValue(ctx_.source.name),
                  logValue(file.string()), logValue(moved->string()), logValue(imported.error().message));
  }
  if (!scan.ok) {
    ctx_.health.markDown();
  } else if (!cycle_success_deferred_) {
    ctx_.health.markSuccess(ctx_.clock.now());
  }
  return scan;
}

bool ExportConnector::loadCursor() {
  if (cursor_loaded_) return true;
  auto cursor = ctx_.sink.cursor(ctx_.source.name);
  if (!cursor) {
    ctx_.health.addError(ErrorReason::Store);
    spdlog::error("cannot read source cursor source={} error={}", logValue(ctx_.source.name),
                  logValue(cursor.error().message));
    return false;
  }
  if (cursor.value()) {
    auto j = parseJsonOrNull(**cursor);
    if (j.is_object()) {
      etag_ = j.value("etag", std::string{});
      last_modified_ = j.value("last_modified", std::string{});
    }
  }
  cursor_loaded_ = true;
  return true;
}

PollResult ExportConnector::pollUrl(std::stop_token stop) {
  PollResult result;
  if (settings_.url.empty() || !http_) return result;
  if (!loadCursor()) {
    ctx_.health.markDown();
    return result;
  }
  HttpRequest request;
  request.url = settings_.url;
  request.bearer_token = settings_.token;
  request.etag = etag_;
  request.last_modified = last_modified_;
  request.headers.emplace_back("Accept", "application/x-ndjson, application/json, text/csv;q=0.9, */*;q=0.5");
  const std::string where = redactUrl(settings_.url);

  auto response = http_->get(request, stop);
  if (!response) {
    if (response.error().reason == kHttpCancelled) return result;
    ctx_.health.addError(errorReasonOf(response.error()));
    ctx_.health.markDown();
    spdlog::warn("export poll failed source={} url={} error={}", logValue(ctx_.source.name), logValue(where),
                 logValue(response.error().message));
    return result;
  }
  if (response->not_modified) {
    result.ok = true;
    result.not_modified = true;
    if (!cycle_success_deferred_) ctx_.health.markSuccess(ctx_.clock.now());
    return result;
  }

  std::optional<Format> format = settings_.format;
  if (!format) format = formatFromPath(urlPath(settings_.url));
  if (!format) {
    auto type = response->header("Content-Type").value_or("");
    format = type.find("csv") != std::string_view::npos
                 ? Format::Csv
                 : sniffFormat(response->body.data(), response->body.size());
  }
  std::optional<std::string> cursor;
  if (!response->etag.empty() || !response->last_modified.empty()) {
    nlohmann::json j;
    j["etag"] = response->etag;
    j["last_modified"] = response->last_modified;
    cursor = j.dump();
  }

  Reader reader(Input::fromMemory(response->body), *format, validator_);
  if (auto started = reader.start(); !started) {
    ctx_.health.addError(ErrorReason::BadFile);
    ctx_.health.markDown();
    spdlog::error("export poll body rejected source={} url={} error={}", logValue(ctx_.source.name),
                  logValue(where), logValue(started.error().message));
    return result;
  }
  // Taken or refused whole: a body that cannot be read to its end stores nothing, and
  // is fetched again at the next poll.
  if (auto checked = precheck(Input::fromMemory(response->body), *format, validator_); checked.failure) {
    ctx_.health.addError(ErrorReason::BadFile);
    ctx_.health.markDown();
    spdlog::error("export poll body rejected source={} url={} error={}", logValue(ctx_.source.name),
                  logValue(where), logValue(checked.failure->message));
    return result;
  }
  Delivery d = deliver(reader, where, cursor, {});
  result.stats = d.stats;
  if (d.error) {
    if (d.error->reason != "store" && !isSinkBusy(*d.error)) {
      // Checked above; a failure still seen here is one the first pass did not meet.
      ctx_.health.addError(ErrorReason::BadFile);
      spdlog::error("export poll body rejected source={} url={} error={}", logValue(ctx_.source.name),
                    logValue(where), logValue(d.error->message));
    }
    ctx_.health.markDown();
    return result;
  }
  etag_ = response->etag;
  last_modified_ = response->last_modified;
  result.ok = true;
  if (!cycle_success_deferred_) ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::info("export poll imported source={} url={} records={} stored={} duplicates={} rejected={}",
               logValue(ctx_.source.name), logValue(where), d.stats.records, d.stats.stored,
               d.stats.duplicates, d.stats.rejected);
  return result;
}

void ExportConnector::pollOnce(std::stop_token stop) {
  const bool spool = !settings_.spool_dir.empty();
  const bool url = !settings_.url.empty();
  cycle_success_deferred_ = spool && url;
  const bool scanned = !spool || scanSpool(stop).ok;
  const bool polled = !url || stop.stop_requested() || pollUrl(stop).ok;
  if (cycle_success_deferred_ && scanned && polled && !stop.stop_requested()) {
    ctx_.health.markSuccess(ctx_.clock.now());
  }
  cycle_success_deferred_ = false;
}

void ExportConnector::run(std::stop_token stop) {
  spdlog::info("export source running source={} spool_dir={} url={} poll_interval={}s",
               logValue(ctx_.source.name), logValue(settings_.spool_dir.string()),
               logValue(redactUrl(settings_.url)), settings_.poll_interval.count());
  while (!stop.stop_requested()) {
    pollOnce(stop);
    if (!sleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(settings_.poll_interval), stop))
      break;
  }
}

WebhookResponse ExportConnector::handleWebhook(const WebhookRequest& request) {
  // Shared with the reply: the sink may still be inside the callback when this returns.
  auto answer = std::make_shared<std::promise<WebhookResponse>>();
  auto future = answer->get_future();
  handleWebhookAsync(request, [answer](WebhookResponse r) { answer->set_value(std::move(r)); });
  return future.get();
}

void ExportConnector::handleWebhookAsync(WebhookRequest request, WebhookReply reply) {
  if (request.method != "POST") {
    reply(methodNotAllowed("POST"));
    return;
  }
  if (settings_.webhook_secret.empty()) {
    reply(
        WebhookResponse::error(404, "webhooks are disabled for this source (no webhook_secret configured)"));
    return;
  }
  // The signature covers the raw bytes and is checked before anything is parsed.
  auto signature = request.header(kSignatureHeader);
  if (!signature || !verifySha256Signature(settings_.webhook_secret.reveal(), request.body, *signature)) {
    ctx_.health.addError(ErrorReason::Signature);
    spdlog::warn("webhook signature rejected source={} remote={} signature={}", logValue(ctx_.source.name),
                 logValue(request.remote), signature ? "wrong" : "missing");
    reply(WebhookResponse::error(401, "invalid signature"));
    return;
  }

  const auto content_type = request.header("Content-Type").value_or("");
  const Format format = content_type.find("csv") != std::string_view::npos ? Format::Csv : Format::Jsonl;
  const std::string origin = "webhook";
  Reader reader(Input::fromMemory(request.body), format, validator_);
  if (auto started = reader.start(); !started) {
    ctx_.health.addError(ErrorReason::BadRequest);
    reply(WebhookResponse::error(400, started.error().message));
    return;
  }
  // A delivery is taken or refused whole: its records are counted (good and bad) before
  // any is stored, and its messages go to the sink in one batch.
  const std::size_t limit = maxDeliveryEntries(ctx_.config, ctx_.source);
  if (precheck(Input::fromMemory(request.body), format, validator_, limit).records > limit) {
    reply(refuseDelivery(tooManyEntries(limit, "records"), ctx_.source, ctx_.health, request.remote));
    return;
  }
  std::vector<Message> messages;
  Delivery d;
  if (!readAll(reader, origin, messages, d)) {
    if (d.error && d.error->reason == kUnreadableReason) {
      // Taken or refused whole: records before the error are not stored either.
      ctx_.health.addError(ErrorReason::BadRequest);
      reply(WebhookResponse::error(400, d.error->message));
      return;
    }
    ctx_.health.markDown();
    reply(retryLater("the messages"));
    return;
  }
  if (messages.empty()) {
    if (d.first_problem) {
      reply(WebhookResponse::error(
          400, fmt::format("line {}: {}", d.first_problem->line, d.first_problem->rejection.message)));
      return;
    }
    ctx_.health.addError(ErrorReason::BadRequest);
    reply(WebhookResponse::error(400, "the body holds no message"));
    return;
  }
  const std::size_t n = messages.size();
  ctx_.sink.ingestAsync(
      ctx_.source, std::move(messages), std::nullopt,
      [this, n, rejected = d.stats.rejected, reply = std::move(reply)](Result<IngestOutcome> r) {
        if (!r) {
          // A refusal for load keeps the source's health alone; any other failure is a
          // store error.
          if (!isSinkBusy(r.error())) {
            ctx_.health.addError(ErrorReason::Store);
            spdlog::error("export batch not stored source={} origin=webhook messages={} error={}",
                          logValue(ctx_.source.name), n, logValue(r.error().message));
            ctx_.health.markDown();
          }
          reply(retryLater("the messages"));
          return;
        }
        ctx_.health.addEvents(r->stored);
        ctx_.health.markSuccess(ctx_.clock.now());
        // WebhookResponse::accepted's body plus "rejected", written directly (keys in the
        // order nlohmann::json gives them).
        WebhookResponse answer;
        answer.status = 200;
        answer.body =
            fmt::format(R"({{"duplicates":{},"received":{},"rejected":{},"status":"ok","stored":{}}})",
                        r->duplicates, r->received, rejected, r->stored);
        reply(std::move(answer));
      });
}

}  // namespace replywatch::connectors::exportfmt
