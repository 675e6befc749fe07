#include "connectors/registry.h"

#include <array>

#include "connectors/export/export_connector.h"
#include "connectors/x/twcs_connector.h"
#include "connectors/x/x_connector.h"

namespace replywatch::connectors {
namespace {

// The connector types, one row each.
const std::array<ConnectorType, 3> kTypes = {{
    {"export",
     "messages in replywatch's normalized JSONL/CSV format: files, a spool directory, a polled URL or signed "
     "webhooks",
     &exportfmt::validate, &exportfmt::create},
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
  info.validate = found->validate;
  return info;
}

}  // namespace replywatch::connectors
