#include "daemon/app/questions.h"

#include <fmt/format.h>

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

std::string formatWait(const Turn& t) {
  if (!t.answered_at) return {};
  auto ms = (*t.answered_at - t.asked_at).count();
  if (ms % 1000 == 0) return fmt::format("{}", ms / 1000);
  return fmt::format("{:.3f}", static_cast<double>(ms) / 1000.0);
}

}  // namespace

bool isLate(const Turn& turn, std::chrono::seconds threshold, Timestamp now) {
  auto end = turn.answered_at ? *turn.answered_at : now;
  return end - turn.asked_at > threshold;
}

std::string questionsCsv(const std::vector<Turn>& turns, const config::Config& config, Timestamp now) {
  std::string out(kQuestionColumns);
  out += '\n';
  for (const auto& t : turns) {
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
    out += ",false,,";  // escalation columns: filled once the relay feed is configured
    out += isLate(t, thresholdOf(config, t), now) ? "true" : "false";
    out += '\n';
  }
  return out;
}

nlohmann::ordered_json questionsJson(const std::vector<Turn>& turns, const config::Config& config,
                                     Timestamp now) {
  using Json = nlohmann::ordered_json;
  auto rows = Json::array();
  auto or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  for (const auto& t : turns) {
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
    row["escalated"] = false;
    row["escalation_wait_seconds"] = nullptr;
    row["late"] = isLate(t, thresholdOf(config, t), now);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<Timestamp> parseTimeBound(std::string_view text, Timestamp now) {
  if (auto t = parseRfc3339(text)) return t;
  if (text.size() == 10) {
    if (auto t = parseRfc3339(std::string(text) + "T00:00:00Z")) return t;
  }
  if (auto d = parseDuration(text)) return now - std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  return std::nullopt;
}

Result<store::TurnQuery> makeTurnQuery(const std::optional<std::string>& account,
                                       const std::optional<std::string>& since,
                                       const std::optional<std::string>& until, const config::Config& config,
                                       Timestamp now) {
  store::TurnQuery q;
  if (account) {
    if (!config.account(*account)) {
      return makeError("bad_request", fmt::format("unknown account \"{}\"", *account));
    }
    q.account = *account;
  }
  for (auto [value, target, name] :
       {std::tuple{&since, &q.since, "since"}, std::tuple{&until, &q.until, "until"}}) {
    if (!*value) continue;
    auto t = parseTimeBound(**value, now);
    if (!t) {
      return makeError("bad_request",
                       fmt::format("invalid {} \"{}\": expected an RFC 3339 time, a date (YYYY-MM-DD) or a "
                                   "duration such as 7d",
                                   name, **value));
    }
    *target = *t;
  }
  return q;
}

}  // namespace replywatch::app
