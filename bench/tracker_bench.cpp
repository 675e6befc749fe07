// Tracker throughput (messages/s through prepare + commit, no store) and resident memory
// per open turn. Run: build/release/bench/replywatch_bench --benchmark_filter=Tracker
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon/core/heap.h"
#include "daemon/tracker/tracker.h"

namespace {

using namespace replywatch;

class EmptyLoader final : public tracker::ConversationLoader {
 public:
  Result<tracker::StoredConversation> load(const ConversationKey&) override {
    return tracker::StoredConversation{};
  }
};

config::Config benchConfig() {
  config::Config c;
  config::AccountConfig a;
  a.name = "acme-fr";
  c.accounts.push_back(a);
  config::SourceConfig s;
  s.name = "bench";
  s.type = "export";
  s.account = "acme-fr";
  s.channel = "export";
  c.sources.push_back(s);
  return c;
}

MessageRecord record(std::uint64_t conv, std::uint64_t n, bool brand, std::int64_t at_ms) {
  MessageRecord r;
  r.source = "bench";
  r.account = "acme-fr";
  r.channel = "export";
  r.conversation_id = "c" + std::to_string(conv);
  r.id = "m" + std::to_string(conv) + "-" + std::to_string(n);
  r.created_at = fromMillis(at_ms);
  r.role = brand ? Role::Brand : Role::Question;
  if (brand) {
    r.handler = "cm-agency";
    r.route = Route::Agency;
    r.responder = "acme";
  }
  return r;
}

long residentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Conversations of one question, one follow-up and one answer, in batches of 1000.
void BM_TrackerIngest(benchmark::State& state) {
  auto cfg = benchConfig();
  ManualClock clock(fromMillis(1'700'000'000'000));
  EmptyLoader loader;
  tracker::Tracker tracker(cfg, clock, loader);
  std::uint64_t conv = 0;
  const std::int64_t base = 1'600'000'000'000;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<MessageRecord> batch;
    batch.reserve(1002);
    for (int i = 0; i < 334; ++i, ++conv) {
      auto t = base + static_cast<std::int64_t>(conv) * 1000;
      batch.push_back(record(conv, 0, false, t));
      batch.push_back(record(conv, 1, false, t + 60'000));
      batch.push_back(record(conv, 2, true, t + 900'000));
    }
    state.ResumeTiming();
    auto plan = tracker.prepare(std::move(batch));
    tracker.commit(std::move(plan.value()));
  }
  state.SetItemsProcessed(state.iterations() * 1002);
}
BENCHMARK(BM_TrackerIngest);

// Resident memory per open turn: one million single-question conversations left open.
void BM_TrackerOpenTurnMemory(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  // The daemon's allocator settings (with jemalloc: its background purging).
  (void)tuneHeapForDaemon(128 * 1024, 2);
  for (auto _ : state) {
    auto cfg = benchConfig();
    ManualClock clock(fromMillis(1'700'000'000'000));
    EmptyLoader loader;
    auto before = residentBytes();
    {
      tracker::Tracker tracker(cfg, clock, loader);
      for (std::uint64_t start = 0; start < n; start += 10'000) {
        std::vector<MessageRecord> batch;
        for (std::uint64_t c = start; c < start + 10'000 && c < n; ++c) {
          batch.push_back(record(c, 0, false, 1'600'000'000'000 + static_cast<std::int64_t>(c)));
        }
        auto plan = tracker.prepare(std::move(batch));
        tracker.commit(std::move(plan.value()));
      }
      auto after = residentBytes();
      state.counters["bytes_per_open_turn"] = static_cast<double>(after - before) / static_cast<double>(n);
      // What the allocator still holds of the freed batches and of the tables' earlier
      // arrays goes back to the kernel: with jemalloc after its decay time (10 s by
      // default; the daemon's background purging does it while idle), or at once when
      // asked (as after a pruning). What stays resident is what the open turns hold.
      std::this_thread::sleep_for(std::chrono::seconds(12));
      state.counters["bytes_per_open_turn_after_12s"] =
          static_cast<double>(residentBytes() - before) / static_cast<double>(n);
      releaseFreeHeap();
      state.counters["bytes_per_open_turn_after_release"] =
          static_cast<double>(residentBytes() - before) / static_cast<double>(n);
      state.counters["open_turns"] = static_cast<double>(tracker.snapshot().channels.begin()->second.open);
    }
  }
}
BENCHMARK(BM_TrackerOpenTurnMemory)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
