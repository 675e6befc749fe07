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
  bool open = false;
  for (const MessageRecord& m : messages) {
    switch (m.role) {
      case Role::Ignored:
      case Role::Inbound:  // joins an open turn, never opens one
        break;
      case Role::Question:
        if (!open) {
          Turn t;
          t.account = m.account;
          t.channel = m.channel;
          t.source = m.source;
          t.conversation_id = m.conversation_id;
          t.question_id = m.id;
          t.asked_at = m.created_at;
          turns.push_back(std::move(t));
          open = true;
        }
        break;
      case Role::Brand:
        if (open) {
          Turn& t = turns.back();
          t.answer_id = m.id;
          t.answered_at = m.created_at;
          t.responder = m.responder;
          t.handler = m.handler.empty() ? std::string("unknown") : m.handler;
          t.route = m.route;
          if (m.created_at - t.asked_at > threshold) t.breached_at = t.asked_at + threshold;
          open = false;
        }
        break;
    }
  }
  return turns;
}

}  // namespace internal

std::vector<Turn> computeTurns(std::vector<MessageRecord> messages, std::chrono::seconds threshold) {
  internal::sortAndDedup(messages);
  return internal::turnsOfSorted(messages, std::chrono::duration_cast<std::chrono::milliseconds>(threshold));
}

}  // namespace replywatch::tracker
