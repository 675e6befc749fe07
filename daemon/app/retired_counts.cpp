#include "daemon/app/retired_counts.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace replywatch::app {
namespace {

using Json = nlohmann::json;
constexpr int kFormat = 1;

template <typename T, std::size_t N>
Json arrayOf(const std::array<T, N>& values) {
  Json out = Json::array();
  for (const T& v : values) out.push_back(v);
  return out;
}

template <typename T, std::size_t N>
void readArray(const Json& j, std::array<T, N>& out) {
  if (!j.is_array() || j.size() != N) throw std::invalid_argument("a bucket list has the wrong length");
  for (std::size_t i = 0; i < N; ++i) out[i] = j.at(i).get<T>();
}

}  // namespace

std::string retiredToJson(const Retired& retired) {
  Json channels = Json::array();
  for (const auto& [key, c] : retired.turns.channels) {
    channels.push_back({{"account", key[0]},
                        {"channel", key[1]},
                        {"source", key[2]},
                        {"questions", c.questions},
                        {"breaches", c.breaches}});
  }
  Json answers = Json::array();
  for (const auto& [key, a] : retired.turns.answers) {
    answers.push_back({{"account", key[0]},
                       {"channel", key[1]},
                       {"handler", key[2]},
                       {"route", key[3]},
                       {"total", a.total},
                       {"buckets", arrayOf(a.buckets)},
                       {"wait_ms", a.wait_ms}});
  }
  Json escalations = Json::array();
  for (const auto& [key, e] : retired.escalations) {
    escalations.push_back({{"account", key.first},
                           {"route", key.second},
                           {"escalations", e.escalations_total},
                           {"answered", e.answered_total},
                           {"buckets", arrayOf(e.bucket_counts)},
                           {"wait_seconds", e.wait_seconds_sum}});
  }
  Json phases = Json::array();
  for (const auto& [key, p] : retired.phases) {
    phases.push_back({{"account", key.first},
                      {"route", key.second},
                      {"before_escalation_seconds", p.before_escalation_seconds},
                      {"relay_seconds", p.relay_seconds},
                      {"after_relay_seconds", p.after_relay_seconds},
                      {"escalated_wait_seconds", p.escalated_wait_seconds}});
  }
  return Json{{"format", kFormat},
              {"channels", channels},
              {"answers", answers},
              {"escalations", escalations},
              {"phases", phases}}
      .dump();
}

Result<Retired> retiredFromJson(std::string_view text) {
  try {
    const Json j = Json::parse(text);
    if (!j.is_object() || j.value("format", 0) != kFormat) {
      return makeError("store",
                       "the retired counts kept in the store are not in a format this version reads");
    }
    Retired out;
    for (const Json& c : j.at("channels")) {
      auto& mine = out.turns.channels[{c.at("account").get<std::string>(), c.at("channel").get<std::string>(),
                                       c.at("source").get<std::string>()}];
      mine.questions = c.at("questions").get<std::uint64_t>();
      mine.breaches = c.at("breaches").get<std::uint64_t>();
    }
    for (const Json& a : j.at("answers")) {
      auto& mine = out.turns.answers[{a.at("account").get<std::string>(), a.at("channel").get<std::string>(),
                                      a.at("handler").get<std::string>(), a.at("route").get<std::string>()}];
      mine.total = a.at("total").get<std::uint64_t>();
      readArray(a.at("buckets"), mine.buckets);
      mine.wait_ms = a.at("wait_ms").get<std::int64_t>();
    }
    for (const Json& e : j.at("escalations")) {
      auto& mine = out.escalations[{e.at("account").get<std::string>(), e.at("route").get<std::string>()}];
      mine.escalations_total = e.at("escalations").get<std::uint64_t>();
      mine.answered_total = e.at("answered").get<std::uint64_t>();
      readArray(e.at("buckets"), mine.bucket_counts);
      mine.wait_seconds_sum = e.at("wait_seconds").get<double>();
    }
    for (const Json& p : j.at("phases")) {
      auto& mine = out.phases[{p.at("account").get<std::string>(), p.at("route").get<std::string>()}];
      mine.before_escalation_seconds = p.at("before_escalation_seconds").get<double>();
      mine.relay_seconds = p.at("relay_seconds").get<double>();
      mine.after_relay_seconds = p.at("after_relay_seconds").get<double>();
      mine.escalated_wait_seconds = p.at("escalated_wait_seconds").get<double>();
    }
    return out;
  } catch (const std::exception& e) {
    return makeError("store",
                     std::string("the retired counts kept in the store cannot be read: ") + e.what());
  }
}

}  // namespace replywatch::app
