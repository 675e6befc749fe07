#pragma once
// The domain model shared by connectors, tracker, store, metrics and HTTP.
// See ../../ARCHITECTURE.md and README.md, section "How it measures".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/compact_text.h"
#include "daemon/core/timestamp.h"

namespace replywatch {

// Who answered, in organisational terms.
enum class Route : std::uint8_t { Unknown = 0, Internal = 1, Agency = 2 };
std::string_view toString(Route r);
std::optional<Route> parseRoute(std::string_view s);  // "internal" | "agency" | "unknown"

// What a normalized message is. A retraction records that the platform removed, hid or
// deleted an earlier message (`id` is then the connector's own id for that event, e.g.
// "<message id>:removed"): it is stored but opens, joins and closes no turn, so a removed
// question still counts as asked and waited for.
enum class MessageKind : std::uint8_t { Post = 0, Retraction = 1 };

// A normalized message as produced by a connector. `text` is used at ingest time
// (question heuristics, handler rules) and is never stored.
struct Message {
  std::string id;                // platform message id, unique within the source
  std::string conversation_id;   // thread root as platform users see it; never empty after parsing
  std::string in_reply_to;       // parent message id, empty if none
  std::string author_id;         // platform account id (or username when that is all there is)
  std::string author_name;       // display name / handle, may be empty
  bool author_is_brand = false;  // the account's own presence (or configured brand ids)
  Timestamp created_at{};
  std::string text;
  // The account the message belongs to when one source feeds several brands (twcs
  // exports); empty means the source's account. An account not in the configuration
  // takes its settings (threshold, ignored authors, brand ids, count mode) from the
  // source's account.
  std::string account;
  MessageKind kind = MessageKind::Post;
};

// A Message whose texts are views of bytes kept elsewhere (a connector's buffer): what a
// connector that parses in bulk gives without copying each text. Valid while those bytes
// are; viewOf() views a Message.
struct MessageView {
  std::string_view id;
  std::string_view conversation_id;
  std::string_view in_reply_to;
  std::string_view author_id;
  std::string_view author_name;
  bool author_is_brand = false;
  Timestamp created_at{};
  std::string_view text;
  std::string_view account;
  MessageKind kind = MessageKind::Post;
};
MessageView viewOf(const Message& m);
// A Message holding copies of the view's texts.
Message copyOf(const MessageView& m);

// How the tracker treats a message, decided once at ingest from the account config.
enum class Role : std::uint8_t {
  Ignored = 0,   // ignored author: neither opens, joins nor closes a turn
  Question = 1,  // inbound message that opens a turn (or joins an open one)
  Inbound = 2,   // inbound message that does not look like a question (count: questions): joins only
  Brand = 3,     // brand message: closes the open turn, if any
};

// What is stored per message: the measurement needs, no text, no community member ids.
// `Text` is std::string (MessageRecord) or CompactText (CompactMessageRecord: a load
// into a new store file, whose longer texts live in the load's arena and the
// configuration).
template <typename Text>
struct BasicMessageRecord {
  Text source;
  Text id;
  Text account;
  Text channel;
  Text conversation_id;
  Text in_reply_to;
  Timestamp created_at{};
  Role role = Role::Ignored;
  Text responder;  // brand messages only: author id/handle of the brand responder
  Text handler;    // brand messages only: resolved handler name ("unknown" if none matched)
  Route route = Route::Unknown;
};
using MessageRecord = BasicMessageRecord<std::string>;
using CompactMessageRecord = BasicMessageRecord<CompactText>;

// (source, conversation_id) identifies a conversation across the whole store.
struct ConversationKey {
  std::string source;
  std::string conversation_id;
  bool operator==(const ConversationKey&) const = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted <=> (no 0 is written here).
  auto operator<=>(const ConversationKey&) const = default;
};

// Where a stored message is: its conversation and that conversation's account.
struct MessagePlace {
  std::string conversation_id;
  std::string account;
  bool operator==(const MessagePlace&) const = default;
};

// One question turn. A turn is identified by (source, conversation_id, question_id).
// `Text` as for BasicMessageRecord: CompactTurn is a turn of CompactMessageRecords.
template <typename Text>
struct BasicTurn {
  Text account;
  Text channel;
  Text source;
  Text conversation_id;
  Text question_id;  // first message of the turn
  Timestamp asked_at{};
  Text answer_id;  // empty while open
  std::optional<Timestamp> answered_at;
  Text responder;
  Text handler;  // empty while open
  Route route = Route::Unknown;
  // Set once, when the turn is first seen past its account threshold (answered late or
  // still open); persisted so a breach is never counted twice, also across restarts.
  std::optional<Timestamp> breached_at;

  bool open() const { return !answered_at.has_value(); }
  bool operator==(const BasicTurn&) const = default;
};
using Turn = BasicTurn<std::string>;
using CompactTurn = BasicTurn<CompactText>;

struct TurnKey {
  std::string source;
  std::string conversation_id;
  std::string question_id;
  bool operator==(const TurnKey&) const = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted <=> (no 0 is written here).
  auto operator<=>(const TurnKey&) const = default;
};

inline TurnKey keyOf(const Turn& t) { return {t.source, t.conversation_id, t.question_id}; }

// One escalation of a question to an internal relay (a team or a person), as the relay
// feed reports it. `question_ref` names the question: a platform message id (any message
// of the turn) or a conversation id. `requested_by` is the configured handler that asked
// the relay; `answered_at` is unset until the relay answered.
struct Escalation {
  std::string id;       // unique within the relay source
  std::string account;  // a configured account
  std::string question_ref;
  Timestamp requested_at{};
  std::string requested_by;  // handler name
  std::string relay;         // team or person asked
  std::optional<Timestamp> answered_at;
  bool operator==(const Escalation&) const = default;
};

// An escalation as stored: its relay source, the route of the handler that requested it
// (resolved at ingest from the configured handlers; unknown when none has that name) and
// the turn it is linked to, if its question_ref has been seen.
struct EscalationRecord {
  std::string source;  // the relay source that delivered it; (source, escalation.id) is the key
  Escalation escalation;
  Route route = Route::Unknown;
  std::optional<TurnKey> turn;  // nullopt while the referenced message or conversation is unknown
  bool operator==(const EscalationRecord&) const = default;
};

}  // namespace replywatch
