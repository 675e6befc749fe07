// The incremental tracker: compact per-conversation state, incremental aggregates.
//
// Memory layout (the tracker may hold millions of open conversations):
// - Conversations live in fixed-size slabs of Slot records (48 bytes) addressed by a
//   32-bit slot number. Each slot owns one heap blob holding the conversation id and its
//   messages in (created_at, id) order, varint-encoded, with interned source, account,
//   channel and handler ids.
// - An open-addressing hash table of slot numbers (linear probing, backward-shift
//   deletion) keyed by a 64-bit hash of (source, conversation_id), full key compared.
// - Conversations without an open turn are kept on an intrusive LRU list and evicted
//   beyond TrackerOptions::max_idle_conversations; conversations with an open turn stay.
// - Per (account, channel): counters and an OpenIndex of open turns ordered by asked_at.
#include "daemon/tracker/tracker.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "daemon/tracker/open_index.h"
#include "daemon/tracker/turns_internal.h"

namespace replywatch::tracker {
namespace {

using internal::OpenEntry;
using internal::OpenIndex;

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Maps strings (sources, accounts, channels, handlers) to small ids.
class Interner {
 public:
  std::uint32_t intern(std::string_view s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    auto id = static_cast<std::uint32_t>(names_.size());
    names_.emplace_back(s);
    ids_.emplace(std::string(s), id);
    return id;
  }
  std::uint32_t find(std::string_view s) const {
    auto it = ids_.find(s);
    return it == ids_.end() ? kNone : it->second;
  }
  const std::string& name(std::uint32_t id) const { return names_[id]; }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> ids_;
};

std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t keyHash(std::uint32_t source, std::string_view conversation_id) {
  return mix(std::hash<std::string_view>{}(conversation_id) ^ (static_cast<std::uint64_t>(source) << 40));
}

// ---- Blob encoding -------------------------------------------------------------------
// blob := varint(len) conversation_id varint(count) message*
// message := varint(len) id varint(len) in_reply_to i64(created_ms) u8(flags)
//            [brand: varint(len) responder varint(handler id)] [breach: i64(breached_ms)]
// flags: bits 0-1 role, bits 2-3 route, bit 4 breach (the turn opened by this message has
// a recorded breached_at).
constexpr std::uint8_t kFlagBreach = 0x10;

class Writer {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  void bytes(std::string_view s) {
    varint(s.size());
    buf_.append(s);
  }
  void i64(std::int64_t v) {
    char b[8];
    std::memcpy(b, &v, 8);
    buf_.append(b, 8);
  }
  void u8(std::uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  const std::string& str() const { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  std::uint64_t varint() {
    std::uint64_t v = 0;
    int shift = 0;
    while (p_ < end_) {
      auto b = static_cast<std::uint8_t>(*p_++);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) break;
      shift += 7;
    }
    return v;
  }
  std::string_view bytes() {
    auto n = static_cast<std::size_t>(varint());
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }
  std::int64_t i64() {
    std::int64_t v = 0;
    std::memcpy(&v, p_, 8);
    p_ += 8;
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(*p_++); }

 private:
  const char* p_;
  const char* end_;
};

struct Slot {
  std::uint64_t hash = 0;
  std::unique_ptr<char[]> blob;
  std::uint32_t blob_size = 0;
  std::uint32_t source = 0;
  std::uint32_t account = 0;
  std::uint32_t channel = 0;
  std::uint32_t prev = kNone;  // LRU links (idle conversations) or free-list link
  std::uint32_t next = kNone;
  std::uint8_t state = 0;
};
constexpr std::uint8_t kLive = 1;
constexpr std::uint8_t kOpen = 2;          // the conversation has an open turn
constexpr std::uint8_t kOpenBreached = 4;  // ... with a recorded breached_at
constexpr std::uint8_t kInLru = 8;

std::string_view blobConversationId(const Slot& s) {
  Reader r(s.blob.get(), s.blob_size);
  return r.bytes();
}

struct ChannelAgg {
  std::uint32_t account = 0;
  std::uint32_t channel = 0;
  std::int64_t threshold_ms = 3600 * 1000;
  std::int64_t questions = 0;
  std::int64_t breaches = 0;
  OpenIndex open;
  std::int64_t tick_watermark = kMinTime;  // open turns asked before this were ticked
  std::vector<std::uint32_t> pending;      // slots opened below the watermark since
};

struct AnswerAgg {
  std::int64_t total = 0;
  std::array<std::int64_t, kResponseBuckets.size()> buckets{};
  std::int64_t sum_ms = 0;
};

// A breach recorded by tick() (the turn was seen open past its threshold), as opposed to
// one that follows from the turn's own answer time. Only recorded breaches are carried
// over when a turn is recomputed; the others follow the messages, so the turns depend
// only on the set of messages when tick() is not involved.
bool recordedBreach(const Turn& t, std::int64_t threshold_ms) {
  if (!t.breached_at) return false;
  if (t.open()) return true;
  return toMillis(*t.answered_at) - toMillis(t.asked_at) <= threshold_ms;
}

// Gives the turn of `question_id`, when the messages left it without a breach, the one
// tick() recorded for it (which the messages alone do not give back).
void keepRecordedBreach(std::vector<Turn>& turns, std::string_view question_id, Timestamp breached_at) {
  for (Turn& t : turns) {
    if (t.question_id == question_id && !t.breached_at) t.breached_at = breached_at;
  }
}

int bucketOf(std::int64_t wait_ms) {
  for (std::size_t i = 0; i < kResponseBuckets.size(); ++i) {
    if (static_cast<double>(wait_ms) <= kResponseBuckets[i] * 1000.0) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

struct Tracker::Impl {
  const config::Config& config;
  const Clock& clock;
  ConversationLoader& loader;
  TrackerOptions options;

  internal::Thresholds thresholds;
  Interner names;  // sources, accounts, channels, handlers share one id space

  static constexpr std::uint32_t kSlabBits = 12;
  std::vector<std::unique_ptr<Slot[]>> slabs;
  std::uint32_t slot_count = 0;  // slots ever allocated
  std::uint32_t free_head = kNone;
  std::size_t live = 0;

  std::vector<std::uint32_t> table;  // slot numbers, kNone = empty
  std::size_t table_used = 0;

  std::uint32_t lru_head = kNone;  // most recently touched idle conversation
  std::uint32_t lru_tail = kNone;
  std::size_t lru_size = 0;

  std::map<std::pair<std::uint32_t, std::uint32_t>, ChannelAgg> channels;
  std::map<std::array<std::uint32_t, 4>, AnswerAgg> answers;  // account, channel, handler, route

  // Breaches tick() recorded on the turns restoreTurn() saw (question id, breached_at),
  // for restoreOpenMessages(): the messages alone do not give them back.
  std::map<ConversationKey, std::vector<std::pair<std::string, Timestamp>>> restored_breaches;

  Impl(const config::Config& c, const Clock& k, ConversationLoader& l, TrackerOptions o)
      : config(c), clock(k), loader(l), options(o), thresholds(c) {
    for (const auto& s : config.sources) {
      if (s.carries_messages) channelAgg(names.intern(s.account), names.intern(s.channel), s.name);
    }
  }

  std::int64_t thresholdMs(std::string_view account, std::string_view source) const {
    return thresholds.ms(account, source);
  }

  ChannelAgg& channelAgg(std::uint32_t account, std::uint32_t channel, std::string_view source) {
    auto [it, inserted] = channels.try_emplace({account, channel});
    if (inserted) {
      it->second.account = account;
      it->second.channel = channel;
      it->second.threshold_ms = thresholdMs(names.name(account), source);
    }
    return it->second;
  }

  // ---- slots ----
  Slot& slot(std::uint32_t i) { return slabs[i >> kSlabBits][i & ((1U << kSlabBits) - 1)]; }
  const Slot& slot(std::uint32_t i) const { return slabs[i >> kSlabBits][i & ((1U << kSlabBits) - 1)]; }

  std::uint32_t allocSlot() {
    std::uint32_t i;
    if (free_head != kNone) {
      i = free_head;
      free_head = slot(i).next;
    } else {
      i = slot_count++;
      if ((i >> kSlabBits) >= slabs.size())
        slabs.push_back(std::make_unique<Slot[]>(std::size_t{1} << kSlabBits));
    }
    Slot& s = slot(i);
    s = Slot{};
    s.state = kLive;
    ++live;
    return i;
  }

  void freeSlot(std::uint32_t i) {
    Slot& s = slot(i);
    s = Slot{};
    s.next = free_head;
    free_head = i;
    --live;
  }

  // Drops the live conversation of slot si; an open turn of it no longer counts as open,
  // the running counters keep what it counted.
  void forgetSlot(std::uint32_t si) {
    Slot& s = slot(si);
    if ((s.state & kOpen) != 0) {
      // Take its open turn out of the open index.
      auto ch = channels.find({s.account, s.channel});
      if (ch != channels.end()) {
        const std::vector<Turn> turns =
            internal::turnsOfSorted(decode(s).messages, std::chrono::milliseconds{ch->second.threshold_ms});
        if (!turns.empty() && turns.back().open()) {
          ch->second.open.erase(OpenEntry{toMillis(turns.back().asked_at), si});
        }
      }
    }
    lruUnlink(si);
    tableErase(si);
    freeSlot(si);
  }

  // ---- hash table ----
  std::uint32_t find(std::uint32_t source, std::string_view conversation_id) const {
    if (table.empty()) return kNone;
    std::uint64_t h = keyHash(source, conversation_id);
    std::size_t mask = table.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      std::uint32_t si = table[i];
      if (si == kNone) return kNone;
      const Slot& s = slot(si);
      if (s.hash == h && s.source == source && blobConversationId(s) == conversation_id) return si;
    }
  }

  std::uint32_t find(const ConversationKey& key) const {
    std::uint32_t source = names.find(key.source);
    return source == kNone ? kNone : find(source, key.conversation_id);
  }

  void tableInsert(std::uint32_t si) {
    if ((table_used + 1) * 4 > table.size() * 3) {
      std::vector<std::uint32_t> old = std::move(table);
      table.assign(std::max<std::size_t>(16, old.size() * 2), kNone);
      for (std::uint32_t x : old) {
        if (x != kNone) place(x);
      }
    }
    place(si);
    ++table_used;
  }

  void place(std::uint32_t si) {
    std::size_t mask = table.size() - 1;
    std::size_t i = slot(si).hash & mask;
    while (table[i] != kNone) i = (i + 1) & mask;
    table[i] = si;
  }

  void tableErase(std::uint32_t si) {
    std::size_t mask = table.size() - 1;
    std::size_t i = slot(si).hash & mask;
    while (table[i] != si) i = (i + 1) & mask;
    std::size_t j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (table[j] == kNone) break;
      std::size_t home = slot(table[j]).hash & mask;
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      table[i] = table[j];
      i = j;
    }
    table[i] = kNone;
    --table_used;
  }

  // ---- LRU of idle conversations ----
  void lruUnlink(std::uint32_t si) {
    Slot& s = slot(si);
    if ((s.state & kInLru) == 0) return;
    if (s.prev != kNone)
      slot(s.prev).next = s.next;
    else
      lru_head = s.next;
    if (s.next != kNone)
      slot(s.next).prev = s.prev;
    else
      lru_tail = s.prev;
    s.prev = s.next = kNone;
    s.state = static_cast<std::uint8_t>(s.state & ~kInLru);
    --lru_size;
  }

  void lruPushFront(std::uint32_t si) {
    Slot& s = slot(si);
    s.prev = kNone;
    s.next = lru_head;
    if (lru_head != kNone)
      slot(lru_head).prev = si;
    else
      lru_tail = si;
    lru_head = si;
    s.state = static_cast<std::uint8_t>(s.state | kInLru);
    ++lru_size;
  }

  void evictIdle() {
    while (lru_size > options.max_idle_conversations && lru_tail != kNone) {
      std::uint32_t si = lru_tail;
      lruUnlink(si);
      tableErase(si);
      freeSlot(si);
    }
  }

  // ---- encoding ----
  void encode(Slot& s, std::string_view conversation_id, const std::vector<MessageRecord>& messages,
              const std::vector<Turn>& turns) {
    std::unordered_map<std::string_view, std::int64_t> breaches;
    for (const Turn& t : turns) {
      if (t.breached_at) breaches.emplace(t.question_id, toMillis(*t.breached_at));
    }
    Writer w;
    w.bytes(conversation_id);
    w.varint(messages.size());
    for (const MessageRecord& m : messages) {
      w.bytes(m.id);
      w.bytes(m.in_reply_to);
      w.i64(toMillis(m.created_at));
      auto it = breaches.find(m.id);
      auto flags =
          static_cast<std::uint8_t>(static_cast<unsigned>(m.role) | (static_cast<unsigned>(m.route) << 2));
      if (it != breaches.end()) flags |= kFlagBreach;
      w.u8(flags);
      if (m.role == Role::Brand) {
        w.bytes(m.responder);
        w.varint(names.intern(m.handler));
      }
      if (it != breaches.end()) w.i64(it->second);
    }
    const std::string& out = w.str();
    s.blob = std::make_unique_for_overwrite<char[]>(out.size());
    std::memcpy(s.blob.get(), out.data(), out.size());
    s.blob_size = static_cast<std::uint32_t>(out.size());
  }

  struct Decoded {
    std::vector<MessageRecord> messages;
    std::vector<std::pair<std::string, std::int64_t>> breaches;  // question_id -> breached ms
  };

  // One message as stored in a slot's blob, viewing into the blob.
  struct BlobMessage {
    std::string_view id;
    std::string_view in_reply_to;
    std::int64_t created_ms = 0;
    std::uint8_t flags = 0;
    std::string_view responder;    // brand messages only
    std::uint32_t handler = 0;     // brand messages only
    std::int64_t breached_ms = 0;  // when flags has kFlagBreach
  };

  // The one reader of the blob format written by encode(): calls on_header(conversation
  // id, message count), then on_message(BlobMessage) for each message in stored order.
  template <typename OnHeader, typename OnMessage>
  void readBlob(const Slot& s, OnHeader&& on_header, OnMessage&& on_message) const {
    Reader r(s.blob.get(), s.blob_size);
    const std::string_view conversation_id = r.bytes();
    const auto n = static_cast<std::size_t>(r.varint());
    on_header(conversation_id, n);
    for (std::size_t i = 0; i < n; ++i) {
      BlobMessage b;
      b.id = r.bytes();
      b.in_reply_to = r.bytes();
      b.created_ms = r.i64();
      b.flags = r.u8();
      if (static_cast<Role>(b.flags & 3) == Role::Brand) {
        b.responder = r.bytes();
        b.handler = static_cast<std::uint32_t>(r.varint());
      }
      if (b.flags & kFlagBreach) b.breached_ms = r.i64();
      on_message(b);
    }
  }

  Decoded decode(const Slot& s) const {
    Decoded d;
    std::string conversation_id;
    const std::string& source = names.name(s.source);
    const std::string& account = names.name(s.account);
    const std::string& channel = names.name(s.channel);
    readBlob(
        s,
        [&](std::string_view id, std::size_t n) {
          conversation_id = id;
          d.messages.reserve(n);
        },
        [&](const BlobMessage& b) {
          MessageRecord m;
          m.source = source;
          m.account = account;
          m.channel = channel;
          m.conversation_id = conversation_id;
          m.id = b.id;
          m.in_reply_to = b.in_reply_to;
          m.created_at = fromMillis(b.created_ms);
          m.role = static_cast<Role>(b.flags & 3);
          m.route = static_cast<Route>((b.flags >> 2) & 3);
          if (m.role == Role::Brand) {
            m.responder = b.responder;
            m.handler = names.name(b.handler);
          }
          if (b.flags & kFlagBreach) d.breaches.emplace_back(m.id, b.breached_ms);
          d.messages.push_back(std::move(m));
        });
    return d;
  }

  // Creation time of the conversation's newest message (the last one in the blob),
  // without building the message records; kMinTime when it has none.
  std::int64_t newestMillis(const Slot& s) const {
    std::int64_t newest = kMinTime;
    readBlob(
        s, [](std::string_view, std::size_t) {}, [&](const BlobMessage& b) { newest = b.created_ms; });
    return newest;
  }

  std::vector<Turn> turnsOf(const Decoded& d, std::int64_t threshold_ms) const {
    std::vector<Turn> turns = internal::turnsOfSorted(d.messages, std::chrono::milliseconds{threshold_ms});
    for (const auto& [qid, ms] : d.breaches) {
      for (Turn& t : turns) {
        if (t.question_id == qid) t.breached_at = fromMillis(ms);
      }
    }
    return turns;
  }

  // ---- aggregates ----
  void apply(const Turn& t, std::uint32_t si, int sign) {
    std::uint32_t account = names.intern(t.account);
    std::uint32_t channel = names.intern(t.channel);
    ChannelAgg& ch = channelAgg(account, channel, t.source);
    ch.questions += sign;
    if (t.breached_at) ch.breaches += sign;
    if (t.open()) {
      OpenEntry e{toMillis(t.asked_at), si};
      if (sign > 0) {
        ch.open.insert(e);
        if (e.asked_ms < ch.tick_watermark) ch.pending.push_back(si);
      } else {
        ch.open.erase(e);
      }
      return;
    }
    std::array<std::uint32_t, 4> key{account, channel, names.intern(t.handler),
                                     static_cast<std::uint32_t>(t.route)};
    AnswerAgg& a = answers[key];
    std::int64_t wait_ms = toMillis(*t.answered_at) - toMillis(t.asked_at);
    a.total += sign;
    a.sum_ms += sign * wait_ms;
    int b = bucketOf(wait_ms);
    if (b >= 0) a.buckets[static_cast<std::size_t>(b)] += sign;
  }

  void setState(std::uint32_t si, const std::vector<Turn>& turns) {
    Slot& s = slot(si);
    bool open = !turns.empty() && turns.back().open();
    auto st = static_cast<std::uint8_t>(s.state & (kLive | kInLru));
    if (open) {
      st |= kOpen;
      if (turns.back().breached_at) st |= kOpenBreached;
    }
    s.state = st;
    lruUnlink(si);
    if (!open) lruPushFront(si);
  }

  std::uint32_t newConversation(const MessageRecord& first) {
    std::uint32_t si = allocSlot();
    Slot& s = slot(si);
    s.source = names.intern(first.source);
    s.account = names.intern(first.account);
    s.channel = names.intern(first.channel);
    s.hash = keyHash(s.source, first.conversation_id);
    return si;
  }
};

Tracker::Tracker(const config::Config& config, const Clock& clock, ConversationLoader& loader)
    : Tracker(config, clock, loader, TrackerOptions{}) {}

Tracker::Tracker(const config::Config& config, const Clock& clock, ConversationLoader& loader,
                 TrackerOptions options)
    : impl_(std::make_unique<Impl>(config, clock, loader, options)) {}

Tracker::~Tracker() = default;

void Tracker::restore(const std::vector<Turn>& turns, const std::vector<MessageRecord>& open_messages) {
  for (const Turn& t : turns) restoreTurn(t);
  restoreOpenMessages(open_messages);
}

void Tracker::restoreTurn(const Turn& turn) {
  Impl& m = *impl_;
  // A recorded breach (on an open turn, or on one answered in time after it was recorded)
  // is kept for the conversation's messages, if they are restored too.
  if (recordedBreach(turn, m.thresholdMs(turn.account, turn.source))) {
    m.restored_breaches[ConversationKey{turn.source, turn.conversation_id}].emplace_back(turn.question_id,
                                                                                         *turn.breached_at);
  }
  if (turn.open()) {
    // Counted now; entered into the open index with its conversation's messages.
    ChannelAgg& ch = m.channelAgg(m.names.intern(turn.account), m.names.intern(turn.channel), turn.source);
    ch.questions += 1;
    if (turn.breached_at) ch.breaches += 1;
    return;
  }
  m.apply(turn, kNone, +1);
}

void Tracker::restoreOpenMessages(const std::vector<MessageRecord>& open_messages) {
  Impl& m = *impl_;
  std::map<ConversationKey, std::vector<MessageRecord>> groups;
  for (const MessageRecord& r : open_messages)
    groups[ConversationKey{r.source, r.conversation_id}].push_back(r);
  for (auto& [key, msgs] : groups) {
    internal::sortAndDedup(msgs);
    std::int64_t threshold = m.thresholdMs(msgs.front().account, msgs.front().source);
    std::vector<Turn> turns = internal::turnsOfSorted(msgs, std::chrono::milliseconds{threshold});
    std::uint32_t si = m.find(key);
    if (si != kNone) continue;  // already restored
    si = m.newConversation(msgs.front());
    if (auto it = m.restored_breaches.find(key); it != m.restored_breaches.end()) {
      for (const auto& [question_id, breached_at] : it->second)
        keepRecordedBreach(turns, question_id, breached_at);
    }
    if (!turns.empty() && turns.back().open()) {
      Turn& open = turns.back();
      ChannelAgg& ch = m.channelAgg(m.names.intern(open.account), m.names.intern(open.channel), open.source);
      ch.open.insert(OpenEntry{toMillis(open.asked_at), si});
    }
    m.encode(m.slot(si), key.conversation_id, msgs, turns);
    m.tableInsert(si);
    m.setState(si, turns);
  }
  m.restored_breaches.clear();
  m.evictIdle();
}

Result<Plan> Tracker::prepare(std::vector<MessageRecord> records) {
  const Impl& m = *impl_;
  Plan plan;
  plan.new_messages.reserve(records.size());
  std::map<ConversationKey, std::vector<MessageRecord>> groups;
  for (MessageRecord& r : records) {
    ConversationKey key{r.source, r.conversation_id};
    groups[std::move(key)].push_back(std::move(r));
  }
  for (auto& [key, batch] : groups) {
    // Duplicates within the batch: keep the first delivery of each id.
    if (batch.size() > 1) {
      std::stable_sort(batch.begin(), batch.end(),
                       [](const MessageRecord& a, const MessageRecord& b) { return a.id < b.id; });
      batch.erase(std::unique(batch.begin(), batch.end(),
                              [](const MessageRecord& a, const MessageRecord& b) { return a.id == b.id; }),
                  batch.end());
    }

    std::int64_t threshold = m.thresholdMs(batch.front().account, batch.front().source);
    std::vector<MessageRecord> old_messages;
    std::vector<Turn> old_turns;
    std::uint32_t si = m.find(key);
    if (si != kNone) {
      Impl::Decoded d = m.decode(m.slot(si));
      old_turns = m.turnsOf(d, threshold);
      old_messages = std::move(d.messages);
    } else {
      Result<StoredConversation> loaded = impl_->loader.load(key);
      if (!loaded.ok()) return loaded.error();
      old_messages = std::move(loaded->messages);
      if (!old_messages.empty()) {
        internal::sortAndDedup(old_messages);
        old_turns = internal::turnsOfSorted(old_messages, std::chrono::milliseconds{threshold});
        for (const Turn& stored : loaded->turns) {
          if (stored.breached_at) keepRecordedBreach(old_turns, stored.question_id, *stored.breached_at);
        }
      }
    }

    std::vector<std::string_view> known;
    known.reserve(old_messages.size());
    for (const MessageRecord& r : old_messages) known.push_back(r.id);
    std::sort(known.begin(), known.end());
    std::vector<MessageRecord> fresh;
    fresh.reserve(batch.size());
    for (MessageRecord& r : batch) {
      if (!std::binary_search(known.begin(), known.end(), std::string_view(r.id)))
        fresh.push_back(std::move(r));
    }
    if (fresh.empty()) continue;

    // `known` views into old_messages and is not used from here on.
    std::vector<MessageRecord> merged = std::move(old_messages);
    merged.reserve(merged.size() + fresh.size());
    merged.insert(merged.end(), fresh.begin(), fresh.end());
    std::sort(merged.begin(), merged.end(), internal::messageLess);
    std::vector<Turn> turns = internal::turnsOfSorted(merged, std::chrono::milliseconds{threshold});

    // A recorded breach stays with its turn; then diff against the previous turns.
    std::map<std::string_view, const Turn*> previous;
    for (const Turn& t : old_turns) previous.emplace(t.question_id, &t);
    for (Turn& t : turns) {
      auto it = previous.find(t.question_id);
      if (it != previous.end() && !t.breached_at && recordedBreach(*it->second, threshold)) {
        t.breached_at = it->second->breached_at;
      }
      if (it == previous.end() || !(*it->second == t)) plan.upsert_turns.push_back(t);
    }
    std::map<std::string_view, bool> current;
    for (const Turn& t : turns) current.emplace(t.question_id, true);
    for (const Turn& t : old_turns) {
      if (!current.contains(t.question_id)) plan.delete_turns.push_back(keyOf(t));
    }

    for (MessageRecord& r : fresh) plan.new_messages.push_back(std::move(r));
    plan.states.push_back(
        Plan::ConversationState{key, std::move(merged), std::move(turns), std::move(old_turns)});
  }
  return plan;
}

void Tracker::commit(Plan&& plan) {
  Impl& m = *impl_;
  for (Plan::ConversationState& st : plan.states) {
    if (st.messages.empty()) continue;
    std::int64_t threshold = m.thresholdMs(st.messages.front().account, st.messages.front().source);
    std::uint32_t si = m.find(st.key);
    std::vector<Turn> old_turns;
    if (si != kNone) {
      old_turns = m.turnsOf(m.decode(m.slot(si)), threshold);
      // Keep a breach recorded since prepare() (tick() in between).
      for (Turn& t : st.turns) {
        if (t.breached_at) continue;
        for (const Turn& o : old_turns) {
          if (o.question_id == t.question_id && recordedBreach(o, threshold)) t.breached_at = o.breached_at;
        }
      }
    } else {
      old_turns = std::move(st.previous_turns);
      si = m.newConversation(st.messages.front());
      m.tableInsert(si);
    }
    for (const Turn& t : old_turns) m.apply(t, si, -1);
    for (const Turn& t : st.turns) m.apply(t, si, +1);
    m.encode(m.slot(si), st.key.conversation_id, st.messages, st.turns);
    m.setState(si, st.turns);
  }
  m.evictIdle();
}

std::vector<Turn> Tracker::tick() {
  Impl& m = *impl_;
  std::vector<Turn> out;
  std::int64_t now = toMillis(m.clock.now());
  for (auto& [ck, ch] : m.channels) {
    std::int64_t limit = now - ch.threshold_ms;  // late when asked_at < now - threshold
    std::vector<std::uint32_t> due;
    if (limit > ch.tick_watermark) {
      ch.open.forEachIn(ch.tick_watermark, limit, [&](const OpenEntry& e) { due.push_back(e.slot); });
      ch.tick_watermark = limit;
    }
    due.insert(due.end(), ch.pending.begin(), ch.pending.end());
    ch.pending.clear();
    for (std::uint32_t si : due) {
      Slot& s = m.slot(si);
      if ((s.state & kLive) == 0 || (s.state & kOpen) == 0 || (s.state & kOpenBreached) != 0) continue;
      if (s.account != ch.account || s.channel != ch.channel) continue;  // slot reused since
      Impl::Decoded d = m.decode(s);
      std::vector<Turn> turns = m.turnsOf(d, ch.threshold_ms);
      if (turns.empty() || !turns.back().open()) continue;
      Turn& t = turns.back();
      if (toMillis(t.asked_at) >= limit) continue;
      t.breached_at = t.asked_at + std::chrono::milliseconds{ch.threshold_ms};
      ch.breaches += 1;
      std::string conversation_id = t.conversation_id;
      m.encode(s, conversation_id, d.messages, turns);
      s.state = static_cast<std::uint8_t>(s.state | kOpenBreached);
      out.push_back(std::move(t));
    }
  }
  return out;
}

Snapshot Tracker::snapshot() const {
  const Impl& m = *impl_;
  Snapshot snap;
  std::int64_t now = toMillis(m.clock.now());
  for (const auto& [ck, ch] : m.channels) {
    ChannelStats s;
    s.questions_total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, ch.questions));
    s.breaches_total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, ch.breaches));
    s.open = ch.open.size();
    if (!ch.open.empty()) {
      s.late_open = ch.open.countBefore(now - ch.threshold_ms);
      s.oldest_open_age_seconds = std::max(0.0, static_cast<double>(now - ch.open.minAsked()) / 1000.0);
    }
    s.threshold_seconds = static_cast<double>(ch.threshold_ms) / 1000.0;
    snap.channels[{m.names.name(ch.account), m.names.name(ch.channel)}] = s;
  }
  for (const auto& [key, a] : m.answers) {
    AnswerStats s;
    s.answers_total = static_cast<std::uint64_t>(std::max<std::int64_t>(0, a.total));
    for (std::size_t i = 0; i < a.buckets.size(); ++i) {
      s.bucket_counts[i] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, a.buckets[i]));
    }
    s.wait_seconds_sum = static_cast<double>(a.sum_ms) / 1000.0;
    std::array<std::string, 4> k{m.names.name(key[0]), m.names.name(key[1]), m.names.name(key[2]),
                                 std::string(toString(static_cast<Route>(key[3])))};
    snap.answers[k] = s;
  }
  return snap;
}

void RetiredCounts::add(const Turn& turn) {
  Channel& ch = channels[{turn.account, turn.channel, turn.source}];
  ++ch.questions;
  if (turn.breached_at) ++ch.breaches;
  if (turn.open()) return;
  Answers& a = answers[{turn.account, turn.channel, turn.handler, std::string(toString(turn.route))}];
  const std::int64_t wait_ms = toMillis(*turn.answered_at) - toMillis(turn.asked_at);
  ++a.total;
  a.wait_ms += wait_ms;
  const int b = bucketOf(wait_ms);
  if (b >= 0) ++a.buckets[static_cast<std::size_t>(b)];
}

void RetiredCounts::add(const RetiredCounts& other) {
  for (const auto& [key, c] : other.channels) {
    Channel& mine = channels[key];
    mine.questions += c.questions;
    mine.breaches += c.breaches;
  }
  for (const auto& [key, a] : other.answers) {
    Answers& mine = answers[key];
    mine.total += a.total;
    mine.wait_ms += a.wait_ms;
    for (std::size_t i = 0; i < a.buckets.size(); ++i) mine.buckets[i] += a.buckets[i];
  }
}

void Tracker::restoreRetired(const RetiredCounts& retired) {
  Impl& m = *impl_;
  for (const auto& [key, c] : retired.channels) {
    ChannelAgg& ch = m.channelAgg(m.names.intern(key[0]), m.names.intern(key[1]), key[2]);
    ch.questions += static_cast<std::int64_t>(c.questions);
    ch.breaches += static_cast<std::int64_t>(c.breaches);
  }
  for (const auto& [key, a] : retired.answers) {
    auto route = parseRoute(key[3]);
    if (!route) continue;  // not a route this version writes
    std::array<std::uint32_t, 4> k{m.names.intern(key[0]), m.names.intern(key[1]), m.names.intern(key[2]),
                                   static_cast<std::uint32_t>(*route)};
    AnswerAgg& agg = m.answers[k];
    agg.total += static_cast<std::int64_t>(a.total);
    agg.sum_ms += a.wait_ms;
    for (std::size_t i = 0; i < a.buckets.size(); ++i)
      agg.buckets[i] += static_cast<std::int64_t>(a.buckets[i]);
  }
}

std::size_t Tracker::forget(const std::vector<ConversationKey>& keys) {
  Impl& m = *impl_;
  std::size_t forgotten = 0;
  for (const ConversationKey& key : keys) {
    const std::uint32_t si = m.find(key);
    if (si == kNone) continue;
    m.forgetSlot(si);
    ++forgotten;
  }
  return forgotten;
}

std::size_t Tracker::conversationsInMemory() const { return impl_->live; }

void Tracker::setMaxIdleConversations(std::size_t max_idle) {
  impl_->options.max_idle_conversations = max_idle;
}

}  // namespace replywatch::tracker
