#pragma once
// The explicit table of connector types. Adding a type means adding one row to the
// table in registry.cpp (no static self-registration).
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "connectors/connector.h"

namespace replywatch::connectors {

struct ConnectorType {
  std::string_view name;         // the `type:` value in the configuration
  std::string_view description;  // one line, shown by `replywatch --help` and docs
  // Checks the type-specific settings of a source (unknown keys, required keys, values).
  void (*validate)(const config::SourceConfig& source, std::vector<config::Problem>& problems);
  // Creates a connector for a validated source.
  std::unique_ptr<Connector> (*create)(const ConnectorContext& context);
  // Whether its sources bring messages (false: escalation records only, no turns).
  bool carries_messages = true;
};

std::span<const ConnectorType> connectorTypes();
const ConnectorType* findConnectorType(std::string_view name);

// Adapter handed to config::load() so configuration checks include connector settings.
config::SourceTypeInfo sourceTypeInfo(std::string_view type);

}  // namespace replywatch::connectors
