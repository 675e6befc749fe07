#include "daemon/app/questions.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>

#include "connectors/common/validate.h"
#include "daemon/core/base64.h"
#include "daemon/tracker/wait_phases.h"

namespace replywatch::app {
namespace {

// An account not in the configuration (named by the data, e.g. a twcs brand author) has
// the threshold of its source's account, as in the tracker.
std::chrono::seconds thresholdOf(const config::Config& config, const Turn& turn) {
  if (const auto* a = config.account(turn.account)) return a->threshold;
  if (const auto* s = config.source(turn.source)) {
    if (const auto* a = config.account(s->account)) return a->threshold;
  }
  return std::chrono::seconds{3600};
}

void appendCsvField(std::string& out, std::string_view v) {
  bool quote = v.find_first_of(",\"\r\n") != std::string_view::npos;
  if (!quote) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string formatSeconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return fmt::format("{}", ms / 1000);
  return fmt::format("{:.3f}", static_cast<double>(ms) / 1000.0);
}

std::string formatWait(const Turn& t) {
  if (!t.answered_at) return {};
  return formatSeconds(*t.answered_at - t.asked_at);
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// An account filter longer than this names no account (stored names are message fields,
// far shorter in practice).
constexpr std::size_t kMaxAccountBytes = 256;

bool wellFormedAccount(std::string_view name) {
  if (name.empty() || name.size() > kMaxAccountBytes || !connectors::isValidUtf8(name)) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

const std::vector<EscalationRecord>& escalationsOf(const QuestionRows& rows, std::size_t i) {
  static const std::vector<EscalationRecord> kNone;
  return i < rows.escalations.size() ? rows.escalations[i] : kNone;
}

}  // namespace

Result<QuestionRows> readQuestions(store::Store& store, const store::TurnQuery& query) {
  QuestionRows rows;
  auto turns = store.turns(query);
  if (!turns) return turns.error();
  rows.turns = std::move(turns).value();
  std::vector<TurnKey> keys;
  keys.reserve(rows.turns.size());
  for (const auto& t : rows.turns) keys.push_back(keyOf(t));
  auto escalations = store.escalationsFor(keys);
  if (!escalations) return escalations.error();
  rows.escalations = std::move(escalations).value();
  return rows;
}

EscalationColumns escalationColumns(const Turn& turn, const std::vector<EscalationRecord>& escalations,
                                    Timestamp now) {
  if (escalations.empty()) return {};
  std::vector<tracker::EscalationLeg> legs;
  legs.reserve(escalations.size());
  for (const auto& r : escalations) legs.push_back({r.escalation.requested_at, r.escalation.answered_at});
  const auto phases = tracker::decomposeWait(turn.asked_at, turn.answered_at, legs, now);
  return {phases.escalated, phases.escalation_wait};
}

bool isLate(const Turn& turn, std::chrono::seconds threshold, Timestamp now) {
  auto end = turn.answered_at ? *turn.answered_at : now;
  return end - turn.asked_at > threshold;
}

std::string questionsCsv(const QuestionRows& rows, const config::Config& config, Timestamp now) {
  std::string out(kQuestionColumns);
  out += '\n';
  for (std::size_t i = 0; i < rows.turns.size(); ++i) {
    const Turn& t = rows.turns[i];
    const std::string_view fields[] = {t.account, t.channel, t.source, t.conversation_id, t.question_id};
    for (auto f : fields) {
      appendCsvField(out, f);
      out += ',';
    }
    out += formatRfc3339(t.asked_at);
    out += ',';
    appendCsvField(out, t.answer_id);
    out += ',';
    if (t.answered_at) out += formatRfc3339(*t.answered_at);
    out += ',';
    out += formatWait(t);
    out += ',';
    appendCsvField(out, t.responder);
    out += ',';
    appendCsvField(out, t.open() ? std::string_view{} : std::string_view{t.handler});
    out += ',';
    if (!t.open()) out += toString(t.route);
    const auto relay = escalationColumns(t, escalationsOf(rows, i), now);
    out += relay.escalated ? ",true," : ",false,";
    if (relay.escalated) out += formatSeconds(relay.escalation_wait);
    out += ',';
    out += isLate(t, thresholdOf(config, t), now) ? "true" : "false";
    out += '\n';
  }
  return out;
}

namespace {

// Row `i` of questionsJson().
nlohmann::ordered_json questionJson(const QuestionRows& rows, std::size_t i, const config::Config& config,
                                    Timestamp now) {
  using Json = nlohmann::ordered_json;
  auto or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  const Turn& t = rows.turns[i];
  Json row;
  row["account"] = t.account;
  row["channel"] = t.channel;
  row["source"] = t.source;
  row["conversation_id"] = t.conversation_id;
  row["question_id"] = t.question_id;
  row["asked_at"] = formatRfc3339(t.asked_at);
  row["answer_id"] = or_null(t.answer_id);
  row["answered_at"] = t.answered_at ? Json(formatRfc3339(*t.answered_at)) : Json(nullptr);
  row["wait_seconds"] = t.answered_at ? Json(toSeconds(*t.answered_at - t.asked_at)) : Json(nullptr);
  row["responder"] = or_null(t.responder);
  row["handler"] = t.open() ? Json(nullptr) : or_null(t.handler);
  row["route"] = t.open() ? Json(nullptr) : Json(toString(t.route));
  const auto relay = escalationColumns(t, escalationsOf(rows, i), now);
  row["escalated"] = relay.escalated;
  row["escalation_wait_seconds"] = relay.escalated ? Json(toSeconds(relay.escalation_wait)) : Json(nullptr);
  row["late"] = isLate(t, thresholdOf(config, t), now);
  return row;
}

}  // namespace

nlohmann::ordered_json questionsJson(const QuestionRows& rows, const config::Config& config, Timestamp now) {
  auto out = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < rows.turns.size(); ++i) out.push_back(questionJson(rows, i, config, now));
  return out;
}

std::string questionsJsonText(const QuestionRows& rows, const config::Config& config, Timestamp now) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.turns.size(); ++i) {
    if (i > 0) out += ',';
    out += questionJson(rows, i, config, now).dump();
  }
  out += ']';
  return out;
}

std::string turnCursor(const Turn& turn) {
  const std::string json =
      nlohmann::json::array({toMillis(turn.asked_at), turn.source, turn.conversation_id, turn.question_id})
          .dump();
  return base64Encode(json, Base64Alphabet::Url);
}

std::string nextPageTarget(std::string_view path, std::string_view raw_query, const store::TurnQuery& query,
                           const Turn& last) {
  std::string next(path);
  next.push_back('?');
  std::string_view rest = raw_query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto named = [&param](std::string_view name) {
      return param == name || (param.starts_with(name) && param.substr(name.size()).starts_with("="));
    };
    if (param.empty() || named("after") || named("since") || named("until")) continue;
    for (const char c : param) {
      if (std::isalnum(static_cast<unsigned char>(c)) != 0 ||
          std::string_view("-._~!$'()*+,;=:@/?%").find(c) != std::string_view::npos) {
        next.push_back(c);
      } else {
        next.append(fmt::format("%{:02X}", static_cast<unsigned char>(c)));
      }
    }
    next.push_back('&');
  }
  // To the millisecond: a relative bound (now - 7d) is rarely a whole second, and an
  // `until` cut to the second before it would leave the turns of that second out of
  // every later page.
  if (query.since) next.append("since=").append(formatRfc3339Millis(*query.since)).push_back('&');
  if (query.until) next.append("until=").append(formatRfc3339Millis(*query.until)).push_back('&');
  next.append("after=").append(turnCursor(last));
  return next;
}

std::optional<store::TurnPosition> parseTurnCursor(std::string_view text) {
  // A cursor is made of the ids of one turn: 4 KiB is far more than any holds.
  constexpr std::size_t kMaxCursorBytes = 4096;
  if (text.empty() || text.size() > kMaxCursorBytes) return std::nullopt;
  const auto raw = base64Decode(text, Base64Alphabet::Url);
  if (!raw) return std::nullopt;
  auto json = nlohmann::json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (!json.is_array() || json.size() != 4 || !json[0].is_number_integer()) return std::nullopt;
  if (json[0].is_number_unsigned() &&
      json[0].get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i < 4; ++i) {
    if (!json[i].is_string()) return std::nullopt;
  }
  store::TurnPosition position;
  position.asked_at = fromMillis(json[0].get<std::int64_t>());
  position.source = json[1].get<std::string>();
  position.conversation_id = json[2].get<std::string>();
  position.question_id = json[3].get<std::string>();
  return position;
}

std::optional<Timestamp> parseTimeBound(std::string_view text, Timestamp now) {
  if (auto t = parseRfc3339(text)) return t;
  if (text.size() == 10) {
    if (auto t = parseRfc3339(std::string(text) + "T00:00:00Z")) return t;
  }
  // A bare number is no bound: a Unix time (1700000000) or a compact date (20261101) read
  // as seconds ago would give a wrong window without a word.
  if (allDigits(text)) return std::nullopt;
  if (auto d = parseDuration(text)) return now - std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  return std::nullopt;
}

Result<store::TurnQuery> makeTurnQuery(const std::optional<std::string>& account,
                                       const std::optional<std::string>& since,
                                       const std::optional<std::string>& until, Timestamp now) {
  store::TurnQuery q;
  if (account) {
    // Any name the data may give an account (a twcs brand author is an account of its own,
    // configured or not): a name that matches nothing lists nothing.
    if (!wellFormedAccount(*account)) {
      return makeError("bad_request",
                       fmt::format("invalid account: expected a name of 1 to {} bytes of UTF-8 text without "
                                   "control characters",
                                   kMaxAccountBytes));
    }
    q.account = *account;
  }
  for (auto [value, target, name] :
       {std::tuple{&since, &q.since, "since"}, std::tuple{&until, &q.until, "until"}}) {
    if (!*value) continue;
    auto t = parseTimeBound(**value, now);
    if (!t) {
      return makeError(
          "bad_request",
          fmt::format("invalid {} \"{}\": expected an RFC 3339 time, a date (YYYY-MM-DD) or a "
                      "duration such as 7d{}",
                      name, **value,
                      allDigits(**value) ? " (a number needs a unit: 90s, 15m, 12h, 7d, 2w)" : ""));
    }
    *target = *t;
  }
  if (q.since && q.until && *q.since >= *q.until) {
    return makeError("bad_request", fmt::format("since \"{}\" must be before until \"{}\"", *since, *until));
  }
  return q;
}

}  // namespace replywatch::app
