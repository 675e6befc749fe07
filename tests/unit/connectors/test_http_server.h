#pragma once
// A minimal HTTP/1.1 server on 127.0.0.1 (port chosen by the system) for poller tests:
// one request per connection, answers produced by a handler function.

// GCC's optimizer reports "potential null pointer dereference" inside Asio's scheduler
// once inlined into this file; the code is Boost's, not ours.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace replywatch::connectors::testing {

class TestHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::string> header(const std::string& name) const {
      for (const auto& [k, v] : headers) {
        if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) ==
                     std::tolower(static_cast<unsigned char>(b));
            }))
          return v;
      }
      return std::nullopt;
    }
  };
  struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
  };
  using Handler = std::function<Response(const Request&, int index)>;

  explicit TestHttpServer(Handler handler)
      : handler_(std::move(handler)),
        acceptor_(io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }

  // A failure to wake or join the server thread ends the test run, which is what a test wants.
  // NOLINTNEXTLINE(bugprone-exception-escape)
  ~TestHttpServer() {
    stopping_ = true;
    // Wake the blocking accept() with a connection of our own.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }

  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  static const char* reasonPhrase(int status) {
    switch (status) {
      case 200: return "OK";
      case 304: return "Not Modified";
      case 404: return "Not Found";
      case 429: return "Too Many Requests";
      case 500: return "Internal Server Error";
      case 503: return "Service Unavailable";
      default: return "Status";
    }
  }

  void serve() {
    for (;;) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      handle(socket);
    }
  }

  void handle(boost::asio::ip::tcp::socket& socket) {
    boost::asio::streambuf buffer;
    boost::system::error_code ec;
    boost::asio::read_until(socket, buffer, "\r\n\r\n", ec);
    if (ec) return;
    std::string head(boost::asio::buffers_begin(buffer.data()), boost::asio::buffers_end(buffer.data()));
    head = head.substr(0, head.find("\r\n\r\n"));
    Request request;
    std::size_t pos = head.find("\r\n");
    std::string first = head.substr(0, pos);
    auto sp1 = first.find(' ');
    auto sp2 = first.find(' ', sp1 + 1);
    request.method = first.substr(0, sp1);
    request.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos) {
      std::size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers.emplace_back(line.substr(0, colon), value);
      }
      pos = next;
    }
    int index = 0;
    {
      std::lock_guard lock(mutex_);
      index = static_cast<int>(requests_.size());
      requests_.push_back(request);
    }
    Response response = handler_(request, index);
    std::string out =
        "HTTP/1.1 " + std::to_string(response.status) + " " + reasonPhrase(response.status) + "\r\n";
    for (const auto& [k, v] : response.headers) out.append(k).append(": ").append(v).append("\r\n");
    out += "Content-Length: " + std::to_string(response.status == 304 ? 0 : response.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (response.status != 304) out += response.body;
    boost::asio::write(socket, boost::asio::buffer(out), ec);
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  }

  Handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

}  // namespace replywatch::connectors::testing
