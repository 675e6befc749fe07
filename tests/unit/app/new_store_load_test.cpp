// A load written as a new store file against the same batches given to the pipeline: a
// bulk load into an empty store, and batch by batch as the daemon stores them. Duplicates
// of every kind: within a batch, across batches, under two conversations.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "daemon/app/new_store_load.h"
#include "daemon/app/pipeline.h"
#include "tests/unit/app/app_test_util.h"

namespace replywatch::app {
namespace {

using testing::feedConfig;
using testing::feedMessage;
using testing::TempDir;

const std::int64_t kT0 = 1'700'000'000;

// The account of a conversation (one per conversation, as connectors give them).
std::string accountOf(const std::string& conversation) {
  return conversation.size() % 2 == 0 ? "acme" : "globex";
}

// Batches of messages: conversations of questions, follow-ups (some not questions, some
// from an ignored author) and answers (some late, some missing) over two accounts, and
// `copies` copies of earlier messages, some under another conversation.
std::vector<std::vector<Message>> randomBatches(std::uint32_t seed, int copies) {
  std::mt19937 rng(seed);
  std::vector<Message> all;
  for (int c = 0; c < 400; ++c) {
    // Every third conversation's ids longer than a record holds inline.
    const std::string conversation = "c" + std::to_string(rng() % 100000) + "-" + std::to_string(c) +
                                     (c % 3 == 0 ? "-of-a-longer-name" : "");
    std::int64_t at = kT0 + static_cast<std::int64_t>(rng() % 86400);
    const int messages = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < messages; ++k) {
      const bool brand = k > 0 && rng() % 2 == 0;
      Message& m =
          all.emplace_back(feedMessage(conversation + "-m" + std::to_string(k), conversation, at, brand));
      m.account = accountOf(conversation);
      if (!brand && rng() % 4 == 0) m.text = "Merci beaucoup";  // not a question
      if (!brand && rng() % 8 == 0) m.author_id = "bot";        // ignored by acme
      at += static_cast<std::int64_t>(rng() % 7200);
    }
  }
  std::shuffle(all.begin(), all.end(), rng);
  const std::size_t originals = all.size();
  for (int d = 0; d < copies; ++d) {
    Message copy = all[rng() % originals];
    switch (rng() % 3) {
      case 0: break;                                                               // the same message again
      case 1: copy.created_at = copy.created_at + std::chrono::seconds(5); break;  // another time
      default:                                                                     // threaded elsewhere
        copy.conversation_id = "other-" + std::to_string(rng() % 20);
        copy.account = accountOf(copy.conversation_id);
        break;
    }
    all.insert(all.begin() + static_cast<std::ptrdiff_t>(rng() % (all.size() + 1)), copy);
  }
  std::vector<std::vector<Message>> batches;
  for (std::size_t i = 0; i < all.size();) {
    const std::size_t n = std::min<std::size_t>(all.size() - i, 1 + rng() % 90);
    batches.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(i),
                         all.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
  }
  return batches;
}

struct Contents {
  std::vector<std::string> messages;  // every stored message, one line each, sorted
  std::vector<Turn> turns;            // sorted by key
  std::size_t stored = 0;             // as the ingest outcomes (and build()) counted
  std::size_t duplicates = 0;
};

std::string line(const MessageRecord& m) {
  return m.source + "|" + m.id + "|" + m.account + "|" + m.channel + "|" + m.conversation_id + "|" +
         m.in_reply_to + "|" + std::to_string(toMillis(m.created_at)) + "|" +
         std::to_string(static_cast<int>(m.role)) + "|" + m.responder + "|" + m.handler + "|" +
         std::to_string(static_cast<int>(m.route));
}

Contents read(const std::filesystem::path& path) {
  Contents c;
  auto store = store::openSqliteStore(path).value();
  std::vector<ConversationKey> keys;
  EXPECT_TRUE(store->forEachConversation([&](const ConversationKey& k) { keys.push_back(k); }).ok());
  for (const auto& k : keys) {
    for (const MessageRecord& m : store->conversation(k).value()) c.messages.push_back(line(m));
  }
  std::sort(c.messages.begin(), c.messages.end());
  EXPECT_TRUE(store->forEachTurn([&](const Turn& t) { c.turns.push_back(t); }).ok());
  std::sort(c.turns.begin(), c.turns.end(), [](const Turn& a, const Turn& b) { return keyOf(a) < keyOf(b); });
  return c;
}

// Through the pipeline: one bulk load, or each batch durable on its own.
Contents throughPipeline(const config::Config& cfg, const std::vector<std::vector<Message>>& batches,
                         const std::filesystem::path& path, bool bulk) {
  std::size_t stored = 0;
  std::size_t duplicates = 0;
  {
    auto store = store::openSqliteStore(path).value();
    SystemClock clock;
    Pipeline pipeline(cfg, clock, *store);
    EXPECT_TRUE(pipeline.restore().ok());
    if (bulk) {
      EXPECT_TRUE(pipeline.beginBulkLoad().ok());
    }
    for (const auto& batch : batches) {
      auto outcome = pipeline.ingest(cfg.sources[0], batch, std::nullopt);
      EXPECT_TRUE(outcome.ok());
      stored += outcome->stored;
      duplicates += outcome->duplicates;
    }
    if (bulk) {
      EXPECT_TRUE(pipeline.endBulkLoad().ok());
    }
  }
  Contents c = read(path);
  c.stored = stored;
  c.duplicates = duplicates;
  return c;
}

// With `views`, each batch is given as views (ingestViews()) of a copy overwritten once
// the call returned: the load must keep copies of what it stores.
Contents builtFile(const config::Config& cfg, const std::vector<std::vector<Message>>& batches,
                   const std::filesystem::path& path, bool views = false) {
  std::size_t stored = 0;
  NewStoreLoad load(cfg);
  for (const auto& batch : batches) {
    Result<connectors::IngestOutcome> outcome = makeError("test", "not given");
    if (views) {
      std::vector<Message> copies = batch;
      std::vector<MessageView> given;
      given.reserve(copies.size());
      for (const Message& m : copies) given.push_back(viewOf(m));
      outcome = load.ingestViews(cfg.sources[0], given);
      for (Message& m : copies) {
        for (std::string* text :
             {&m.id, &m.conversation_id, &m.in_reply_to, &m.author_id, &m.author_name, &m.text, &m.account}) {
          std::fill(text->begin(), text->end(), '#');
        }
      }
    } else {
      outcome = load.ingest(cfg.sources[0], batch, std::nullopt);
    }
    EXPECT_TRUE(outcome.ok());
    EXPECT_EQ(outcome->stored, batch.size());
    stored += outcome->stored;
  }
  auto built = load.build(path);
  if (!built.ok()) {
    ADD_FAILURE() << built.error().message;
    return {};
  }
  Contents c = read(path);
  c.stored = stored - built->duplicates;
  c.duplicates = built->duplicates;
  EXPECT_EQ(built->messages, c.messages.size());
  EXPECT_EQ(built->turns, c.turns.size());
  return c;
}

// Two accounts of different thresholds; acme counts questions only and ignores a bot;
// acme's answers go through an internal handler.
config::Config twoAccounts() {
  config::Config cfg = feedConfig();
  cfg.accounts[0].threshold = std::chrono::seconds(1800);
  cfg.accounts[0].count = config::CountMode::Questions;
  cfg.accounts[0].ignored_authors = {"bot"};
  config::AccountConfig globex;
  globex.name = "globex";
  globex.threshold = std::chrono::seconds(5400);
  cfg.accounts.push_back(globex);
  config::HandlerConfig team;
  team.name = "team";
  team.route = Route::Internal;
  team.responder_ids = {"acme"};
  team.accounts = {"acme"};
  cfg.handlers.push_back(team);
  return cfg;
}

TEST(NewStoreLoad, WritesWhatThePipelineStoresFromTheSameBatches) {
  const config::Config cfg = twoAccounts();
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(seed);
    // The last without any message given twice (the builder then takes the load's order
    // by key as it is).
    const int copies = seed < 5 ? 150 : 0;
    const auto batches = randomBatches(seed, copies);
    TempDir dir("new-store-load");
    const Contents built = builtFile(cfg, batches, dir.file("built.db"));
    const Contents from_views = builtFile(cfg, batches, dir.file("views.db"), true);
    const Contents bulk = throughPipeline(cfg, batches, dir.file("bulk.db"), true);
    const Contents each = throughPipeline(cfg, batches, dir.file("each.db"), false);
    EXPECT_EQ(built.messages, bulk.messages);
    EXPECT_EQ(built.turns, bulk.turns);
    EXPECT_EQ(from_views.messages, built.messages);
    EXPECT_EQ(from_views.turns, built.turns);
    EXPECT_EQ(from_views.duplicates, built.duplicates);
    EXPECT_EQ(bulk.messages, each.messages);
    EXPECT_EQ(bulk.turns, each.turns);
    EXPECT_EQ(built.stored, bulk.stored);
    EXPECT_EQ(built.duplicates, bulk.duplicates);
    EXPECT_EQ(built.stored, built.messages.size());
    if (copies > 0) {
      EXPECT_GT(built.duplicates, 100U);
    } else {
      EXPECT_EQ(built.duplicates, 0U);
    }
    const auto breached = std::count_if(built.turns.begin(), built.turns.end(),
                                        [](const Turn& t) { return t.breached_at.has_value(); });
    const auto open =
        std::count_if(built.turns.begin(), built.turns.end(), [](const Turn& t) { return t.open(); });
    EXPECT_GT(breached, 10);
    EXPECT_GT(open, 10);
    // Every kind of message and both thresholds were there to get wrong.
    const auto of = [&](const std::string& account, auto pred) {
      return std::count_if(built.turns.begin(), built.turns.end(),
                           [&](const Turn& t) { return t.account == account && pred(t); });
    };
    const auto late_between = [](const Turn& t) {
      return t.answered_at && *t.answered_at - t.asked_at > std::chrono::seconds(1800) &&
             *t.answered_at - t.asked_at <= std::chrono::seconds(5400);
    };
    EXPECT_GT(of("acme", late_between), 3);
    EXPECT_GT(of("globex", late_between), 3);
    EXPECT_GT(of("acme", [](const Turn& t) { return t.route == Route::Internal; }), 10);
    std::set<std::string> roles;
    for (const std::string& m : built.messages) {
      std::size_t at = 0;
      for (int field = 0; field < 7; ++field) at = m.find('|', at) + 1;
      roles.insert(m.substr(at, m.find('|', at) - at));
    }
    EXPECT_EQ(roles, (std::set<std::string>{"0", "1", "2", "3"}));
  }
}

// The copy of a message given twice that the pipeline keeps: the earlier batch's; within
// one batch, the one of the conversation planned first.
TEST(NewStoreLoad, KeepsTheCopyThePipelineKeeps) {
  const config::Config cfg = feedConfig();
  const std::vector<std::vector<Message>> batches = {
      {feedMessage("m1", "z", kT0), feedMessage("m1", "a", kT0 + 1), feedMessage("m2", "b", kT0)},
      {feedMessage("m2", "a", kT0), feedMessage("m3", "c", kT0 + 9), feedMessage("m3", "c", kT0 + 3)},
  };
  NewStoreLoad load(cfg);
  for (const auto& batch : batches) ASSERT_TRUE(load.ingest(cfg.sources[0], batch, std::nullopt).ok());
  auto places = load.messagePlaces("feed", {"m1", "m2", "m3", "m4"}).value();
  ASSERT_EQ(places.size(), 4U);
  EXPECT_EQ(places[0], (MessagePlace{"a", "acme"}));
  EXPECT_EQ(places[1], (MessagePlace{"b", "acme"}));
  EXPECT_EQ(places[2], (MessagePlace{"c", "acme"}));
  EXPECT_FALSE(places[3].has_value());
  EXPECT_TRUE(load.messagePlaces("other-source", {"m1"}).value()[0] == std::nullopt);

  TempDir dir("new-store-load");
  const Contents built = builtFile(cfg, batches, dir.file("built.db"));
  const Contents bulk = throughPipeline(cfg, batches, dir.file("bulk.db"), true);
  EXPECT_EQ(built.messages, bulk.messages);
  EXPECT_EQ(built.turns, bulk.turns);
  EXPECT_EQ(built.duplicates, 3U);
  ASSERT_EQ(built.messages.size(), 3U);
  EXPECT_NE(built.messages[0].find("|m1|acme|export|a|"), std::string::npos) << built.messages[0];
  EXPECT_NE(built.messages[2].find(std::to_string((kT0 + 9) * 1000)), std::string::npos) << built.messages[2];
}

TEST(NewStoreLoad, RefusesACursorASourceNotConfiguredAndAnExistingStore) {
  const config::Config cfg = feedConfig();
  NewStoreLoad load(cfg);
  auto refused = load.ingest(cfg.sources[0], {feedMessage("m1", "c", kT0)}, std::string("after-m1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cursor"), std::string::npos);
  config::SourceConfig stranger = cfg.sources[0];
  stranger.name = "stranger";
  auto unknown = load.ingest(stranger, {feedMessage("m1", "c", kT0)}, std::nullopt);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("not in the configuration"), std::string::npos);
  EXPECT_EQ(load.cursor("feed").value(), std::nullopt);
  ASSERT_TRUE(load.ingest(cfg.sources[0], {feedMessage("m1", "c", kT0)}, std::nullopt).ok());

  TempDir dir("new-store-load");
  const auto path = dir.file("store.db");
  { auto existing = store::openSqliteStore(path).value(); }
  auto built = load.build(path);
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.error().message.find("exists"), std::string::npos) << built.error().message;
  EXPECT_TRUE(read(path).messages.empty());
}

// Nothing ingested: an empty store all the same.
TEST(NewStoreLoad, AnEmptyLoadWritesAnEmptyStore) {
  const config::Config cfg = feedConfig();
  NewStoreLoad load(cfg);
  TempDir dir("new-store-load");
  auto built = load.build(dir.file("store.db"));
  ASSERT_TRUE(built.ok()) << built.error().message;
  EXPECT_EQ(built->messages, 0U);
  const Contents c = read(dir.file("store.db"));
  EXPECT_TRUE(c.messages.empty());
  EXPECT_TRUE(c.turns.empty());
}

}  // namespace
}  // namespace replywatch::app
