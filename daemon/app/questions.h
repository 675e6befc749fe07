#pragma once
// The question-turn listing shared by `replywatch questions` and /api/v1/questions:
// one row per turn (see README.md, "How it measures"), columns in the order listed in
// README.md's "Commands" section.
#include <nlohmann/json.hpp>

#include <chrono>
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

// Turns of a listing with the escalation records linked to each (escalations[i] belongs
// to turns[i]; an empty `escalations` means none for every turn).
struct QuestionRows {
  std::vector<Turn> turns;
  std::vector<std::vector<EscalationRecord>> escalations;
};

// Reads the turns matching `query` and their linked escalation records (read connection,
// one query for the turns and one index probe per turn). Blocks on disk.
Result<QuestionRows> readQuestions(store::Store& store, const store::TurnQuery& query);

// The relay columns of one turn: `escalated` when a relay leg overlaps the turn, and
// the sum of the legs' overlaps with it, as decomposeWait() (wait_phases.h) computes
// them; an open turn is measured up to `now`.
struct EscalationColumns {
  bool escalated = false;
  std::chrono::milliseconds escalation_wait{0};
};
EscalationColumns escalationColumns(const Turn& turn, const std::vector<EscalationRecord>& escalations,
                                    Timestamp now);

// Whether a turn is late at `now`: answered after more than the account's threshold,
// or still open past it.
bool isLate(const Turn& turn, std::chrono::seconds threshold, Timestamp now);

// CSV with a header row (RFC 4180 quoting), timestamps RFC 3339 UTC, empty when unknown.
// `escalation_wait_seconds` is empty when the turn is not escalated.
std::string questionsCsv(const QuestionRows& rows, const config::Config& config, Timestamp now);

// A JSON array of objects with the same fields (null when unknown).
nlohmann::ordered_json questionsJson(const QuestionRows& rows, const config::Config& config, Timestamp now);
// The same array as compact text (questionsJson(...).dump()), written row by row: no
// document of every row is held at once, for the API's large answers.
std::string questionsJsonText(const QuestionRows& rows, const config::Config& config, Timestamp now);

// The cursor of /api/v1/questions' `after` parameter: the place of `turn` in the
// listing's order, as URL-safe text (base64url of a small JSON array, no padding).
std::string turnCursor(const Turn& turn);
// The place a cursor names; nullopt when `text` is not a cursor turnCursor() made.
std::optional<store::TurnPosition> parseTurnCursor(std::string_view text);

// The target of the page after one ending with `last`, for /api/v1/questions' Link
// header: `path`, the parameters of `raw_query` as received (bytes a URI may not hold
// percent-encoded), but for `since` and `until`, given as the instants `query` used, to
// the millisecond (a relative bound such as since=7d would move on with the clock between
// pages), and
// `after` the cursor of `last`.
std::string nextPageTarget(std::string_view path, std::string_view raw_query, const store::TurnQuery& query,
                           const Turn& last);

// Parses a --since/--until value: RFC 3339, a date (YYYY-MM-DD, UTC midnight), or a
// duration with its units ("7d", "12h", "90s") meaning that long before `now`. A bare
// number is refused: it is more likely a Unix time or a compact date than seconds.
std::optional<Timestamp> parseTimeBound(std::string_view text, Timestamp now);

// Builds a store query from textual filters; an Error names the bad value (or both
// bounds, when `since` is not before `until`). `account` may name any account, in the
// configuration or not (a twcs brand author is an account of its own): only a malformed
// name (empty, over 256 bytes, not UTF-8, with control characters) is an Error.
Result<store::TurnQuery> makeTurnQuery(const std::optional<std::string>& account,
                                       const std::optional<std::string>& since,
                                       const std::optional<std::string>& until, Timestamp now);

}  // namespace replywatch::app
