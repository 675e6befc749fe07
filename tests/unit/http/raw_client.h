#pragma once
// A deliberately dumb HTTP client over a blocking POSIX socket, so tests control every
// byte sent (partial requests, oversized headers, garbage) and see exactly what the
// server answers or whether it closed the connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace replywatch::http::testing {

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class RawClient {
 public:
  // `address` is "127.0.0.1:port" as returned by Server::start(). A `receive_buffer`
  // above zero sets the socket's receive buffer (a client that reads slowly).
  explicit RawClient(const std::string& address, int receive_buffer = 0) {
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    int port = std::stoi(address.substr(colon + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {  // NOLINT
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect");
    }
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Returns false when the peer has closed or reset the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response (Content-Length framed). nullopt on close, reset or timeout.
  std::optional<RawResponse> readResponse(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    RawResponse r;
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    auto line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    auto sp = status_line.find(' ');
    if (sp == std::string::npos) return std::nullopt;
    r.status = std::stoi(status_line.substr(sp + 1, 3));
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = next + 2;
    }
    if (r.status == 100) return readResponse(timeout);
    std::size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buffer_.size() < length) {
      if (!fill(deadline)) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // Reads the raw bytes of an interim response such as "HTTP/1.1 100 Continue".
  std::string readRaw(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.find("\r\n\r\n") == std::string::npos) {
      if (!fill(deadline)) break;
    }
    auto end = buffer_.find("\r\n\r\n");
    std::string out = buffer_.substr(0, end == std::string::npos ? buffer_.size() : end + 4);
    buffer_.erase(0, out.size());
    return out;
  }

  // True when the server closes (EOF or reset) within `timeout`; data read meanwhile is kept.
  bool waitClosed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_) {
      if (!fill(deadline) && !closed_) return false;
    }
    return true;
  }

  bool closed() const { return closed_; }

  // Closes the client's side at once (the peer going away).
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    closed_ = true;
  }

 private:
  // Reads more bytes; false on timeout or close.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (closed_) return false;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc <= 0) return false;
    char buf[4096];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

// One complete request with Content-Length.
inline std::string makeRequest(std::string_view method, std::string_view target, std::string_view body = {},
                               std::string_view extra_headers = {}) {
  std::string r;
  r += method;
  r += ' ';
  r += target;
  r += " HTTP/1.1\r\nHost: test\r\n";
  r += extra_headers;
  if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

}  // namespace replywatch::http::testing
