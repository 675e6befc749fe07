#include <gtest/gtest.h>

#include <sstream>

#include "daemon/simulate/writers.h"

namespace replywatch::simulate {
namespace {

Timestamp at(const char* text) { return *parseRfc3339(text); }

Traffic small() {
  Traffic t;
  t.messages.push_back({"101", "101", "", "u7", "Member 7", false, at("2026-10-01T18:00:00Z"),
                        "@acme_fr Bonjour, \"Orion\", est-il compatible ?"});
  t.messages.push_back({"102", "101", "101", "acme_fr", "Acme France", true, at("2026-10-01T18:20:05Z"),
                        "Oui !\nÀ bientôt -AB"});
  t.escalations.push_back({"R-101", "", "101", at("2026-10-01T18:05:00Z"), "agency-ab", "billing, Paris",
                           at("2026-10-01T18:15:00Z")});
  t.escalations.push_back(
      {"R-103", "acme-fr", "103", at("2026-10-01T19:00:00Z"), "agency-ab", "legal", std::nullopt});
  return t;
}

std::string write(MessageFormat format) {
  std::ostringstream out;
  writeMessages(out, small(), format);
  return out.str();
}

std::string writeRelays(RelayFormat format) {
  std::ostringstream out;
  writeEscalations(out, small(), format);
  return out.str();
}

TEST(SimulateWriters, Jsonl) {
  EXPECT_EQ(
      write(MessageFormat::Jsonl),
      R"({"id":"101","conversation_id":"101","author_id":"u7","author_name":"Member 7","author_is_brand":false,)"
      R"("created_at":"2026-10-01T18:00:00Z","text":"@acme_fr Bonjour, \"Orion\", est-il compatible ?"})"
      "\n"
      R"({"id":"102","conversation_id":"101","in_reply_to":"101","author_id":"acme_fr","author_name":"Acme France",)"
      R"("author_is_brand":true,"created_at":"2026-10-01T18:20:05Z","text":"Oui !\nÀ bientôt -AB"})"
      "\n");
}

TEST(SimulateWriters, Csv) {
  EXPECT_EQ(write(MessageFormat::Csv),
            "created_at,id,conversation_id,in_reply_to,author_id,author_name,author_is_brand,text\n"
            "2026-10-01T18:00:00Z,101,101,,u7,Member 7,false,\"@acme_fr Bonjour, \"\"Orion\"\", est-il "
            "compatible ?\"\n"
            "2026-10-01T18:20:05Z,102,101,101,acme_fr,Acme France,true,\"Oui !\nÀ bientôt -AB\"\n");
}

TEST(SimulateWriters, Twcs) {
  EXPECT_EQ(write(MessageFormat::Twcs),
            "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
            "101,u7,True,Thu Oct 01 18:00:00 +0000 2026,\"@acme_fr Bonjour, \"\"Orion\"\", est-il compatible "
            "?\",102,\n"
            "102,acme_fr,False,Thu Oct 01 18:20:05 +0000 2026,\"Oui !\nÀ bientôt -AB\",,101\n");
}

TEST(SimulateWriters, RelayRecords) {
  EXPECT_EQ(writeRelays(RelayFormat::Csv),
            "id,account,question_ref,requested_at,requested_by,relay,answered_at\n"
            "R-101,,101,2026-10-01T18:05:00Z,agency-ab,\"billing, Paris\",2026-10-01T18:15:00Z\n"
            "R-103,acme-fr,103,2026-10-01T19:00:00Z,agency-ab,legal,\n");
  EXPECT_EQ(
      writeRelays(RelayFormat::Jsonl),
      R"({"id":"R-101","question_ref":"101","requested_at":"2026-10-01T18:05:00Z","requested_by":"agency-ab",)"
      R"("relay":"billing, Paris","answered_at":"2026-10-01T18:15:00Z"})"
      "\n"
      R"({"id":"R-103","account":"acme-fr","question_ref":"103","requested_at":"2026-10-01T19:00:00Z",)"
      R"("requested_by":"agency-ab","relay":"legal"})"
      "\n");
  EXPECT_EQ(
      escalationJson(small().escalations[0], false),
      R"({"id":"R-101","question_ref":"101","requested_at":"2026-10-01T18:05:00Z","requested_by":"agency-ab",)"
      R"("relay":"billing, Paris"})");
}

TEST(SimulateWriters, GeneratedOutputIsPinned) {
  // The first lines for a fixed scenario: the same on every platform and build.
  Scenario s;
  s.seed = 3;
  s.start = at("2026-10-05T00:00:00Z");
  s.days = 2;
  std::ostringstream out;
  writeMessages(out, generate(s, *s.start), MessageFormat::Csv);
  const std::string text = out.str();
  EXPECT_EQ(
      text.substr(0, text.find('\n', text.find('\n', text.find('\n') + 1) + 1) + 1),
      "created_at,id,conversation_id,in_reply_to,author_id,author_name,author_is_brand,text\n"
      "2026-10-05T05:02:20Z,1791158400000000,1791158400000000,,u1409,Member 1409,false,@acme_fr Do you ship "
      "to "
      "Belgium?\n"
      "2026-10-05T07:03:17Z,1791158400000002,1791158400000002,,u312,Member 312,false,\"@acme_fr My package "
      "arrived damaged, what should I do?\"\n");
}

}  // namespace
}  // namespace replywatch::simulate
