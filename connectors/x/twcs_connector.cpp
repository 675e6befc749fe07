#include "connectors/x/twcs_connector.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "connectors/export/export_format.h"
#include "connectors/x/twcs_format.h"
#include "daemon/core/log.h"
#include "daemon/core/text_arena.h"
#include "daemon/core/thread_name.h"

namespace replywatch::connectors::twcs {
namespace fs = std::filesystem;
namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kInProgress = kNone - 1;
// Rejected rows logged one by one per file; further ones are only counted.
constexpr std::uint64_t kMaxLoggedRejections = 100;
// Nodes from which the parents are looked up by two threads.
constexpr std::uint32_t kParallelFrom = 1 << 16;

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// One row's values, viewing the reader's fields.
struct Row {
  std::uint64_t id = 0;
  std::uint64_t parent = 0;  // 0: none
  std::string_view author;
  bool inbound = true;
  Timestamp created_at{};
  std::string_view text;
};

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<Rejection> reject(ErrorReason reason, std::string message) {
  return Rejection{reason, std::move(message)};
}

// Parses and checks one data row; the same row always gives the same answer for the
// same `now`, so both passes agree.
std::optional<Rejection> parseRow(const CsvReader& reader, const Header& header,
                                  const MessageValidator& validator, Timestamp now, Row& row) {
  const auto& f = reader.fields();
  if (f.size() != header.width) {
    return reject(ErrorReason::ParseError,
                  fmt::format("the row has {} fields, the header {}", f.size(), header.width));
  }
  if (reader.malformed()) return reject(ErrorReason::ParseError, "characters follow a closing quote");
  auto field = [&](Column c) {
    return f[static_cast<std::size_t>(header.index[static_cast<std::size_t>(c)])];
  };
  auto empty = [](std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; };

  const std::string_view id = field(Column::TweetId);
  if (empty(id)) return reject(ErrorReason::MissingField, "tweet_id is empty");
  auto parsed_id = parseTweetId(id);
  if (!parsed_id) return reject(ErrorReason::ParseError, "tweet_id is not a tweet id");
  row.id = *parsed_id;

  // Without surrounding whitespace, as the ids, times and inbound flags are read.
  row.author = trimmed(field(Column::AuthorId));
  if (row.author.empty()) return reject(ErrorReason::MissingField, "author_id is empty");
  if (auto r = validator.checkField("author_id", row.author)) return r;

  auto inbound = parseInbound(field(Column::Inbound));
  if (!inbound) return reject(ErrorReason::ParseError, "inbound must be True or False");
  row.inbound = *inbound;

  const std::string_view created = field(Column::CreatedAt);
  if (empty(created)) return reject(ErrorReason::MissingField, "created_at is empty");
  auto t = parseCreatedAt(created);
  if (!t)
    return reject(ErrorReason::InvalidTimestamp,
                  "created_at is not a date like \"Tue Oct 31 22:10:47 +0000 2017\"");
  if (auto r = validator.checkTimestamp(*t, now)) return r;
  row.created_at = *t;

  row.text = field(Column::Text);
  if (auto r = validator.checkField("text", row.text)) return r;

  const std::string_view parent = field(Column::InResponseTo);
  row.parent = 0;
  if (!empty(parent)) {
    auto p = parseTweetId(parent);
    if (!p) return reject(ErrorReason::ParseError, "in_response_to_tweet_id is not a tweet id");
    if (*p != row.id) row.parent = *p;
  }
  return std::nullopt;
}

bool blankRecord(const CsvReader& reader) {
  const auto& f = reader.fields();
  return f.size() == 1 && f[0].find_first_not_of(" \t\r") == std::string_view::npos;
}

// A rejected row of the second half of a file, logged once the lines before are known.
struct HeldRejection {
  std::uint64_t line = 0;  // counted from the half's first line
  Rejection rejection;
};

// What the first pass learns from a part of the file: one node per accepted row, in file
// order, without texts.
struct PassPart {
  struct Node {
    std::uint64_t id = 0;
    std::uint64_t parent = 0;
    std::int64_t created_ms = 0;
    std::uint32_t brand = kNone;  // brand author index for outbound tweets
    std::uint32_t mentions_begin = 0;
    std::uint8_t mentions_count = 0;
    bool duplicate = false;  // a later row with an id seen before
  };
  std::vector<Node> nodes;
  std::vector<std::uint8_t> accepted;   // per data row: 1 when it became a node
  std::vector<std::uint32_t> mentions;  // handle indexes
  std::unordered_map<std::string, std::uint32_t> brand_index;
  std::vector<std::string> brand_names;
  std::unordered_map<std::string, std::uint32_t> handle_index;  // lower-cased @handles
  std::vector<std::string> handle_names;
  std::uint64_t rejected = 0;  // data rows (blank records aside) not accepted
  // A second half's rejected rows: the first kMaxLoggedRejections + 1 (as many as can be
  // logged), then only counted by reason.
  std::vector<HeldRejection> held;
  std::array<std::uint64_t, kErrorReasonCount> counted{};
  // Where every kBatchSize-th data row of the part begins: the second pass's pieces.
  struct PieceStart {
    std::uint64_t offset = 0;  // in the file
    std::uint64_t row = 0;     // data row index (in `accepted`)
  };
  std::vector<PieceStart> pieces;
  // (id, node) of every node, sorted, once sortIds() ran.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> by_id;

  // Room for the rows of `bytes` of the file, at a small row's size (a twcs row takes
  // about 180 bytes): the vectors are filled without being moved as they grow, and a
  // later part is appended in place. Pages are only used as the rows come. Capped: past
  // that, or with smaller rows, they grow as usual.
  void reserveFor(std::uint64_t bytes) {
    constexpr std::uint64_t kFewRowBytes = 64;
    constexpr std::uint64_t kMaxRows = std::uint64_t{1} << 24;
    const auto rows = static_cast<std::size_t>(std::min(bytes / kFewRowBytes, kMaxRows));
    try {
      nodes.reserve(rows);
      accepted.reserve(rows);
      by_id.reserve(rows);
    } catch (const std::bad_alloc&) {  // no room set aside (a limit on address space): grown as read
    }
  }

  void sortIds() {
    by_id.clear();
    by_id.reserve(nodes.size());
    // Past 2^32 - 2 nodes the file is refused before the ids are used.
    for (std::size_t i = 0; i < nodes.size(); ++i)
      by_id.emplace_back(nodes[i].id, static_cast<std::uint32_t>(i));
    std::sort(by_id.begin(), by_id.end());
  }

  std::uint32_t brandOf(std::string_view author) {
    auto [it, inserted] =
        brand_index.try_emplace(std::string(author), static_cast<std::uint32_t>(brand_names.size()));
    if (inserted) brand_names.emplace_back(author);
    return it->second;
  }
  std::uint32_t handleOf(std::string key) {  // lower-cased
    auto [it, inserted] = handle_index.try_emplace(key, static_cast<std::uint32_t>(handle_names.size()));
    if (inserted) handle_names.push_back(std::move(key));
    return it->second;
  }

  void add(const Row& row) {
    Node node;
    node.id = row.id;
    node.parent = row.parent;
    node.created_ms = toMillis(row.created_at);
    if (!row.inbound) {
      node.brand = brandOf(row.author);
    } else {
      node.mentions_begin = static_cast<std::uint32_t>(mentions.size());
      forEachMention(row.text, kMaxMentions, [&](std::string_view handle) {
        mentions.push_back(handleOf(lowerCopy(handle)));
        ++node.mentions_count;
      });
    }
    nodes.push_back(node);
  }

  // Appends `later`, read from where this part ends (its held rejections aside).
  void append(PassPart&& later) {
    std::vector<std::uint32_t> brands;
    brands.reserve(later.brand_names.size());
    for (const auto& b : later.brand_names) brands.push_back(brandOf(b));
    std::vector<std::uint32_t> handles;
    handles.reserve(later.handle_names.size());
    for (auto& h : later.handle_names) handles.push_back(handleOf(std::move(h)));
    const auto mentions_before = static_cast<std::uint32_t>(mentions.size());
    for (const std::uint32_t m : later.mentions) mentions.push_back(handles[m]);
    // Both sorted: merged (the later part's nodes come after this part's).
    const std::size_t sorted = by_id.size();
    if (sorted == nodes.size() && later.by_id.size() == later.nodes.size()) {
      by_id.reserve(by_id.size() + later.by_id.size());
      for (const auto& [id, i] : later.by_id)
        by_id.emplace_back(id, i + static_cast<std::uint32_t>(nodes.size()));
      std::inplace_merge(by_id.begin(), by_id.begin() + static_cast<std::ptrdiff_t>(sorted), by_id.end());
    } else {
      by_id.clear();
    }
    nodes.reserve(nodes.size() + later.nodes.size());
    for (Node node : later.nodes) {
      if (node.brand != kNone) node.brand = brands[node.brand];
      node.mentions_begin += mentions_before;
      nodes.push_back(node);
    }
    for (const PieceStart& piece : later.pieces)
      pieces.push_back({piece.offset, piece.row + accepted.size()});
    accepted.insert(accepted.end(), later.accepted.begin(), later.accepted.end());
    rejected += later.rejected;
  }
};

// Messages of one piece of the file (the second pass).
// Messages of one piece of the file (the second pass): views of the piece's bytes, read
// at once, and of texts kept beside them (ids as the store writes them, unescaped
// quoted fields), or of the import's own (accounts, stored conversations).
struct Parsed {
  std::unique_ptr<CsvReader> reader;  // holds the bytes
  TextArena texts;
  std::vector<MessageView> messages;
  std::uint64_t duplicates = 0;  // rows of an id given earlier in the file
};

// A tweet id as text, kept in `texts`.
std::string_view idText(std::uint64_t id, TextArena& texts) {
  std::array<char, 24> digits{};
  const auto written = std::to_chars(digits.data(), digits.data() + digits.size(), id);
  return texts.copy(std::string_view(digits.data(), static_cast<std::size_t>(written.ptr - digits.data())));
}

// Parses pieces 0 .. count - 1 with `parse` on `threads` threads of their own (thread t
// takes pieces t, t + threads, ...) and hands them over in order. A thread parses at
// most one piece beyond the one waiting in its slot: memory stays bounded. An exception
// from `parse` becomes the piece's Error. The destructor stops and joins the threads.
class PiecesInOrder {
 public:
  PiecesInOrder(std::size_t count, std::size_t threads, std::function<Result<Parsed>(std::size_t)> parse)
      : count_(count), parse_(std::move(parse)), slots_(std::min(threads, count)) {
    try {
      for (std::size_t t = 0; t < slots_.size(); ++t) threads_.emplace_back([this, t] { run(t); });
    } catch (...) {  // a thread the system refused: the started ones are stopped
      stopAndJoin();
      throw;
    }
  }
  ~PiecesInOrder() { stopAndJoin(); }
  PiecesInOrder(const PiecesInOrder&) = delete;
  PiecesInOrder& operator=(const PiecesInOrder&) = delete;

  // The next piece, in order; waits for it. Call at most `count` times.
  Result<Parsed> next() {
    std::unique_lock lock(mu_);
    std::optional<Result<Parsed>>& slot = slots_[taken_ % slots_.size()];
    cv_.wait(lock, [&] { return slot.has_value(); });
    Result<Parsed> piece = std::move(*slot);
    slot.reset();
    ++taken_;
    cv_.notify_all();
    return piece;
  }

 private:
  void stopAndJoin() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

  void run(std::size_t t) {
    nameThisThread("twcs-parse");
    for (std::size_t j = t; j < count_; j += slots_.size()) {
      std::optional<Result<Parsed>> piece;
      try {
        piece = parse_(j);
      } catch (const std::exception& e) {
        piece = Result<Parsed>(makeError("bad_file", std::string("cannot parse the file: ") + e.what()));
      }
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !slots_[t].has_value(); });
      if (stop_) return;
      slots_[t] = std::move(piece);
      cv_.notify_all();
    }
  }

  const std::size_t count_;
  const std::function<Result<Parsed>(std::size_t)> parse_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<Result<Parsed>>> slots_;  // per thread: its next piece, parsed
  std::size_t taken_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;  // last: started once the rest is set
};

enum class PartEnd : std::uint8_t { FileEnd, AtStop, PastStop };

// Reads rows into `part` until the end of the file, or until a record ends at byte
// `stop` (AtStop) or past it (PastStop, that record read).
template <typename OnReject, typename OnProgress>
Result<PartEnd> readPart(CsvReader& reader, const Header& header, const MessageValidator& validator,
                         Timestamp now, std::uint64_t stop, PassPart& part, OnReject on_reject,
                         OnProgress on_progress) {
  Row row;
  for (;;) {
    const std::uint64_t at = reader.bytesDone();
    switch (reader.next()) {
      case CsvReader::Status::Failed: return reader.failure();
      case CsvReader::Status::End: return PartEnd::FileEnd;
      case CsvReader::Status::Record:
        if (!blankRecord(reader)) {
          if (part.accepted.size() % kBatchSize == 0) part.pieces.push_back({at, part.accepted.size()});
          if (auto problem = parseRow(reader, header, validator, now, row)) {
            part.accepted.push_back(0);
            ++part.rejected;
            on_reject(reader.line(), std::move(*problem));
          } else {
            part.accepted.push_back(1);
            part.add(row);
          }
          if ((part.accepted.size() & 0xFFFF) == 0) on_progress(reader.bytesDone());
        }
        if (reader.bytesDone() >= stop)
          return reader.bytesDone() == stop ? PartEnd::AtStop : PartEnd::PastStop;
        break;
    }
  }
}

// Rows checked where a record seems to begin.
constexpr int kRowsToTrust = 4;

// The offset of a record start at or after `from`: the first line start there from which
// kRowsToTrust rows read as the header says (its width, a tweet id, a date). A guess (a
// quoted text may hold such lines), which the reader of the part before confirms.
// nullopt when none is found in the first MiB.
std::optional<std::uint64_t> recordStartNear(const fs::path& path, std::uint64_t from, const Header& header) {
  auto input = exportfmt::Input::openFile(path, 1 << 20, from);
  if (!input) return std::nullopt;
  auto filled = input->fill();
  if (!filled || !*filled) return std::nullopt;
  const std::string_view window(input->data(), input->size());
  auto column = [&](const CsvReader& r, Column c) {
    return r.fields()[static_cast<std::size_t>(header.index[static_cast<std::size_t>(c)])];
  };
  for (std::size_t nl = window.find('\n'); nl != std::string_view::npos; nl = window.find('\n', nl + 1)) {
    CsvReader reader(exportfmt::Input::fromMemory(window.substr(nl + 1)));
    int trusted = 0;
    while (trusted < kRowsToTrust && reader.next() == CsvReader::Status::Record &&
           reader.fields().size() == header.width && !reader.malformed() &&
           parseTweetId(column(reader, Column::TweetId)) &&
           parseCreatedAt(column(reader, Column::CreatedAt)) && reader.bytesDone() < window.size() - nl - 1) {
      ++trusted;
    }
    if (trusted == kRowsToTrust) return from + nl + 1;
  }
  return std::nullopt;
}

}  // namespace

// -------------------------------------------------------------------------- settings

const std::vector<std::string>& allowedKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k = config::kCommonSourceKeys;
    k.emplace_back("brand_accounts");
    return k;
  }();
  return keys;
}

Settings parseSettings(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  Settings s;
  const YAML::Node map = source.settings;
  if (!map || !map.IsMap()) return s;
  const std::string where = fmt::format("source \"{}\"", source.name);
  config::checkKeys(map, allowedKeys(), source.file, where, problems);
  const YAML::Node brands = map["brand_accounts"];
  if (!brands || brands.IsNull()) return s;
  auto problem = [&](const YAML::Node& at, std::string message) {
    const int line = config::lineOf(at);
    problems.push_back(config::Problem{source.file, line != 0 ? line : source.line, std::move(message)});
  };
  if (!brands.IsMap()) {
    problem(brands, fmt::format("brand_accounts in {} must map brand authors to account names", where));
    return s;
  }
  for (const auto& entry : brands) {
    if (!entry.first.IsScalar() || !entry.second.IsScalar() || entry.first.Scalar().empty() ||
        entry.second.Scalar().empty()) {
      problem(entry.first,
              fmt::format("brand_accounts in {} must map brand authors to non-empty account names", where));
      continue;
    }
    s.brand_accounts[entry.first.Scalar()] = entry.second.Scalar();
  }
  return s;
}

void validate(const config::SourceConfig& source, std::vector<config::Problem>& problems) {
  (void)parseSettings(source, problems);
}

std::unique_ptr<Connector> create(const ConnectorContext& context) {
  std::vector<config::Problem> ignored;  // reported by validate() at load time
  return std::make_unique<TwcsConnector>(context, parseSettings(context.source, ignored));
}

// ------------------------------------------------------------------------- connector

TwcsConnector::TwcsConnector(const ConnectorContext& context, Settings settings)
    : ctx_(context), settings_(std::move(settings)), validator_(context.config.ingest, context.clock) {}

TwcsConnector::~TwcsConnector() = default;

std::string TwcsConnector::accountOf(const std::string& author) const {
  auto it = settings_.brand_accounts.find(author);
  return it == settings_.brand_accounts.end() ? author : it->second;
}

// What the first pass learns: the parts of the file read, then the trees.
struct TwcsConnector::Pass : PassPart {
  std::vector<std::uint32_t> root;        // per node: the node at the top of its tree
  std::vector<std::uint32_t> tree_brand;  // per root node: brand index of the tree's account, or kNone
  // Trees whose top tweet replies to a tweet stored by an earlier import: by root node,
  // the stored conversation and account they continue.
  std::unordered_map<std::uint32_t, MessagePlace> stored_parent;
  std::vector<std::uint32_t> orphan_roots;  // roots replying to a tweet the file lacks
  std::uint64_t cut_loops = 0;

  void buildTrees() {
    const auto n = static_cast<std::uint32_t>(nodes.size());
    if (by_id.size() != n) sortIds();
    for (std::size_t i = 1; i < by_id.size(); ++i) {
      if (by_id[i].first == by_id[i - 1].first) {
        nodes[by_id[i].second].duplicate = true;
        by_id[i].second = by_id[i - 1].second;  // look-ups find the first row
      }
    }
    auto find = [&](std::uint64_t id) -> std::uint32_t {
      if (id == 0) return kNone;
      auto it = std::lower_bound(by_id.begin(), by_id.end(), std::make_pair(id, std::uint32_t{0}));
      return it != by_id.end() && it->first == id ? it->second : kNone;
    };
    // Each node's parent: a binary search each, the second half's on another thread.
    std::vector<std::uint32_t> parent(n, kNone);
    auto find_parents = [&](std::uint32_t from, std::uint32_t to) {
      for (std::uint32_t i = from; i < to; ++i) {
        if (!nodes[i].duplicate) parent[i] = find(nodes[i].parent);
      }
    };
    const std::uint32_t half = n / 2;
    {
      std::optional<std::thread> other;
      if (n >= kParallelFrom) {
        try {
          other.emplace([&] { find_parents(half, n); });
        } catch (const std::system_error&) {  // no thread to be had: this one does it all
        }
      }
      find_parents(0, other ? half : n);
      if (other) other->join();
    }
    by_id = {};

    root.assign(n, kNone);
    std::vector<std::uint32_t> path;
    for (std::uint32_t i = 0; i < n; ++i) {
      if (root[i] != kNone || nodes[i].duplicate) continue;
      path.clear();
      std::uint32_t j = i;
      std::uint32_t r = kNone;
      for (;;) {
        if (root[j] == kInProgress) {  // a parent chain that loops: cut it here
          r = j;
          ++cut_loops;
          break;
        }
        if (root[j] != kNone) {
          r = root[j];
          break;
        }
        root[j] = kInProgress;
        path.push_back(j);
        if (parent[j] == kNone) {
          r = j;
          break;
        }
        j = parent[j];
      }
      for (std::uint32_t k : path) root[k] = r;
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      if (root[i] == i && !nodes[i].duplicate && nodes[i].parent != 0 && parent[i] == kNone) {
        orphan_roots.push_back(i);
      }
    }

    // The tree's account: the author of its earliest brand tweet, by (created_at, id).
    tree_brand.assign(n, kNone);
    std::vector<std::uint32_t> earliest(n, kNone);
    for (std::uint32_t i = 0; i < n; ++i) {
      const Node& node = nodes[i];
      if (node.duplicate || node.brand == kNone) continue;
      std::uint32_t& e = earliest[root[i]];
      if (e == kNone ||
          std::make_pair(node.created_ms, node.id) < std::make_pair(nodes[e].created_ms, nodes[e].id)) {
        e = i;
      }
    }
    std::unordered_map<std::string, std::uint32_t> brand_by_handle;
    for (std::uint32_t b = 0; b < brand_names.size(); ++b)
      brand_by_handle.emplace(lowerCopy(brand_names[b]), b);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (nodes[i].duplicate || root[i] != i) continue;
      if (earliest[i] != kNone) {
        tree_brand[i] = nodes[earliest[i]].brand;
        continue;
      }
      // No brand tweet in the tree: the first @mention of a brand author in the root tweet.
      for (std::uint32_t k = 0; k < nodes[i].mentions_count; ++k) {
        auto it = brand_by_handle.find(handle_names[mentions[nodes[i].mentions_begin + k]]);
        if (it != brand_by_handle.end()) {
          tree_brand[i] = it->second;
          break;
        }
      }
    }
  }
};

Result<void> TwcsConnector::joinStoredParents(Pass& pass) {
  std::vector<std::uint32_t> roots;
  std::vector<std::string> parents;
  auto look_up = [&]() -> Result<void> {
    auto places = ctx_.sink.messagePlaces(ctx_.source.name, parents);
    if (!places) return places.error();
    for (std::size_t i = 0; i < roots.size(); ++i) {
      if (places.value()[i]) pass.stored_parent.emplace(roots[i], std::move(*places.value()[i]));
    }
    roots.clear();
    parents.clear();
    return {};
  };
  for (const std::uint32_t i : pass.orphan_roots) {
    roots.push_back(i);
    parents.push_back(std::to_string(pass.nodes[i].parent));
    if (parents.size() == kBatchSize) {
      if (auto r = look_up(); !r) return r;
    }
  }
  if (!parents.empty()) return look_up();
  return {};
}

Result<ImportStats> TwcsConnector::importFile(const fs::path& path, const ProgressFn& progress) {
  const std::string origin = path.string();
  auto fail = [&](const Error& e) -> Result<ImportStats> {
    ctx_.health.addError(ErrorReason::BadFile);
    spdlog::error("twcs file rejected source={} file={} error={}", logValue(ctx_.source.name),
                  logValue(origin), logValue(e.message));
    return makeError("bad_file", e.message);
  };
  auto open = [&]() -> Result<CsvReader> {
    auto input = exportfmt::Input::openFile(path);
    if (!input) return input.error();
    return CsvReader(std::move(*input));
  };
  auto read_header = [&](CsvReader& reader) -> Result<Header> {
    for (;;) {
      switch (reader.next()) {
        case CsvReader::Status::Record:
          if (blankRecord(reader)) continue;
          return parseHeader(reader.fields());
        case CsvReader::Status::End: return makeError("bad_file", "the file is empty (no header row)");
        case CsvReader::Status::Failed: return reader.failure();
      }
    }
  };
  const Timestamp now = ctx_.clock.now();
  // Read twice: a pipe or a FIFO would be empty (or block) the second time.
  if (std::error_code ec; fs::exists(path, ec) && !fs::is_regular_file(path, ec)) {
    return fail(
        makeError("bad_file", fmt::format("{} is not a regular file (twcs files are read twice: save the "
                                          "stream to a file first)",
                                          origin)));
  }

  // ---- pass 1: trees and accounts, no text kept
  auto first = open();
  if (!first) return fail(first.error());
  CsvReader& reader = *first;
  auto header = read_header(reader);
  if (!header) return fail(header.error());
  const std::uint64_t total = reader.bytesTotal();
  auto report = [&](std::uint64_t done) {
    if (progress) progress(done, total);
  };

  ImportStats stats;
  Pass pass;
  std::uint64_t logged = 0;
  auto log_rejection = [&](std::uint64_t line, const Rejection& problem) {
    ctx_.health.addError(problem.reason);
    if (logged < kMaxLoggedRejections) {
      spdlog::warn("twcs row rejected source={} file={} line={} reason={} error={}",
                   logValue(ctx_.source.name), logValue(origin), line, toString(problem.reason),
                   logValue(problem.message));
    } else if (logged == kMaxLoggedRejections) {
      spdlog::warn("twcs rows rejected, further ones only counted source={} file={}",
                   logValue(ctx_.source.name), logValue(origin));
    }
    ++logged;
  };
  auto progress_at = [&](std::uint64_t done) { report(done / 2); };
  constexpr std::uint64_t kNoStop = std::numeric_limits<std::uint64_t>::max();
  // A large file is read by two threads: this one up to a record start near the middle,
  // another from there on. When this reader does not end a record exactly there (the
  // guess fell inside a quoted text), it reads on to the end and the other's work is
  // dropped.
  std::optional<std::uint64_t> middle;
  if (const std::uint64_t start = reader.bytesDone();
      total > start && total - start >= settings_.two_readers_from) {
    middle = recordStartNear(path, start + (total - start) / 2, *header);
  }
  PassPart later;
  Result<PartEnd> later_end = PartEnd::FileEnd;
  std::future<void> later_read;
  if (middle) {
    later_read = std::async(std::launch::async, [&] {
      nameThisThread("twcs-read");
      auto input = exportfmt::Input::openFile(path, 1 << 20, *middle);
      if (!input) {
        later_end = input.error();
        return;
      }
      CsvReader half(std::move(*input));
      later.reserveFor(total - *middle);
      later_end = readPart(
          half, *header, validator_, now, kNoStop, later,
          [&](std::uint64_t line, Rejection problem) {
            if (later.held.size() <= kMaxLoggedRejections) {
              later.held.push_back({line, std::move(problem)});
            } else {
              ++later.counted[static_cast<std::size_t>(problem.reason)];
            }
          },
          [](std::uint64_t) {});
      if (later_end) later.sortIds();  // while the first reader sorts its own
    });
  }
  // The whole file: the later part is appended here.
  pass.reserveFor(total > reader.bytesDone() ? total - reader.bytesDone() : 0);
  auto read =
      readPart(reader, *header, validator_, now, middle.value_or(kNoStop), pass, log_rejection, progress_at);
  if (later_read.valid()) {
    if (read && *read == PartEnd::AtStop) pass.sortIds();
    later_read.get();
    if (read && *read == PartEnd::AtStop && !later_end) {
      // The second half cannot be read: read on here, so that the error names the line
      // from the top of the file.
      read = PartEnd::PastStop;
    }
    spdlog::debug("twcs first pass by two readers joined={} source={} file={} middle={}",
                  read && *read == PartEnd::AtStop, logValue(ctx_.source.name), logValue(origin), *middle);
  }
  if (read && *read == PartEnd::AtStop) {
    // Lines of the later half count from the line where it begins.
    const std::uint64_t first_line = reader.nextLine();
    for (const HeldRejection& h : later.held) log_rejection(first_line + h.line - 1, h.rejection);
    for (std::size_t r = 0; r < kErrorReasonCount; ++r) {
      ctx_.health.addError(static_cast<ErrorReason>(r), later.counted[r]);
      logged += later.counted[r];  // past the limit already: only counted
    }
    later.held = {};
    pass.append(std::move(later));
  } else if (read && *read == PartEnd::PastStop) {
    later = {};
    read = readPart(reader, *header, validator_, now, kNoStop, pass, log_rejection, progress_at);
  }
  if (!read) return fail(read.error());
  stats.records = pass.accepted.size();
  stats.rejected = pass.rejected;
  if (pass.nodes.size() >= kInProgress) return fail(makeError("bad_file", "the file has too many rows"));
  pass.buildTrees();
  spdlog::debug("twcs reply trees built source={} file={} tweets={} orphan_trees={}",
                logValue(ctx_.source.name), logValue(origin), pass.nodes.size(), pass.orphan_roots.size());
  if (pass.cut_loops > 0) {
    spdlog::warn("twcs reply chains loop, cut where found source={} file={} loops={}",
                 logValue(ctx_.source.name), logValue(origin), pass.cut_loops);
  }
  std::vector<std::string> brand_accounts;
  brand_accounts.reserve(pass.brand_names.size());
  for (const auto& b : pass.brand_names) brand_accounts.push_back(accountOf(b));
  // A tree whose top tweet replies to a tweet the file lacks continues that tweet's
  // conversation when an earlier import stored it (one file per day: an answer after
  // midnight, its question in the previous file).
  if (auto joined = joinStoredParents(pass); !joined) {
    ctx_.health.addError(ErrorReason::Store);
    spdlog::error(
        "twcs file not imported: stored conversations cannot be looked up source={} file={} error={}",
        logValue(ctx_.source.name), logValue(origin), logValue(joined.error().message));
    return makeError("store", joined.error().message);
  }
  report(total / 2);
  ctx_.sink.expectMessages(pass.nodes.size());

  // ---- pass 2: emit the messages
  // In pieces of kBatchSize data rows, cut where the first pass saw them begin, parsed
  // by kParsers threads and handed over in file order: the sink sees the batches in the
  // file's order. ingest() stays on this thread (its caller's).
  const Error changed = makeError("bad_file", fmt::format("{} changed while it was imported", origin));
  // A file without data rows: one piece all the same, for its header and blank lines.
  if (pass.pieces.empty()) pass.pieces.push_back({0, 0});
  const std::vector<PassPart::PieceStart>& pieces = pass.pieces;
  std::vector<std::uint32_t> first_node(pieces.size());  // node of each piece's first accepted row
  for (std::size_t j = 0, data_row = 0, nodes_before = 0; j < pieces.size(); ++j) {
    for (; data_row < pieces[j].row; ++data_row) nodes_before += pass.accepted[data_row];
    first_node[j] = static_cast<std::uint32_t>(nodes_before);
  }
  auto parse_piece = [&](std::size_t j) -> Result<Parsed> {
    const bool last = j + 1 == pieces.size();
    const std::uint64_t end_row = last ? pass.accepted.size() : pieces[j + 1].row;
    // The first piece from the file's start: its header read again. Each piece's bytes
    // are read at once: the messages view them.
    const std::uint64_t begin = j == 0 ? 0 : pieces[j].offset;
    std::optional<std::uint64_t> length;
    if (!last) length = pieces[j + 1].offset - begin;
    auto input = exportfmt::Input::readRange(path, begin, length);
    if (!input) return input.error();
    const std::string_view bytes(input->data(), input->size());
    // A piece before the last ends where a row ended in the first pass: after a newline.
    // Fewer bytes, or a row that now runs on past the piece's end (a byte added before
    // its newline), mean the file changed.
    if (length && (bytes.size() != *length || (!bytes.empty() && bytes.back() != '\n'))) return changed;
    // A text of the row (a view of the bytes, or of the reader's unescaped copy, which
    // the next row reuses) as the messages keep it.
    Parsed out;
    auto kept = [&](std::string_view text) {
      const std::less_equal<> before;
      const bool in_bytes =
          before(bytes.data(), text.data()) && before(text.data() + text.size(), bytes.data() + bytes.size());
      return in_bytes ? text : out.texts.copy(text);
    };
    out.reader = std::make_unique<CsvReader>(std::move(*input));
    CsvReader& piece = *out.reader;
    if (j == 0) {
      auto again = read_header(piece);
      if (!again) return changed;  // the first pass read it
      if (*again != *header) return changed;
    }
    out.messages.reserve(end_row - pieces[j].row);
    std::uint64_t data_row = pieces[j].row;
    std::uint32_t node_index = first_node[j];
    Row row;
    while (data_row < end_row) {
      switch (piece.next()) {
        case CsvReader::Status::Failed:  // these bytes parsed in the first pass
        case CsvReader::Status::End: return changed;
        case CsvReader::Status::Record: {
          if (blankRecord(piece)) break;
          if (pass.accepted[data_row++] == 0) {
            // Still rejected: a row accepted now would be left out of the trees.
            if (!parseRow(piece, *header, validator_, now, row)) return changed;
            break;
          }
          const std::uint32_t k = node_index++;
          // The same row as in the first pass, in every value the trees were built from.
          const Pass::Node& node = pass.nodes[k];
          if (parseRow(piece, *header, validator_, now, row) || row.id != node.id ||
              row.parent != node.parent || toMillis(row.created_at) != node.created_ms ||
              row.inbound != (node.brand == kNone)) {
            return changed;
          }
          if (node.duplicate) {
            ++out.duplicates;
            break;
          }
          const std::uint32_t r = pass.root[k];
          const std::uint32_t brand = pass.tree_brand[r];
          const auto stored = pass.stored_parent.find(r);
          MessageView& m = out.messages.emplace_back();
          m.id = idText(row.id, out.texts);
          m.conversation_id = stored != pass.stored_parent.end()
                                  ? std::string_view(stored->second.conversation_id)
                                  : (r == k ? m.id : idText(pass.nodes[r].id, out.texts));
          if (row.parent != 0) m.in_reply_to = idText(row.parent, out.texts);
          m.author_id = kept(row.author);
          m.author_is_brand = !row.inbound;
          m.created_at = row.created_at;
          m.text = kept(row.text);
          if (stored != pass.stored_parent.end()) {
            m.account = stored->second.account;
          } else {
            m.account = brand == kNone ? ctx_.source.account : brand_accounts[brand];
          }
          break;
        }
      }
    }
    // Only blank records up to where the next piece begins, or to the file's end.
    for (;;) {
      if (!last && piece.bytesDone() >= pieces[j + 1].offset) {
        if (piece.bytesDone() != pieces[j + 1].offset) return changed;
        return out;
      }
      switch (piece.next()) {
        case CsvReader::Status::Failed: return changed;  // these bytes parsed in the first pass
        case CsvReader::Status::End:
          if (!last) return changed;
          return out;
        case CsvReader::Status::Record:
          if (!blankRecord(piece)) return changed;
          break;
      }
    }
  };
  std::uint64_t duplicates_read = 0;
  // Pieces parsed ahead and not stored are dropped on the way out.
  PiecesInOrder parsers(pieces.size(), kParsers, parse_piece);
  for (std::size_t j = 0; j < pieces.size(); ++j) {
    auto parsed = parsers.next();
    if (!parsed) return fail(parsed.error());
    duplicates_read += parsed->duplicates;
    const std::size_t n = parsed->messages.size();
    if (n == 0) continue;  // duplicates and rejected rows only
    auto r = ctx_.sink.ingestViews(ctx_.source, parsed->messages);
    if (!r) {
      ctx_.health.addError(ErrorReason::Store);
      spdlog::error("twcs batch not stored source={} file={} messages={} error={}",
                    logValue(ctx_.source.name), logValue(origin), n, logValue(r.error().message));
      return makeError("store", r.error().message);
    }
    stats.stored += r->stored;
    stats.duplicates += r->duplicates;
    ctx_.health.addEvents(r->stored);
    report(total / 2 + (j + 1 < pieces.size() ? pieces[j + 1].offset : total) / 2);
  }
  stats.duplicates += duplicates_read;
  report(total);
  ctx_.health.markSuccess(ctx_.clock.now());
  spdlog::info(
      "twcs file imported source={} file={} records={} stored={} duplicates={} rejected={} brands={}",
      logValue(ctx_.source.name), logValue(origin), stats.records, stats.stored, stats.duplicates,
      stats.rejected, pass.brand_names.size());
  return stats;
}

}  // namespace replywatch::connectors::twcs
