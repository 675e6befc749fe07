#pragma once
// Writes simulated traffic in the formats replywatch's connectors read: the export
// connector's JSONL and CSV, the "Customer Support on Twitter" CSV of the twcs connector,
// and the relay connector's JSONL and CSV records. Output bytes depend only on the
// traffic (no locale, no clock).
#include <ostream>
#include <string>
#include <string_view>

#include "daemon/simulate/traffic.h"

namespace replywatch::simulate {

enum class MessageFormat { Jsonl, Csv, Twcs };
enum class RelayFormat { Jsonl, Csv };

// One export-format JSON object (no newline).
std::string messageJson(const SimMessage& message);
// One relay record as a JSON object (no newline); `answered` false leaves answered_at out.
std::string escalationJson(const SimEscalation& escalation, bool answered = true);

void writeMessages(std::ostream& out, const Traffic& traffic, MessageFormat format);
void writeEscalations(std::ostream& out, const Traffic& traffic, RelayFormat format);

// An RFC 4180 field: quoted when it holds a comma, a quote or a line break.
std::string csvField(std::string_view value);
// "Tue Oct 31 22:10:47 +0000 2017", as in the twcs dataset.
std::string twcsTime(Timestamp t);

}  // namespace replywatch::simulate
