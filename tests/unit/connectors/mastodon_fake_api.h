#pragma once
// A fake Mastodon REST API for the connector tests, served over loopback by
// TestHttpServer: statuses built from the recorded reply (fixtures/mastodon), the
// context endpoint computed from the parents, and notifications / account statuses
// paginated like Mastodon does (newest first, max_id / min_id, Link header only).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connectors/common/json_fields.h"
#include "connectors/mastodon/mastodon_parse.h"
#include "tests/unit/connectors/social_support.h"
#include "tests/unit/connectors/test_http_server.h"

namespace replywatch::connectors::testing {

// A Status object: the recorded reply with the given id, parent, author, time and HTML.
inline nlohmann::json mastodonStatus(const std::string& id, const std::string& parent,
                                     const std::string& parent_account, const std::string& account_id,
                                     const std::string& acct, const std::string& created_at,
                                     const std::string& html, const std::vector<std::string>& mentions = {}) {
  static const nlohmann::json kTemplate = jsonFixture("mastodon", "status_reply.json");
  nlohmann::json s = kTemplate;
  s["id"] = id;
  s["in_reply_to_id"] = parent.empty() ? nlohmann::json(nullptr) : nlohmann::json(parent);
  s["in_reply_to_account_id"] =
      parent_account.empty() ? nlohmann::json(nullptr) : nlohmann::json(parent_account);
  s["account"]["id"] = account_id;
  s["account"]["acct"] = acct;
  s["account"]["username"] = acct.substr(0, acct.find('@'));
  s["created_at"] = created_at;
  s["content"] = html;
  s["uri"] = "http://localhost:3000/statuses/" + id;
  s["url"] = s["uri"];
  s["mentions"] = nlohmann::json::array();
  for (const auto& m : mentions) {
    s["mentions"].push_back(
        {{"id", m == "acme" ? "900" : "m-" + m}, {"username", m}, {"acct", m}, {"url", ""}});
  }
  return s;
}

class FakeMastodon {
 public:
  using Response = TestHttpServer::Response;
  using Request = TestHttpServer::Request;

  void addStatus(const nlohmann::json& status) {
    std::lock_guard lock(mutex_);
    statuses_[status["id"].get<std::string>()] = status;
  }
  // A mention notification with its own id for `status`.
  void addMention(const std::string& notification_id, const nlohmann::json& status) {
    std::lock_guard lock(mutex_);
    statuses_[status["id"].get<std::string>()] = status;
    notifications_.push_back({{"id", notification_id},
                              {"type", "mention"},
                              {"created_at", status["created_at"]},
                              {"group_key", "ungrouped-" + notification_id},
                              {"account", status["account"]},
                              {"status", status}});
  }
  void addBrandStatus(const nlohmann::json& status) {
    std::lock_guard lock(mutex_);
    statuses_[status["id"].get<std::string>()] = status;
    own_.push_back(status);
  }
  // Called first for every request; an answer is sent as is (5xx, truncation, ...).
  std::function<std::optional<Response>(const Request&, int)> intercept;
  // Headers added to every answer (rate limits).
  std::vector<std::pair<std::string, std::string>> extra_headers;

  TestHttpServer::Handler handler() {
    return [this](const Request& req, int index) { return answer(req, index); };
  }

 private:
  static bool less(const nlohmann::json& a, const nlohmann::json& b) {
    return idLess(a["id"].get<std::string>(), b["id"].get<std::string>());
  }

  Response page(const std::string& base, std::vector<nlohmann::json> items, const std::string& target) {
    const std::string url = "http://fake" + target;
    const std::string max_id = mastodon::urlQueryParam(url, "max_id");
    const std::string min_id = mastodon::urlQueryParam(url, "min_id");
    std::string limit_text = mastodon::urlQueryParam(url, "limit");
    const std::size_t limit = limit_text.empty() ? 20 : std::stoul(limit_text);
    std::sort(items.begin(), items.end(), less);  // oldest first
    std::vector<nlohmann::json> selected;
    if (!min_id.empty()) {
      for (const auto& it : items) {
        if (idLess(min_id, it["id"].get<std::string>()) && selected.size() < limit) selected.push_back(it);
      }
    } else {
      const std::vector<nlohmann::json> newest_first(items.rbegin(), items.rend());
      for (const auto& item : newest_first) {
        if (!max_id.empty() && !idLess(item["id"].get<std::string>(), max_id)) continue;
        if (selected.size() < limit) selected.push_back(item);
      }
    }
    std::sort(selected.begin(), selected.end(), [](const auto& a, const auto& b) { return less(b, a); });
    Response r;
    r.body = nlohmann::json(selected).dump();
    if (!selected.empty()) {
      const std::string sep = base.find('?') == std::string::npos ? "?" : "&";
      r.headers.emplace_back(
          "Link", "<" + base + sep + "limit=" + std::to_string(limit) +
                      "&max_id=" + selected.back()["id"].get<std::string>() + ">; rel=\"next\", <" + base +
                      sep + "limit=" + std::to_string(limit) +
                      "&min_id=" + selected.front()["id"].get<std::string>() + ">; rel=\"prev\"");
    }
    return r;
  }

  Response answer(const Request& req, int index) {
    if (intercept) {
      if (auto r = intercept(req, index)) return *r;
    }
    std::lock_guard lock(mutex_);
    Response r;
    const std::string path = req.target.substr(0, req.target.find('?'));
    const std::string host = "http://" + req.header("Host").value_or("127.0.0.1");
    if (path == "/api/v1/accounts/verify_credentials") {
      auto me = jsonFixture("mastodon", "verify_credentials.json");
      me["id"] = "900";
      me["acct"] = "acme";
      me["username"] = "acme";
      r.body = me.dump();
    } else if (path == "/api/v1/notifications") {
      r = page(host + "/api/v1/notifications?types%5B%5D=mention", notifications_, req.target);
    } else if (path == "/api/v1/accounts/900/statuses") {
      r = page(host + "/api/v1/accounts/900/statuses", own_, req.target);
    } else if (path.rfind("/api/v1/statuses/", 0) == 0 && path.size() > 25 &&
               path.substr(path.size() - 8) == "/context") {
      const std::string id = path.substr(17, path.size() - 25);
      auto found = statuses_.find(id);
      if (found == statuses_.end()) {
        r.status = 404;
        r.body = R"({"error":"Record not found"})";
      } else {
        nlohmann::json ancestors = nlohmann::json::array();
        std::string parent = jsonString(found->second, "in_reply_to_id");
        while (!parent.empty()) {
          auto p = statuses_.find(parent);
          if (p == statuses_.end()) break;  // not visible
          ancestors.insert(ancestors.begin(), p->second);
          parent = jsonString(p->second, "in_reply_to_id");
        }
        r.body = nlohmann::json{{"ancestors", ancestors}, {"descendants", nlohmann::json::array()}}.dump();
      }
    } else {
      r.status = 404;
      r.body = R"({"error":"Not found"})";
    }
    for (const auto& h : extra_headers) r.headers.push_back(h);
    return r;
  }

  std::mutex mutex_;
  std::map<std::string, nlohmann::json> statuses_;
  std::vector<nlohmann::json> notifications_;
  std::vector<nlohmann::json> own_;
};

}  // namespace replywatch::connectors::testing
