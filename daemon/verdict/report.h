#pragma once
// Presentations of computed verdicts: JSON (the /api/v1/verdict body and
// `replywatch report --format json`), the Markdown and self-contained HTML management
// reports, and the Prometheus exposition of the verdict metrics (METRICS.md). Pure
// functions, callable from any thread.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "daemon/verdict/evaluator.h"
#include "daemon/verdict/verdict.h"

namespace replywatch::verdict {

// One account: window, verdict, reasons (code, route, numbers and the sentence in both
// languages), figures per route and for the whole account. `detail` adds the 168
// hour-of-week cells, the weeks and the sorted waits used by the charts.
nlohmann::ordered_json toJson(const AccountVerdict& account, bool detail);

// {"evaluated_at", "window_seconds", "accounts": [...]} (without detail).
nlohmann::ordered_json toJson(const Snapshot& snapshot, std::chrono::seconds window);

// The management report for every account given.
std::string renderReportJson(const std::vector<AccountVerdict>& accounts, Timestamp generated_at);
std::string renderReportMarkdown(const std::vector<AccountVerdict>& accounts, Language language,
                                 Timestamp generated_at);
// One HTML file with inline CSS and SVG charts, no external asset and no script.
std::string renderReportHtml(const std::vector<AccountVerdict>& accounts, Language language,
                             Timestamp generated_at);

// The verdict metric families in the text format 0.0.4 (appended to /metrics). With no
// snapshot yet, only replywatch_verdict_last_evaluation_timestamp_seconds (0).
std::string renderMetrics(const Snapshot* snapshot);

}  // namespace replywatch::verdict
