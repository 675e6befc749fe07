// Escalation records through the ingest pipeline, a real SQLite store and the metrics
// exposition: linking, the questions columns, the phase split, restore after restart.
#include <gtest/gtest.h>

#include <string>

#include "daemon/app/pipeline.h"
#include "daemon/app/questions.h"
#include "daemon/metrics/metrics.h"
#include "tests/unit/app/app_test_util.h"

namespace replywatch::app {
namespace {

// The feed's configuration, with an agency and an internal handler and a relay source.
config::Config makeConfig() {
  config::Config c = testing::feedConfig();
  config::HandlerConfig agency;
  agency.name = "cm-agency";
  agency.route = Route::Agency;
  agency.responder_ids = {"acme"};
  c.handlers.push_back(agency);
  config::HandlerConfig staff;
  staff.name = "support";
  staff.route = Route::Internal;
  staff.responder_ids = {"acme_support"};
  c.handlers.push_back(staff);
  config::SourceConfig relays = c.sources.front();
  relays.name = "relays";
  relays.type = "relay";
  c.sources.push_back(relays);
  return c;
}

const std::int64_t kT0 = 1'700'000'000;

Timestamp t(std::int64_t offset_s) { return fromMillis((kT0 + offset_s) * 1000); }

Message msg(std::string id, std::string conversation, std::int64_t offset_s, bool brand = false) {
  return testing::feedMessage(std::move(id), std::move(conversation), kT0 + offset_s, brand);
}

Escalation esc(std::string id, std::string ref, std::int64_t requested_s,
               std::optional<std::int64_t> answered_s, std::string requested_by = "cm-agency") {
  Escalation e;
  e.id = std::move(id);
  e.question_ref = std::move(ref);
  e.requested_at = t(requested_s);
  if (answered_s) e.answered_at = t(*answered_s);
  e.requested_by = std::move(requested_by);
  e.relay = "legal-team";
  return e;
}

// The value of one sample line "name{labels} value" in a text exposition, or -1.
double sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  std::size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + prefix.size()));
    pos += prefix.size();
  }
  return -1;
}

// The agency route's waiting time in one phase (before_escalation, relay, after_relay, direct).
double agencyPhase(const std::string& text, const std::string& phase) {
  return sample(text,
                R"(replywatch_wait_seconds_total{account="acme",route="agency",phase=")" + phase + "\"}");
}

class RelayPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openSqliteStore(dir_.file("store.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    pipeline_ = std::make_unique<Pipeline>(cfg_, clock_, *store_);
    ASSERT_TRUE(pipeline_->restore().ok());
  }

  void messages(std::vector<Message> batch) {
    auto out = pipeline_->ingest(cfg_.sources[0], std::move(batch), std::nullopt);
    ASSERT_TRUE(out.ok()) << out.error().message;
  }
  connectors::IngestOutcome escalations(std::vector<Escalation> batch) {
    auto out = pipeline_->ingestEscalations(cfg_.sources[1], std::move(batch), std::nullopt);
    EXPECT_TRUE(out.ok()) << out.error().message;
    return out.ok() ? *out : connectors::IngestOutcome{};
  }
  QuestionRows rows() {
    auto r = readQuestions(*store_, {});
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(r).value() : QuestionRows{};
  }
  std::string metricsText() {
    metrics::Metrics m(cfg_, [this] { return pipeline_->snapshot(); }, {});
    return m.render();
  }

  config::Config cfg_ = makeConfig();
  ManualClock clock_{t(100000)};
  testing::TempDir dir_{"relay-pipeline"};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Pipeline> pipeline_;
};

// One turn asked at 0 and answered by the agency at 3600, with relay legs before,
// during (two overlapping, one by conversation id), after the turn, and one answered
// after the public reply.
TEST_F(RelayPipelineTest, LegsBeforeDuringAndAfterTheTurn) {
  messages({msg("q1", "c1", 0), msg("a1", "c1", 3600, true), msg("q2", "c2", 0), msg("a2", "c2", 600, true)});
  auto out = escalations({esc("before", "q1", -1800, -600), esc("during", "q1", 600, 1800),
                          esc("during-conv", "c1", 1200, 2400), esc("after", "a1", 4000, 5000),
                          esc("late-answer", "q1", 3000, 7200)});
  EXPECT_EQ(out.received, 5U);
  EXPECT_EQ(out.stored, 5U);

  auto r = rows();
  ASSERT_EQ(r.turns.size(), 2U);
  const std::size_t i1 = r.turns[0].conversation_id == "c1" ? 0 : 1;
  EXPECT_EQ(r.escalations[i1].size(), 5U);
  EXPECT_TRUE(r.escalations[1 - i1].empty());
  // Overlaps: 600..1800, 1200..2400, 3000..3600 (clipped at the reply).
  auto cols = escalationColumns(r.turns[i1], r.escalations[i1], clock_.now());
  EXPECT_TRUE(cols.escalated);
  EXPECT_EQ(cols.escalation_wait, std::chrono::seconds{3000});
  EXPECT_FALSE(escalationColumns(r.turns[1 - i1], r.escalations[1 - i1], clock_.now()).escalated);

  const std::string csv = questionsCsv(r, cfg_, clock_.now());
  EXPECT_NE(
      csv.find(
          ",c1,q1,2023-11-14T22:13:20Z,a1,2023-11-14T23:13:20Z,3600,acme,cm-agency,agency,true,3000,false"),
      std::string::npos)
      << csv;
  EXPECT_NE(
      csv.find(",c2,q2,2023-11-14T22:13:20Z,a2,2023-11-14T22:23:20Z,600,acme,cm-agency,agency,false,,false"),
      std::string::npos)
      << csv;
  const auto json = questionsJson(r, cfg_, clock_.now());
  EXPECT_EQ(json[i1]["escalated"], true);
  EXPECT_EQ(json[i1]["escalation_wait_seconds"], 3000.0);
  EXPECT_EQ(json[1 - i1]["escalated"], false);
  EXPECT_TRUE(json[1 - i1]["escalation_wait_seconds"].is_null());
  // The API's text, written row by row, is the same document.
  EXPECT_EQ(questionsJsonText(r, cfg_, clock_.now()), json.dump());
  EXPECT_EQ(questionsJsonText(QuestionRows{}, cfg_, clock_.now()), "[]");

  // Phases of c1: before 600, relay 600..2400 + 3000..3600 = 2400, after 600; c2 direct.
  const std::string text = metricsText();
  const std::string agency = R"(account="acme",route="agency")";
  EXPECT_EQ(agencyPhase(text, "before_escalation"), 600);
  EXPECT_EQ(agencyPhase(text, "relay"), 2400);
  EXPECT_EQ(agencyPhase(text, "after_relay"), 600);
  EXPECT_EQ(agencyPhase(text, "direct"), 600);
  EXPECT_EQ(sample(text, R"(replywatch_wait_seconds_total{account="acme",route="internal",phase="direct"})"),
            0);
  EXPECT_EQ(sample(text, "replywatch_escalations_total{" + agency + "}"), 5);
  EXPECT_EQ(sample(text, R"(replywatch_escalations_total{account="acme",route="internal"})"), 0);
  EXPECT_EQ(sample(text, "replywatch_escalation_wait_seconds_count{" + agency + "}"), 5);
  // Waits 1200, 1200, 1200, 1000, 4200 seconds.
  EXPECT_EQ(sample(text, "replywatch_escalation_wait_seconds_sum{" + agency + "}"), 8800);
  EXPECT_EQ(sample(text, "replywatch_escalation_wait_seconds_bucket{" + agency + R"(,le="1800"})"), 4);

  // A restart rebuilds the same figures from the store.
  pipeline_ = std::make_unique<Pipeline>(cfg_, clock_, *store_);
  ASSERT_TRUE(pipeline_->restore().ok());
  EXPECT_EQ(metricsText(), text);
}

TEST_F(RelayPipelineTest, UnknownRefIsLinkedWhenTheQuestionArrives) {
  escalations({esc("e1", "q9", 100, 400)});
  EXPECT_EQ(sample(metricsText(), R"(replywatch_escalations_total{account="acme",route="agency"})"), 0);
  messages({msg("q9", "c9", 0)});
  auto r = rows();
  ASSERT_EQ(r.turns.size(), 1U);
  ASSERT_EQ(r.escalations[0].size(), 1U);
  // Open turn: measured up to now.
  auto cols = escalationColumns(r.turns[0], r.escalations[0], clock_.now());
  EXPECT_TRUE(cols.escalated);
  EXPECT_EQ(cols.escalation_wait, std::chrono::seconds{300});
  std::string text = metricsText();
  EXPECT_EQ(sample(text, R"(replywatch_escalations_total{account="acme",route="agency"})"), 1);
  EXPECT_EQ(agencyPhase(text, "relay"), 0);
  // The answer arrives: the phase split follows.
  messages({msg("a9", "c9", 1000, true)});
  text = metricsText();
  EXPECT_EQ(agencyPhase(text, "before_escalation"), 100);
  EXPECT_EQ(agencyPhase(text, "relay"), 300);
  EXPECT_EQ(agencyPhase(text, "after_relay"), 600);
}

// In a load into an empty store, whose commits run behind on the bulk writer, an
// escalation record links to a question of the load as outside a load; once one is
// stored, the load's commits link the records of the questions they bring.
TEST_F(RelayPipelineTest, EscalationsDuringABulkLoadIntoAnEmptyStoreLinkAsOutsideOne) {
  ASSERT_TRUE(pipeline_->beginBulkLoad().ok());
  messages({msg("q1", "c1", 0), msg("a1", "c1", 3600, true)});
  EXPECT_EQ(escalations({esc("e1", "q1", 100, 400), esc("e9", "q9", 100, 400)}).stored, 2U);
  messages({msg("q9", "c9", 0)});
  messages({msg("a9", "c9", 1000, true)});
  ASSERT_TRUE(pipeline_->endBulkLoad().ok());
  auto r = rows();
  ASSERT_EQ(r.turns.size(), 2U);
  EXPECT_EQ(r.escalations[0].size(), 1U);
  EXPECT_EQ(r.escalations[1].size(), 1U);
  const std::string text = metricsText();
  EXPECT_EQ(sample(text, R"(replywatch_escalations_total{account="acme",route="agency"})"), 2);
  EXPECT_EQ(agencyPhase(text, "before_escalation"), 200);
  EXPECT_EQ(agencyPhase(text, "relay"), 600);
  EXPECT_EQ(agencyPhase(text, "after_relay"), 3800);
}

TEST_F(RelayPipelineTest, RouteComesFromTheRequestingHandler) {
  messages({msg("q1", "c1", 0)});
  escalations({esc("by-staff", "q1", 10, 20, "support"), esc("by-nobody", "q1", 10, 20, "who")});
  const std::string text = metricsText();
  EXPECT_EQ(sample(text, R"(replywatch_escalations_total{account="acme",route="internal"})"), 1);
  EXPECT_EQ(sample(text, R"(replywatch_escalations_total{account="acme",route="unknown"})"), 1);
}

TEST_F(RelayPipelineTest, UpdatesAreIdempotentUpserts) {
  messages({msg("q1", "c1", 0), msg("a1", "c1", 3600, true)});
  EXPECT_EQ(escalations({esc("e1", "q1", 600, std::nullopt)}).stored, 1U);
  auto again = escalations({esc("e1", "q1", 600, std::nullopt)});
  EXPECT_EQ(again.stored, 0U);
  EXPECT_EQ(again.duplicates, 1U);
  // Pending relay: counted as waiting up to the reply.
  auto r = rows();
  EXPECT_EQ(escalationColumns(r.turns[0], r.escalations[0], clock_.now()).escalation_wait,
            std::chrono::seconds{3000});
  EXPECT_EQ(escalations({esc("e1", "q1", 600, 1200)}).stored, 1U);
  r = rows();
  EXPECT_EQ(escalationColumns(r.turns[0], r.escalations[0], clock_.now()).escalation_wait,
            std::chrono::seconds{600});
  EXPECT_EQ(
      sample(metricsText(), R"(replywatch_escalation_wait_seconds_count{account="acme",route="agency"})"), 1);
}

// Pruning removes records from the store and the book, not from the relay counters.
TEST_F(RelayPipelineTest, PruningKeepsWhatThePrunedRecordsCounted) {
  messages({msg("q1", "c1", 0), msg("a1", "c1", 3600, true), msg("q2", "c2", 50000),
            msg("a2", "c2", 51000, true)});
  escalations({esc("old", "q1", 600, 1800), esc("new", "q2", 50100, 50400)});
  const std::string agency = R"(account="acme",route="agency")";
  const std::vector<std::string> series = {
      "replywatch_escalations_total{" + agency + "}",
      "replywatch_escalation_wait_seconds_count{" + agency + "}",
      "replywatch_escalation_wait_seconds_sum{" + agency + "}",
      "replywatch_escalation_wait_seconds_bucket{" + agency + R"(,le="600"})",
      "replywatch_escalation_wait_seconds_bucket{" + agency + R"(,le="1800"})",
      "replywatch_wait_seconds_total{" + agency + R"(,phase="before_escalation"})",
      "replywatch_wait_seconds_total{" + agency + R"(,phase="relay"})",
      "replywatch_wait_seconds_total{" + agency + R"(,phase="after_relay"})",
      "replywatch_wait_seconds_total{" + agency + R"(,phase="direct"})",
  };
  const std::string before = metricsText();
  EXPECT_EQ(sample(before, series[0]), 2);
  EXPECT_EQ(sample(before, series[2]), 1200 + 300);
  EXPECT_EQ(sample(before, series[6]), 1200 + 300);

  // Conversation c1 and its record go; c2 and its record stay.
  auto pruned = pipeline_->prune(t(40000));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 2U);
  EXPECT_EQ(rows().turns.size(), 1U);
  EXPECT_EQ(pipeline_->held().escalation_records, 1U);
  const std::string after = metricsText();
  for (const std::string& s : series) EXPECT_EQ(sample(after, s), sample(before, s)) << s;

  // New records add to the kept counts, and a second pruning keeps both.
  messages({msg("q3", "c3", 60000), msg("a3", "c3", 62000, true)});
  escalations({esc("third", "q3", 60500, 61000)});
  EXPECT_EQ(sample(metricsText(), series[0]), 3);
  ASSERT_TRUE(pipeline_->prune(t(70000)).ok());
  EXPECT_EQ(pipeline_->held().escalation_records, 0U);
  const std::string last = metricsText();
  EXPECT_EQ(sample(last, series[0]), 3);
  EXPECT_EQ(sample(last, series[2]), 1200 + 300 + 500);
  EXPECT_EQ(sample(last, series[6]), 1200 + 300 + 500);
}

}  // namespace
}  // namespace replywatch::app
