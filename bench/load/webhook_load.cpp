// Open-loop HTTP load generator for bench/webhook_bench.sh: sends pre-signed webhook
// deliveries (lines "<signature>\t<body>" from bench/make_webhooks.py) at a fixed rate
// over keep-alive connections and reports the latency percentiles.
//
// Request i is due at start + i / rate, whatever happened to the ones before (open
// loop). It goes out on a free connection; when every connection is busy it waits in a
// queue. Its latency runs from the time it was due to the end of its response, so time
// spent queued behind a slow server counts (no coordinated omission). After the last
// request is due, the generator waits for every answer (up to --drain seconds); a
// request that got no answer is counted as an error, never as acknowledged.
//
// Prints one `key=value` line per figure on standard output.
//
//   webhook_load --port P --path /webhooks/bench --file F --rate R --duration S
//                [--host 127.0.0.1] [--connections 64] [--drain 30] [--timeline FILE]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Asio's scheduler trips GCC's -Wnull-dereference once inlined at -O2 and above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string path;
  std::string file;
  double rate = 0;
  double duration = 0;
  std::size_t connections = 64;
  double drain = 30;
  std::string timeline;  // --timeline: per-100 ms latency summary written there
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "webhook_load: " << problem
            << "\nusage: webhook_load --port P --path PATH --file FILE --rate R --duration S"
               " [--host H] [--connections N] [--drain S] [--timeline FILE]\n";
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) usage(args[i] + " needs a value");
    const std::string& key = args[i];
    const std::string& value = args[i + 1];
    try {
      if (key == "--host") {
        o.host = value;
      } else if (key == "--port") {
        o.port = value;
      } else if (key == "--path") {
        o.path = value;
      } else if (key == "--file") {
        o.file = value;
      } else if (key == "--rate") {
        o.rate = std::stod(value);
      } else if (key == "--duration") {
        o.duration = std::stod(value);
      } else if (key == "--connections") {
        o.connections = std::stoul(value);
      } else if (key == "--drain") {
        o.drain = std::stod(value);
      } else if (key == "--timeline") {
        o.timeline = value;
      } else {
        usage("unknown option " + key);
      }
    } catch (const std::exception&) {
      usage("bad value for " + key);
    }
  }
  if (o.port.empty() || o.path.empty() || o.file.empty()) usage("--port, --path and --file are required");
  if (o.rate <= 0 || o.duration <= 0 || o.connections == 0) usage("--rate, --duration, --connections > 0");
  return o;
}

// Pre-formatted HTTP/1.1 requests, one per delivery line.
std::vector<std::string> loadRequests(const Options& o, std::size_t wanted) {
  std::ifstream in(o.file);
  if (!in) usage("cannot read " + o.file);
  std::vector<std::string> out;
  out.reserve(wanted);
  std::string line;
  while (out.size() < wanted && std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) usage("a line of " + o.file + " has no tab");
    const std::string_view signature(line.data(), tab);
    const std::string_view body = std::string_view(line).substr(tab + 1);
    std::string r = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + o.port +
                    "\r\nContent-Type: application/x-ndjson\r\nX-Replywatch-Signature: ";
    r += signature;
    r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    r += body;
    out.push_back(std::move(r));
  }
  return out;
}

class Generator {
 public:
  Generator(Options options, std::vector<std::string> requests)
      : options_(std::move(options)), requests_(std::move(requests)), timer_(ioc_), deadline_(ioc_) {}

  int run() {
    tcp::resolver resolver(ioc_);
    endpoints_ = resolver.resolve(options_.host, options_.port);
    for (std::size_t i = 0; i < options_.connections; ++i) {
      auto c = std::make_unique<Connection>(ioc_);
      net::connect(c->socket, endpoints_);
      c->socket.set_option(tcp::no_delay(true));
      connections_.push_back(std::move(c));
    }
    for (auto& c : connections_) free_.push_back(c.get());
    latencies_us_.reserve(requests_.size());
    start_ = Clock::now() + std::chrono::milliseconds(50);
    const auto last_due = start_ + interval(requests_.size());
    deadline_.expires_at(last_due + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options_.drain)));
    deadline_.async_wait([this](const beast::error_code& ec) {
      if (!ec) giveUp();
    });
    schedule();
    ioc_.run();
    report();
    return 0;
  }

 private:
  struct Connection {
    explicit Connection(net::io_context& ioc) : socket(ioc) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
    std::size_t index = 0;
    Clock::time_point due;
  };

  Clock::duration interval(std::size_t i) const {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(i) / options_.rate));
  }

  // Queues every request that is due, sends what free connections allow, and sleeps
  // until the next one is due.
  void schedule() {
    const auto now = Clock::now();
    while (next_ < requests_.size() && start_ + interval(next_) <= now) {
      queue_.push_back(next_);
      ++next_;
    }
    sendQueued();
    if (next_ < requests_.size()) {
      timer_.expires_at(start_ + interval(next_));
      timer_.async_wait([this](const beast::error_code& ec) {
        if (!ec) schedule();
      });
    } else {
      finishIfDone();
    }
  }

  void sendQueued() {
    while (!queue_.empty() && !free_.empty()) {
      Connection* c = free_.back();
      free_.pop_back();
      const std::size_t i = queue_.front();
      queue_.pop_front();
      send(*c, i);
    }
  }

  void send(Connection& c, std::size_t i) {
    c.index = i;
    c.due = start_ + interval(i);
    ++in_flight_;
    ++sent_;
    net::async_write(
        c.socket, net::buffer(requests_[i]), [this, &c](const beast::error_code& ec, std::size_t) {
          if (ec) {
            fail(c);
            return;
          }
          c.parser.emplace();
          c.parser->body_limit(1024 * 1024);
          bhttp::async_read(c.socket, c.buffer, *c.parser,
                            [this, &c](const beast::error_code& rec, std::size_t) { onResponse(c, rec); });
        });
  }

  void onResponse(Connection& c, const beast::error_code& ec) {
    if (ec) {
      fail(c);
      return;
    }
    const auto now = Clock::now();
    --in_flight_;
    const auto& res = c.parser->get();
    const unsigned status = res.result_int();
    ++statuses_[status];
    if (status >= 200 && status < 300) ++ok_;
    latencies_us_.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - c.due).count(), UINT32_MAX)));
    due_ms_.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(c.due - start_).count())));
    last_answer_ = now;
    if (!res.keep_alive()) {
      reconnect(c);
      return;
    }
    release(c);
  }

  // A request whose answer was lost: an error, never counted as acknowledged.
  void fail(Connection& c) {
    --in_flight_;
    ++errors_;
    reconnect(c);
  }

  void reconnect(Connection& c) {
    beast::error_code ignored;
    c.socket.shutdown(tcp::socket::shutdown_both, ignored);
    c.socket.close(ignored);
    c.buffer.clear();
    if (gave_up_) return;
    net::async_connect(c.socket, endpoints_, [this, &c](const beast::error_code& ec, const tcp::endpoint&) {
      if (ec) {
        ++connect_errors_;
        finishIfDone();
        return;
      }
      beast::error_code ignored_option;
      c.socket.set_option(tcp::no_delay(true), ignored_option);
      release(c);
    });
  }

  void release(Connection& c) {
    free_.push_back(&c);
    sendQueued();
    finishIfDone();
  }

  void finishIfDone() {
    if (next_ < requests_.size() || !queue_.empty() || in_flight_ > 0) return;
    stop();
  }

  void giveUp() {
    gave_up_ = true;
    stop();
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    end_ = Clock::now();
    timer_.cancel();
    deadline_.cancel();
    for (auto& c : connections_) {
      beast::error_code ignored;
      c->socket.close(ignored);
    }
  }

  double percentileMs(double p) {
    if (latencies_us_.empty()) return 0;
    const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(latencies_us_.size() - 1));
    std::nth_element(latencies_us_.begin(), latencies_us_.begin() + static_cast<std::ptrdiff_t>(rank),
                     latencies_us_.end());
    return latencies_us_[rank] / 1000.0;
  }

  // One line per 100 ms of due times: start (s), answers, p50, p99 and max latency (ms).
  // Before the percentiles, which reorder the latencies.
  void writeTimeline() {
    if (options_.timeline.empty()) return;
    std::map<std::uint32_t, std::vector<std::uint32_t>> windows;
    for (std::size_t i = 0; i < latencies_us_.size(); ++i)
      windows[due_ms_[i] / 100].push_back(latencies_us_[i]);
    std::FILE* out = std::fopen(options_.timeline.c_str(), "w");
    if (out == nullptr) {
      std::cerr << "webhook_load: cannot write " << options_.timeline << "\n";
      return;
    }
    std::fprintf(out, "start_s\tanswers\tp50_ms\tp99_ms\tmax_ms\n");
    for (auto& entry : windows) {
      const std::uint32_t window = entry.first;
      std::vector<std::uint32_t>& lat = entry.second;
      std::sort(lat.begin(), lat.end());
      auto at = [&lat](double p) {
        return lat[static_cast<std::size_t>(p * static_cast<double>(lat.size() - 1))] / 1000.0;
      };
      std::fprintf(out, "%.1f\t%zu\t%.3f\t%.3f\t%.3f\n", window / 10.0, lat.size(), at(0.5), at(0.99),
                   at(1.0));
    }
    std::fclose(out);
  }

  void report() {
    writeTimeline();
    const double span = std::chrono::duration<double>(last_answer_ - start_).count();
    std::printf("target_rate=%.1f\n", options_.rate);
    // The wall-clock time of start_, to line the timeline up with other recordings.
    const auto since_start = Clock::now() - start_;
    std::printf(
        "start_unix_ms=%lld\n",
        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   (std::chrono::system_clock::now() - since_start).time_since_epoch())
                                   .count()));
    std::printf("scheduled=%zu\n", requests_.size());
    std::printf("sent=%zu\n", sent_);
    std::printf("unsent=%zu\n", requests_.size() - sent_);
    std::printf("answered=%zu\n", latencies_us_.size());
    std::printf("ok=%zu\n", ok_);
    std::printf("non2xx=%zu\n", latencies_us_.size() - ok_);
    std::printf("errors=%zu\n", errors_);
    std::printf("gave_up=%d\n", gave_up_ ? 1 : 0);
    std::printf("connect_errors=%zu\n", connect_errors_);
    std::printf("achieved_rate=%.1f\n", span > 0 ? static_cast<double>(latencies_us_.size()) / span : 0.0);
    for (const auto& [status, count] : statuses_) std::printf("status_%u=%zu\n", status, count);
    std::printf("p50_ms=%.3f\n", percentileMs(50));
    std::printf("p90_ms=%.3f\n", percentileMs(90));
    std::printf("p99_ms=%.3f\n", percentileMs(99));
    std::printf("p999_ms=%.3f\n", percentileMs(99.9));
    std::printf("max_ms=%.3f\n", percentileMs(100));
  }

  Options options_;
  std::vector<std::string> requests_;
  net::io_context ioc_;
  tcp::resolver::results_type endpoints_;
  net::steady_timer timer_;
  net::steady_timer deadline_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> free_;
  std::deque<std::size_t> queue_;
  std::size_t next_ = 0;
  std::size_t sent_ = 0;
  std::size_t in_flight_ = 0;
  std::size_t ok_ = 0;
  std::size_t errors_ = 0;
  std::size_t connect_errors_ = 0;
  std::map<unsigned, std::size_t> statuses_;
  std::vector<std::uint32_t> latencies_us_;
  std::vector<std::uint32_t> due_ms_;  // due time of each answer, from start_
  Clock::time_point start_;
  Clock::time_point end_;
  Clock::time_point last_answer_;
  bool gave_up_ = false;
  bool stopped_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);
  const auto wanted = static_cast<std::size_t>(options.rate * options.duration);
  auto requests = loadRequests(options, wanted);
  if (requests.size() < wanted) {
    std::cerr << "webhook_load: " << options.file << " holds " << requests.size() << " deliveries, " << wanted
              << " needed\n";
    return 2;
  }
  try {
    return Generator(options, std::move(requests)).run();
  } catch (const std::exception& e) {
    std::cerr << "webhook_load: " << e.what() << "\n";
    return 1;
  }
}
