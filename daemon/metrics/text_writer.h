#pragma once
// Writes collected prometheus-cpp metric families in the text exposition format 0.0.4,
// appending to a string: the same bytes as prometheus::TextSerializer (values as "%.16g",
// label values escaped, histogram suffixes), without an ostream per character run.
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace replywatch::metrics {

// Appends every family of `families` to `out`, in order. Thread-compatible (no shared
// state); never throws except std::bad_alloc.
void appendText(const std::vector<prometheus::MetricFamily>& families, std::string& out);

// Bytes appendText() will append at most for `families`, give or take label escapes
// (an estimate for reserving the output once).
std::size_t estimateTextSize(const std::vector<prometheus::MetricFamily>& families);

}  // namespace replywatch::metrics
