#include "daemon/app/new_store_load.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <limits>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "daemon/core/key_sort.h"
#include "daemon/core/log.h"
#include "daemon/core/thread_name.h"
#include "daemon/store/store_file_builder.h"

namespace replywatch::app {

NewStoreLoad::NewStoreLoad(const config::Config& config) : config_(config), classifier_(config) {}

NewStoreLoad::~NewStoreLoad() = default;

Result<connectors::IngestOutcome> NewStoreLoad::ingest(const config::SourceConfig& source,
                                                       std::vector<Message> messages,
                                                       std::optional<std::string> cursor) {
  if (cursor) return makeError("store", "a load into a new store file keeps no source cursor");
  return keep(source, messages.size(), [&](std::size_t k) { return viewOf(messages[k]); });
}

Result<connectors::IngestOutcome> NewStoreLoad::ingestViews(const config::SourceConfig& source,
                                                            const std::vector<MessageView>& messages) {
  return keep(source, messages.size(), [&](std::size_t k) -> const MessageView& { return messages[k]; });
}

template <typename At>
Result<connectors::IngestOutcome> NewStoreLoad::keep(const config::SourceConfig& source, std::size_t n,
                                                     At at) {
  // The configuration's copy: the records view its texts.
  const config::SourceConfig* configured = config_.source(source.name);
  if (configured == nullptr) {
    return makeError("store", "source \"" + source.name + "\" is not in the configuration");
  }
  if (records_.size() + n >= std::numeric_limits<std::uint32_t>::max()) {
    return makeError("store", "the load has too many messages for one store file");
  }
  const std::uint32_t call = calls_++;
  for (std::size_t k = 0; k < n; ++k) {
    const MessageView& m = at(k);
    const tracker::Classifier::Decision d = classifier_.decide(*configured, m);
    CompactMessageRecord& r = records_.emplace_back();
    r.source = CompactText(configured->name);
    r.id = kept(m.id);
    r.account =
        CompactText(d.account.data() == configured->account.data() ? d.account : accountText(d.account));
    r.channel = CompactText(configured->channel);
    r.conversation_id = kept(m.conversation_id);
    r.in_reply_to = kept(m.in_reply_to);
    r.created_at = m.created_at;
    r.role = d.role;
    r.responder = kept(d.responder);
    r.handler = CompactText(d.handler);  // a configured handler's name, or static text
    r.route = d.route;
    call_of_.push_back(call);
  }
  connectors::IngestOutcome outcome;
  outcome.received = n;
  outcome.stored = n;
  return outcome;
}

std::string_view NewStoreLoad::accountText(std::string_view account) {
  if (account == last_account_) return last_account_;
  auto it = accounts_.find(account);
  if (it == accounts_.end()) {
    const std::string_view kept = texts_.copy(account);
    it = accounts_.emplace(kept, kept).first;
  }
  last_account_ = it->second;
  return last_account_;
}

bool NewStoreLoad::keptOver(std::uint32_t a, std::uint32_t b) const {
  // The pipeline plans each call's batch by conversation (Tracker::prepare), keeps the
  // first copy within a conversation, and refuses a message stored by an earlier call.
  if (call_of_[a] != call_of_[b]) return call_of_[a] < call_of_[b];
  const std::string_view x = records_[a].conversation_id;
  const std::string_view y = records_[b].conversation_id;
  if (x != y) return x < y;
  return a < b;
}

Result<std::vector<std::optional<MessagePlace>>> NewStoreLoad::messagePlaces(
    const std::string& source, const std::vector<std::string>& ids) {
  std::vector<std::optional<MessagePlace>> places(ids.size());
  if (records_.empty()) return places;
  // The record kept for each id asked for.
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::unordered_map<std::string_view, std::uint32_t> kept;
  for (const std::string& id : ids) kept.emplace(id, kNone);
  for (std::uint32_t i = 0; i < records_.size(); ++i) {
    const CompactMessageRecord& r = records_[i];
    if (r.source != source) continue;
    auto it = kept.find(r.id);
    if (it != kept.end() && (it->second == kNone || keptOver(i, it->second))) it->second = i;
  }
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const std::uint32_t i = kept.at(ids[k]);
    if (i != kNone) {
      places[k] = MessagePlace{std::string(records_[i].conversation_id), std::string(records_[i].account)};
    }
  }
  return places;
}

void NewStoreLoad::expectMessages(std::size_t count) {
  records_.reserve(records_.size() + count);
  call_of_.reserve(call_of_.size() + count);
}

Result<std::optional<std::string>> NewStoreLoad::cursor(const std::string& /*source*/) {
  return std::optional<std::string>();
}

Result<NewStoreLoad::Built> NewStoreLoad::build(const std::filesystem::path& path) {
  // Out of memory, most likely: the load holds the whole file. The threads are joined
  // and the building file removed on the way out.
  try {
    return buildFile(path);
  } catch (const std::exception& e) {
    return makeError("store", std::string("cannot build the store file: ") + e.what());
  }
}

Result<NewStoreLoad::Built> NewStoreLoad::buildFile(const std::filesystem::path& path) {
  Built built;
  // The turns are computed on another thread meanwhile, as if no message came twice:
  // again, after the duplicates are dropped, when some did.
  tracker::CompactLoadTurns turns;
  std::optional<std::string> turns_failed;
  std::thread turns_thread([&] {
    nameThisThread("load-turns");
    try {
      turns = tracker::turnsOfLoad(config_, records_);
    } catch (const std::exception& e) {
      turns_failed = e.what();
    }
  });
  std::vector<bool> dropped;
  store::MessageOrders orders;
  try {
    // Duplicates: sorted by (source, id), each id's copies in the order of keptOver();
    // the first of each run stays.
    // Every record comes from a configured source (ingest() is given its configuration).
    const Ranks source_ranks(config_.sourceNames());
    RankLookup sources(source_ranks);
    SortedRows sorted = sortedOrder(
        records_.size(),
        [&](std::uint32_t i) { return textKey(sources(records_[i].source), records_[i].id, i); },
        [&](std::uint32_t a, std::uint32_t b) {
          if (records_[a].id != records_[b].id) return records_[a].id < records_[b].id;
          return keptOver(a, b);
        },
        true);
    for (const std::size_t k : sorted.ties) {
      const CompactMessageRecord& x = records_[sorted.order[k - 1]];
      const CompactMessageRecord& y = records_[sorted.order[k]];
      if (x.source != y.source || x.id != y.id) continue;
      if (dropped.empty()) dropped.assign(records_.size(), false);
      dropped[sorted.order[k]] = true;
      ++built.duplicates;
    }
    // Without duplicates, the store's order of keys (with them, the builder sorts again).
    if (built.duplicates == 0) orders.by_key = std::move(sorted.order);
  } catch (...) {
    turns_thread.join();
    throw;
  }
  turns_thread.join();
  if (turns_failed) return makeError("store", "cannot build the store file: " + *turns_failed);
  if (built.duplicates > 0) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < records_.size(); ++i) {
      if (dropped[i]) continue;
      if (out != i) records_[out] = records_[i];
      ++out;
    }
    records_.resize(out);
    spdlog::info("messages given more than once were stored once duplicates={}", built.duplicates);
    turns = tracker::turnsOfLoad(config_, records_);
  }
  call_of_ = {};
  spdlog::debug("load sorted, writing the store file path={} messages={} duplicates={} turns={}",
                logValue(path.string()), records_.size(), built.duplicates, turns.turns.size());
  orders.by_conversation = std::move(turns.by_conversation);
  auto written = store::buildSqliteStore(path, records_, turns.turns, orders);
  if (!written) return written.error();
  built.messages = written->messages;
  built.turns = written->turns;
  return built;
}

}  // namespace replywatch::app
