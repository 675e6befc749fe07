// Exposition tests: rendered text for a hand-built configuration and snapshot, and the
// output checked by `promtool check metrics`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon/metrics/metrics.h"
#include "replywatch/version.h"

namespace replywatch::metrics {
namespace {

config::Config makeConfig() {
  config::Config c;
  config::AccountConfig fr;
  fr.name = "acme-fr";
  fr.threshold = std::chrono::seconds(1800);
  config::AccountConfig uk;
  uk.name = "acme-uk";
  config::AccountConfig quiet;
  quiet.name = "quiet";
  quiet.threshold = std::chrono::seconds(7200);
  c.accounts = {fr, uk, quiet};

  auto source = [](std::string name, std::string type, std::string account, std::string channel) {
    config::SourceConfig s;
    s.name = std::move(name);
    s.type = std::move(type);
    s.account = std::move(account);
    s.channel = std::move(channel);
    return s;
  };
  c.sources = {source("fb", "meta", "acme-fr", "facebook"), source("ig", "meta", "acme-fr", "instagram"),
               source("tw", "x", "acme-uk", "x"), source("tw2", "x", "acme-uk", "x"),
               source("relays", "relay", "acme-fr", "relay")};
  c.sources.back().carries_messages = false;  // escalation records only
  return c;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool hasLine(const std::string& text, const std::string& line) {
  for (const auto& l : lines(text)) {
    if (l == line) return true;
  }
  return false;
}

std::size_t countPrefix(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  for (const auto& l : lines(text)) {
    if (l.rfind(prefix, 0) == 0) ++n;
  }
  return n;
}

class MetricsTest : public ::testing::Test {
 protected:
  MetricsTest() : config_(makeConfig()) {
    for (const auto& s : config_.sources) {
      health_.emplace_back(std::make_unique<SourceHealth>());
      refs_.push_back({&s, health_.back().get()});
    }
  }

  Metrics make() {
    return {config_,
            [this] {
              ++snapshots_;
              return snapshot_;
            },
            refs_};
  }

  SourceHealth& health(std::size_t i) { return *health_[i]; }

  config::Config config_;
  std::vector<std::unique_ptr<SourceHealth>> health_;
  std::vector<SourceRef> refs_;
  tracker::Snapshot snapshot_;
  std::atomic<int> snapshots_{0};
};

TEST_F(MetricsTest, BuildInfo) {
  auto text = make().render();
  EXPECT_TRUE(hasLine(text, std::string("replywatch_build_info{version=\"") + kVersion + "\",revision=\"" +
                                kRevision + "\"} 1"))
      << text;
  EXPECT_TRUE(hasLine(text, "# TYPE replywatch_build_info gauge"));
}

TEST_F(MetricsTest, ConfiguredChannelsAreZeroBeforeAnyTraffic) {
  auto text = make().render();
  for (const char* family : {"replywatch_questions_total", "replywatch_open_questions",
                             "replywatch_oldest_open_question_age_seconds", "replywatch_late_open_questions",
                             "replywatch_breaches_total"}) {
    for (const char* labels :
         {R"({account="acme-fr",channel="facebook"})", R"({account="acme-fr",channel="instagram"})",
          R"({account="acme-uk",channel="x"})"}) {
      EXPECT_TRUE(hasLine(text, std::string(family) + labels + " 0")) << family << labels << "\n" << text;
    }
    // Two sources on the same (account, channel) give one series; the relay feed's
    // channel, which has no messages, none.
    EXPECT_EQ(countPrefix(text, std::string(family) + "{"), 3u) << family;
  }
  // No answer series before an answer.
  EXPECT_EQ(countPrefix(text, "replywatch_answers_total"), 0u);
  EXPECT_EQ(countPrefix(text, "replywatch_response_seconds"), 0u);
}

TEST_F(MetricsTest, ThresholdForEveryAccount) {
  auto text = make().render();
  EXPECT_TRUE(hasLine(text, R"(replywatch_response_threshold_seconds{account="acme-fr"} 1800)")) << text;
  EXPECT_TRUE(hasLine(text, R"(replywatch_response_threshold_seconds{account="acme-uk"} 3600)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_response_threshold_seconds{account="quiet"} 7200)"));
}

TEST_F(MetricsTest, ChannelStatsFromSnapshot) {
  tracker::ChannelStats s;
  s.questions_total = 5;
  s.breaches_total = 2;
  s.open = 2;
  s.late_open = 1;
  s.oldest_open_age_seconds = 4000.5;
  snapshot_.channels[{"acme-fr", "facebook"}] = s;
  // A pair the configuration no longer has (turns restored from the store) is still shown.
  tracker::ChannelStats old;
  old.questions_total = 1;
  snapshot_.channels[{"acme-fr", "export"}] = old;
  auto m = make();
  auto text = m.render();
  EXPECT_EQ(snapshots_.load(), 1);
  const std::string l = R"({account="acme-fr",channel="facebook"})";
  EXPECT_TRUE(hasLine(text, "replywatch_questions_total" + l + " 5")) << text;
  EXPECT_TRUE(hasLine(text, "replywatch_breaches_total" + l + " 2"));
  EXPECT_TRUE(hasLine(text, "replywatch_open_questions" + l + " 2"));
  EXPECT_TRUE(hasLine(text, "replywatch_late_open_questions" + l + " 1"));
  EXPECT_TRUE(hasLine(text, "replywatch_oldest_open_question_age_seconds" + l + " 4000.5"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_questions_total{account="acme-fr",channel="export"} 1)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_questions_total{account="acme-fr",channel="instagram"} 0)"));
}

TEST_F(MetricsTest, ResponseHistogramIsCumulative) {
  tracker::AnswerStats a;
  a.answers_total = 4;
  a.bucket_counts[0] = 1;  // <= 60
  a.bucket_counts[2] = 1;  // (300, 600]
  a.bucket_counts[6] = 1;  // (2700, 3600]
  // the fourth answer took more than 86400 s: only in +Inf
  a.wait_seconds_sum = 100000.25;
  snapshot_.answers[{"acme-fr", "facebook", "agency-a", "agency"}] = a;
  auto text = make().render();
  const std::string p =
      R"(replywatch_response_seconds_bucket{account="acme-fr",channel="facebook",handler="agency-a",route="agency",le=")";
  EXPECT_TRUE(hasLine(text, p + R"(60"} 1)")) << text;
  EXPECT_TRUE(hasLine(text, p + R"(300"} 1)"));
  EXPECT_TRUE(hasLine(text, p + R"(600"} 2)"));
  EXPECT_TRUE(hasLine(text, p + R"(900"} 2)"));
  EXPECT_TRUE(hasLine(text, p + R"(3600"} 3)"));
  EXPECT_TRUE(hasLine(text, p + R"(86400"} 3)"));
  EXPECT_TRUE(hasLine(text, p + R"(+Inf"} 4)"));
  EXPECT_EQ(countPrefix(text, p), 12u);  // 11 bounds + +Inf
  const std::string l = R"({account="acme-fr",channel="facebook",handler="agency-a",route="agency"})";
  EXPECT_TRUE(hasLine(text, "replywatch_response_seconds_count" + l + " 4"));
  EXPECT_TRUE(hasLine(text, "replywatch_response_seconds_sum" + l + " 100000.25"));
  EXPECT_TRUE(hasLine(text, "replywatch_answers_total" + l + " 4"));
  EXPECT_TRUE(hasLine(text, "# TYPE replywatch_response_seconds histogram"));
}

// A source serve never hears from (imported files only) has no last success to export,
// so that an alert on its age cannot fire for it; its other series stay.
TEST_F(MetricsTest, ASourceServeNeverHearsFromHasNoLastSuccess) {
  refs_[1].live = false;
  auto text = make().render();
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_last_success_timestamp_seconds{source="fb"} 0)")) << text;
  EXPECT_EQ(text.find(R"(replywatch_source_last_success_timestamp_seconds{source="ig"})"), std::string::npos)
      << text;
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_up{source="ig"} 1)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_events_total{source="ig"} 0)"));
}

TEST_F(MetricsTest, SourceHealth) {
  health(0).markSuccess(fromMillis(1'700'000'000'123));
  health(0).addEvents(42);
  health(0).addError(ErrorReason::Signature, 2);
  health(1).markDown();
  auto text = make().render();
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_up{source="fb"} 1)")) << text;
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_up{source="ig"} 0)"));
  EXPECT_TRUE(
      hasLine(text, R"(replywatch_source_last_success_timestamp_seconds{source="fb"} 1700000000.123)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_last_success_timestamp_seconds{source="ig"} 0)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_events_total{source="fb"} 42)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_events_total{source="tw"} 0)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_errors_total{source="fb",reason="signature"} 2)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_source_errors_total{source="fb",reason="parse_error"} 0)"));
  // Every reason for every source, zero-initialised.
  EXPECT_EQ(countPrefix(text, "replywatch_source_errors_total{"), config_.sources.size() * kErrorReasonCount);
  for (std::size_t i = 0; i < kErrorReasonCount; ++i) {
    auto reason = std::string(toString(static_cast<ErrorReason>(i)));
    EXPECT_TRUE(hasLine(text, R"(replywatch_source_errors_total{source="tw2",reason=")" + reason + R"("} 0)"))
        << reason;
  }
}

TEST_F(MetricsTest, WebhookCounts) {
  auto m = make();
  EXPECT_EQ(countPrefix(m.render(), "replywatch_webhook_requests_total"), 0u);
  m.countWebhook("fb", 200);
  m.countWebhook("fb", 200);
  m.countWebhook("fb", 403);
  m.countWebhook("nope", 404);
  m.countWebhook("other-unknown", 404);
  auto text = m.render();
  EXPECT_TRUE(hasLine(text, R"(replywatch_webhook_requests_total{source="fb",code="200"} 2)")) << text;
  EXPECT_TRUE(hasLine(text, R"(replywatch_webhook_requests_total{source="fb",code="403"} 1)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_webhook_requests_total{source="",code="404"} 2)"));
}

TEST_F(MetricsTest, EveryFamilyHasHelpAndType) {
  snapshot_.answers[{"acme-fr", "facebook", "unknown", "unknown"}] = tracker::AnswerStats{};
  auto m = make();
  m.countWebhook("fb", 200);
  auto text = m.render();
  std::vector<std::string> types;
  for (const auto& l : lines(text)) {
    if (l.rfind("# TYPE ", 0) == 0) types.push_back(l.substr(7, l.find(' ', 7) - 7));
  }
  for (const char* name :
       {"replywatch_build_info", "replywatch_questions_total", "replywatch_answers_total",
        "replywatch_response_seconds", "replywatch_open_questions",
        "replywatch_oldest_open_question_age_seconds", "replywatch_late_open_questions",
        "replywatch_breaches_total", "replywatch_response_threshold_seconds", "replywatch_source_up",
        "replywatch_source_last_success_timestamp_seconds", "replywatch_source_events_total",
        "replywatch_source_errors_total", "replywatch_webhook_requests_total", "replywatch_escalations_total",
        "replywatch_escalation_wait_seconds", "replywatch_wait_seconds_total"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), name), types.end()) << name;
    EXPECT_EQ(countPrefix(text, std::string("# HELP ") + name + " "), 1u) << name;
  }
  EXPECT_EQ(types.size(), 17u);
}

TEST_F(MetricsTest, RelayFamilies) {
  // Two agency answers waiting 3600 s and 600 s in all; the first was escalated.
  tracker::AnswerStats a;
  a.answers_total = 2;
  a.wait_seconds_sum = 4200;
  snapshot_.answers[{"acme-fr", "facebook", "agency-a", "agency"}] = a;
  tracker::PhaseStats phases;
  phases.before_escalation_seconds = 600;
  phases.relay_seconds = 2400;
  phases.after_relay_seconds = 600;
  phases.escalated_wait_seconds = 3600;
  snapshot_.phases[{"acme-fr", "agency"}] = phases;
  tracker::EscalationStats e;
  e.escalations_total = 3;
  e.answered_total = 2;
  e.bucket_counts[4] = 2;  // (900, 1800]
  e.wait_seconds_sum = 2400;
  snapshot_.escalations[{"acme-fr", "internal"}] = e;
  auto text = make().render();
  const std::string agency = R"(account="acme-fr",route="agency")";
  EXPECT_TRUE(hasLine(text, "replywatch_wait_seconds_total{" + agency + R"(,phase="before_escalation"} 600)"))
      << text;
  EXPECT_TRUE(hasLine(text, "replywatch_wait_seconds_total{" + agency + R"(,phase="relay"} 2400)"));
  EXPECT_TRUE(hasLine(text, "replywatch_wait_seconds_total{" + agency + R"(,phase="after_relay"} 600)"));
  EXPECT_TRUE(hasLine(text, "replywatch_wait_seconds_total{" + agency + R"(,phase="direct"} 600)"));
  const std::string internal = R"(account="acme-fr",route="internal")";
  EXPECT_TRUE(hasLine(text, "replywatch_escalations_total{" + internal + "} 3"));
  EXPECT_TRUE(hasLine(text, "replywatch_escalation_wait_seconds_bucket{" + internal + R"(,le="1800"} 2)"));
  EXPECT_TRUE(hasLine(text, "replywatch_escalation_wait_seconds_count{" + internal + "} 2"));
  EXPECT_TRUE(hasLine(text, "replywatch_escalation_wait_seconds_sum{" + internal + "} 2400"));
  // Every configured account and route from the start, with zeros.
  EXPECT_TRUE(hasLine(text, R"(replywatch_escalations_total{account="acme-uk",route="unknown"} 0)"));
  EXPECT_TRUE(
      hasLine(text, R"(replywatch_wait_seconds_total{account="acme-uk",route="agency",phase="direct"} 0)"));
}

TEST_F(MetricsTest, LabelValuesAreEscaped) {
  config_.accounts[0].name = "we\"ird\\name";
  auto text = make().render();
  EXPECT_TRUE(hasLine(text, R"(replywatch_response_threshold_seconds{account="we\"ird\\name"} 1800)"))
      << text;
}

TEST_F(MetricsTest, ConcurrentRenderAndCount) {
  auto m = make();
  std::atomic<bool> done{false};
  std::thread counter([&] {
    for (int i = 0; i < 2000; ++i) m.countWebhook(i % 2 ? "fb" : "ig", 200);
    done = true;
  });
  while (!done) (void)m.render();
  counter.join();
  auto text = m.render();
  EXPECT_TRUE(hasLine(text, R"(replywatch_webhook_requests_total{source="fb",code="200"} 1000)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_webhook_requests_total{source="ig",code="200"} 1000)"));
}

// Runs `promtool check metrics` with `text` on stdin; returns (exit status, output).
std::pair<int, std::string> promtoolCheck(const std::string& text) {
  auto path =
      std::filesystem::temp_directory_path() / ("replywatch-metrics-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream f(path);
    f << text;
  }
  std::string cmd = "/usr/bin/promtool check metrics < '" + path.string() + "' 2>&1";
  std::string output;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  int status = ::pclose(p);
  std::filesystem::remove(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST_F(MetricsTest, PromtoolAcceptsTheExposition) {
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool not installed";
  tracker::ChannelStats s;
  s.questions_total = 3;
  s.open = 1;
  s.oldest_open_age_seconds = 12.5;
  snapshot_.channels[{"acme-fr", "facebook"}] = s;
  tracker::AnswerStats a;
  a.answers_total = 2;
  a.bucket_counts[1] = 2;
  a.wait_seconds_sum = 400;
  snapshot_.answers[{"acme-fr", "facebook", "team", "internal"}] = a;
  health(0).markSuccess(fromMillis(1'700'000'000'000));
  auto m = make();
  m.countWebhook("fb", 200);
  m.countWebhook("zzz", 404);
  auto [status, output] = promtoolCheck(m.render());
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "");

  // Before any traffic too.
  auto [status0, output0] = promtoolCheck(make().render());
  EXPECT_EQ(status0, 0) << output0;
  EXPECT_EQ(output0, "");
}

TEST_F(MetricsTest, WriteQueueFamiliesOnlyWhenWatched) {
  EXPECT_EQ(countPrefix(make().render(), "replywatch_store_commits_total"), 0u);
  WriteQueueStats q;
  q.commits = 3;
  q.failed_commits = 1;
  q.refused_full = 7;
  q.queued_requests = 2;
  q.queued_messages = 9;
  q.request_buckets[0] = 1;  // 1 request
  q.request_buckets[5] = 2;  // (16, 32] requests
  q.requests_committed = 51;
  q.duration_buckets[3] = 3;  // (0.0025, 0.005] s
  q.duration_seconds = 0.0125;
  q.checkpoints = 12;
  q.checkpoint_failures = 2;
  auto m = make();
  m.watchWriteQueue([q] { return q; });
  auto text = m.render();
  EXPECT_TRUE(hasLine(text, "replywatch_store_commits_total 3")) << text;
  EXPECT_TRUE(hasLine(text, "replywatch_store_commit_failures_total 1"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_store_commit_requests_bucket{le="1"} 1)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_store_commit_requests_bucket{le="16"} 1)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_store_commit_requests_bucket{le="32"} 3)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_store_commit_requests_bucket{le="+Inf"} 3)"));
  EXPECT_TRUE(hasLine(text, "replywatch_store_commit_requests_sum 51"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_store_commit_duration_seconds_bucket{le="0.005"} 3)"));
  EXPECT_TRUE(hasLine(text, "replywatch_store_commit_duration_seconds_count 3"));
  EXPECT_TRUE(hasLine(text, "replywatch_ingest_queue_requests 2"));
  EXPECT_TRUE(hasLine(text, "replywatch_ingest_queue_messages 9"));
  EXPECT_TRUE(hasLine(text, "replywatch_ingest_queue_waiting_requests 0"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_ingest_queue_refusals_total{reason="queue_full"} 7)"));
  EXPECT_TRUE(hasLine(text, R"(replywatch_ingest_queue_refusals_total{reason="stopping"} 0)"));
  EXPECT_TRUE(hasLine(text, "replywatch_store_checkpoints_total 12"));
  EXPECT_TRUE(hasLine(text, "replywatch_store_checkpoint_failures_total 2"));
  if (std::filesystem::exists("/usr/bin/promtool")) {
    auto [status, output] = promtoolCheck(text);
    EXPECT_EQ(status, 0) << output;
    EXPECT_EQ(output, "");
  }
}

}  // namespace
}  // namespace replywatch::metrics
