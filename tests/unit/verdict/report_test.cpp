// The report in JSON, Markdown and HTML, in English and French, and the verdict metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "daemon/verdict/report.h"

namespace replywatch::verdict {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const Timestamp kUntil = *parseRfc3339("2026-11-23T12:00:00Z");
const Timestamp kFrom = kUntil - std::chrono::hours{28 * 24};

AccountVerdict sample() {
  config::AccountConfig account;
  account.name = "acme-fr";
  account.timezone = "Europe/Paris";
  account.cost.agency_per_month = 4500;
  account.cost.inhouse_per_month = 6200;
  std::vector<TurnFact> facts;
  for (int i = 0; i < 80; ++i) {
    Turn t;
    t.account = "acme-fr";
    t.source = "s";
    t.question_id = "q" + std::to_string(i);
    t.asked_at = kFrom + std::chrono::hours{7 * i};
    t.answered_at = t.asked_at + std::chrono::minutes{i % 4 == 0 ? 150 : 20};
    t.route = i % 2 == 0 ? Route::Agency : Route::Internal;
    std::vector<tracker::EscalationLeg> legs;
    if (i % 4 == 0)
      legs.push_back({t.asked_at + std::chrono::minutes{10}, t.asked_at + std::chrono::minutes{100}});
    facts.push_back({t, tracker::decomposeWait(t.asked_at, t.answered_at, legs, kUntil)});
  }
  return evaluate(facts, account, {}, kFrom, kUntil);
}

TEST(Report, JsonCarriesFiguresVerdictAndBothLanguages) {
  auto a = sample();
  auto j = nlohmann::json::parse(renderReportJson({a}, kUntil));
  const auto& acc = j["accounts"][0];
  EXPECT_EQ(acc["account"], "acme-fr");
  EXPECT_EQ(acc["verdict"], std::string(toString(a.verdict)));
  EXPECT_EQ(acc["routes"]["agency"]["judged"], 40);
  EXPECT_EQ(acc["routes"]["agency"]["late"], 20);
  EXPECT_EQ(acc["routes"]["agency"]["hour_of_week"]["judged"].size(), 168u);
  EXPECT_DOUBLE_EQ(acc["relay_share"].get<double>(), *a.relay_share);
  EXPECT_EQ(acc["cost"]["currency"], "EUR");
  ASSERT_FALSE(acc["reasons"].empty());
  EXPECT_EQ(acc["reasons"][0]["text"]["fr"], sentence(a.reasons[0], Language::French));
  EXPECT_EQ(acc["reasons"][0]["text"]["en"], sentence(a.reasons[0], Language::English));
}

TEST(Report, MarkdownInEnglishAndFrench) {
  auto a = sample();
  auto en = renderReportMarkdown({a}, Language::English, kUntil);
  auto fr = renderReportMarkdown({a}, Language::French, kUntil);
  EXPECT_THAT(en, HasSubstr("# Community reactivity: make or buy"));
  EXPECT_THAT(en, HasSubstr("| Late ratio | 0.0% | 50.0% |"));
  EXPECT_THAT(en, HasSubstr(sentence(a.reasons[0], Language::English)));
  EXPECT_THAT(fr, HasSubstr("# Réactivité communautaire : internaliser ou externaliser"));
  EXPECT_THAT(fr, HasSubstr("| Taux de retard | 0,0\u00a0% | 50,0\u00a0% |"));
  EXPECT_THAT(fr, HasSubstr(sentence(a.reasons[0], Language::French)));
  EXPECT_THAT(fr, Not(HasSubstr("Late ratio")));
}

TEST(Report, HtmlIsSelfContainedWithCharts) {
  auto a = sample();
  for (auto lang : {Language::English, Language::French}) {
    auto html = renderReportHtml({a}, lang, kUntil);
    EXPECT_THAT(html, HasSubstr(lang == Language::French ? "<html lang=\"fr\">" : "<html lang=\"en\">"));
    EXPECT_THAT(html, Not(HasSubstr("<script")));
    EXPECT_THAT(html, Not(HasSubstr("<link")));
    EXPECT_THAT(html, Not(HasSubstr("src=")));
    std::size_t charts = 0;
    for (auto pos = html.find("<svg class=\"chart\""); pos != std::string::npos;
         pos = html.find("<svg class=\"chart\"", pos + 1)) {
      ++charts;
    }
    EXPECT_EQ(charts, 6u);  // distribution, weeks, two heatmaps, phases, cost
    EXPECT_THAT(html, HasSubstr(lang == Language::French ? "Attente d'un relais interne"
                                                         : "Waiting for an internal relay"));
    // The wait distribution's axis labels are escaped: the SVG stays well-formed XML.
    EXPECT_THAT(html, HasSubstr("class=\"axis\">&lt;5 min</text>"));
    EXPECT_THAT(html, HasSubstr("class=\"axis\">&gt;24 h</text>"));
    EXPECT_THAT(html, Not(HasSubstr(">5 min</text>")));
    EXPECT_THAT(html, Not(HasSubstr("<5 min")));
  }
}

// 60 agency questions of which 20 nobody answered, and 5 internal answers.
AccountVerdict ghost() {
  config::AccountConfig account;
  account.name = "ghost";
  account.timezone = "Europe/Paris";
  std::vector<TurnFact> facts;
  for (int i = 0; i < 65; ++i) {
    Turn t;
    t.account = "ghost";
    t.source = "s";
    t.question_id = "q" + std::to_string(i);
    t.asked_at = kFrom + std::chrono::hours{7 * i};
    if (i % 3 != 2 || i >= 60) {
      t.answered_at = t.asked_at + std::chrono::minutes{5};
      t.route = i < 60 ? Route::Agency : Route::Internal;
    }
    facts.push_back({t, tracker::decomposeWait(t.asked_at, t.answered_at, {}, kUntil)});
  }
  return evaluate(facts, account, {}, kFrom, kUntil);
}

TEST(Report, UnansweredQuestionsPerRouteInEveryPresentation) {
  auto a = ghost();
  ASSERT_EQ(a.routes.at(Route::Agency).unanswered, 20u);
  auto j = nlohmann::json::parse(renderReportJson({a}, kUntil));
  const auto& acc = j["accounts"][0];
  EXPECT_EQ(acc["routes"]["agency"]["unanswered"], 20);
  EXPECT_EQ(acc["routes"]["agency"]["judged"], 60);
  EXPECT_EQ(acc["routes"]["internal"]["unanswered"], 0);
  EXPECT_EQ(acc["all"]["unanswered"], 20);
  EXPECT_THAT(renderReportMarkdown({a}, Language::English, kUntil),
              HasSubstr("| Judged, left unanswered | 0 | 20 | 0 | 20 |\n"));
  EXPECT_THAT(renderReportMarkdown({a}, Language::French, kUntil),
              HasSubstr("| Jugées, restées sans réponse | 0 | 20 | 0 | 20 |\n"));
  EXPECT_THAT(
      renderReportHtml({a}, Language::English, kUntil),
      HasSubstr("<tr><th>Judged, left unanswered</th><td>0</td><td>20</td><td>0</td><td>20</td></tr>"));
  Snapshot s;
  s.evaluated_at = kUntil;
  s.accounts.push_back(a);
  const auto text = renderMetrics(&s);
  EXPECT_THAT(text, HasSubstr("replywatch_window_unanswered_turns{account=\"ghost\",route=\"agency\"} 20\n"));
  EXPECT_THAT(text, HasSubstr("replywatch_window_unanswered_turns{account=\"ghost\",route=\"unknown\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("replywatch_window_late_ratio{account=\"ghost\",route=\"agency\"} "
                              "0.3333333333333333\n"));
}

TEST(Report, AWindowNotOverYetSaysWhenItsFiguresStop) {
  config::AccountConfig account;
  account.name = "acme-fr";
  const Timestamp now = kUntil - std::chrono::hours{24};
  auto open = evaluate({}, account, {}, kFrom, kUntil, now);
  auto j = nlohmann::json::parse(renderReportJson({open}, now));
  EXPECT_EQ(j["accounts"][0]["window"]["until"], "2026-11-23T12:00:00Z");
  EXPECT_EQ(j["accounts"][0]["window"]["judged_at"], "2026-11-22T12:00:00Z");
  EXPECT_THAT(
      renderReportMarkdown({open}, Language::English, now),
      HasSubstr("to 2026-11-23T12:00:00Z (figures as of 2026-11-22T12:00:00Z; the window is not over)"));
  EXPECT_THAT(renderReportMarkdown({open}, Language::French, now),
              HasSubstr("au 2026-11-23T12:00:00Z (chiffres arrêtés au 2026-11-22T12:00:00Z ; la période "
                        "n'est pas terminée)"));
  EXPECT_THAT(renderReportHtml({open}, Language::English, now),
              HasSubstr("(figures as of 2026-11-22 12:00 UTC; the window is not over)"));
  auto over = evaluate({}, account, {}, kFrom, kUntil);
  EXPECT_EQ(nlohmann::json::parse(renderReportJson({over}, kUntil))["accounts"][0]["window"]["judged_at"],
            "2026-11-23T12:00:00Z");
  EXPECT_THAT(renderReportMarkdown({over}, Language::English, kUntil), Not(HasSubstr("figures as of")));
}

TEST(Report, MetricsExposition) {
  EXPECT_EQ(renderMetrics(nullptr),
            "# HELP replywatch_verdict_last_evaluation_timestamp_seconds Unix time of the last verdict "
            "evaluation; 0 "
            "before the first.\n# TYPE replywatch_verdict_last_evaluation_timestamp_seconds gauge\n"
            "replywatch_verdict_last_evaluation_timestamp_seconds 0\n");
  Snapshot s;
  s.evaluated_at = kUntil;
  s.accounts.push_back(sample());
  auto text = renderMetrics(&s);
  const std::string v(toString(s.accounts[0].verdict));
  EXPECT_THAT(text, HasSubstr("replywatch_verdict{account=\"acme-fr\",verdict=\"" + v + "\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("replywatch_window_turns{account=\"acme-fr\",route=\"agency\"} 40\n"));
  EXPECT_THAT(text, HasSubstr("replywatch_window_late_ratio{account=\"acme-fr\",route=\"agency\"} 0.5\n"));
  EXPECT_THAT(text, HasSubstr("replywatch_window_hour_of_week_turns{account=\"acme-fr\",route=\"agency\",day="
                              "\"mon\",hour=\"00\"}"));
  EXPECT_THAT(text, HasSubstr("replywatch_window_cost_per_ontime_answer{account=\"acme-fr\",route="
                              "\"internal\",currency=\"EUR\"}"));
  EXPECT_THAT(text, HasSubstr("replywatch_verdict_last_evaluation_timestamp_seconds 1795435200\n"));
  EXPECT_THAT(text, Not(HasSubstr("route=\"unknown\"} nan")));
}

}  // namespace
}  // namespace replywatch::verdict
