#include "daemon/store/batch_codec.h"

#include <cstdint>
#include <optional>
#include <utility>

namespace replywatch::store {

namespace {

constexpr std::uint8_t kVersion = 1;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void unsignedValue(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void signedValue(std::int64_t v) {
    unsignedValue((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void text(std::string_view s) {
    unsignedValue(s.size());
    out_.append(s);
  }
  void time(Timestamp t) { signedValue(toMillis(t)); }
  void optionalTime(const std::optional<Timestamp>& t) {
    byte(t ? 1 : 0);
    if (t) time(*t);
  }

 private:
  std::string& out_;
};

// Reads what Writer wrote; every read fails once the input is exhausted or malformed,
// and the first failure sticks.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  bool atEnd() const { return in_.empty(); }
  void fail() { ok_ = false; }

  std::uint64_t unsignedValue() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) break;
      const auto b = static_cast<std::uint8_t>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }
  std::int64_t signedValue() {
    const std::uint64_t v = unsignedValue();
    return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  std::uint8_t byte() {
    if (in_.empty()) {
      ok_ = false;
      return 0;
    }
    const auto b = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return b;
  }
  void text(std::string& out) {
    const std::uint64_t n = unsignedValue();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return;
    }
    out.assign(in_.substr(0, n));
    in_.remove_prefix(n);
  }
  Timestamp time() { return fromMillis(signedValue()); }
  std::optional<Timestamp> optionalTime() {
    const std::uint8_t present = byte();
    if (present > 1) ok_ = false;
    if (present != 1) return std::nullopt;
    return time();
  }
  // A count of items that each take at least one byte: larger than what is left is
  // malformed (and would otherwise reserve unbounded memory).
  std::size_t count() {
    const std::uint64_t n = unsignedValue();
    if (n > in_.size()) {
      ok_ = false;
      return 0;
    }
    return static_cast<std::size_t>(n);
  }

 private:
  std::string_view in_;
  bool ok_ = true;
};

template <typename Enum>
Enum enumValue(Reader& r, std::uint8_t max) {
  const std::uint8_t v = r.byte();
  if (v > max) r.fail();
  return static_cast<Enum>(v);
}

void writeMessage(Writer& w, const MessageRecord& m) {
  w.text(m.source);
  w.text(m.id);
  w.text(m.account);
  w.text(m.channel);
  w.text(m.conversation_id);
  w.text(m.in_reply_to);
  w.time(m.created_at);
  w.byte(static_cast<std::uint8_t>(m.role));
  w.text(m.responder);
  w.text(m.handler);
  w.byte(static_cast<std::uint8_t>(m.route));
}

void readMessage(Reader& r, MessageRecord& m) {
  r.text(m.source);
  r.text(m.id);
  r.text(m.account);
  r.text(m.channel);
  r.text(m.conversation_id);
  r.text(m.in_reply_to);
  m.created_at = r.time();
  m.role = enumValue<Role>(r, 3);
  r.text(m.responder);
  r.text(m.handler);
  m.route = enumValue<Route>(r, 2);
}

void writeTurn(Writer& w, const Turn& t) {
  w.text(t.account);
  w.text(t.channel);
  w.text(t.source);
  w.text(t.conversation_id);
  w.text(t.question_id);
  w.time(t.asked_at);
  w.text(t.answer_id);
  w.optionalTime(t.answered_at);
  w.text(t.responder);
  w.text(t.handler);
  w.byte(static_cast<std::uint8_t>(t.route));
  w.optionalTime(t.breached_at);
}

void readTurn(Reader& r, Turn& t) {
  r.text(t.account);
  r.text(t.channel);
  r.text(t.source);
  r.text(t.conversation_id);
  r.text(t.question_id);
  t.asked_at = r.time();
  r.text(t.answer_id);
  t.answered_at = r.optionalTime();
  r.text(t.responder);
  r.text(t.handler);
  t.route = enumValue<Route>(r, 2);
  t.breached_at = r.optionalTime();
}

void writeTurnKey(Writer& w, const TurnKey& k) {
  w.text(k.source);
  w.text(k.conversation_id);
  w.text(k.question_id);
}

void readTurnKey(Reader& r, TurnKey& k) {
  r.text(k.source);
  r.text(k.conversation_id);
  r.text(k.question_id);
}

void writeEscalation(Writer& w, const EscalationRecord& e) {
  w.text(e.source);
  w.text(e.escalation.id);
  w.text(e.escalation.account);
  w.text(e.escalation.question_ref);
  w.time(e.escalation.requested_at);
  w.text(e.escalation.requested_by);
  w.text(e.escalation.relay);
  w.optionalTime(e.escalation.answered_at);
  w.byte(static_cast<std::uint8_t>(e.route));
  w.byte(e.turn ? 1 : 0);
  if (e.turn) writeTurnKey(w, *e.turn);
}

void readEscalation(Reader& r, EscalationRecord& e) {
  r.text(e.source);
  r.text(e.escalation.id);
  r.text(e.escalation.account);
  r.text(e.escalation.question_ref);
  e.escalation.requested_at = r.time();
  r.text(e.escalation.requested_by);
  r.text(e.escalation.relay);
  e.escalation.answered_at = r.optionalTime();
  e.route = enumValue<Route>(r, 2);
  const std::uint8_t linked = r.byte();
  if (linked > 1) r.fail();
  if (linked == 1) readTurnKey(r, e.turn.emplace());
}

template <typename T, typename Fn>
void writeAll(Writer& w, const std::vector<T>& items, Fn fn) {
  w.unsignedValue(items.size());
  for (const T& item : items) fn(w, item);
}

template <typename T, typename Fn>
void readAll(Reader& r, std::vector<T>& items, Fn fn) {
  const std::size_t n = r.count();
  items.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) fn(r, items.emplace_back());
}

}  // namespace

void encodeBatch(const WriteBatch& batch, std::string& out) {
  Writer w(out);
  w.byte(kVersion);
  w.byte(batch.require_new_messages ? 1 : 0);
  writeAll(w, batch.messages, writeMessage);
  writeAll(w, batch.upsert_turns, writeTurn);
  writeAll(w, batch.delete_turns, writeTurnKey);
  writeAll(w, batch.cursors, [](Writer& wr, const std::pair<std::string, std::string>& c) {
    wr.text(c.first);
    wr.text(c.second);
  });
  writeAll(w, batch.escalations, writeEscalation);
}

Result<WriteBatch> decodeBatch(std::string_view bytes) {
  Reader r(bytes);
  WriteBatch batch;
  const std::uint8_t version = r.byte();
  if (r.ok() && version != kVersion) {
    return makeError("store", "commit log record has encoding version " + std::to_string(version) +
                                  ", expected " + std::to_string(kVersion));
  }
  const std::uint8_t require = r.byte();
  if (require > 1) r.fail();
  batch.require_new_messages = require == 1;
  readAll(r, batch.messages, readMessage);
  readAll(r, batch.upsert_turns, readTurn);
  readAll(r, batch.delete_turns, readTurnKey);
  readAll(r, batch.cursors, [](Reader& rd, std::pair<std::string, std::string>& c) {
    rd.text(c.first);
    rd.text(c.second);
  });
  readAll(r, batch.escalations, readEscalation);
  if (!r.ok()) return makeError("store", "commit log record is malformed (truncated or out of range)");
  if (!r.atEnd()) return makeError("store", "commit log record has bytes after its batch");
  return batch;
}

}  // namespace replywatch::store
