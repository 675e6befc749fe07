#include "daemon/app/cli.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "connectors/registry.h"
#include "daemon/app/application.h"
#include "daemon/app/new_store_load.h"
#include "daemon/app/pipeline.h"
#include "daemon/app/questions.h"
#include "daemon/app/turn_facts.h"
#include "daemon/core/log.h"
#include "daemon/core/timestamp.h"
#include "daemon/http/web_config.h"
#include "daemon/simulate/command.h"
#include "daemon/store/store.h"
#include "daemon/store/store_file_builder.h"
#include "daemon/verdict/evaluator.h"
#include "daemon/verdict/report.h"
#include "replywatch/version.h"

namespace replywatch::app {
namespace {

// `import`: every file was read, but one had records and none of them was accepted.
constexpr int kExitNothingAccepted = 3;

struct GlobalOptions {
  std::string log_level = "info";
  std::string log_format = "logfmt";
};

// Loads the configuration; on problems prints each as "file:line: message" on stderr
// and returns nullopt.
std::optional<config::Config> loadConfig(const std::string& path) {
  try {
    return config::load(path, connectors::sourceTypeInfo);
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) std::cerr << p.str() << '\n';
    std::cerr << fmt::format("{}: {} problem{} found\n", path, e.problems().size(),
                             e.problems().size() == 1 ? "" : "s");
    return std::nullopt;
  }
}

// Draws "[#####.....]  45%  120000 messages" on a terminal; nothing otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(const std::string& file, std::uint64_t done, std::uint64_t total) {
    if (!enabled_ || total == 0) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds{100}) return;
    last_ = now;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%%", file.c_str(), bar.c_str(),
                 static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)));
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

// The summary line of an imported file; records and none taken set `nothing_accepted`.
void reportImported(const std::string& path, const config::SourceConfig& source,
                    const connectors::ImportStats& stats, std::chrono::steady_clock::time_point start,
                    bool& nothing_accepted) {
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << fmt::format(
      "imported file={} source={} records={} stored={} duplicates={} rejected={} seconds={:.2f} "
      "messages_per_second={:.0f}\n",
      logValue(path), source.name, stats.records, stats.stored, stats.duplicates, stats.rejected, seconds,
      seconds > 0 ? static_cast<double>(stats.records) / seconds : 0.0);
  if (stats.records > 0 && stats.stored + stats.duplicates == 0) {
    // Read to its end, yet nothing of it taken: the wrong format, separator or clock.
    std::cerr << fmt::format("{}: none of its {} record{} was accepted (see the rejections above)\n", path,
                             stats.records, stats.records == 1 ? "" : "s");
    nothing_accepted = true;
  }
}

// Into a store that does not exist yet: the file read into memory, then written as the
// store file (NewStoreLoad). Returns false when nothing of it was stored.
bool importIntoNewStore(const config::Config& cfg, const config::SourceConfig& source,
                        const connectors::ConnectorType& type, const std::string& path, ProgressBar& bar,
                        bool& nothing_accepted) {
  const auto start = std::chrono::steady_clock::now();
  SystemClock clock;
  SourceHealth health;
  NewStoreLoad load(cfg);
  auto connector = type.create(connectors::ConnectorContext{source, cfg, clock, health, load});
  auto stats = connector->importFile(
      path, [&](std::uint64_t done, std::uint64_t total) { bar.update(path, done, total); });
  if (!stats) {
    std::cerr << fmt::format("{}: {} (nothing of the file was stored)\n", path, stats.error().message);
    return false;
  }
  auto built = load.build(cfg.store.path);
  if (!built) {
    std::cerr << fmt::format("{}: {} (nothing of the file was stored)\n", path, built.error().message);
    return false;
  }
  // The connector counted every message it gave as stored.
  stats->stored -= built->duplicates;
  stats->duplicates += built->duplicates;
  spdlog::info("store file written path={} messages={} turns={}", logValue(cfg.store.path), built->messages,
               built->turns);
  reportImported(path, source, *stats, start, nothing_accepted);
  return true;
}

int runImport(const config::Config& cfg, const std::string& source_name,
              const std::vector<std::string>& paths, bool durable_batches, bool batches) {
  const auto* source = cfg.source(source_name);
  if (source == nullptr) {
    std::cerr << fmt::format("unknown source \"{}\" (configured: ", source_name);
    for (std::size_t i = 0; i < cfg.sources.size(); ++i) std::cerr << (i ? ", " : "") << cfg.sources[i].name;
    std::cerr << ")\n";
    return 2;
  }
  const auto* type = connectors::findConnectorType(source->type);
  ProgressBar bar(isatty(STDERR_FILENO) != 0);
  int exit_code = 0;
  bool nothing_accepted = false;  // a file had records and every one was refused
  auto finish = [&] { return exit_code == 0 && nothing_accepted ? kExitNothingAccepted : exit_code; };
  std::size_t first = 0;  // the first file imported through the pipeline
  // Into a store that does not exist yet, the first file is written as the store file,
  // without SQLite's row-by-row inserts. Not with --batches (memory bounded) or
  // --durable-batches (each batch durable as it goes), nor for a relay feed (escalation
  // records).
  if (!durable_batches && !batches && source->carries_messages && !paths.empty() &&
      store::storePathFree(cfg.store.path)) {
    first = 1;
    if (!importIntoNewStore(cfg, *source, *type, paths[0], bar, nothing_accepted)) exit_code = 1;
    if (paths.size() == 1) return finish();
  }
  auto opened = store::openSqliteStore(cfg.store.path);
  if (!opened) {
    std::cerr << opened.error().message << '\n';
    return 1;
  }
  auto store = std::move(opened).value();
  SystemClock clock;
  Pipeline pipeline(cfg, clock, *store);
  if (auto restored = pipeline.restore(); !restored) {
    std::cerr << restored.error().message << '\n';
    return 1;
  }
  // Import batches wait for the writer rather than being refused.
  const Pipeline::WaitForRoom wait_for_room;
  SourceHealth health;
  auto connector = type->create(connectors::ConnectorContext{*source, cfg, clock, health, pipeline});
  for (std::size_t p = first; p < paths.size(); ++p) {
    const std::string& path = paths[p];
    auto start = std::chrono::steady_clock::now();
    // One bulk load per file: its batches reach the disk together, when the file is done.
    if (auto bulk = durable_batches ? Result<void>{} : pipeline.beginBulkLoad(); !bulk) {
      std::cerr << fmt::format("{}: {}\n", path, bulk.error().message);
      exit_code = 1;
      continue;
    }
    auto stats = connector->importFile(
        path, [&](std::uint64_t done, std::uint64_t total) { bar.update(path, done, total); });
    if (!stats) {
      if (durable_batches) {
        // The batches stored before the failure stay, each durable already.
        std::cerr << fmt::format("{}: {}\n", path, stats.error().message);
      } else if (auto aborted = pipeline.abortBulkLoad(); aborted) {
        std::cerr << fmt::format("{}: {} (nothing of the file was stored)\n", path, stats.error().message);
      } else {
        std::cerr << fmt::format("{}: {}; giving the file up failed: {}\n", path, stats.error().message,
                                 aborted.error().message);
        return 1;  // the tracker no longer mirrors the store
      }
      exit_code = 1;
      continue;
    }
    if (auto durable = durable_batches ? Result<void>{} : pipeline.endBulkLoad(); !durable) {
      std::cerr << fmt::format("{}: {}\n", path, durable.error().message);
      // Stored or not (a failure after the commit says so), the tracker may no longer
      // mirror the store: no further file.
      return 1;
    }
    reportImported(path, *source, *stats, start, nothing_accepted);
  }
  return finish();
}

int runQuestions(const config::Config& cfg, const std::string& format,
                 const std::optional<std::string>& account, const std::optional<std::string>& since,
                 const std::optional<std::string>& until) {
  SystemClock clock;
  auto now = clock.now();
  auto query = makeTurnQuery(account, since, until, now);
  if (!query) {
    std::cerr << query.error().message << '\n';
    return 2;
  }
  auto opened = store::openSqliteStore(cfg.store.path, store::OpenOptions{.read_only = true});
  if (!opened) {
    std::cerr << opened.error().message << '\n';
    return 1;
  }
  auto rows = readQuestions(*opened.value(), *query);
  if (!rows) {
    std::cerr << rows.error().message << '\n';
    return 1;
  }
  if (format == "csv") {
    std::cout << questionsCsv(*rows, cfg, now);
  } else {
    std::cout << questionsJson(*rows, cfg, now).dump(2) << '\n';
  }
  return 0;
}

int runReport(const config::Config& cfg, const std::string& format, const std::string& lang,
              const std::optional<std::string>& account, const std::optional<std::string>& since,
              const std::optional<std::string>& until) {
  SystemClock clock;
  const auto now = clock.now();
  auto query = makeTurnQuery(account, since, until, now);
  if (!query) {
    std::cerr << query.error().message << '\n';
    return 2;
  }
  // The verdict is computed for the configured accounts only.
  if (account && cfg.account(*account) == nullptr) {
    std::cerr << fmt::format("unknown account \"{}\" (the report covers the configured accounts)\n",
                             *account);
    return 2;
  }
  const Timestamp to = query->until.value_or(now);
  Timestamp from =
      query->since.value_or(to - std::chrono::duration_cast<std::chrono::milliseconds>(cfg.verdict.window));
  if (from >= to) {
    std::cerr << (query->until ? "--since must be before --until\n" : "--since must be before now\n");
    return 2;
  }
  if (from >= now) {
    std::cerr << "the window has not started: --since is in the future\n";
    return 2;
  }
  // What retention deleted is not in the store: the window starts where it keeps every
  // turn, and says so.
  const Timestamp kept = verdict::retainedFrom(cfg, from, now);
  if (kept >= to) {
    std::cerr << fmt::format(
        "the window ends before the turns store.retention keeps (those asked since {}): nothing to report\n",
        formatRfc3339(kept));
    return 2;
  }
  if (kept > from) {
    std::cerr << fmt::format("the window starts at {}: store.retention keeps no earlier turn in full\n",
                             formatRfc3339(kept));
    from = kept;
  }
  auto opened = store::openSqliteStore(cfg.store.path, store::OpenOptions{.read_only = true});
  if (!opened) {
    std::cerr << opened.error().message << '\n';
    return 1;
  }
  std::vector<std::string> account_names;
  for (const auto& a : cfg.accounts) {
    if (!account || a.name == *account) account_names.push_back(a.name);
  }
  // A window not over yet (--until the end of the current month) is judged now: a
  // question asked minutes ago is not late yet, and costs cover the elapsed part only.
  const Timestamp judged_at = std::min(to, now);
  auto facts = loadTurnFacts(*opened.value(), from, judged_at, account_names);
  if (!facts) {
    std::cerr << facts.error().message << '\n';
    return 1;
  }
  auto snapshot = verdict::evaluateAll(cfg, *facts, from, to, judged_at);
  std::vector<verdict::AccountVerdict> accounts;
  for (auto& a : snapshot.accounts) {
    if (!account || a.account == *account) accounts.push_back(std::move(a));
  }
  const auto language = verdict::parseLanguage(lang).value_or(verdict::Language::English);
  if (format == "json") {
    std::cout << verdict::renderReportJson(accounts, now);
  } else if (format == "md") {
    std::cout << verdict::renderReportMarkdown(accounts, language, now);
  } else {
    std::cout << verdict::renderReportHtml(accounts, language, now);
  }
  return 0;
}

}  // namespace

int runCli(int argc, char** argv) {
  CLI::App app{"replywatch: how long your community waits for an answer, internal staff versus agency"};
  app.set_version_flag("--version", fmt::format("replywatch {} (revision {})", kVersion, kRevision));
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("--log.level", global.log_level, "Log level: debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--log.format", global.log_format, "Log format: logfmt or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"logfmt", "json"}));

  std::string config_path;
  auto* serve_cmd = app.add_subcommand("serve", "Run the daemon");
  serve_cmd->fallthrough();
  ServeOptions serve_opts;
  serve_cmd->add_option("--config", config_path, "Configuration file")->required();
  serve_cmd->add_option(
      "--web.listen-address", serve_opts.listen_address,
      "Address to listen on, e.g. 0.0.0.0:9488 or 127.0.0.1:0 (overrides web.listen_address)");
  serve_cmd->add_option("--store.path", serve_opts.store_path, "SQLite store file (overrides store.path)");
  serve_cmd->add_option("--web.config.file", serve_opts.web_config_file,
                        "Exporter-toolkit web configuration: TLS (tls_server_config) and basic auth "
                        "(basic_auth_users) for /metrics, /api/ and the landing page");
  serve_cmd->add_option("--web.webhook-listen-address", serve_opts.webhook_listen_address,
                        "Serve /webhooks/ on this separate address only, without basic auth (overrides "
                        "web.webhook_listen_address)");

  auto* check_cmd =
      app.add_subcommand("check-config", "Validate a configuration file and report every problem");
  check_cmd->fallthrough();
  check_cmd->add_option("--config", config_path, "Configuration file")->required();
  std::string check_web_config;
  check_cmd->add_option("--web.config.file", check_web_config, "Also check this web configuration file");

  std::string source_name;
  std::vector<std::string> paths;
  auto* import_cmd = app.add_subcommand("import", "Ingest export files through a source's format");
  import_cmd->fallthrough();
  import_cmd->footer(
      "Exit codes: 0 success (refused records are logged and counted, they are no failure); 1 failure "
      "(configuration, store, or a file that could not be read or stored: the other files are still "
      "imported); 2 usage error (an unknown --source); 3 every file was read, but one had records and none "
      "was accepted (each refused)");
  import_cmd->add_option("--config", config_path, "Configuration file")->required();
  import_cmd->add_option("--source", source_name, "Configured source whose format the files use")->required();
  import_cmd->add_option("paths", paths, "Files to import")->required();
  bool durable_batches = false;
  bool batches = false;
  import_cmd->add_flag("--durable-batches", durable_batches,
                       "Make each batch durable as it is stored, as the daemon does (slower); by default a "
                       "file's batches reach the disk together when the file is done");
  import_cmd->add_flag(
      "--batches", batches,
      "Store the first file in batches also when no store exists yet, rather than reading it "
      "into memory and writing it as the new store file (slower, memory bounded)");

  std::string format;
  std::optional<std::string> account, since, until;
  auto* questions_cmd = app.add_subcommand("questions", "List question turns from the store");
  questions_cmd->fallthrough();
  questions_cmd->add_option("--config", config_path, "Configuration file")->required();
  questions_cmd->add_option("--format", format, "csv or json")
      ->required()
      ->check(CLI::IsMember({"csv", "json"}));
  questions_cmd->add_option("--account", account, "Only this account");
  questions_cmd->add_option("--since", since,
                            "Turns asked at or after (RFC 3339, YYYY-MM-DD or a duration: 7d)");
  questions_cmd->add_option("--until", until, "Turns asked before (same forms)");

  std::string report_format;
  std::string report_lang = "en";
  auto* report_cmd =
      app.add_subcommand("report", "Print the make-or-buy report: figures, verdict and reasons per account");
  report_cmd->fallthrough();
  report_cmd->add_option("--config", config_path, "Configuration file")->required();
  report_cmd->add_option("--format", report_format, "json, md or html (one self-contained file)")
      ->required()
      ->check(CLI::IsMember({"json", "md", "html"}));
  report_cmd->add_option("--lang", report_lang, "Language of the md and html reports: en or fr")
      ->capture_default_str()
      ->check(CLI::IsMember({"en", "fr"}));
  report_cmd->add_option("--account", account, "Only this account");
  report_cmd->add_option("--since", since,
                         "Window start (RFC 3339, YYYY-MM-DD or a duration: 28d); default: --until minus "
                         "verdict.window");
  report_cmd->add_option("--until", until, "Window end (same forms); default: now");

  simulate::CommandOptions sim_opts;
  auto* simulate_cmd = app.add_subcommand(
      "simulate", "Generate deterministic community traffic: write export files or send signed webhooks");
  simulate_cmd->fallthrough();
  simulate_cmd->add_option("--scenario", sim_opts.scenario_file,
                           "Scenario file (YAML); default: built-in scenario");
  simulate_cmd->add_option("--seed", sim_opts.seed, "Random seed (overrides the scenario's)");
  simulate_cmd->add_option("--start", sim_opts.start,
                           "Start of the simulated period (RFC 3339 or YYYY-MM-DD); default: --days before "
                           "today's midnight UTC");
  simulate_cmd->add_option("--days", sim_opts.days, "Length of the simulated period in days")
      ->check(CLI::Range(1, 3660));
  simulate_cmd->add_option("--questions-per-day", sim_opts.questions_per_day, "Mean questions per day")
      ->check(CLI::PositiveNumber);
  simulate_cmd->add_option("--format", sim_opts.format, "Message format: jsonl, csv (export source) or twcs")
      ->capture_default_str()
      ->check(CLI::IsMember({"jsonl", "csv", "twcs"}));
  simulate_cmd->add_option("--output", sim_opts.output, "Messages file, - for standard output")
      ->capture_default_str();
  simulate_cmd->add_option("--relay-output", sim_opts.relay_output,
                           "Relay records file for a relay source (.csv in any case: CSV, else JSONL)");
  simulate_cmd->add_option("--send", sim_opts.send_url,
                           "Send signed webhooks to the daemon at this base URL (e.g. http://127.0.0.1:9488) "
                           "instead of writing files");
  simulate_cmd->add_option("--source", sim_opts.source, "With --send: export source receiving the messages");
  simulate_cmd->add_option("--relay-source", sim_opts.relay_source,
                           "With --send: relay source receiving the escalation records");
  simulate_cmd->add_option(
      "--secret-file", sim_opts.secret_file,
      "With --send: the export source's webhook secret (default: $REPLYWATCH_WEBHOOK_SECRET)");
  simulate_cmd->add_option("--relay-secret-file", sim_opts.relay_secret_file,
                           "With --send: the relay source's webhook secret (default: "
                           "$REPLYWATCH_RELAY_WEBHOOK_SECRET, else the export source's)");
  simulate_cmd->add_option("--signature-header", sim_opts.signature_header, "With --send: signature header")
      ->capture_default_str();
  simulate_cmd->add_option("--rate", sim_opts.rate, "With --send: deliveries per second, 0 for no limit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  simulate_cmd->add_option("--batch", sim_opts.batch, "With --send: messages or records per delivery")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    setupLogging(global.log_level, global.log_format);
  } catch (const std::invalid_argument& e) {
    std::cerr << e.what() << '\n';
    return 2;
  }

  if (simulate_cmd->parsed()) return simulate::run(sim_opts);

  auto cfg = loadConfig(config_path);
  if (!cfg) return 1;
  if (check_cmd->parsed()) {
    // The web configuration serve would load: the flag's, else the configuration's.
    const std::string web_config = check_web_config.empty() ? cfg->web.config_file : check_web_config;
    if (!web_config.empty()) {
      auto web = http::loadWebConfigFile(web_config);
      if (!web) {
        std::cerr << web.error().message << '\n';
        return 1;
      }
      std::cout << fmt::format("{}: ok (tls {}, {} basic auth user{})\n", web_config, web->tls ? "on" : "off",
                               web->basic_auth_users.size(), web->basic_auth_users.size() == 1 ? "" : "s");
    }
    std::cout << fmt::format("{}: ok ({} account{}, {} handler{}, {} source{})\n", config_path,
                             cfg->accounts.size(), cfg->accounts.size() == 1 ? "" : "s", cfg->handlers.size(),
                             cfg->handlers.size() == 1 ? "" : "s", cfg->sources.size(),
                             cfg->sources.size() == 1 ? "" : "s");
    return 0;
  }
  if (serve_cmd->parsed()) {
    SystemClock clock;
    return serve(*cfg, serve_opts, clock);
  }
  if (import_cmd->parsed()) return runImport(*cfg, source_name, paths, durable_batches, batches);
  if (questions_cmd->parsed()) return runQuestions(*cfg, format, account, since, until);
  if (report_cmd->parsed()) return runReport(*cfg, report_format, report_lang, account, since, until);
  return 2;
}

}  // namespace replywatch::app
