#pragma once
// A small HTTP/1.1 server on Boost.Beast: routes, limits (header and body size,
// read/idle timeouts, concurrent connections), keep-alive, graceful shutdown.
// Knows nothing of replywatch's domain: the application registers handlers.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/core/result.h"
#include "daemon/http/web_config.h"

namespace replywatch::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as received: path + '?' + query
  std::string path;    // decoded-free path part of target
  std::string query;   // raw query string, may be empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "ip:port"

  std::optional<std::string_view> header(std::string_view name) const;  // case-insensitive
  std::optional<std::string> queryParam(std::string_view name) const;   // percent-decoded
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent after `body` without being copied: a large text shared between answers (the
  // cached verdict families of /metrics). Counts in Content-Length; may be null.
  std::shared_ptr<const std::string> body_tail;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
  // {"status":"error","error":"..."} — the short JSON error body used for every 4xx/5xx.
  static Response error(int status, std::string_view message);
};

// Called on one of the `handler_threads` threads, never on an I/O thread; may block (e.g.
// waiting for a store commit). Must not throw; an escaping exception is logged and
// answered with 500.
using Handler = std::function<Response(const Request&)>;

// Answers one request taken by an AsyncHandler: call it once, from any thread (later
// calls are ignored). Copies share the one answer; once answered, they no longer hold
// the connection. When the last copy goes without having been called, the request is
// answered 500, so a connection never hangs.
class Responder {
 public:
  explicit Responder(std::function<void(Response)> send);
  void operator()(Response response) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Called on the connection's I/O thread: must not block (see Server::runBlocking). Answers
// through the Responder, now or later. Must not throw; an escaping exception is logged
// and answered with 500.
using AsyncHandler = std::function<void(Request, Responder)>;

struct ServerOptions {
  std::string listen_address = "127.0.0.1:0";  // host:port, [v6]:port or :port; port 0 = any
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{10'000};  // to receive a whole request once started
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive idle
  std::size_t max_connections = 512;               // over it: 503 + Retry-After: 1, then close
  std::size_t threads = 4;                         // I/O threads (accept, read, write)
  // Threads running handlers, separate from the I/O threads, at most max_connections.
  // A handler may block (a webhook waits for its commit): this is how many requests can
  // be handled, or wait, at once; further requests queue until a thread is free.
  std::size_t handler_threads = 16;
  // Bytes of answers being written at once, over every connection: an answer stays in
  // memory until the client has read it (or the write times out). An answer larger than
  // kAlwaysSentBytes that would take the total past this is replaced by 503 with
  // Retry-After: 1; smaller answers always go. A shared body_tail does not count.
  std::size_t max_unsent_bytes = std::size_t{256} * 1024 * 1024;
  static constexpr std::size_t kAlwaysSentBytes = 64 * 1024;
  // TLS on every connection when set: the handshake must complete within read_timeout;
  // a failed handshake closes the connection. Certificate files are read by start().
  std::optional<TlsOptions> tls;
  // Added to every response (http_server_config.headers), after the handler's own.
  std::vector<std::pair<std::string, std::string>> headers;
};

// The TLS context and the added headers a connection takes when it is accepted; opaque,
// made by Server::loadConnectionSettings().
struct ConnectionSettings;

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Exact path match ("/metrics") or, when `path` ends with '/', a prefix match
  // ("/webhooks/"); "/" alone is exact. An exact route beats a prefix route, the longest
  // prefix wins. Methods are matched exactly; a path known under another method gets
  // 405 with an Allow header. Register before start() (throws std::logic_error after).
  void route(std::string method, std::string path, Handler handler);
  // Same, for a handler that answers through a Responder without holding a thread.
  void routeAsync(std::string method, std::string path, AsyncHandler handler);

  // Runs `work` on a handler thread (it may block there): for an AsyncHandler that must
  // do blocking work for some requests. Thread-safe; call between start() and stop().
  void runBlocking(std::function<void()> work);

  // Loads the TLS material (when configured), binds and starts the worker threads.
  // Returns the bound address ("127.0.0.1:43121"); an Error when a certificate, key or CA
  // file is unusable (reason "tls") or the address cannot be bound.
  Result<std::string> start();

  // Reads and checks the TLS material of `tls` (certificates, key, client CA, versions,
  // client auth), when set, and pairs it with the headers added to every answer, without
  // changing any server: what reload() puts in force, on one server or several. Blocks
  // on file I/O. An Error (reason "tls") when a file is unusable.
  static Result<std::shared_ptr<const ConnectionSettings>> loadConnectionSettings(
      const std::optional<TlsOptions>& tls, std::vector<std::pair<std::string, std::string>> headers);
  // An Error when reload(settings) would be refused: turning TLS on or off takes a restart.
  Result<void> checkReload(const ConnectionSettings& settings) const;
  // Puts `settings` in force. Connections accepted from now on use them; a connection
  // already open finishes the answer it is writing with "Connection: close", so that its
  // client's next request, on a new connection, meets them too. Thread-safe; does not
  // block. An Error, and nothing replaced, when checkReload() refuses them.
  Result<void> reload(std::shared_ptr<const ConnectionSettings> settings);

  // Stops accepting, lets in-flight requests finish (up to `grace`), then closes.
  // Idempotent; blocks until workers have joined.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds{10'000});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace replywatch::http
