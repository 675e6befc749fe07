#pragma once
// Helpers shared by the tracker's translation units (not part of the public interface).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/model.h"

namespace replywatch::tracker::internal {

// Drops duplicate ids (keeping, for each id, the copy with the earliest created_at, then
// the first one given) and sorts by (created_at, id).
void sortAndDedup(std::vector<MessageRecord>& messages);

// Appends to `turns` the turns of the `n` messages at(0) .. at(n - 1) (each a
// const BasicMessageRecord<Text>&), sorted by (created_at, id) without duplicate ids.
template <typename At, typename Text>
void appendTurnsOfSorted(std::size_t n, At at, std::chrono::milliseconds threshold,
                         std::vector<BasicTurn<Text>>& turns) {
  bool open = false;
  for (std::size_t k = 0; k < n; ++k) {
    const BasicMessageRecord<Text>& m = at(k);
    switch (m.role) {
      case Role::Ignored:
      case Role::Inbound:  // joins an open turn, never opens one
        break;
      case Role::Question:
        if (!open) {
          BasicTurn<Text>& t = turns.emplace_back();
          t.account = m.account;
          t.channel = m.channel;
          t.source = m.source;
          t.conversation_id = m.conversation_id;
          t.question_id = m.id;
          t.asked_at = m.created_at;
          open = true;
        }
        break;
      case Role::Brand:
        if (open) {
          BasicTurn<Text>& t = turns.back();
          t.answer_id = m.id;
          t.answered_at = m.created_at;
          t.responder = m.responder;
          t.handler = m.handler.empty() ? Text("unknown") : m.handler;
          t.route = m.route;
          if (m.created_at - t.asked_at > threshold) t.breached_at = t.asked_at + threshold;
          open = false;
        }
        break;
    }
  }
}

// Turns of messages already sorted by (created_at, id) without duplicate ids.
std::vector<Turn> turnsOfSorted(const std::vector<MessageRecord>& messages,
                                std::chrono::milliseconds threshold);

// Each account's threshold in milliseconds, from the configuration. An account not
// configured (named by the data, e.g. a twcs brand author) takes the threshold of its
// source's account, as the classifier takes its settings; one hour without either.
class Thresholds {
 public:
  explicit Thresholds(const config::Config& config);
  std::int64_t ms(std::string_view account, std::string_view source) const;

 private:
  std::unordered_map<std::string, std::int64_t> by_account_;
  std::unordered_map<std::string, std::int64_t> by_source_;  // its account's
};

// True when (created_at, id) of a orders before b.
inline bool messageLess(const MessageRecord& a, const MessageRecord& b) {
  if (a.created_at != b.created_at) return a.created_at < b.created_at;
  return a.id < b.id;
}

}  // namespace replywatch::tracker::internal
