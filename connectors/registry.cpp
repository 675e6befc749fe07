#include "connectors/registry.h"

#include <array>

#include "connectors/discourse/discourse_connector.h"
#include "connectors/export/export_connector.h"
#include "connectors/mastodon/mastodon_connector.h"
#include "connectors/meta/meta_connector.h"
#include "connectors/relay/relay_connector.h"
#include "connectors/x/twcs_connector.h"
#include "connectors/x/x_connector.h"

namespace replywatch::connectors {
namespace {

// The connector types, one row each.
const std::array<ConnectorType, 7> kTypes = {{
    {"export",
     "messages in replywatch's normalized JSONL/CSV format: files, a spool directory, a polled URL or signed "
     "webhooks",
     &exportfmt::validate, &exportfmt::create},
    {"meta",
     "Facebook Page and Instagram comments: signed Meta webhooks, reconciled by polling the Graph API",
     &meta::validate, &meta::create},
    {"relay",
     "escalation records (a question passed to an internal relay, and its answer): signed webhooks or "
     "CSV/JSONL files",
     &relay::validate, &relay::create, /*carries_messages=*/false},
    {"mastodon",
     "Mastodon statuses of the brand account's threads: signed admin webhooks and REST API polling",
     &mastodon::validate, &mastodon::create},
    {"discourse", "Discourse forum posts (conversation = topic): signed webhooks and REST API polling",
     &discourse::validate, &discourse::create},
    {"twcs", "X (Twitter) histories in the \"Customer Support on Twitter\" CSV shape, imported from files",
     &twcs::validate, &twcs::create},
    {"x", "X (Twitter) API v2: a brand's mentions and its own replies, polled with since_id", &x::validate,
     &x::create},
}};

}  // namespace

std::span<const ConnectorType> connectorTypes() { return kTypes; }

const ConnectorType* findConnectorType(std::string_view name) {
  for (const auto& type : kTypes) {
    if (type.name == name) return &type;
  }
  return nullptr;
}

config::SourceTypeInfo sourceTypeInfo(std::string_view type) {
  config::SourceTypeInfo info;
  const ConnectorType* found = findConnectorType(type);
  if (found == nullptr) {
    for (const auto& t : kTypes) info.known_types.emplace_back(t.name);
    return info;
  }
  info.known = true;
  info.carries_messages = found->carries_messages;
  info.validate = found->validate;
  return info;
}

}  // namespace replywatch::connectors
