// Role and handler resolution from the account configuration.
#include <re2/re2.h>

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "daemon/tracker/tracker.h"

namespace replywatch::tracker {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view value) {
  if (value.empty()) return false;
  return std::find(list.begin(), list.end(), value) != list.end();
}

struct CompiledHandler {
  const config::HandlerConfig* config = nullptr;
  std::unique_ptr<RE2> pattern;  // null when the handler has no text pattern
};

}  // namespace

struct Classifier::Impl {
  const config::Config& config;
  std::vector<CompiledHandler> handlers;
  std::unordered_map<std::string_view, const config::AccountConfig*> accounts;  // viewing the names
  config::AccountConfig default_account;

  explicit Impl(const config::Config& c) : config(c) {
    for (const auto& a : config.accounts) accounts.emplace(a.name, &a);
    for (const auto& h : config.handlers) {
      CompiledHandler ch;
      ch.config = &h;
      if (!h.text_pattern.empty()) {
        RE2::Options options;
        options.set_log_errors(false);
        // RE2 matches in linear time (no backtracking); cap the compiled program size.
        options.set_max_mem(8 << 20);
        ch.pattern = std::make_unique<RE2>(h.text_pattern, options);
      }
      handlers.push_back(std::move(ch));
    }
  }

  // The configuration of account `name`; an account not configured takes the settings
  // of `fallback` (the source's account), and built-in defaults when that is unknown too.
  const config::AccountConfig& account(std::string_view name, std::string_view fallback) const {
    if (const config::AccountConfig* found = configured(name)) return *found;
    const config::AccountConfig* found = configured(fallback);
    return found == nullptr ? default_account : *found;
  }

  // Account `name` of the configuration, or null. A few are compared one by one (most
  // differ in length): cheaper than hashing the name for each message.
  const config::AccountConfig* configured(std::string_view name) const {
    constexpr std::size_t kScanned = 8;
    if (config.accounts.size() <= kScanned) {
      for (const auto& a : config.accounts) {
        if (a.name == name) return &a;
      }
      return nullptr;
    }
    auto it = accounts.find(name);
    return it == accounts.end() ? nullptr : it->second;
  }
};

Classifier::Classifier(const config::Config& config) : impl_(std::make_unique<Impl>(config)) {}
Classifier::~Classifier() = default;

Classifier::Decision Classifier::decide(const config::SourceConfig& source,
                                        const MessageView& message) const {
  Decision d;
  d.account = message.account.empty() ? std::string_view(source.account) : std::string_view(message.account);
  if (message.kind == MessageKind::Retraction) return d;
  const config::AccountConfig& account = impl_->account(d.account, source.account);
  if (contains(account.ignored_authors, message.author_id) ||
      contains(account.ignored_authors, message.author_name)) {
    return d;
  }
  const bool brand = message.author_is_brand || contains(account.brand_ids, message.author_id) ||
                     contains(account.brand_ids, message.author_name);
  if (brand) {
    d.role = Role::Brand;
    d.responder = message.author_id.empty() ? message.author_name : message.author_id;
    d.handler = "unknown";
    for (const CompiledHandler& h : impl_->handlers) {
      const config::HandlerConfig& hc = *h.config;
      if (!hc.accounts.empty() && !contains(hc.accounts, d.account)) continue;
      bool match =
          contains(hc.responder_ids, message.author_id) || contains(hc.responder_ids, message.author_name);
      if (!match && h.pattern && h.pattern->ok())
        match = RE2::PartialMatch(re2::StringPiece(message.text.data(), message.text.size()), *h.pattern);
      if (match) {
        d.handler = hc.name;
        d.route = hc.route;
        break;
      }
    }
    return d;
  }
  const bool question = account.count != config::CountMode::Questions || looksLikeQuestion(message.text);
  d.role = question ? Role::Question : Role::Inbound;
  return d;
}

MessageRecord Classifier::classify(const config::SourceConfig& source, const Message& message) const {
  const Decision d = decide(source, viewOf(message));
  MessageRecord r;
  r.source = source.name;
  r.id = message.id;
  r.account = d.account;
  r.channel = source.channel;
  r.conversation_id = message.conversation_id;
  r.in_reply_to = message.in_reply_to;
  r.created_at = message.created_at;
  r.role = d.role;
  r.responder = d.responder;
  r.handler = d.handler;
  r.route = d.route;
  return r;
}

}  // namespace replywatch::tracker
