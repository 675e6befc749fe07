#pragma once
// Helpers shared by the app tests: a temporary directory, and a Store that forwards every
// call to a real store, for decorators that hold or fail one kind of call.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/model.h"
#include "daemon/store/store.h"

namespace replywatch::app::testing {

// A configuration with one account ("acme") and one export source ("feed", channel
// "export").
inline config::Config feedConfig() {
  config::Config c;
  config::AccountConfig a;
  a.name = "acme";
  c.accounts.push_back(a);
  config::SourceConfig s;
  s.name = "feed";
  s.type = "export";
  s.account = "acme";
  s.channel = "export";
  c.sources.push_back(s);
  return c;
}

// A message of `conversation` at `at_s` (seconds since the epoch): a member's question, or
// with `brand` the account's answer.
inline Message feedMessage(std::string id, std::string conversation, std::int64_t at_s, bool brand = false) {
  Message m;
  m.id = std::move(id);
  m.conversation_id = std::move(conversation);
  m.author_id = brand ? "acme" : "member";
  m.author_is_brand = brand;
  m.created_at = fromMillis(at_s * 1000);
  m.text = "Où est ma commande ?";
  return m;
}

// A directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    static std::atomic<int> n{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("replywatch-" + prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path file(const std::string& name) const { return dir_ / name; }

 private:
  std::filesystem::path dir_;
};

// Forwards every call of the Store interface to `inner` (the real store); decorators
// override the calls they gate.
class ForwardingStore : public store::Store {
 public:
  explicit ForwardingStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}

  Result<store::CommitOutcome> commit(const store::WriteBatch& batch) override {
    return inner_->commit(batch);
  }
  Result<std::vector<std::optional<MessagePlace>>> messagePlaces(
      const std::string& source, const std::vector<std::string>& ids) override {
    return inner_->messagePlaces(source, ids);
  }
  Result<std::vector<bool>> contains(const std::string& source,
                                     const std::vector<std::string>& ids) override {
    return inner_->contains(source, ids);
  }
  Result<std::vector<MessageRecord>> conversation(const ConversationKey& key) override {
    return inner_->conversation(key);
  }
  Result<std::vector<Turn>> conversationTurns(const ConversationKey& key) override {
    return inner_->conversationTurns(key);
  }
  Result<std::vector<MessageRecord>> openConversationMessages() override {
    return inner_->openConversationMessages();
  }
  Result<std::vector<Turn>> turns(const store::TurnQuery& query) override { return inner_->turns(query); }
  Result<void> forEachTurn(const std::function<void(const Turn&)>& fn) override {
    return inner_->forEachTurn(fn);
  }
  Result<void> forEachConversation(const std::function<void(const ConversationKey&)>& fn) override {
    return inner_->forEachConversation(fn);
  }
  Result<std::vector<std::vector<EscalationRecord>>> escalationsFor(
      const std::vector<TurnKey>& turns) override {
    return inner_->escalationsFor(turns);
  }
  Result<void> forEachEscalation(const store::EscalationQuery& query,
                                 const std::function<void(const store::LinkedEscalation&)>& fn) override {
    return inner_->forEachEscalation(query, fn);
  }
  Result<std::optional<std::string>> cursor(const std::string& source) override {
    return inner_->cursor(source);
  }
  Result<std::uint64_t> prune(Timestamp cutoff, const store::PruneHooks& hooks) override {
    return inner_->prune(cutoff, hooks);
  }
  Result<std::optional<std::string>> retiredCounts() override { return inner_->retiredCounts(); }
  int schemaVersion() const override { return inner_->schemaVersion(); }
  Result<store::BulkLoadStart> beginBulkLoad() override { return inner_->beginBulkLoad(); }
  Result<void> endBulkLoad() override { return inner_->endBulkLoad(); }
  Result<void> abortBulkLoad() override { return inner_->abortBulkLoad(); }

 private:
  std::unique_ptr<store::Store> inner_;
};

}  // namespace replywatch::app::testing
