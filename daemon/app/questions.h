#pragma once
// The question-turn listing shared by `replywatch questions` and /api/v1/questions:
// one row per turn (see README.md, "How it measures"), columns in the order listed in
// README.md's "Commands" section.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/core/model.h"
#include "daemon/core/result.h"
#include "daemon/store/store.h"

namespace replywatch::app {

inline constexpr std::string_view kQuestionColumns =
    "account,channel,source,conversation_id,question_id,asked_at,answer_id,answered_at,wait_seconds,"
    "responder,handler,route,escalated,escalation_wait_seconds,late";

// Whether a turn is late at `now`: answered after more than the account's threshold,
// or still open past it.
bool isLate(const Turn& turn, std::chrono::seconds threshold, Timestamp now);

// CSV with a header row (RFC 4180 quoting), timestamps RFC 3339 UTC, empty when unknown.
std::string questionsCsv(const std::vector<Turn>& turns, const config::Config& config, Timestamp now);

// A JSON array of objects with the same fields (null when unknown).
nlohmann::ordered_json questionsJson(const std::vector<Turn>& turns, const config::Config& config,
                                     Timestamp now);

// Parses a --since/--until value: RFC 3339, a date (YYYY-MM-DD, UTC midnight), or a
// duration ("7d", "12h") meaning that long before `now`.
std::optional<Timestamp> parseTimeBound(std::string_view text, Timestamp now);

// Builds a store query from textual filters; an Error names the bad value.
Result<store::TurnQuery> makeTurnQuery(const std::optional<std::string>& account,
                                       const std::optional<std::string>& since,
                                       const std::optional<std::string>& until, const config::Config& config,
                                       Timestamp now);

}  // namespace replywatch::app
