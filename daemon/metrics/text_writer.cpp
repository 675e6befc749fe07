// Direct text writer for prometheus-cpp metric families (see text_writer.h). The output
// must stay byte-for-byte what prometheus::TextSerializer writes: the unit tests compare
// both on the same families.
#include "daemon/metrics/text_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace replywatch::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Doubles as the serializer's stream writes them: "%.16g" in the classic locale, with
// "Nan", "+Inf" and "-Inf". Integers below 1e15 (counters, counts) take a short path
// that gives the same digits.
void appendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "Nan";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
    return;
  }
  std::array<char, 32> buf{};
  char* end = nullptr;
  constexpr double kExactIntegers = 1e15;
  if (value >= 0 && value < kExactIntegers && !std::signbit(value) && value == std::floor(value)) {
    end = std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<std::uint64_t>(value)).ptr;
  } else {
    constexpr int kPrecision = std::numeric_limits<double>::max_digits10 - 1;
    end =
        std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::general, kPrecision).ptr;
  }
  out.append(buf.data(), end);
}

void appendInteger(std::string& out, std::uint64_t value) {
  std::array<char, 24> buf{};
  out.append(buf.data(), std::to_chars(buf.data(), buf.data() + buf.size(), value).ptr);
}

void appendInteger(std::string& out, std::int64_t value) {
  std::array<char, 24> buf{};
  out.append(buf.data(), std::to_chars(buf.data(), buf.data() + buf.size(), value).ptr);
}

// Label values: backslash, double quote and newline are escaped as \\, \" and \n.
void appendEscaped(std::string& out, std::string_view value) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out.append(value.substr(start, i - start));
    out += c == '\n' ? "\\n" : (c == '"' ? "\\\"" : "\\\\");
    start = i + 1;
  }
  out.append(value.substr(start));
}

// The labels of a metric as `{name="value",...}` (without the closing brace when an extra
// label follows), written once per metric and reused for each of its lines.
std::string labelText(const ClientMetric& metric) {
  std::string text;
  const char* prefix = "{";
  for (const auto& label : metric.label) {
    text += prefix;
    text += label.name;
    text += "=\"";
    appendEscaped(text, label.value);
    text += '"';
    prefix = ",";
  }
  return text;
}

void appendTail(std::string& out, const ClientMetric& metric) {
  if (metric.timestamp_ms != 0) {
    out += ' ';
    appendInteger(out, metric.timestamp_ms);
  }
  out += '\n';
}

// `name``suffix``labels` with no extra label, then a space.
void appendHead(std::string& out, const std::string& name, std::string_view suffix,
                const std::string& labels) {
  out += name;
  out += suffix;
  if (!labels.empty()) {
    out += labels;
    out += '}';
  }
  out += ' ';
}

// `name``suffix``labels`,`extra`="value"} then a space (histogram le, summary quantile).
void appendHeadWithExtra(std::string& out, const std::string& name, std::string_view suffix,
                         const std::string& labels, std::string_view extra, double value) {
  out += name;
  out += suffix;
  if (labels.empty()) {
    out += '{';
  } else {
    out += labels;
    out += ',';
  }
  out += extra;
  out += "=\"";
  appendDouble(out, value);
  out += "\"} ";
}

// The one value of a counter, gauge or untyped sample.
double scalarValue(MetricType type, const ClientMetric& metric) {
  if (type == MetricType::Counter) return metric.counter.value;
  if (type == MetricType::Gauge) return metric.gauge.value;
  return metric.untyped.value;
}

void appendMetric(std::string& out, const MetricFamily& family, const ClientMetric& metric) {
  const std::string labels = labelText(metric);
  switch (family.type) {
    case MetricType::Counter:
    case MetricType::Gauge:
    case MetricType::Untyped:
      appendHead(out, family.name, "", labels);
      appendDouble(out, scalarValue(family.type, metric));
      appendTail(out, metric);
      break;
    case MetricType::Summary:
      appendHead(out, family.name, "_count", labels);
      appendInteger(out, metric.summary.sample_count);
      appendTail(out, metric);
      appendHead(out, family.name, "_sum", labels);
      appendDouble(out, metric.summary.sample_sum);
      appendTail(out, metric);
      for (const auto& q : metric.summary.quantile) {
        appendHeadWithExtra(out, family.name, "", labels, "quantile", q.quantile);
        appendDouble(out, q.value);
        appendTail(out, metric);
      }
      break;
    case MetricType::Histogram: {
      const auto& h = metric.histogram;
      appendHead(out, family.name, "_count", labels);
      appendInteger(out, h.sample_count);
      appendTail(out, metric);
      appendHead(out, family.name, "_sum", labels);
      appendDouble(out, h.sample_sum);
      appendTail(out, metric);
      double last = -std::numeric_limits<double>::infinity();
      for (const auto& b : h.bucket) {
        appendHeadWithExtra(out, family.name, "_bucket", labels, "le", b.upper_bound);
        last = b.upper_bound;
        appendInteger(out, b.cumulative_count);
        appendTail(out, metric);
      }
      if (last != std::numeric_limits<double>::infinity()) {
        appendHeadWithExtra(out, family.name, "_bucket", labels, "le",
                            std::numeric_limits<double>::infinity());
        appendInteger(out, h.sample_count);
        appendTail(out, metric);
      }
      break;
    }
  }
}

std::string_view typeName(MetricType type) {
  switch (type) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Summary: return "summary";
    case MetricType::Histogram: return "histogram";
    case MetricType::Untyped: break;
  }
  return "untyped";
}

}  // namespace

void appendText(const std::vector<MetricFamily>& families, std::string& out) {
  for (const auto& family : families) {
    if (!family.help.empty()) {
      out += "# HELP ";
      out += family.name;
      out += ' ';
      out += family.help;
      out += '\n';
    }
    out += "# TYPE ";
    out += family.name;
    out += ' ';
    out += typeName(family.type);
    out += '\n';
    for (const auto& metric : family.metric) appendMetric(out, family, metric);
  }
}

std::size_t estimateTextSize(const std::vector<MetricFamily>& families) {
  constexpr std::size_t kValueBytes = 28;  // value, timestamp, separators
  std::size_t size = 0;
  for (const auto& family : families) {
    size += 2 * family.name.size() + family.help.size() + 32;
    for (const auto& metric : family.metric) {
      std::size_t labels = 2;
      for (const auto& label : metric.label) labels += label.name.size() + label.value.size() + 4;
      std::size_t lines = 1;
      if (family.type == MetricType::Histogram) lines = metric.histogram.bucket.size() + 3;
      if (family.type == MetricType::Summary) lines = metric.summary.quantile.size() + 2;
      size += lines * (family.name.size() + labels + kValueBytes + 16);
    }
  }
  return size;
}

}  // namespace replywatch::metrics
