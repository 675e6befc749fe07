// The turns of a whole load at once: one sort of the load instead of a plan per batch.
#include <algorithm>
#include <tuple>

#include "daemon/core/key_sort.h"
#include "daemon/tracker/tracker.h"
#include "daemon/tracker/turns_internal.h"

namespace replywatch::tracker {

namespace {

template <typename Text>
BasicLoadTurns<Text> turnsOf(const config::Config& config,
                             const std::vector<BasicMessageRecord<Text>>& messages) {
  using MessageRecord = BasicMessageRecord<Text>;
  const internal::Thresholds thresholds(config);
  const Ranks source_ranks(config.sourceNames());
  RankLookup sources(source_ranks);
  BasicLoadTurns<Text> load;
  // Each conversation's messages together, in (created_at, id) order.
  load.by_conversation =
      sortedOrder(
          messages.size(),
          [&](std::uint32_t i) {
            const MessageRecord& m = messages[i];
            return textThenKey(sources(m.source), m.conversation_id, ordered(toMillis(m.created_at)), i);
          },
          [&](std::uint32_t a, std::uint32_t b) {
            const MessageRecord& x = messages[a];
            const MessageRecord& y = messages[b];
            return std::tie(x.conversation_id, x.created_at, x.id) <
                   std::tie(y.conversation_id, y.created_at, y.id);
          },
          false)
          .order;
  const std::vector<std::uint32_t>& order = load.by_conversation;
  std::vector<BasicTurn<Text>>& turns = load.turns;
  // At most one turn per question.
  turns.reserve(static_cast<std::size_t>(std::count_if(
      messages.begin(), messages.end(), [](const MessageRecord& m) { return m.role == Role::Question; })));
  // Messages are read in conversation order: those a few places ahead are fetched.
  std::size_t fetched = 0;  // order[0, fetched) asked for
  std::string_view account;
  std::string_view source;
  std::chrono::milliseconds threshold{thresholds.ms(account, source)};
  for (std::size_t begin = 0; begin < order.size();) {
    const MessageRecord& first = messages[order[begin]];
    std::size_t end = begin + 1;
    while (end < order.size() && messages[order[end]].conversation_id == first.conversation_id &&
           messages[order[end]].source == first.source) {
      ++end;
    }
    for (; fetched < std::min(order.size(), end + kPrefetchDistance); ++fetched) {
      prefetchRow(messages[order[fetched]]);
    }
    // Conversations of one account come in runs: its threshold looked up once per run.
    if (first.account != account || first.source != source) {
      account = first.account;
      source = first.source;
      threshold = std::chrono::milliseconds{thresholds.ms(account, source)};
    }
    internal::appendTurnsOfSorted(
        end - begin, [&](std::size_t k) -> const MessageRecord& { return messages[order[begin + k]]; },
        threshold, turns);
    begin = end;
  }
  return load;
}

}  // namespace

LoadTurns turnsOfLoad(const config::Config& config, const std::vector<MessageRecord>& messages) {
  return turnsOf(config, messages);
}

CompactLoadTurns turnsOfLoad(const config::Config& config,
                             const std::vector<CompactMessageRecord>& messages) {
  return turnsOf(config, messages);
}

}  // namespace replywatch::tracker
