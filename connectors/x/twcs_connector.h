#pragma once
// The `twcs` source type: X (Twitter) histories in the "Customer Support on Twitter"
// CSV shape, imported with `replywatch import`. One file may hold many brands: each
// conversation (a reply tree rooted at the first tweet present in the file) is given
// to one account. See README.md in this directory for the rules.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/common/validate.h"
#include "connectors/connector.h"

namespace replywatch::connectors::twcs {

// Messages handed to IngestSink::ingest() per call (at most: rows of the file per call).
inline constexpr std::size_t kBatchSize = 5000;
// Threads parsing the second pass's batches.
inline constexpr std::size_t kParsers = 2;
// @mentions remembered per inbound tweet (to find the brand of a tree without brand tweets).
inline constexpr std::size_t kMaxMentions = 8;

// Files with at least this many bytes after the header are read by two threads in the
// first pass, one from the middle on.
inline constexpr std::uint64_t kTwoReadersFrom = 32 << 20;

struct Settings {
  // Brand author (author_id of outbound tweets) -> account. Unmapped brand authors are
  // accounts of their own name, with the settings of the source's account.
  std::map<std::string, std::string> brand_accounts;
  // kTwoReadersFrom, unless a test asks for smaller files (no configuration key).
  std::uint64_t two_readers_from = kTwoReadersFrom;
};

const std::vector<std::string>& allowedKeys();
Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems);
void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems);
std::unique_ptr<Connector> create(const ConnectorContext& context);

class TwcsConnector final : public Connector {
 public:
  TwcsConnector(const ConnectorContext& context, Settings settings);
  ~TwcsConnector() override;

  // Two passes over the file: the first builds the reply trees and picks each tree's
  // account (no text kept; two threads on a large file), the second emits the messages
  // in batches of kBatchSize.
  Result<ImportStats> importFile(const std::filesystem::path& path, const ProgressFn& progress) override;

  // The account of brand author `author`.
  std::string accountOf(const std::string& author) const;

 private:
  struct Pass;
  // Looks up, through the sink, the parents of the trees whose top tweet replies to a
  // tweet absent from the file, and records the conversation and account of those stored.
  Result<void> joinStoredParents(Pass& pass);
  ConnectorContext ctx_;
  Settings settings_;
  MessageValidator validator_;
};

}  // namespace replywatch::connectors::twcs
