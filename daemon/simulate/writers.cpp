#include "daemon/simulate/writers.h"

#include <date/date.h>
#include <nlohmann/json.hpp>

#include <map>
#include <vector>

namespace replywatch::simulate {
namespace {

std::string dumpJson(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

}  // namespace

std::string messageJson(const SimMessage& m) {
  nlohmann::ordered_json j;
  j["id"] = m.id;
  j["conversation_id"] = m.conversation_id;
  if (!m.in_reply_to.empty()) j["in_reply_to"] = m.in_reply_to;
  j["author_id"] = m.author_id;
  j["author_name"] = m.author_name;
  j["author_is_brand"] = m.brand;
  j["created_at"] = formatRfc3339(m.created_at);
  j["text"] = m.text;
  return dumpJson(j);
}

std::string escalationJson(const SimEscalation& e, bool answered) {
  nlohmann::ordered_json j;
  j["id"] = e.id;
  if (!e.account.empty()) j["account"] = e.account;
  j["question_ref"] = e.question_ref;
  j["requested_at"] = formatRfc3339(e.requested_at);
  j["requested_by"] = e.requested_by;
  j["relay"] = e.relay;
  if (answered && e.answered_at) j["answered_at"] = formatRfc3339(*e.answered_at);
  return dumpJson(j);
}

std::string csvField(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string twcsTime(Timestamp t) {
  return date::format("%a %b %d %H:%M:%S +0000 %Y", std::chrono::floor<std::chrono::seconds>(t));
}

void writeMessages(std::ostream& out, const Traffic& traffic, MessageFormat format) {
  switch (format) {
    case MessageFormat::Jsonl:
      for (const auto& m : traffic.messages) out << messageJson(m) << '\n';
      break;
    case MessageFormat::Csv:
      out << "created_at,id,conversation_id,in_reply_to,author_id,author_name,author_is_brand,text\n";
      for (const auto& m : traffic.messages) {
        out << formatRfc3339(m.created_at) << ',' << csvField(m.id) << ',' << csvField(m.conversation_id)
            << ',' << csvField(m.in_reply_to) << ',' << csvField(m.author_id) << ','
            << csvField(m.author_name) << ',' << (m.brand ? "true" : "false") << ',' << csvField(m.text)
            << '\n';
      }
      break;
    case MessageFormat::Twcs: {
      std::map<std::string, std::vector<std::string>> replies;
      for (const auto& m : traffic.messages) {
        if (!m.in_reply_to.empty()) replies[m.in_reply_to].push_back(m.id);
      }
      out << "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n";
      for (const auto& m : traffic.messages) {
        std::string children;
        if (auto it = replies.find(m.id); it != replies.end()) {
          for (const auto& id : it->second) children += (children.empty() ? "" : ",") + id;
        }
        out << m.id << ',' << csvField(m.author_id) << ',' << (m.brand ? "False" : "True") << ','
            << twcsTime(m.created_at) << ',' << csvField(m.text) << ',' << csvField(children) << ','
            << m.in_reply_to << '\n';
      }
      break;
    }
  }
}

void writeEscalations(std::ostream& out, const Traffic& traffic, RelayFormat format) {
  if (format == RelayFormat::Jsonl) {
    for (const auto& e : traffic.escalations) out << escalationJson(e) << '\n';
    return;
  }
  out << "id,account,question_ref,requested_at,requested_by,relay,answered_at\n";
  for (const auto& e : traffic.escalations) {
    out << csvField(e.id) << ',' << csvField(e.account) << ',' << csvField(e.question_ref) << ','
        << formatRfc3339(e.requested_at) << ',' << csvField(e.requested_by) << ',' << csvField(e.relay) << ','
        << (e.answered_at ? formatRfc3339(*e.answered_at) : std::string{}) << '\n';
  }
}

}  // namespace replywatch::simulate
