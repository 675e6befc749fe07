#include "daemon/simulate/command.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "connectors/relay/relay_format.h"
#include "daemon/config/config.h"
#include "daemon/core/secret.h"
#include "daemon/simulate/scenario.h"
#include "daemon/simulate/sender.h"
#include "daemon/simulate/traffic.h"
#include "daemon/simulate/writers.h"

namespace replywatch::simulate {
namespace {

// A secret from a file (trailing newline dropped) or an environment variable.
std::optional<Secret> readSecret(const std::string& file, const char* env, std::string& error) {
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      error = fmt::format("cannot read the secret file {}", file);
      return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string value = text.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) {
      error = fmt::format("the secret file {} is empty", file);
      return std::nullopt;
    }
    return Secret{std::move(value)};
  }
  if (const char* value = std::getenv(env); value != nullptr && *value != '\0') return Secret{value};
  return std::nullopt;
}

Result<void> writeFile(const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path == "-") {
    write(std::cout);
    std::cout.flush();
    if (!std::cout) return makeError("io", "cannot write to standard output");
    return {};
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return makeError("io", fmt::format("cannot open {} for writing", path));
  write(out);
  out.close();
  if (!out) return makeError("io", fmt::format("cannot write {}", path));
  return {};
}

void printSummary(const Traffic& t, const Scenario& s) {
  const auto& m = t.summary;
  std::cerr << fmt::format(
      "simulated seed={} start={} end={} questions={} messages={} follow_ups={} answered_internal={} "
      "answered_agency={} answered_after_relay={} escalated={} unanswered={} open_at_end={} in_bursts={}\n",
      s.seed, formatRfc3339(t.start), formatRfc3339(t.end), m.questions, m.messages, m.follow_ups,
      m.answered_internal, m.answered_agency, m.answered_after_relay, m.escalated, m.unanswered,
      m.open_at_end, m.in_bursts);
}

}  // namespace

int run(const CommandOptions& options) {
  Scenario scenario;
  try {
    if (!options.scenario_file.empty()) scenario = loadScenario(options.scenario_file);
    if (options.seed) scenario.seed = *options.seed;
    if (options.days) scenario.days = *options.days;
    if (options.questions_per_day) scenario.questions_per_day = *options.questions_per_day;
    if (options.start) {
      scenario.start = parseStartTime(*options.start);
      if (!scenario.start) {
        std::cerr << fmt::format("invalid --start \"{}\" (use e.g. 2026-10-01 or 2026-10-01T08:00:00Z)\n",
                                 *options.start);
        return 2;
      }
    }
    validateScenario(scenario);
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) std::cerr << p.str() << '\n';
    return 2;
  }

  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  // Cut at the current time: replywatch refuses messages from the future.
  const Traffic traffic = generate(scenario, resolveStart(scenario, now), now);

  if (!options.send_url.empty()) {
    if (options.source.empty()) {
      std::cerr << "--send needs --source, the export source receiving the messages\n";
      return 2;
    }
    std::string error;
    auto secret = readSecret(options.secret_file, "REPLYWATCH_WEBHOOK_SECRET", error);
    if (!secret) {
      std::cerr << (error.empty() ? "--send needs --secret-file or REPLYWATCH_WEBHOOK_SECRET" : error)
                << '\n';
      return 2;
    }
    auto relay_secret = readSecret(options.relay_secret_file, "REPLYWATCH_RELAY_WEBHOOK_SECRET", error);
    if (!relay_secret && !error.empty()) {
      std::cerr << error << '\n';
      return 2;
    }
    SendOptions send{options.send_url,
                     options.source,
                     options.relay_source,
                     *secret,
                     relay_secret.value_or(*secret),
                     options.signature_header,
                     options.rate,
                     options.batch};
    printSummary(traffic, scenario);
    if (options.relay_source.empty() && !traffic.escalations.empty()) {
      std::cerr << fmt::format("{} relay records not sent (give --relay-source NAME)\n",
                               traffic.escalations.size());
    }
    const auto deliveries = planDeliveries(traffic, options.batch, !options.relay_source.empty());
    auto report = sendDeliveries(deliveries, send);
    if (!report) {
      std::cerr << report.error().message << '\n';
      return 1;
    }
    std::cerr << fmt::format(
        "sent deliveries={} acknowledged={} refused={} retries={} messages={} relay_records={} stored={} "
        "duplicates={} rejected={} seconds={:.2f} deliveries_per_second={:.1f}\n",
        report->deliveries, report->acknowledged, report->refused, report->retries,
        report->messages_acknowledged, report->records_acknowledged, report->stored, report->duplicates,
        report->rejected, report->seconds,
        report->seconds > 0 ? static_cast<double>(report->deliveries) / report->seconds : 0.0);
    return report->refused == 0 ? 0 : 1;
  }

  const MessageFormat format = options.format == "csv"    ? MessageFormat::Csv
                               : options.format == "twcs" ? MessageFormat::Twcs
                                                          : MessageFormat::Jsonl;
  if (auto written =
          writeFile(options.output, [&](std::ostream& out) { writeMessages(out, traffic, format); });
      !written) {
    std::cerr << written.error().message << '\n';
    return 1;
  }
  if (!options.relay_output.empty()) {
    // As `replywatch import` will read the file back.
    const RelayFormat relay_format =
        connectors::relay::formatFromPath(options.relay_output) == connectors::relay::Format::Csv
            ? RelayFormat::Csv
            : RelayFormat::Jsonl;
    if (auto written = writeFile(options.relay_output,
                                 [&](std::ostream& out) { writeEscalations(out, traffic, relay_format); });
        !written) {
      std::cerr << written.error().message << '\n';
      return 1;
    }
  }
  printSummary(traffic, scenario);
  if (options.relay_output.empty() && !traffic.escalations.empty()) {
    std::cerr << fmt::format("{} relay records not written (give --relay-output FILE)\n",
                             traffic.escalations.size());
  }
  return 0;
}

}  // namespace replywatch::simulate
