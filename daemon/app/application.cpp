#include "daemon/app/application.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "connectors/registry.h"
#include "daemon/app/landing_page.h"
#include "daemon/app/pipeline.h"
#include "daemon/app/questions.h"
#include "daemon/app/turn_facts.h"
#include "daemon/core/heap.h"
#include "daemon/core/log.h"
#include "daemon/core/thread_name.h"
#include "daemon/http/basic_auth.h"
#include "daemon/http/compression.h"
#include "daemon/http/server.h"
#include "daemon/http/web_config.h"
#include "daemon/metrics/metrics.h"
#include "daemon/store/store.h"
#include "daemon/verdict/evaluator.h"
#include "daemon/verdict/report.h"
#include "replywatch/version.h"

namespace replywatch::app {
namespace {

// /api/v1/questions answers at most this many turns unless `limit` says otherwise.
constexpr std::size_t kDefaultApiLimit = 1000;
constexpr std::size_t kMaxApiLimit = 100000;
// Allocator settings of `serve` when it runs on glibc's malloc (daemon/core/heap.h; the
// release build links jemalloc, which keeps its own): glibc's initial mmap threshold,
// kept fixed, and two arenas (BENCHMARKS.md, "Steady state").
constexpr std::size_t kMmapThresholdBytes = 128 * 1024;
constexpr int kMaxHeapArenas = 2;

struct SourceRuntime {
  const config::SourceConfig* config = nullptr;
  std::unique_ptr<SourceHealth> health;
  std::unique_ptr<connectors::Connector> connector;
};

// Moves the request's parts over: the body is not copied.
connectors::WebhookRequest toWebhookRequest(http::Request&& r) {
  connectors::WebhookRequest w;
  w.method = std::move(r.method);
  w.path = std::move(r.path);
  w.query = std::move(r.query);
  w.headers = std::move(r.headers);
  w.body = std::move(r.body);
  w.remote = std::move(r.remote);
  return w;
}

http::Response toHttpResponse(connectors::WebhookResponse w) {
  http::Response r;
  r.status = w.status;
  r.content_type = std::move(w.content_type);
  r.body = std::move(w.body);
  r.headers = std::move(w.headers);
  return r;
}

// Blocks SIGTERM/SIGINT (stop) and SIGHUP (reload the web configuration) in every thread
// (threads inherit the mask) so that only the main thread receives them, through sigwait.
sigset_t blockDaemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// The basic auth users in force: replaced as a whole by a reload, read per request.
class CurrentAuth {
 public:
  explicit CurrentAuth(std::shared_ptr<const http::BasicAuth> auth) : auth_(std::move(auth)) {}
  std::shared_ptr<const http::BasicAuth> get() const {
    std::lock_guard lock(mutex_);
    return auth_;
  }
  void set(std::shared_ptr<const http::BasicAuth> auth) {
    std::lock_guard lock(mutex_);
    auth_ = std::move(auth);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const http::BasicAuth> auth_;
};

void warnOfMixedCosts(const http::BasicAuth& auth) {
  if (!auth.costsDiffer()) return;
  spdlog::warn(
      "basic_auth_users hashes have different bcrypt costs: a request's time can tell a user of a lower cost "
      "from a name that is no user (names that are no user are checked at cost {}); hash every password at "
      "one cost",
      auth.unknownUserCost());
}

// SIGHUP: reads the web configuration file again and puts its TLS material, headers and
// basic auth users in force for the connections and requests that follow. On any error
// the running configuration stays as it was. True when it was reloaded.
bool reloadWebConfig(const std::string& file, http::Server& server, http::Server* webhook_server,
                     CurrentAuth& auth) {
  if (file.empty()) {
    spdlog::info(
        "SIGHUP received: no web configuration file to reload (the configuration file is read at "
        "start only)");
    return false;
  }
  auto loaded = http::loadWebConfigFile(file);
  if (!loaded) {
    spdlog::error("web configuration reload failed, keeping the running one file={} error={}", logValue(file),
                  logValue(loaded.error().message));
    return false;
  }
  http::WebSecurity& security = loaded.value();
  // Everything is read and checked first, then put in force on both listeners at once.
  auto settings = http::Server::loadConnectionSettings(security.tls, security.headers);
  for (const http::Server* s : {&server, webhook_server}) {
    if (!settings) break;
    if (s == nullptr) continue;
    if (auto allowed = s->checkReload(*settings.value()); !allowed) settings = allowed.error();
  }
  if (!settings) {
    spdlog::error("web configuration reload failed, keeping the running one file={} error={}", logValue(file),
                  logValue(settings.error().message));
    return false;
  }
  for (http::Server* s : {&server, webhook_server}) {
    if (s != nullptr) (void)s->reload(settings.value());
  }
  auto next = std::make_shared<const http::BasicAuth>(std::move(security.basic_auth_users));
  warnOfMixedCosts(*next);
  const bool auth_on = next->enabled();
  auth.set(std::move(next));
  spdlog::info("web configuration reloaded file={} tls={} basic_auth={}", logValue(file),
               security.tls ? "on" : "off", auth_on ? "on" : "off");
  return true;
}

}  // namespace

int serve(const config::Config& config, const ServeOptions& options, const Clock& clock) {
  const HeapTuning heap_tuning = tuneHeapForDaemon(kMmapThresholdBytes, kMaxHeapArenas);
  if (heapAllocator() == HeapAllocator::Jemalloc) {
    spdlog::debug("heap settings allocator=jemalloc background_purge={}",
                  heap_tuning.background_purge ? "on" : "environment");
  } else {
    spdlog::debug("heap settings allocator=malloc mmap_threshold_bytes={} max_arenas={}",
                  heap_tuning.mmap_threshold ? std::to_string(kMmapThresholdBytes) : "environment",
                  heap_tuning.max_arenas ? std::to_string(kMaxHeapArenas) : "environment");
  }
  auto signals = blockDaemonSignals();
  const std::string store_path = options.store_path.value_or(config.store.path);
  // Commits are acknowledged once in the commit log and applied to SQLite in rounds.
  auto opened = store::openSqliteStore(store_path, store::OpenOptions{.commit_log = true});
  if (!opened) {
    spdlog::error("cannot open the store path={} error={}", logValue(store_path),
                  logValue(opened.error().message));
    return 1;
  }
  auto store = std::move(opened).value();
  spdlog::info("store opened path={} schema_version={}", logValue(store_path), store->schemaVersion());

  Pipeline pipeline(config, clock, *store);
  if (auto restored = pipeline.restore(); !restored) {
    spdlog::error("cannot rebuild turns from the store error={}", logValue(restored.error().message));
    return 1;
  }

  std::map<std::string, SourceRuntime, std::less<>> sources;
  std::vector<metrics::SourceRef> source_refs;
  for (const auto& sc : config.sources) {
    const auto* type = connectors::findConnectorType(sc.type);
    if (type == nullptr) {
      spdlog::error("source has an unknown type source={} type={}", logValue(sc.name), logValue(sc.type));
      return 1;
    }
    SourceRuntime rt;
    rt.config = &sc;
    rt.health = std::make_unique<SourceHealth>();
    rt.connector = type->create(connectors::ConnectorContext{sc, config, clock, *rt.health, pipeline});
    source_refs.push_back({&sc, rt.health.get(), rt.connector->polls() || rt.connector->takesWebhooks()});
    sources.emplace(sc.name, std::move(rt));
  }

  metrics::Metrics metrics(
      config, [&pipeline] { return pipeline.snapshot(); }, source_refs);
  metrics.watchWriteQueue([&pipeline] { return pipeline.writeQueueStats(); });
  // The verdict is evaluated on its own thread from the store's read connection; scrapes
  // and the API only read its latest snapshot.
  std::vector<std::string> account_names;
  for (const auto& account : config.accounts) account_names.push_back(account.name);
  verdict::Evaluator evaluator(
      config,
      [&store, &account_names](Timestamp from, Timestamp until) {
        return loadTurnFacts(*store, from, until, account_names);
      },
      clock);

  // TLS and basic auth from the exporter-toolkit web configuration, when there is one.
  const std::string web_config_file =
      options.web_config_file.empty() ? config.web.config_file : options.web_config_file;
  http::WebSecurity security;
  if (!web_config_file.empty()) {
    auto loaded = http::loadWebConfigFile(web_config_file);
    if (!loaded) {
      spdlog::error("invalid web configuration error={}", logValue(loaded.error().message));
      return 1;
    }
    security = std::move(loaded).value();
  }
  CurrentAuth auth(std::make_shared<const http::BasicAuth>(security.basic_auth_users));
  warnOfMixedCosts(*auth.get());
  // Every route of the main listener but the webhooks and the probes (/-/healthy,
  // /-/ready) requires basic auth when users are configured; webhooks authenticate with
  // their platform's signature instead. The users are those of the last (re)load.
  auto guarded = [&auth](http::Handler handler) -> http::Handler {
    return [&auth, handler = std::move(handler)](const http::Request& req) {
      if (auto current = auth.get(); current->enabled() && !current->check(req)) {
        return http::BasicAuth::challenge();
      }
      return handler(req);
    };
  };

  // What the handlers use, declared before the servers so that it outlives their threads.
  std::atomic<bool> ready{false};
  // The verdict text is the same from one evaluation to the next: deflated once for
  // every gzip scrape in between.
  http::DeflatedTailCache verdict_gzip;

  http::ServerOptions web;
  web.listen_address = options.listen_address.value_or(config.web.listen_address);
  web.max_header_bytes = config.web.max_header_bytes;
  web.max_body_bytes = config.web.max_body_bytes;
  web.read_timeout = config.web.read_timeout;
  web.idle_timeout = config.web.idle_timeout;
  web.max_connections = config.web.max_connections;
  web.max_unsent_bytes = config.web.max_unsent_bytes;
  web.handler_threads = config.web.handler_threads;
  // One I/O thread per core: webhooks are handled on the I/O threads, and more threads
  // than cores only add wake-ups and context switches.
  web.threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  web.tls = security.tls;
  web.headers = security.headers;
  http::Server server(web);
  // Webhooks on a listener of their own when configured (public, while the main one
  // stays private), otherwise on the main listener.
  const std::string webhook_address =
      options.webhook_listen_address.value_or(config.web.webhook_listen_address);
  std::optional<http::Server> webhook_server;
  if (!webhook_address.empty()) {
    http::ServerOptions hooks_options = web;
    hooks_options.listen_address = webhook_address;
    webhook_server.emplace(hooks_options);
  }
  http::Server& hooks = webhook_server ? *webhook_server : server;
  if (!web_config_file.empty()) metrics.watchWebConfig(clock.now());

  server.route("GET", "/", guarded([](const http::Request&) {
                 http::Response r;
                 r.content_type = "text/html; charset=utf-8";
                 r.body = landingPage();
                 return r;
               }));
  server.route("GET", "/metrics", guarded([&metrics, &evaluator, &verdict_gzip](const http::Request& req) {
                 http::Response r;
                 r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                 // The verdict families were rendered at the last evaluation; only the
                 // tracker and source families are rendered per scrape. The verdict text
                 // goes out after them as the body's tail, shared, never copied.
                 r.body = metrics.render();
                 r.body_tail = evaluator.metricsText();
                 // Prometheus asks for gzip on every scrape.
                 http::gzipIfAccepted(req, r, &verdict_gzip);
                 return r;
               }));
  server.route("GET", "/api/v1/verdict", guarded([&config, &evaluator](const http::Request& req) {
                 auto account = req.queryParam("account");
                 if (account && config.account(*account) == nullptr) {
                   return http::Response::error(
                       400, fmt::format("unknown account \"{}\"", account->substr(0, 64)));
                 }
                 auto snapshot = evaluator.current();
                 if (!snapshot) return http::Response::error(503, "the verdict has not been evaluated yet");
                 if (!account) {
                   return http::Response::json(200, verdict::toJson(*snapshot, config.verdict.window).dump());
                 }
                 verdict::Snapshot one;
                 one.evaluated_at = snapshot->evaluated_at;
                 one.accounts.push_back(*snapshot->account(*account));
                 return http::Response::json(200, verdict::toJson(one, config.verdict.window).dump());
               }));
  auto healthy = [](const http::Request&) { return http::Response::text(200, "OK\n"); };
  // Health and readiness tell nothing of the data: open to probes (a container's health
  // check, a load balancer) that carry no credentials.
  server.route("GET", "/-/healthy", healthy);
  server.route("GET", "/-/ready", [&ready](const http::Request&) {
    return ready.load() ? http::Response::text(200, "Ready\n") : http::Response::text(503, "Not ready\n");
  });
  if (webhook_server) webhook_server->route("GET", "/-/healthy", healthy);
  // Webhooks are handled on the I/O thread when the connector never blocks (it answers
  // once its delivery committed, from the pipeline's writer thread); otherwise on a
  // handler thread, where handleWebhook() may wait for the commit.
  auto webhook = [&sources, &metrics, &hooks](http::Request req, const http::Responder& responder) {
    const std::string_view name = std::string_view(req.path).substr(std::string_view("/webhooks/").size());
    auto it = sources.find(name);
    if (it == sources.end() || name.empty()) {
      metrics.countWebhook("", 404);
      responder(http::Response::error(404, fmt::format("unknown source \"{}\"", name.substr(0, 64))));
      return;
    }
    const std::string& source = it->first;
    connectors::Connector& connector = *it->second.connector;
    auto reply = [&metrics, &source, responder](connectors::WebhookResponse response) {
      metrics.countWebhook(source, response.status);
      responder(toHttpResponse(std::move(response)));
    };
    if (connector.asyncWebhooks()) {
      connector.handleWebhookAsync(toWebhookRequest(std::move(req)), std::move(reply));
      return;
    }
    hooks.runBlocking([&connector, reply = std::move(reply), request = toWebhookRequest(std::move(req))] {
      try {
        reply(connector.handleWebhook(request));
      } catch (const std::exception& e) {
        // The Responder answers 500 once the last copy of `reply` goes.
        spdlog::error("webhook handler failed path={} error={}", logValue(request.path), logValue(e.what()));
      }
    });
  };
  hooks.routeAsync("POST", "/webhooks/", webhook);
  hooks.routeAsync("GET", "/webhooks/", webhook);
  server.route(
      "GET", "/api/v1/questions", guarded([&config, &store, &clock](const http::Request& req) {
        auto now = clock.now();
        auto query =
            makeTurnQuery(req.queryParam("account"), req.queryParam("since"), req.queryParam("until"), now);
        if (!query) return http::Response::error(400, query.error().message);
        query->limit = kDefaultApiLimit;
        if (auto limit = req.queryParam("limit")) {
          std::size_t n = 0;
          auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
          if (ec != std::errc{} || end != limit->data() + limit->size() || n == 0 || n > kMaxApiLimit) {
            return http::Response::error(
                400, fmt::format("invalid limit: expected an integer from 1 to {}", kMaxApiLimit));
          }
          query->limit = n;
        }
        if (auto after = req.queryParam("after")) {
          query->after = parseTurnCursor(*after);
          if (!query->after) {
            return http::Response::error(400,
                                         "invalid after: expected the cursor of a Link header of this API");
          }
        }
        auto rows = readQuestions(*store, *query);
        if (!rows) return http::Response::error(503, rows.error().message);
        auto response = http::Response::json(200, questionsJsonText(*rows, config, now));
        // A full page may have a next one: RFC 8288's Link to it.
        if (!rows->turns.empty() && rows->turns.size() == *query->limit) {
          response.headers.emplace_back(
              "Link", fmt::format("<{}>; rel=\"next\"",
                                  nextPageTarget(req.path, req.query, *query, rows->turns.back())));
        }
        http::gzipIfAccepted(req, response);
        return response;
      }));

  auto bound = server.start();
  if (!bound) {
    spdlog::error("cannot listen address={} error={}", logValue(web.listen_address),
                  logValue(bound.error().message));
    return 1;
  }
  spdlog::info("listening address={} version={} revision={} tls={} basic_auth={}", bound.value(), kVersion,
               kRevision, web.tls ? "on" : "off", auth.get()->enabled() ? "on" : "off");
  if (webhook_server) {
    auto hooks_bound = webhook_server->start();
    if (!hooks_bound) {
      spdlog::error("cannot listen for webhooks address={} error={}", logValue(webhook_address),
                    logValue(hooks_bound.error().message));
      server.stop();
      return 1;
    }
    spdlog::info("listening for webhooks address={}", hooks_bound.value());
  }

  std::vector<std::jthread> pollers;
  for (auto& [name, rt] : sources) {
    if (!rt.connector->polls()) continue;
    pollers.emplace_back(
        [conn = rt.connector.get(), thread_name = "poll:" + name](const std::stop_token& stop) {
          nameThisThread(thread_name);
          // A poll batch waits for room in a full write queue rather than failing the poll.
          const Pipeline::WaitForRoom wait_for_room;
          conn->run(stop);
        });
  }

  // Tick thread: threshold crossings every tick, and the systemd watchdog. It does
  // nothing slow, so a stuck store shows up as a missed watchdog ping.
  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto tick_wait = std::chrono::duration_cast<std::chrono::milliseconds>(options.tick_interval);
  if (watchdog) {
    tick_wait = std::min(tick_wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::microseconds{watchdog_usec / 2}));
  }
  std::jthread ticker([&](const std::stop_token& stop) {
    nameThisThread("tick");
    auto last_watchdog = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
      (void)pipeline.tick();
      auto now_steady = std::chrono::steady_clock::now();
      if (watchdog && now_steady - last_watchdog >= std::chrono::microseconds{watchdog_usec / 2}) {
        sd_notify(0, "WATCHDOG=1");
        last_watchdog = now_steady;
      }
      sleepFor(tick_wait, stop);
    }
  });

  // Maintenance thread: retention pruning, a minute after start (sooner when
  // store.prune_interval is shorter) and then every store.prune_interval. It works in
  // small transactions so ingestion goes on meanwhile.
  std::jthread maintenance;
  if (config.store.retention.count() > 0) {
    maintenance = std::jthread([&](const std::stop_token& stop) {
      nameThisThread("retention");
      const auto interval =
          std::chrono::duration_cast<std::chrono::milliseconds>(config.store.prune_interval);
      std::chrono::milliseconds wait = std::min<std::chrono::milliseconds>(std::chrono::minutes{1}, interval);
      for (;;) {
        if (!sleepFor(wait, stop)) return;
        wait = interval;
        auto pruned = pipeline.prune(clock.now() - config.store.retention);
        // What the pruning freed goes back to the kernel, so resident memory follows
        // what is held instead of the high-water mark of each thread's arena. Nothing
        // pruned, nothing freed: the walk over the arenas (which holds up every thread
        // allocating meanwhile) is skipped.
        if (!pruned || *pruned > 0) releaseFreeHeap();
        if (!pruned) {
          spdlog::warn("retention pruning failed error={}", logValue(pruned.error().message));
        } else if (*pruned > 0) {
          const Pipeline::Held held = pipeline.held();
          const HeapStats heap = heapStats();
          spdlog::info(
              "retention pruned messages={} conversations_held={} escalation_records_held={} "
              "heap_in_use_bytes={} heap_free_bytes={} store_page_cache_bytes={}",
              *pruned, held.conversations, held.escalation_records, heap.in_use_bytes, heap.free_bytes,
              store->pageCacheBytes());
        }
      }
    });
  }

  std::jthread verdict_thread([&evaluator](const std::stop_token& stop) {
    nameThisThread("verdict");
    evaluator.run(stop);
  });

  ready.store(true);
  sd_notify(0, "READY=1\nSTATUS=Listening");

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    sd_notify(0, "RELOADING=1");
    const bool ok =
        reloadWebConfig(web_config_file, server, webhook_server ? &*webhook_server : nullptr, auth);
    if (!web_config_file.empty()) metrics.recordWebConfigReload(ok, clock.now());
    sd_notify(0, "READY=1");
  }
  spdlog::info("shutting down signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  sd_notify(0, "STOPPING=1");
  ready.store(false);
  for (auto& p : pollers) p.request_stop();
  pollers.clear();  // joins
  if (webhook_server) webhook_server->stop();
  server.stop();
  verdict_thread.request_stop();
  verdict_thread.join();
  ticker.request_stop();
  ticker.join();
  if (maintenance.joinable()) {
    maintenance.request_stop();
    maintenance.join();
  }
  // Every webhook handler has returned; whatever is still queued is committed.
  pipeline.stop();
  (void)pipeline.tick();
  spdlog::info("stopped");
  return 0;
}

}  // namespace replywatch::app
