// HTTP/1.1 server on Boost.Beast.
//
// Threading:
//   * One io_context run by `options.threads` I/O threads. The acceptor and every
//     connection live on their own strand, so a connection's state is only ever touched
//     by one thread at a time.
//   * Handlers run on a separate pool of `options.handler_threads` threads (at most
//     `max_connections`, at least one; never on an I/O thread): a handler blocked on a
//     disk commit holds one handler thread, while accepting, reading and writing on other
//     connections go on. When every handler thread is busy, further requests queue until
//     one is free. The thread idle last takes the next request (handler_pool.h), so a
//     light load keeps to one or two threads.
//   * Async handlers (routeAsync) run on the connection's I/O thread and answer through a
//     Responder, from any thread. No thread waits for them (a webhook answers once its
//     group commit is done).
//   * Answers (from handler threads or Responders) are queued and handed to the I/O
//     threads in batches: one wake-up for all the answers given meanwhile (a group
//     commit answers many requests at once), each then written on its connection's strand.
//   * Timeouts: each connection keeps one deadline for its current phase (set when the
//     phase starts, no timer update per read or write); one server timer ticking at a
//     fraction of the shortest timeout closes the connections whose deadline has passed.
//     A timeout therefore fires up to one tick late, never early.
//
// Connection life cycle (one request at a time per connection, pipelined bytes are kept
// in the buffer for the next request):
//   Idle     waiting for the first byte of a request. New connection: `read_timeout`
//            from accept. Kept-alive connection: `idle_timeout`; expiry closes silently.
//   Reading  header then body; the whole request must arrive within `read_timeout` of its
//            first byte (slowloris protection), otherwise the connection is closed
//            without an answer. Header over `max_header_bytes` -> 431, Content-Length or
//            chunked body over `max_body_bytes` -> 413 (checked before the body is
//            read), any other parse error -> 400; all three close the connection.
//   Handling the handler runs on the handler pool (or answers later, async); no timeout.
//   Writing  the answer must be written within max(read_timeout, 1 s). Answers are
//            serialised directly into one buffer (status line, headers, body).
//   After an answer with "Connection: close", the sending side is shut down and the
//   remaining input is drained for a short while before closing, so the client gets the
//   answer instead of a reset.
//
// Connection cap: at most `max_connections` connections are served at once. A connection
// accepted over the cap is answered `503 Service Unavailable` with `Retry-After: 1` and
// closed without reading its request. Up to another `max_connections` such refusals may
// be in progress; beyond that, new connections are closed immediately.
//
// stop(): closes the acceptor, closes idle connections, lets requests being read or
// handled finish (their answers carry "Connection: close"), waits up to `grace` for every
// connection to end, then closes what remains, stops the I/O threads and waits for the
// handler threads (a handler that never returns blocks stop()).
#include "daemon/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_map>

// Asio's scheduler trips GCC's -Wnull-dereference once inlined at -O2 and above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "daemon/core/log.h"
#include "daemon/core/thread_name.h"
#include "daemon/http/handler_pool.h"
#include "daemon/http/listen_address.h"

namespace replywatch::http {

// What a connection takes from the web configuration when it is accepted: the TLS
// context (null without TLS) and the headers added to every response. Replaced as a
// whole by Server::reload(); a connection keeps the one it started with.
struct ConnectionSettings {
  std::shared_ptr<boost::asio::ssl::context> ssl;
  std::vector<std::pair<std::string, std::string>> headers;
};

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kAcceptRetryDelay = 100ms;
constexpr auto kMinWriteTimeout = 1000ms;
constexpr auto kMaxLingerTime = 2000ms;
constexpr auto kStopLingerTime = 200ms;
constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kKeptAnswerCapacity = 64 * 1024;
constexpr auto kMinDeadlineTick = 5ms;
constexpr auto kMaxDeadlineTick = 250ms;
constexpr std::int64_t kNoDeadline = INT64_MAX;

using SteadyClock = std::chrono::steady_clock;

struct RouteEntry {
  std::string method;
  std::string path;
  bool prefix = false;
  Handler handler;  // one of the two is set
  AsyncHandler async_handler;
};

std::string endpointString(const tcp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
  }
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

bool isParseError(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

bool hasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()), beast::string_view(b.data(), b.size()));
}

// Statuses whose answers carry neither a body nor a Content-Length.
bool bodyless(int status) { return status < 200 || status == 204 || status == 304; }

// Bodies up to this size are copied after the head, so the answer goes in one buffer;
// larger ones, and any body_tail, are written from where they are.
constexpr std::size_t kInlineBodyBytes = 16 * 1024;

// Writes `r` as an HTTP/1.x answer into `out` (cleared first): status line, Server,
// Content-Type, the handler's headers (Content-Type and Server replace the defaults;
// headers with line breaks, and the framing headers the server sets itself, are dropped),
// the configured `extra` headers (replacing any of the same name), Content-Length,
// Connection, then the body when it is small. Returns whether the answer is whole in
// `out` (otherwise the caller writes r.body and r.body_tail after it).
bool serializeResponse(const Response& r, bool close, unsigned version,
                       const std::vector<std::pair<std::string, std::string>>& extra, std::string& out,
                       bool head = false) {
  using Field = std::pair<std::string_view, std::string_view>;
  // Few fields: a small vector searched linearly.
  std::vector<Field> fields;
  fields.reserve(4 + r.headers.size() + extra.size());
  auto set = [&fields](std::string_view name, std::string_view value) {
    std::erase_if(fields, [name](const Field& f) { return equalsIgnoreCase(f.first, name); });
    fields.emplace_back(name, value);
  };
  fields.emplace_back("Server", "replywatch");
  fields.emplace_back("Content-Type", r.content_type);
  for (const auto& [name, value] : r.headers) {
    if (name.empty() || hasLineBreak(name) || hasLineBreak(value)) {
      spdlog::warn("http handler header dropped name={}", logValue(name));
      continue;
    }
    if (equalsIgnoreCase(name, "Content-Length") || equalsIgnoreCase(name, "Connection") ||
        equalsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    if (equalsIgnoreCase(name, "Content-Type") || equalsIgnoreCase(name, "Server")) {
      set(name, value);
    } else {
      fields.emplace_back(name, value);
    }
  }
  for (const auto& [name, value] : extra) set(name, value);

  const bool has_body = !bodyless(r.status);
  const std::size_t body_size = r.body.size() + (r.body_tail ? r.body_tail->size() : 0);
  const bool inline_body = has_body && !head && !r.body_tail && r.body.size() <= kInlineBodyBytes;
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  std::size_t size = 32 + reason.size() + (inline_body ? r.body.size() : 0);
  for (const auto& [name, value] : fields) size += name.size() + value.size() + 4;
  out.clear();
  out.reserve(size);
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& [name, value] : fields) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (has_body) {
    out += "Content-Length: ";
    out += std::to_string(body_size);
    out += "\r\n";
  }
  // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
  if (version == 10) {
    if (!close) out += "Connection: keep-alive\r\n";
  } else if (close) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
  // An answer to HEAD says how long the body would be, and sends none.
  if (inline_body) out += r.body;
  return inline_body || !has_body || head;
}

enum class SessionKind { Regular, Reject };

// What the server needs of a connection, whatever its stream (plain TCP or TLS).
class SessionBase {
 public:
  SessionBase() = default;
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;
  virtual ~SessionBase() = default;
  virtual net::any_io_executor executor() = 0;
  // Posted by Server::stop(): idle connections are closed, the others finish.
  virtual void onServerStop() = 0;
  // Posted by Server::stop() once the grace period is over.
  virtual void forceClose() = 0;
  // Posted by Server::reload(): a connection waiting for a request with the settings
  // replaced closes; the others close after their answer.
  virtual void onSettingsReplaced() = 0;
  // Posted by the deadline timer once deadline() has passed: closes the connection unless
  // the deadline moved meanwhile.
  virtual void onDeadline() = 0;
  // Writes an answer to the request being handled. On the connection's strand.
  virtual void answer(Response response, bool close, unsigned version) = 0;

  // End of the current phase (steady clock ticks); kNoDeadline when it has none. Read by
  // the timer thread, written on the connection's strand.
  std::int64_t deadline() const { return deadline_.load(std::memory_order_relaxed); }

 protected:
  void setDeadline(std::chrono::milliseconds timeout) {
    deadline_.store((SteadyClock::now() + timeout).time_since_epoch().count(), std::memory_order_relaxed);
  }
  void clearDeadline() { deadline_.store(kNoDeadline, std::memory_order_relaxed); }
  bool deadlinePassed() const { return deadline() <= SteadyClock::now().time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> deadline_{kNoDeadline};
};

// An answer on its way from a handler to its connection.
struct PendingAnswer {
  std::shared_ptr<SessionBase> session;
  Response response;
  bool close = false;
  unsigned version = 11;
};

// The shortest timeout over 8, within [kMinDeadlineTick, kMaxDeadlineTick].
std::chrono::milliseconds deadlineTick(const ServerOptions& o) {
  const auto shortest =
      std::min({o.read_timeout, o.idle_timeout, std::chrono::milliseconds{kMinWriteTimeout}});
  return std::clamp<std::chrono::milliseconds>(shortest / 8, kMinDeadlineTick, kMaxDeadlineTick);
}

// Everything the server shares with its connections. Server::Impl derives from it.
class Core {
 public:
  explicit Core(ServerOptions options)
      : options_(std::move(options)),
        acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()),
        deadline_timer_(net::make_strand(ioc_)),
        deadline_tick_(deadlineTick(options_)),
        handler_pool_(std::clamp<std::size_t>(options_.handler_threads, 1,
                                              std::max<std::size_t>(1, options_.max_connections)),
                      "http-handler") {}

  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;
  ~Core() { stop(0ms); }

  void route(std::string method, std::string path, Handler handler, AsyncHandler async_handler);
  Result<std::string> start();
  void stop(std::chrono::milliseconds grace);

  // Used by sessions.
  const ServerOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(); }
  HandlerPool& handlerPool() { return handler_pool_; }
  void unregisterSession(SessionBase* session, SessionKind kind);
  // The TLS context and headers for a connection accepted now. Thread-safe.
  std::shared_ptr<const ConnectionSettings> security() {
    std::lock_guard lock(security_mutex_);
    return security_;
  }
  // Whether `settings` are those in force, for a connection that holds them. Thread-safe,
  // without a lock: a connection's settings stay alive while it holds them, so their
  // address cannot be reused meanwhile.
  bool current(const ConnectionSettings* settings) const {
    return settings == current_security_.load(std::memory_order_acquire);
  }
  Result<void> checkReload(const ConnectionSettings& settings) const;
  Result<void> reload(std::shared_ptr<const ConnectionSettings> settings);
  static Result<std::shared_ptr<net::ssl::context>> makeTlsContext(const TlsOptions& t);
  // Queues an answer for its connection; thread-safe. The I/O threads take every queued
  // answer at once: one wake-up for a group of answers, not one per answer.
  void answerLater(PendingAnswer answer);
  // Counts `bytes` of an answer about to be written against max_unsent_bytes. Returns
  // false, counting nothing, when they would take the total past it (answers up to
  // kAlwaysSentBytes are never counted, and always go). Thread-safe.
  bool reserveUnsent(std::size_t bytes);
  // Gives back what reserveUnsent() counted once the answer is written or dropped.
  void releaseUnsent(std::size_t bytes) {
    if (bytes > 0) unsent_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  }

  struct Match {
    const RouteEntry* route = nullptr;
    std::string allow;  // methods registered for this path, when the method did not match
  };
  Match match(std::string_view method, std::string_view path) const;
  // The answer to a request `found` has no route for: 404, or 405 with Allow.
  static Response refusal(const Match& found);

 private:
  void doAccept();
  void onAccept(const beast::error_code& ec, tcp::socket socket);
  std::vector<std::shared_ptr<SessionBase>> liveSessions();
  Result<void> loadTls();
  bool waitForSessions(std::chrono::steady_clock::time_point deadline);
  void scheduleDeadlineCheck();
  void checkDeadlines();
  void flushAnswers();

  ServerOptions options_;
  std::vector<RouteEntry> routes_;

  // Sessions register here. Declared before the io_context: sessions still referenced by
  // pending operations are destroyed with it and unregister on the way.
  std::mutex sessions_mutex_;
  std::condition_variable sessions_cv_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  std::size_t connections_ = 0;  // Regular sessions, counted against max_connections
  std::size_t rejecting_ = 0;    // Reject sessions
  // Bytes of answers being written (reserveUnsent); before the io_context, whose
  // destruction destroys the sessions that give theirs back.
  std::atomic<std::size_t> unsent_bytes_{0};
  std::atomic<std::int64_t> last_unsent_warning_ms_{0};
  std::atomic<std::uint64_t> unsent_refusals_{0};

  std::atomic<bool> stopping_{false};
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;

  std::mutex security_mutex_;
  std::shared_ptr<const ConnectionSettings> security_ = std::make_shared<const ConnectionSettings>();
  std::atomic<const ConnectionSettings*> current_security_{security_.get()};
  net::io_context ioc_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  net::steady_timer deadline_timer_;
  const std::chrono::milliseconds deadline_tick_;
  std::vector<std::thread> io_threads_;
  HandlerPool handler_pool_;

  // Answers waiting for an I/O thread. After the io_context: answers left over at
  // destruction release their connections while the io_context still exists.
  std::mutex answers_mutex_;
  std::vector<PendingAnswer> answers_;
  bool answers_posted_ = false;
};

// Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  Session(Core& core, tcp::socket socket, SessionKind kind,
          std::shared_ptr<const ConnectionSettings> security) requires(!kTls)
      : core_(core), security_(std::move(security)), stream_(std::move(socket)), kind_(kind) {
    init();
  }
  Session(Core& core, tcp::socket socket, SessionKind kind,
          std::shared_ptr<const ConnectionSettings> security) requires(kTls)
      : core_(core),
        security_(std::move(security)),
        stream_(std::move(socket), *security_->ssl),
        kind_(kind) {
    init();
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() override {
    core_.releaseUnsent(reserved_);
    core_.unregisterSession(this, kind_);
  }

  net::any_io_executor executor() override { return stream_.get_executor(); }

  // Entry point, on the session's strand. A TLS connection first completes its
  // handshake (within read_timeout), also before a 503 refusal.
  void start() {
    if constexpr (kTls) {
      if (core_.stopping()) {
        closeNow();
        return;
      }
      setDeadline(core_.options().read_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              beast::bind_front_handler(&Session<Stream>::onHandshake, shared_from_this()));
      return;
    }
    begin();
  }

  void onServerStop() override {
    if (state_ == State::Idle) closeNow();
  }

  void forceClose() override { closeNow(); }

  void onSettingsReplaced() override {
    if (state_ == State::Idle && !core_.current(security_.get())) closeNow();
  }

  void onDeadline() override {
    if (state_ == State::Closed && !lingering_) return;
    if (!deadlinePassed()) return;  // moved on to another phase meanwhile
    if (state_ == State::Reading) spdlog::debug("http request read timed out remote={}", remote_);
    closeNow();
  }

  void answer(Response response, bool close, unsigned version) override {
    sendResponse(std::move(response), close, version);
  }

 private:
  enum class State { Idle, Reading, Handling, Writing, Closed };

  void init() {
    beast::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    if (!ec) remote_ = endpointString(ep);
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void onHandshake(const beast::error_code& ec) {
    if (ec) {
      spdlog::debug("tls handshake failed remote={} error={}", remote_, logValue(ec.message()));
      closeNow();
      return;
    }
    begin();
  }

  void begin() {
    if (kind_ == SessionKind::Reject) {
      Response r = Response::error(503, "too many connections");
      r.headers.emplace_back("Retry-After", "1");
      sendResponse(std::move(r), true, 11);
      return;
    }
    if (core_.stopping()) {
      closeNow();
      return;
    }
    setDeadline(core_.options().read_timeout);
    waitForRequest();
  }

  void waitForRequest() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(core_.options().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(core_.options().max_body_bytes));
    if (core_.stopping()) {
      closeNow();
      return;
    }
    if (buffer_.size() > 0) {  // the next request is already (partly) here
      state_ = State::Reading;
      if (!first_request_) setDeadline(core_.options().read_timeout);
      readHeader();
      return;
    }
    if (!core_.current(security_.get())) {  // reloaded while the last answer was written
      closeNow();
      return;
    }
    state_ = State::Idle;
    if (!first_request_) setDeadline(core_.options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session<Stream>::onFirstBytes, shared_from_this()));
  }

  void onFirstBytes(const beast::error_code& ec, std::size_t n) {
    if (ec) {  // idle timeout, peer closed, or closed by stop()
      closeNow();
      return;
    }
    buffer_.commit(n);
    state_ = State::Reading;
    if (!first_request_) setDeadline(core_.options().read_timeout);
    readHeader();
  }

  void readHeader() {
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session<Stream>::onHeader, shared_from_this()));
  }

  void onHeader(const beast::error_code& ec, std::size_t) {
    if (ec) {
      failRead(ec);
      return;
    }
    auto length = parser_->content_length();
    if (length && *length > core_.options().max_body_bytes) {
      sendResponse(Response::error(413, "request body too large"), true, 11);
      return;
    }
    const auto& req = parser_->get();
    if (req.target().empty() || req.target().front() != '/') {
      sendResponse(Response::error(400, "malformed request target"), true, 11);
      return;
    }
    // A Transfer-Encoding that does not end with chunked leaves the end of the body
    // unknown (RFC 9112, 6.3): refused, and the connection closed.
    if (req.count(bhttp::field::transfer_encoding) != 0 && !parser_->chunked()) {
      sendResponse(Response::error(400, "unsupported Transfer-Encoding"), true, 11);
      return;
    }
    if (parser_->is_done()) {
      dispatch();
      return;
    }
    auto expect = req[bhttp::field::expect];
    if (req.version() >= 11 &&
        equalsIgnoreCase(std::string_view(expect.data(), expect.size()), "100-continue")) {
      // A body no route would take is not asked for: the answer comes now, and the
      // connection closes (the body may follow anyway).
      const std::string_view target(req.target().data(), req.target().size());
      const auto found = core_.match(std::string_view(req.method_string().data(), req.method_string().size()),
                                     target.substr(0, target.find('?')));
      if (found.route == nullptr) {
        sendResponse(Core::refusal(found), true, req.version());
        return;
      }
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](const beast::error_code& wec, std::size_t) {
                         if (wec) {
                           self->closeNow();
                           return;
                         }
                         self->readBody();
                       });
      return;
    }
    readBody();
  }

  void readBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session<Stream>::onBody, shared_from_this()));
  }

  void onBody(const beast::error_code& ec, std::size_t) {
    if (ec) {
      failRead(ec);
      return;
    }
    dispatch();
  }

  // Several errors close the connection alike; each keeps its own branch because the order of
  // the tests matters (a partial message must not be answered as a parse error).
  // NOLINTBEGIN(bugprone-branch-clone)
  void failRead(const beast::error_code& ec) {
    if (ec == bhttp::error::header_limit) {
      sendResponse(Response::error(431, "request header too large"), true, 11);
    } else if (ec == bhttp::error::body_limit) {
      sendResponse(Response::error(413, "request body too large"), true, 11);
    } else if (ec == beast::error::timeout) {
      spdlog::debug("http request read timed out remote={}", remote_);
      closeNow();
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
               ec == net::error::operation_aborted) {
      closeNow();
    } else if (isParseError(ec)) {
      sendResponse(Response::error(400, "malformed request"), true, 11);
    } else {
      closeNow();
    }
  }
  // NOLINTEND(bugprone-branch-clone)

  void dispatch() {
    state_ = State::Handling;
    clearDeadline();
    auto& msg = parser_->get();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : msg) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(msg.body());
    req.remote = remote_;
    const bool close = !msg.keep_alive();
    const unsigned version = msg.version();

    // HEAD is answered as GET would be, without the body (RFC 9110, 9.3.2).
    head_ = req.method == "HEAD";
    if (head_) req.method = "GET";  // handlers see the GET they answer
    auto found = core_.match(req.method, req.path);
    if (found.route == nullptr) {
      sendResponse(Core::refusal(found), close, version);
      return;
    }
    if (found.route->async_handler) {
      // The answer comes back through the Responder, from whichever thread has it.
      Responder responder([self = shared_from_this(), close, version](Response res) {
        Core& core = self->core_;
        core.answerLater(PendingAnswer{self, std::move(res), close, version});
      });
      invokeAsync(found.route->async_handler, std::move(req), responder);
      return;
    }
    core_.handlerPool().post([self = shared_from_this(), handler = &found.route->handler,
                              req = std::move(req), close, version]() mutable {
      Response res = invoke(*handler, req);
      Core& core = self->core_;
      core.answerLater(PendingAnswer{std::move(self), std::move(res), close, version});
    });
  }

  static Response invoke(const Handler& handler, const Request& req) {
    try {
      return handler(req);
    } catch (const std::exception& e) {
      spdlog::error("http handler failed method={} path={} error={}", req.method, logValue(req.path),
                    logValue(e.what()));
    } catch (...) {
      spdlog::error("http handler failed method={} path={} error=unknown", req.method, logValue(req.path));
    }
    return Response::error(500, "internal error");
  }

  static void invokeAsync(const AsyncHandler& handler, Request req, const Responder& responder) {
    const std::string method = req.method;
    const std::string path = req.path;
    try {
      handler(std::move(req), responder);
      return;
    } catch (const std::exception& e) {
      spdlog::error("http handler failed method={} path={} error={}", method, logValue(path),
                    logValue(e.what()));
    } catch (...) {
      spdlog::error("http handler failed method={} path={} error=unknown", method, logValue(path));
    }
    responder(Response::error(500, "internal error"));
  }

  void sendResponse(Response r, bool close, unsigned version) {
    if (state_ == State::Closed) return;
    state_ = State::Writing;
    // Settings reloaded since the connection opened: its next request comes on a new one.
    if (core_.stopping() || !core_.current(security_.get())) close = true;
    if (r.status < 100 || r.status > 599) {
      spdlog::error("http handler returned an invalid status status={}", r.status);
      r = Response::error(500, "internal error");
    }
    if (!head_ && !bodyless(r.status)) {
      if (core_.reserveUnsent(r.body.size())) {
        reserved_ = r.body.size() > ServerOptions::kAlwaysSentBytes ? r.body.size() : 0;
      } else {
        r = Response::error(503, "the server is busy sending other answers, retry later");
        r.headers.emplace_back("Retry-After", "1");
      }
    }
    const bool complete = serializeResponse(r, close, version, security_->headers, out_, head_);
    head_ = false;
    setDeadline(std::max<std::chrono::milliseconds>(core_.options().read_timeout, kMinWriteTimeout));
    if (complete) {
      net::async_write(stream_, net::buffer(out_),
                       beast::bind_front_handler(&Session<Stream>::onWrite, shared_from_this(), close));
      return;
    }
    // A large body is written from the response, not copied after the head.
    body_ = std::move(r.body);
    body_tail_ = std::move(r.body_tail);
    const std::array<net::const_buffer, 3> buffers = {
        net::buffer(out_), net::buffer(body_), body_tail_ ? net::buffer(*body_tail_) : net::const_buffer()};
    net::async_write(stream_, buffers,
                     beast::bind_front_handler(&Session<Stream>::onWrite, shared_from_this(), close));
  }

  void onWrite(bool close, const beast::error_code& ec, std::size_t) {
    // Keeps the buffer for the next answer, unless a large body made it large.
    if (out_.capacity() > kKeptAnswerCapacity) {
      std::string().swap(out_);
    } else {
      out_.clear();
    }
    std::string().swap(body_);
    body_tail_.reset();
    core_.releaseUnsent(reserved_);
    reserved_ = 0;
    if (ec) {
      closeNow();
      return;
    }
    if (close) {
      lingerClose();
      return;
    }
    first_request_ = false;
    waitForRequest();
  }

  // Half-closes and reads what the client still sends, for a short while, so that the
  // answer is not lost to a reset caused by unread input.
  void lingerClose() {
    state_ = State::Closed;
    lingering_ = true;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    auto linger = std::min<std::chrono::milliseconds>(
        std::max<std::chrono::milliseconds>(core_.options().read_timeout, 100ms), kMaxLingerTime);
    if (core_.stopping()) linger = std::min<std::chrono::milliseconds>(linger, kStopLingerTime);
    setDeadline(linger);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                              if (ec) {
                                self->closeNow();
                                return;
                              }
                              self->drain();
                            });
  }

  void closeNow() {
    state_ = State::Closed;
    lingering_ = false;
    clearDeadline();
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  Core& core_;
  std::shared_ptr<const ConnectionSettings> security_;  // before stream_: its TLS context outlives the stream
  Stream stream_;
  SessionKind kind_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_;   // the answer being written (its head, and its body when small)
  std::string body_;  // a large body being written after out_
  std::shared_ptr<const std::string> body_tail_;
  std::size_t reserved_ = 0;  // what the answer being written counts in Core::reserveUnsent
  bool head_ = false;         // the request being answered is a HEAD: the answer goes without its body
  State state_ = State::Idle;
  bool lingering_ = false;  // closed for sending, draining the input until the deadline
  bool first_request_ = true;
  std::array<char, kReadChunk> drain_buffer_{};
};

void Core::route(std::string method, std::string path, Handler handler, AsyncHandler async_handler) {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) throw std::logic_error("http::Server::route() called after start()");
  if (path.empty() || path.front() != '/') throw std::invalid_argument("route path must start with '/'");
  RouteEntry e;
  e.method = std::move(method);
  e.prefix = path.size() > 1 && path.back() == '/';
  e.path = std::move(path);
  e.handler = std::move(handler);
  e.async_handler = std::move(async_handler);
  routes_.push_back(std::move(e));
}

Response Core::refusal(const Match& found) {
  if (found.allow.empty()) return Response::error(404, "not found");
  Response r = Response::error(405, "method not allowed");
  r.headers.emplace_back("Allow", found.allow);
  return r;
}

Core::Match Core::match(std::string_view method, std::string_view path) const {
  Match m;
  const RouteEntry* best = nullptr;
  std::vector<std::string_view> allowed;
  for (const auto& r : routes_) {
    bool hit = r.prefix ? path.substr(0, r.path.size()) == r.path : path == r.path;
    if (!hit) continue;
    if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) allowed.push_back(r.method);
    if (r.method != method) continue;
    // An exact route beats a prefix route; among prefixes the longest wins.
    if (best == nullptr || (best->prefix && !r.prefix) ||
        (best->prefix && r.prefix && r.path.size() > best->path.size())) {
      best = &r;
    }
  }
  if (best != nullptr) {
    m.route = best;
    return m;
  }
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) m.allow += ", ";
    m.allow += allowed[i];
  }
  return m;
}

Result<std::string> Core::start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_ || stopped_) return makeError("state", "the HTTP server was already started");
  if (auto tls = loadTls(); !tls) return tls.error();
  auto parsed = parseListenAddress(options_.listen_address);
  if (!parsed) return parsed.error();
  const auto& addr = parsed.value();

  std::vector<tcp::endpoint> candidates;
  if (addr.host.empty()) {
    candidates.emplace_back(tcp::v6(), addr.port);  // dual-stack when available
    candidates.emplace_back(tcp::v4(), addr.port);
  } else {
    beast::error_code ec;
    auto ip = net::ip::make_address(addr.host, ec);
    if (!ec) {
      candidates.emplace_back(ip, addr.port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(addr.host, std::to_string(addr.port), ec);
      if (ec || results.empty()) {
        return makeError("listen_address", "cannot resolve \"" + addr.host + "\": " + ec.message());
      }
      for (const auto& entry : results) candidates.push_back(entry.endpoint());
    }
  }

  beast::error_code ec;
  for (const auto& ep : candidates) {
    acceptor_.close(ec);
    acceptor_.open(ep.protocol(), ec);
    if (ec) continue;
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (addr.host.empty() && ep.protocol() == tcp::v6()) acceptor_.set_option(net::ip::v6_only(false), ec);
    acceptor_.bind(ep, ec);
    if (ec) continue;
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) break;
  }
  if (ec || !acceptor_.is_open()) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return makeError("bind", "cannot listen on " + options_.listen_address + ": " + ec.message());
  }
  auto bound = acceptor_.local_endpoint(ec);
  if (ec) return makeError("bind", "cannot read the bound address: " + ec.message());

  work_.emplace(ioc_.get_executor());
  net::post(acceptor_.get_executor(), [this] { doAccept(); });
  net::post(deadline_timer_.get_executor(), [this] { scheduleDeadlineCheck(); });
  const std::size_t n = std::max<std::size_t>(1, options_.threads);
  for (std::size_t i = 0; i < n; ++i) {
    io_threads_.emplace_back([this] {
      nameThisThread("http-io");
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http I/O thread caught an exception error={}", logValue(e.what()));
        }
      }
    });
  }
  started_ = true;
  return endpointString(bound);
}

std::string opensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

Result<std::shared_ptr<net::ssl::context>> Core::makeTlsContext(const TlsOptions& t) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_options(native,
                      SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(native, t.min_version) != 1 ||
      SSL_CTX_set_max_proto_version(native, t.max_version) != 1) {
    return makeError("tls", "unsupported TLS version range: " + opensslErrors());
  }
  if (SSL_CTX_use_certificate_chain_file(native, t.cert_file.c_str()) != 1) {
    return makeError("tls", "cannot load certificate " + t.cert_file.string() + ": " + opensslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(native, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    if (mismatch) {
      ERR_clear_error();
      return makeError("tls", "the private key " + t.key_file.string() + " does not match the certificate " +
                                  t.cert_file.string());
    }
    return makeError("tls", "cannot load private key " + t.key_file.string() + ": " + opensslErrors());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return makeError("tls", "the private key " + t.key_file.string() + " does not match the certificate");
  }
  // Sessions resumed under client certificate checks need a context id: without one,
  // OpenSSL fails every resumed handshake once a peer certificate is asked for.
  static constexpr unsigned char kSessionContext[] = "replywatch";
  if (SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1) != 1) {
    return makeError("tls", "cannot set the TLS session context: " + opensslErrors());
  }
  if (!t.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, t.client_ca_file.c_str(), nullptr) != 1) {
      return makeError("tls", "cannot load client CA " + t.client_ca_file.string() + ": " + opensslErrors());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(t.client_ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(native, names);
  }
  // Certificates that are asked for but not verified are accepted whatever their chain.
  auto accept_any = [](int, X509_STORE_CTX*) { return 1; };
  switch (t.client_auth) {
    case ClientAuth::None: SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr); break;
    case ClientAuth::Request: SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_any); break;
    case ClientAuth::RequireAny:
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
      break;
    case ClientAuth::VerifyIfGiven: SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr); break;
    case ClientAuth::RequireAndVerify:
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return ctx;
}

Result<void> Core::loadTls() {
  auto settings = Server::loadConnectionSettings(options_.tls, options_.headers);
  if (!settings) return settings.error();
  return reload(std::move(settings).value());
}

Result<void> Core::checkReload(const ConnectionSettings& settings) const {
  if ((settings.ssl != nullptr) != options_.tls.has_value()) {
    return makeError("tls",
                     options_.tls ? "turning TLS off takes a restart" : "turning TLS on takes a restart");
  }
  return {};
}

Result<void> Core::reload(std::shared_ptr<const ConnectionSettings> settings) {
  if (auto allowed = checkReload(*settings); !allowed) return allowed;
  {
    std::lock_guard lock(security_mutex_);
    current_security_.store(settings.get(), std::memory_order_release);
    security_ = std::move(settings);
  }
  for (auto& session : liveSessions()) {
    auto ex = session->executor();
    net::post(ex, [session] { session->onSettingsReplaced(); });
  }
  return {};
}

void Core::doAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](const beast::error_code& ec, tcp::socket socket) {
    onAccept(ec, std::move(socket));
  });
}

void Core::onAccept(const beast::error_code& ec, tcp::socket socket) {
  if (stopping_.load() || !acceptor_.is_open()) return;
  if (ec) {
    // Typically out of file descriptors: retry shortly rather than spin.
    spdlog::warn("http accept failed error={}", logValue(ec.message()));
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](const beast::error_code& wec) {
      if (!wec && !stopping_.load()) doAccept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  std::optional<SessionKind> kind;
  {
    std::lock_guard lock(sessions_mutex_);
    if (connections_ < options_.max_connections) {
      ++connections_;
      kind = SessionKind::Regular;
    } else if (rejecting_ < options_.max_connections) {
      ++rejecting_;
      kind = SessionKind::Reject;
    }
  }
  if (!kind) {
    socket.close(ignored);
  } else {
    if (*kind == SessionKind::Reject) spdlog::debug("http connection refused: too many connections");
    auto launch = [this](auto session) {
      {
        std::lock_guard lock(sessions_mutex_);
        sessions_.emplace(session.get(), session);
      }
      auto ex = session->executor();
      net::post(ex, [s = std::move(session)] { s->start(); });
    };
    auto current = security();
    if (current->ssl) {
      launch(std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket), *kind,
                                                                             std::move(current)));
    } else {
      launch(
          std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket), *kind, std::move(current)));
    }
  }
  doAccept();
}

bool Core::reserveUnsent(std::size_t bytes) {
  if (bytes <= ServerOptions::kAlwaysSentBytes) return true;
  std::size_t used = unsent_bytes_.load(std::memory_order_relaxed);
  for (;;) {
    if (bytes > options_.max_unsent_bytes || used > options_.max_unsent_bytes - bytes) break;
    if (unsent_bytes_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed)) return true;
  }
  // One warning per 10 s at most, with the refusals since the last one.
  unsent_refusals_.fetch_add(1, std::memory_order_relaxed);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  std::int64_t last = last_unsent_warning_ms_.load(std::memory_order_relaxed);
  if ((last == 0 || now_ms - last >= 10'000) &&
      last_unsent_warning_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) {
    spdlog::warn(
        "http answers refused with 503: answers not yet read by their clients hold the limit "
        "unsent_bytes={} answer_bytes={} max_unsent_bytes={} refused={}",
        used, bytes, options_.max_unsent_bytes, unsent_refusals_.exchange(0, std::memory_order_relaxed));
  }
  return false;
}

void Core::answerLater(PendingAnswer answer) {
  bool post = false;
  {
    std::lock_guard lock(answers_mutex_);
    answers_.push_back(std::move(answer));
    post = !answers_posted_;
    answers_posted_ = true;
  }
  if (post) net::post(ioc_, [this] { flushAnswers(); });
}

void Core::flushAnswers() {
  std::vector<PendingAnswer> batch;
  {
    std::lock_guard lock(answers_mutex_);
    batch.swap(answers_);
    answers_posted_ = false;
  }
  // dispatch(): runs at once on this thread when the connection's strand is free.
  for (auto& a : batch) {
    auto ex = a.session->executor();
    net::dispatch(
        ex, [a = std::move(a)]() mutable { a.session->answer(std::move(a.response), a.close, a.version); });
  }
}

void Core::scheduleDeadlineCheck() {
  deadline_timer_.expires_after(deadline_tick_);
  deadline_timer_.async_wait([this](const beast::error_code& ec) {
    if (ec) return;
    checkDeadlines();
    scheduleDeadlineCheck();
  });
}

void Core::checkDeadlines() {
  const std::int64_t now = SteadyClock::now().time_since_epoch().count();
  std::vector<std::shared_ptr<SessionBase>> expired;
  {
    std::lock_guard lock(sessions_mutex_);
    for (auto& [ptr, weak] : sessions_) {
      if (ptr->deadline() > now) continue;
      if (auto s = weak.lock()) expired.push_back(std::move(s));
    }
  }
  // Released outside the lock: a last reference unregisters its session.
  for (auto& s : expired) {
    auto ex = s->executor();
    net::post(ex, [s = std::move(s)] { s->onDeadline(); });
  }
}

void Core::unregisterSession(SessionBase* session, SessionKind kind) {
  {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(session);
    if (kind == SessionKind::Regular) {
      --connections_;
    } else {
      --rejecting_;
    }
  }
  sessions_cv_.notify_all();
}

std::vector<std::shared_ptr<SessionBase>> Core::liveSessions() {
  std::vector<std::shared_ptr<SessionBase>> out;
  std::lock_guard lock(sessions_mutex_);
  for (auto& [ptr, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool Core::waitForSessions(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(sessions_mutex_);
  return sessions_cv_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

void Core::stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(lifecycle_mutex_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  stopping_.store(true);

  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
  for (auto& s : liveSessions()) {
    auto ex = s->executor();
    net::post(ex, [s] { s->onServerStop(); });
  }
  if (!waitForSessions(std::chrono::steady_clock::now() + grace)) {
    auto remaining = liveSessions();
    spdlog::warn("http shutdown grace period over, closing connections count={}", remaining.size());
    for (auto& s : remaining) {
      auto ex = s->executor();
      net::post(ex, [s] { s->forceClose(); });
    }
    remaining.clear();
    (void)waitForSessions(std::chrono::steady_clock::now() + 500ms);
  }
  work_.reset();
  ioc_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  handler_pool_.join();
}

}  // namespace

struct Responder::State {
  explicit State(std::function<void(Response)> f) : send(std::move(f)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (!sent.exchange(true)) {
      spdlog::error("http handler never answered a request");
      send(Response::error(500, "internal error"));
    }
  }
  std::function<void(Response)> send;
  std::atomic<bool> sent{false};
};

Responder::Responder(std::function<void(Response)> send) : state_(std::make_shared<State>(std::move(send))) {}

void Responder::operator()(Response response) const {
  if (state_->sent.exchange(true)) return;
  // Only this call gets here: the connection is released once answered, even while
  // copies of the Responder live on.
  auto send = std::move(state_->send);
  state_->send = nullptr;
  send(std::move(response));
}

struct Server::Impl : Core {
  using Core::Core;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() = default;

void Server::route(std::string method, std::string path, Handler handler) {
  if (!handler) throw std::invalid_argument("http::Server::route() needs a handler");
  impl_->route(std::move(method), std::move(path), std::move(handler), {});
}

void Server::routeAsync(std::string method, std::string path, AsyncHandler handler) {
  if (!handler) throw std::invalid_argument("http::Server::routeAsync() needs a handler");
  impl_->route(std::move(method), std::move(path), {}, std::move(handler));
}

void Server::runBlocking(std::function<void()> work) { impl_->handlerPool().post(std::move(work)); }

Result<std::string> Server::start() { return impl_->start(); }

void Server::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

Result<std::shared_ptr<const ConnectionSettings>> Server::loadConnectionSettings(
    const std::optional<TlsOptions>& tls, std::vector<std::pair<std::string, std::string>> headers) {
  auto settings = std::make_shared<ConnectionSettings>();
  settings->headers = std::move(headers);
  if (tls) {
    auto ctx = Core::makeTlsContext(*tls);
    if (!ctx) return ctx.error();
    settings->ssl = std::move(ctx).value();
  }
  return std::shared_ptr<const ConnectionSettings>(std::move(settings));
}

Result<void> Server::checkReload(const ConnectionSettings& settings) const {
  return impl_->checkReload(settings);
}

Result<void> Server::reload(std::shared_ptr<const ConnectionSettings> settings) {
  if (!settings) throw std::invalid_argument("http::Server::reload() needs settings");
  return impl_->reload(std::move(settings));
}

}  // namespace replywatch::http
