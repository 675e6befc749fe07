#pragma once
// `replywatch serve`: wires store, pipeline, connectors, metrics and the HTTP server,
// runs until SIGTERM/SIGINT, then shuts down gracefully (in-flight requests finish,
// pollers stop, the store is flushed).
#include <optional>
#include <string>

#include "daemon/config/config.h"
#include "daemon/core/clock.h"

namespace replywatch::app {

struct ServeOptions {
  std::optional<std::string> listen_address;  // overrides web.listen_address
  std::optional<std::string> store_path;      // overrides store.path
  // Where webhooks are served instead of the main listener (overrides
  // web.webhook_listen_address); empty: on the main listener.
  std::optional<std::string> webhook_listen_address;
  std::string web_config_file;  // --web.config.file: TLS and basic auth; empty: neither
  std::chrono::milliseconds tick_interval{1000};
};

// Returns the process exit code. Logs every failure.
int serve(const config::Config& config, const ServeOptions& options, const Clock& clock);

}  // namespace replywatch::app
