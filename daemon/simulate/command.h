#pragma once
// `replywatch simulate`: builds the scenario from a file and flags, generates the
// traffic, and writes it (export JSONL/CSV or twcs, plus relay records) or sends it as
// signed webhooks to a running daemon. Prints a summary on stderr.
#include <cstdint>
#include <optional>
#include <string>

namespace replywatch::simulate {

struct CommandOptions {
  std::string scenario_file;  // empty: the defaults
  std::optional<std::uint64_t> seed;
  std::optional<std::string> start;  // RFC 3339 or YYYY-MM-DD
  std::optional<int> days;
  std::optional<double> questions_per_day;
  std::string format = "jsonl";  // jsonl | csv | twcs
  std::string output = "-";      // messages; "-" = standard output
  std::string relay_output;      // relay records (.csv in any case: CSV, else JSONL); empty: not written
  // Sending instead of writing:
  std::string send_url;
  std::string source;
  std::string relay_source;
  std::string secret_file;        // else $REPLYWATCH_WEBHOOK_SECRET
  std::string relay_secret_file;  // else $REPLYWATCH_RELAY_WEBHOOK_SECRET, else the export secret
  std::string signature_header = "X-Replywatch-Signature";
  double rate = 20;
  std::size_t batch = 1;
};

// Exit code: 0 done (and, when sending, every delivery acknowledged); 1 a refused
// delivery, an unreachable daemon or an unwritable file; 2 a bad scenario or flag.
int run(const CommandOptions& options);

}  // namespace replywatch::simulate
