#pragma once
// The tracker turns messages into question turns (see README.md, "How it measures"):
// within a conversation, messages in (created_at, id) order; a Question opens a turn
// when none is open, further inbound messages join it, the first Brand message closes it.
// The result depends only on the set of messages, never on their arrival order.
//
// Threading: not synchronized. The ingest pipeline owns the Tracker and calls it under
// its own mutex. No method performs I/O except through the ConversationLoader.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/clock.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"

namespace replywatch::tracker {

// Computes the turns of one conversation from its messages (any order; duplicates by id
// are ignored). `account` gives the threshold used to fill breached_at for answered turns
// (asked_at + threshold when the wait exceeds it). Pure function.
std::vector<Turn> computeTurns(std::vector<MessageRecord> messages, std::chrono::seconds threshold);

// The turns of a whole load of classified messages in which each (source, id) comes
// once, as a new store holding just them has them: the messages grouped by conversation,
// each conversation's turns as computeTurns() gives them, with the threshold of the
// account of the conversation's first message (by created_at, then id). Every message's
// source must be one of `config` (std::out_of_range otherwise). Pure function.
template <typename Text>
struct BasicLoadTurns {
  std::vector<BasicTurn<Text>> turns;  // by conversation
  // Indexes into the messages, by (source, conversation_id, created_at, id).
  std::vector<std::uint32_t> by_conversation;
};
using LoadTurns = BasicLoadTurns<std::string>;
using CompactLoadTurns = BasicLoadTurns<CompactText>;
LoadTurns turnsOfLoad(const config::Config& config, const std::vector<MessageRecord>& messages);
// The same of compact records (the turns' longer texts view what the messages' view).
CompactLoadTurns turnsOfLoad(const config::Config& config, const std::vector<CompactMessageRecord>& messages);

// A conversation as stored: its messages and the turns stored for them.
struct StoredConversation {
  std::vector<MessageRecord> messages;
  // The stored turns; only their breached_at is read (a breach tick() recorded, which the
  // messages alone do not give back). May be left empty when `messages` is.
  std::vector<Turn> turns;
};

// Fetches a conversation's stored messages and turns when it is not held in memory
// (store-backed in the daemon). Called from Tracker::prepare, on the thread preparing
// plans; may block on disk. An Error when the store cannot be read.
class ConversationLoader {
 public:
  virtual ~ConversationLoader() = default;
  virtual Result<StoredConversation> load(const ConversationKey& key) = 0;
};

// The changes one batch makes. Produced by prepare() without touching the tracker, applied
// by commit() once the store has committed the same changes.
struct Plan {
  std::vector<MessageRecord> new_messages;  // messages not seen before
  std::vector<Turn> upsert_turns;           // turns created or changed
  std::vector<TurnKey> delete_turns;        // turns that disappeared (restructured)
  // Internal: the recomputed state of each touched conversation.
  struct ConversationState {
    ConversationKey key;
    std::vector<MessageRecord> messages;
    std::vector<Turn> turns;           // recomputed turns (sorted by asked_at)
    std::vector<Turn> previous_turns;  // turns before the batch (used by commit for aggregates)
  };
  std::vector<ConversationState> states;
};

// Histogram bucket upper bounds (seconds) of replywatch_response_seconds.
inline constexpr std::array<double, 11> kResponseBuckets = {60,   300,  600,   900,   1800, 2700,
                                                            3600, 7200, 14400, 28800, 86400};

// Aggregates for metrics, consistent with the turns currently held.
struct ChannelStats {
  std::uint64_t questions_total = 0;   // turns opened
  std::uint64_t breaches_total = 0;    // turns that crossed the threshold
  std::uint64_t open = 0;              // open turns now
  std::uint64_t late_open = 0;         // open turns past the threshold now
  double oldest_open_age_seconds = 0;  // 0 when none open
  double threshold_seconds = 3600;     // the account's threshold (its source's account's when not configured)
};
struct AnswerStats {
  std::uint64_t answers_total = 0;
  std::array<std::uint64_t, kResponseBuckets.size()> bucket_counts{};  // non-cumulative
  double wait_seconds_sum = 0;
};
// Escalation records linked to a turn, by the route of the handler that requested them.
struct EscalationStats {
  std::uint64_t escalations_total = 0;  // linked records
  std::uint64_t answered_total = 0;     // of which the relay answered
  std::array<std::uint64_t, kResponseBuckets.size()>
      bucket_counts{};  // requested -> answered, non-cumulative
  double wait_seconds_sum = 0;
};
// Answered turns with at least one relay leg overlapping them, by the turn's route:
// their wait split by decomposeWait() (wait_phases.h). The `direct` phase is the rest of
// the answered turns' wait (AnswerStats::wait_seconds_sum minus escalated_wait_seconds).
struct PhaseStats {
  double before_escalation_seconds = 0;
  double relay_seconds = 0;
  double after_relay_seconds = 0;
  double escalated_wait_seconds = 0;  // whole wait of those turns
};
struct Snapshot {
  // key: (account, channel)
  std::map<std::pair<std::string, std::string>, ChannelStats> channels;
  // key: (account, channel, handler, route)
  std::map<std::array<std::string, 4>, AnswerStats> answers;
  // key: (account, route of the requesting handler)
  std::map<std::pair<std::string, std::string>, EscalationStats> escalations;
  // key: (account, route of the answer)
  std::map<std::pair<std::string, std::string>, PhaseStats> phases;
};

// What turns counted in the running counters (questions, breaches, answers and their
// waits), keyed as the tracker counts them. The pipeline keeps those of the turns that
// retention pruned, which a restart could not count again from the store.
struct RetiredCounts {
  struct Channel {
    std::uint64_t questions = 0;
    std::uint64_t breaches = 0;
  };
  struct Answers {
    std::uint64_t total = 0;
    std::array<std::uint64_t, kResponseBuckets.size()> buckets{};  // non-cumulative
    std::int64_t wait_ms = 0;
  };
  std::map<std::array<std::string, 3>, Channel> channels;  // (account, channel, source)
  std::map<std::array<std::string, 4>, Answers> answers;   // (account, channel, handler, route)

  // Adds what `turn` counts, as the tracker counts a stored turn at restore.
  void add(const Turn& turn);
  // Adds `other`, key by key.
  void add(const RetiredCounts& other);
  bool empty() const { return channels.empty() && answers.empty(); }
};

struct TrackerOptions {
  // Conversations without an open turn kept in memory (least recently touched evicted
  // first; they are reloaded through the ConversationLoader when needed). Conversations
  // with an open turn are always kept.
  std::size_t max_idle_conversations = 100000;
};

// Breach rule: a turn is late when its wait strictly exceeds the threshold. An answered
// turn gets breached_at = asked_at + threshold when answered_at - asked_at > threshold;
// an open turn gets the same value from tick() once now - asked_at > threshold. A
// breached_at recorded by tick() is kept as long as the turn exists (even if a backfilled
// answer shows the turn was answered in time), so a breach is never un-counted or counted
// twice, also across restarts. Without tick() the turns depend only on the set of
// messages (a late answer superseded by an earlier one is no longer breached).
class Tracker {
 public:
  Tracker(const config::Config& config, const Clock& clock, ConversationLoader& loader);
  Tracker(const config::Config& config, const Clock& clock, ConversationLoader& loader,
          TrackerOptions options);
  ~Tracker();

  // Rebuilds state after a restart: every stored turn (for counters) and the messages of
  // conversations with an open turn (to continue them). Call once, before prepare().
  void restore(const std::vector<Turn>& turns, const std::vector<MessageRecord>& open_messages);
  // Streaming variant of the first half of restore(): feed stored turns one by one.
  void restoreTurn(const Turn& turn);
  void restoreOpenMessages(const std::vector<MessageRecord>& open_messages);

  // Computes the effect of `records` (already classified). Does not modify the tracker.
  // Error only when the loader fails.
  Result<Plan> prepare(std::vector<MessageRecord> records);

  // Applies a plan whose changes the store has committed.
  void commit(Plan&& plan);

  // Marks open turns that crossed their account threshold by `now` (breached_at =
  // asked_at + threshold) and returns them, to be persisted. Each turn is returned once.
  std::vector<Turn> tick();

  // Metrics view at clock.now().
  Snapshot snapshot() const;

  // Retention: forgets the conversations of `keys` held in memory (deleted from the
  // store), with or without an open turn. An open turn of a forgotten conversation no
  // longer counts as open (nor late, nor in the oldest age); the running counters
  // (questions, breaches, answers) keep what they counted. A forgotten conversation is
  // reloaded through the ConversationLoader if a message for it arrives. Returns how
  // many it held. Cost: one look-up per key.
  std::size_t forget(const std::vector<ConversationKey>& keys);

  // After restore(): adds to the running counters what turns no longer stored counted
  // (RetiredCounts kept across prunings), so that they go on from where they were.
  void restoreRetired(const RetiredCounts& retired);

  // Number of conversations held in memory (for benchmarks and tests).
  std::size_t conversationsInMemory() const;

  // Changes TrackerOptions::max_idle_conversations; idle conversations beyond the new
  // limit are evicted by the next commit(). A bulk load into an empty store lifts the limit so that
  // every conversation of the load stays held and none is ever reloaded.
  void setMaxIdleConversations(std::size_t max_idle);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decides each message's role and handler from the account configuration: ignored
// authors, brand ids, `count: questions` heuristics, handler rules (first match wins).
class Classifier {
 public:
  explicit Classifier(const config::Config& config);  // compiles handler regexes
  ~Classifier();

  // What is decided of a message. The views are of `source`, `message`, the
  // configuration or static text: valid while those are. Thread: any, concurrently.
  struct Decision {
    std::string_view account;  // the message's, or the source's when it names none
    Role role = Role::Ignored;
    std::string_view responder;  // brand messages: the author id, or name without one
    std::string_view handler;    // brand messages: the matching handler, or "unknown"
    Route route = Route::Unknown;
  };
  Decision decide(const config::SourceConfig& source, const MessageView& message) const;
  // decide() and the message's keys, copied into a record.
  MessageRecord classify(const config::SourceConfig& source, const Message& message) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The FR/EN question heuristic used by `count: questions`.
bool looksLikeQuestion(std::string_view text);

}  // namespace replywatch::tracker
