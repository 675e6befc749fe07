#pragma once
// Test doubles and builders shared by the tracker tests.
#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/model.h"
#include "daemon/tracker/tracker.h"

namespace replywatch {
// Readable turns in assertion messages.
inline void PrintTo(const Turn& t, std::ostream* os) {
  *os << "{" << t.source << "/" << t.conversation_id << "/" << t.question_id
      << " asked=" << toMillis(t.asked_at) << " answer=" << t.answer_id
      << " at=" << (t.answered_at ? toMillis(*t.answered_at) : -1) << " handler=" << t.handler
      << " breached=" << (t.breached_at ? toMillis(*t.breached_at) : -1) << "}";
}
}  // namespace replywatch

namespace replywatch::tracker::testing {

inline Timestamp at(std::int64_t seconds) { return fromMillis(1'700'000'000'000 + seconds * 1000); }

inline MessageRecord msg(std::string id, std::int64_t seconds, Role role, std::string conversation = "c1",
                         std::string source = "src", std::string account = "acme",
                         std::string channel = "x") {
  MessageRecord m;
  m.source = std::move(source);
  m.id = std::move(id);
  m.account = std::move(account);
  m.channel = std::move(channel);
  m.conversation_id = std::move(conversation);
  m.created_at = at(seconds);
  m.role = role;
  if (role == Role::Brand) {
    m.responder = "agent1";
    m.handler = "team";
    m.route = Route::Internal;
  }
  return m;
}

inline config::Config makeConfig(std::chrono::seconds threshold = std::chrono::seconds{3600}) {
  config::Config c;
  config::AccountConfig a;
  a.name = "acme";
  a.threshold = threshold;
  c.accounts.push_back(a);
  config::SourceConfig s;
  s.name = "src";
  s.type = "export";
  s.account = "acme";
  s.channel = "x";
  c.sources.push_back(s);
  return c;
}

// Stands in for the store: keeps what plans and ticks persist, serves conversations.
class FakeStore : public ConversationLoader {
 public:
  Result<StoredConversation> load(const ConversationKey& key) override {
    ++loads;
    if (fail) return makeError("io", "disk on fire");
    auto it = messages.find(key);
    if (it == messages.end()) return StoredConversation{};
    StoredConversation out{it->second, {}};
    for (const auto& [k, t] : turns) {
      if (t.source == key.source && t.conversation_id == key.conversation_id) out.turns.push_back(t);
    }
    return out;
  }

  void apply(const Plan& plan) {
    for (const MessageRecord& m : plan.new_messages) messages[{m.source, m.conversation_id}].push_back(m);
    for (const TurnKey& k : plan.delete_turns) turns.erase(k);
    for (const Turn& t : plan.upsert_turns) turns[keyOf(t)] = t;
  }
  void applyTicks(const std::vector<Turn>& ticked) {
    for (const Turn& t : ticked) turns[keyOf(t)] = t;
  }

  std::vector<Turn> allTurns() const {
    std::vector<Turn> out;
    for (const auto& [k, t] : turns) out.push_back(t);
    return out;
  }
  std::vector<MessageRecord> openMessages() const {
    std::vector<MessageRecord> out;
    for (const auto& [k, t] : turns) {
      if (!t.open()) continue;
      const auto& ms = messages.at({t.source, t.conversation_id});
      out.insert(out.end(), ms.begin(), ms.end());
    }
    return out;
  }

  std::map<ConversationKey, std::vector<MessageRecord>> messages;
  std::map<TurnKey, Turn> turns;
  int loads = 0;
  bool fail = false;
};

// prepare + store + commit, as the ingest pipeline does. Returns a copy of the plan.
inline Plan ingest(Tracker& tracker, FakeStore& store, std::vector<MessageRecord> records) {
  Result<Plan> plan = tracker.prepare(std::move(records));
  EXPECT_TRUE(plan.ok());
  if (!plan.ok()) return {};
  Plan copy = plan.value();
  store.apply(copy);
  tracker.commit(std::move(plan.value()));
  return copy;
}

}  // namespace replywatch::tracker::testing
