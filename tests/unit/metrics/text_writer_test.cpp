// The direct text writer against prometheus-cpp's TextSerializer: the same families must
// give the same bytes (values of every magnitude, special values, escapes, every type).
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "daemon/metrics/text_writer.h"

namespace replywatch::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily makeFamily(const std::string& name, MetricType type, std::string help = "Help text.") {
  MetricFamily f;
  f.name = name;
  f.help = std::move(help);
  f.type = type;
  return f;
}

std::string written(const std::vector<MetricFamily>& families) {
  std::string out;
  appendText(families, out);
  return out;
}

std::string serialized(const std::vector<MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

std::vector<double> specialValues() {
  return {0.0,
          -0.0,
          1.0,
          -1.0,
          0.1,
          1.0 / 3.0,
          0.0005,
          1e-7,
          2.5e-300,
          123456789012.5,
          1763890000.123,
          999999999999999.0,
          1e15,
          1e15 + 1,
          9007199254740993.0,
          1e16,
          1.234567890123456789e17,
          1e20,
          -1e20,
          std::numeric_limits<double>::max(),
          std::numeric_limits<double>::min(),
          std::numeric_limits<double>::denorm_min(),
          std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity()};
}

TEST(TextWriterTest, GaugeAndCounterValuesMatchTheSerializer) {
  auto gauge = makeFamily("g", MetricType::Gauge);
  auto counter = makeFamily("c_total", MetricType::Counter);
  for (double v : specialValues()) {
    ClientMetric m;
    m.label = {{"account", "acme"}};
    m.gauge.value = v;
    m.counter.value = v;
    gauge.metric.push_back(m);
    counter.metric.push_back(m);
  }
  const std::vector<MetricFamily> families{gauge, counter};
  EXPECT_EQ(written(families), serialized(families));
}

TEST(TextWriterTest, RandomValuesOfEveryMagnitudeMatchTheSerializer) {
  std::mt19937_64 random(20261123);
  std::uniform_real_distribution<double> mantissa(-10.0, 10.0);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::uniform_int_distribution<std::uint64_t> integer(0, std::uint64_t{1} << 60);
  auto gauge = makeFamily("g", MetricType::Gauge);
  for (int i = 0; i < 20000; ++i) {
    ClientMetric m;
    switch (i % 4) {
      case 0: m.gauge.value = mantissa(random) * std::pow(10.0, exponent(random)); break;
      case 1: m.gauge.value = static_cast<double>(integer(random) >> (i % 60)); break;
      case 2: m.gauge.value = std::round(mantissa(random) * 1e6) / 1000.0; break;
      default: m.gauge.value = static_cast<double>(i) + 0.5; break;
    }
    gauge.metric.push_back(m);
  }
  const std::vector<MetricFamily> families{gauge};
  EXPECT_EQ(written(families), serialized(families));
}

TEST(TextWriterTest, LabelEscapesAndEmptyLabelsMatchTheSerializer) {
  auto gauge = makeFamily("g", MetricType::Gauge);
  for (const char* value : {"", "plain", "quote\"d", "back\\slash", "new\nline", "\\\"\n\\", "ünïcode"}) {
    ClientMetric m;
    m.label = {{"a", value}, {"b", "x"}};
    m.gauge.value = 2;
    gauge.metric.push_back(m);
  }
  ClientMetric unlabelled;
  unlabelled.gauge.value = 3;
  gauge.metric.push_back(unlabelled);
  auto no_help = makeFamily("n", MetricType::Counter, "");
  no_help.metric.push_back(unlabelled);
  const std::vector<MetricFamily> families{gauge, no_help};
  EXPECT_EQ(written(families), serialized(families));
}

TEST(TextWriterTest, HistogramsSummariesUntypedAndTimestampsMatchTheSerializer) {
  auto histogram = makeFamily("h_seconds", MetricType::Histogram);
  ClientMetric with_inf;
  with_inf.label = {{"account", "acme"}, {"route", "agency"}};
  with_inf.histogram.sample_count = 7;
  with_inf.histogram.sample_sum = 1234.5678;
  with_inf.histogram.bucket = {{1, 0.0005}, {3, 60}, {5, 1800}, {7, std::numeric_limits<double>::infinity()}};
  histogram.metric.push_back(with_inf);
  ClientMetric without_inf;  // the serializer adds the +Inf bucket
  without_inf.histogram.sample_count = 4;
  without_inf.histogram.sample_sum = 0.25;
  without_inf.histogram.bucket = {{1, 0.1}, {2, 2.5}};
  without_inf.timestamp_ms = 1763890000123;
  histogram.metric.push_back(without_inf);

  auto summary = makeFamily("s", MetricType::Summary);
  ClientMetric s;
  s.label = {{"k", "v"}};
  s.summary.sample_count = 10;
  s.summary.sample_sum = 3.75;
  s.summary.quantile = {{0.5, 1.25}, {0.99, 3}};
  summary.metric.push_back(s);

  auto untyped = makeFamily("u", MetricType::Untyped);
  ClientMetric u;
  u.untyped.value = -42.125;
  u.timestamp_ms = -5;
  untyped.metric.push_back(u);

  const std::vector<MetricFamily> families{histogram, summary, untyped};
  EXPECT_EQ(written(families), serialized(families));
}

TEST(TextWriterTest, AppendsAfterExistingTextAndEstimatesTheSize) {
  auto gauge = makeFamily("g", MetricType::Gauge);
  for (int i = 0; i < 100; ++i) {
    ClientMetric m;
    m.label = {{"account", "account-" + std::to_string(i)}, {"channel", "facebook"}};
    m.gauge.value = i * 0.75;
    gauge.metric.push_back(m);
  }
  const std::vector<MetricFamily> families{gauge};
  std::string out = "# prefix\n";
  appendText(families, out);
  EXPECT_EQ(out, "# prefix\n" + serialized(families));
  EXPECT_GE(estimateTextSize(families), out.size() - 9);
}

}  // namespace
}  // namespace replywatch::metrics
