#pragma once
// An import into a store that does not exist yet, written as a new store file. It is the
// IngestSink `replywatch import` gives the connector for its first file when nothing is
// at the store's path: ingest() classifies each batch and keeps it in memory; build()
// then drops duplicate messages as the pipeline would have, computes every
// conversation's turns at once (tracker::turnsOfLoad) and writes the store file
// (store::buildSqliteStore). The result is the store a bulk load through the pipeline
// leaves, written without SQLite's row-by-row insert path.
//
// Threading: not synchronized; ingest(), messagePlaces() and build() are called from
// the importing thread.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/connector.h"
#include "daemon/config/config.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"
#include "daemon/core/text_arena.h"
#include "daemon/tracker/tracker.h"

namespace replywatch::app {

class NewStoreLoad final : public connectors::IngestSink {
 public:
  explicit NewStoreLoad(const config::Config& config);
  ~NewStoreLoad() override;
  NewStoreLoad(const NewStoreLoad&) = delete;
  NewStoreLoad& operator=(const NewStoreLoad&) = delete;

  // Classifies the batch and keeps it. Every message counts as stored: duplicates are
  // only known at build(), which returns how many. A cursor is refused (an import gives
  // none; the built store keeps none). Never blocks on I/O.
  Result<connectors::IngestOutcome> ingest(const config::SourceConfig& source, std::vector<Message> messages,
                                           std::optional<std::string> cursor) override;
  // ingest() of views: what it keeps of them is copied.
  Result<connectors::IngestOutcome> ingestViews(const config::SourceConfig& source,
                                                const std::vector<MessageView>& messages) override;
  // Where each message is among those ingested so far (the copy build() keeps), or
  // nullopt. Costs a pass over them once any was ingested.
  Result<std::vector<std::optional<MessagePlace>>> messagePlaces(
      const std::string& source, const std::vector<std::string>& ids) override;
  // Always nullopt: nothing is stored before build().
  Result<std::optional<std::string>> cursor(const std::string& source) override;
  // Reserves room for `count` more messages.
  void expectMessages(std::size_t count) override;

  struct Built {
    std::size_t messages = 0;    // written to the store
    std::size_t duplicates = 0;  // messages ingest() counted as stored and the load dropped
    std::size_t turns = 0;
  };
  // Writes what was ingested as the store file `path`, which must not exist (see
  // store::buildSqliteStore(), whose errors it returns). Of several messages with one
  // (source, id), keeps the copy the pipeline would: the one of the earliest ingest()
  // call, within it the one of the first conversation id, within that the first given.
  // Call once, after the last ingest(). Blocks on disk; uses two threads.
  Result<Built> build(const std::filesystem::path& path);

 private:
  // build(), which turns an exception into an Error.
  Result<Built> buildFile(const std::filesystem::path& path);
  // Classifies and keeps the `n` messages at(0) .. at(n - 1) (each a MessageView).
  template <typename At>
  Result<connectors::IngestOutcome> keep(const config::SourceConfig& source, std::size_t n, At at);
  // True when record `a` is the copy kept over record `b` of the same (source, id).
  bool keptOver(std::uint32_t a, std::uint32_t b) const;
  // `account` kept once in the arena (accounts are few, each of many messages).
  std::string_view accountText(std::string_view account);
  // `text` as a record keeps it: inline, or copied into the arena.
  CompactText kept(std::string_view text) {
    return CompactText(text.size() <= CompactText::kInline ? text : texts_.copy(text));
  }

  const config::Config& config_;
  tracker::Classifier classifier_;
  // The records' texts longer than CompactText holds: ids copied here; sources,
  // channels, handlers and configured accounts viewed in the configuration.
  TextArena texts_;
  std::unordered_map<std::string_view, std::string_view> accounts_;  // views of texts_
  std::string_view last_account_;
  std::vector<CompactMessageRecord> records_;
  std::vector<std::uint32_t> call_of_;  // per record: the ingest() call that gave it
  std::uint32_t calls_ = 0;
};

}  // namespace replywatch::app
