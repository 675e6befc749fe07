// Pure computation of question turns from the messages of one conversation.
#include <algorithm>

#include "daemon/tracker/tracker.h"
#include "daemon/tracker/turns_internal.h"

namespace replywatch::tracker {
namespace internal {

void sortAndDedup(std::vector<MessageRecord>& messages) {
  std::stable_sort(messages.begin(), messages.end(), [](const MessageRecord& a, const MessageRecord& b) {
    if (a.id != b.id) return a.id < b.id;
    return a.created_at < b.created_at;
  });
  auto last = std::unique(messages.begin(), messages.end(),
                          [](const MessageRecord& a, const MessageRecord& b) { return a.id == b.id; });
  messages.erase(last, messages.end());
  std::sort(messages.begin(), messages.end(), messageLess);
}

std::vector<Turn> turnsOfSorted(const std::vector<MessageRecord>& messages,
                                std::chrono::milliseconds threshold) {
  std::vector<Turn> turns;
  appendTurnsOfSorted(
      messages.size(), [&](std::size_t k) -> const MessageRecord& { return messages[k]; }, threshold, turns);
  return turns;
}

Thresholds::Thresholds(const config::Config& config) {
  for (const auto& a : config.accounts) {
    by_account_[a.name] = std::chrono::duration_cast<std::chrono::milliseconds>(a.threshold).count();
  }
  for (const auto& s : config.sources) by_source_[s.name] = ms(s.account, {});
}

std::int64_t Thresholds::ms(std::string_view account, std::string_view source) const {
  auto it = by_account_.find(std::string(account));
  if (it != by_account_.end()) return it->second;
  it = by_source_.find(std::string(source));
  return it == by_source_.end() ? std::int64_t{3600} * 1000 : it->second;
}

}  // namespace internal

std::vector<Turn> computeTurns(std::vector<MessageRecord> messages, std::chrono::seconds threshold) {
  internal::sortAndDedup(messages);
  return internal::turnsOfSorted(messages, std::chrono::duration_cast<std::chrono::milliseconds>(threshold));
}

}  // namespace replywatch::tracker
