#include <gtest/gtest.h>

#include <string>

#include "daemon/config/config.h"
#include "daemon/tracker/tracker.h"
#include "tests/unit/tracker/tracker_test_util.h"

namespace replywatch::tracker {
namespace {

config::HandlerConfig handler(std::string name, Route route, std::vector<std::string> ids,
                              std::string pattern = "", std::vector<std::string> accounts = {}) {
  config::HandlerConfig h;
  h.name = std::move(name);
  h.route = route;
  h.responder_ids = std::move(ids);
  h.text_pattern = std::move(pattern);
  h.accounts = std::move(accounts);
  return h;
}

class ClassifierTest : public ::testing::Test {
 protected:
  ClassifierTest() {
    config::AccountConfig acme;
    acme.name = "acme";
    acme.ignored_authors = {"bot1", "AutoReply"};
    acme.brand_ids = {"acme_fr"};
    config::AccountConfig quiet;
    quiet.name = "quiet";
    quiet.count = config::CountMode::Questions;
    cfg_.accounts = {acme, quiet};
    cfg_.handlers = {handler("agency-signature", Route::Agency, {}, R"(\^AB\b)"),
                     handler("other-only", Route::Internal, {"1002"}, "", {"quiet"}),
                     handler("care-team", Route::Internal, {"1001", "alice"}),
                     handler("agency-team", Route::Agency, {"1002"}),
                     handler("broken-regex", Route::Agency, {}, "(unclosed")};
    src_.name = "acme-x";
    src_.account = "acme";
    src_.channel = "x";
    quiet_src_.name = "quiet-fb";
    quiet_src_.account = "quiet";
    quiet_src_.channel = "facebook";
  }

  static Message message(std::string author_id, std::string author_name, bool brand, std::string text) {
    Message m;
    m.id = "m1";
    m.conversation_id = "c1";
    m.in_reply_to = "p0";
    m.author_id = std::move(author_id);
    m.author_name = std::move(author_name);
    m.author_is_brand = brand;
    m.created_at = testing::at(5);
    m.text = std::move(text);
    return m;
  }

  config::Config cfg_;
  config::SourceConfig src_;
  config::SourceConfig quiet_src_;
};

TEST_F(ClassifierTest, CopiesMessageFields) {
  Classifier c(cfg_);
  MessageRecord r = c.classify(src_, message("u1", "bob", false, "hello"));
  EXPECT_EQ(r.source, "acme-x");
  EXPECT_EQ(r.account, "acme");
  EXPECT_EQ(r.channel, "x");
  EXPECT_EQ(r.id, "m1");
  EXPECT_EQ(r.conversation_id, "c1");
  EXPECT_EQ(r.in_reply_to, "p0");
  EXPECT_EQ(r.created_at, testing::at(5));
  EXPECT_EQ(r.role, Role::Question);  // count: all
  EXPECT_TRUE(r.responder.empty());
}

TEST_F(ClassifierTest, IgnoredAuthorsByIdOrName) {
  Classifier c(cfg_);
  EXPECT_EQ(c.classify(src_, message("bot1", "", false, "hi?")).role, Role::Ignored);
  EXPECT_EQ(c.classify(src_, message("42", "AutoReply", false, "hi?")).role, Role::Ignored);
  EXPECT_EQ(c.classify(src_, message("42", "autoreply", false, "hi?")).role, Role::Question);  // exact match
  // Ignored wins over brand.
  EXPECT_EQ(c.classify(src_, message("bot1", "", true, "hi")).role, Role::Ignored);
}

TEST_F(ClassifierTest, BrandIdsMakeBrandMessages) {
  Classifier c(cfg_);
  MessageRecord by_id = c.classify(src_, message("acme_fr", "", false, "Bonjour"));
  EXPECT_EQ(by_id.role, Role::Brand);
  EXPECT_EQ(by_id.responder, "acme_fr");
  MessageRecord by_name = c.classify(src_, message("", "acme_fr", false, "Bonjour"));
  EXPECT_EQ(by_name.role, Role::Brand);
  EXPECT_EQ(by_name.responder, "acme_fr");  // no id: the name
  EXPECT_EQ(c.classify(src_, message("x", "y", true, "t")).role, Role::Brand);
}

TEST_F(ClassifierTest, HandlerRules) {
  Classifier c(cfg_);
  // Regex first in config order: wins over the responder id rule.
  MessageRecord sig = c.classify(src_, message("1001", "", true, "On it! ^AB"));
  EXPECT_EQ(sig.handler, "agency-signature");
  EXPECT_EQ(sig.route, Route::Agency);
  EXPECT_EQ(sig.responder, "1001");
  // Responder id.
  MessageRecord id = c.classify(src_, message("1001", "", true, "On it"));
  EXPECT_EQ(id.handler, "care-team");
  EXPECT_EQ(id.route, Route::Internal);
  // Responder name.
  EXPECT_EQ(c.classify(src_, message("777", "alice", true, "ok")).handler, "care-team");
  // Account scoping: "other-only" applies to quiet only.
  EXPECT_EQ(c.classify(src_, message("1002", "", true, "ok")).handler, "agency-team");
  EXPECT_EQ(c.classify(quiet_src_, message("1002", "", true, "ok")).handler, "other-only");
  // Signature needs a word boundary; no rule matches.
  MessageRecord none = c.classify(src_, message("555", "carol", true, "^ABC"));
  EXPECT_EQ(none.role, Role::Brand);
  EXPECT_EQ(none.handler, "unknown");
  EXPECT_EQ(none.route, Route::Unknown);
  EXPECT_EQ(none.responder, "555");
}

TEST_F(ClassifierTest, HugeTextIsHandled) {
  Classifier c(cfg_);
  std::string text(4 << 20, 'a');
  text += " ^AB";
  EXPECT_EQ(c.classify(src_, message("9", "", true, text)).handler, "agency-signature");
}

TEST_F(ClassifierTest, CountQuestions) {
  Classifier c(cfg_);
  EXPECT_EQ(c.classify(quiet_src_, message("u", "", false, "Comment faire ?")).role, Role::Question);
  EXPECT_EQ(c.classify(quiet_src_, message("u", "", false, "Merci beaucoup")).role, Role::Inbound);
  EXPECT_EQ(c.classify(src_, message("u", "", false, "Merci beaucoup")).role, Role::Question);
}

TEST_F(ClassifierTest, UnknownAccountUsesDefaults) {
  Classifier c(cfg_);
  config::SourceConfig s;
  s.name = "s";
  s.account = "nobody";
  s.channel = "x";
  EXPECT_EQ(c.classify(s, message("bot1", "", false, "thanks")).role, Role::Question);
  MessageRecord b = c.classify(s, message("1001", "", true, "ok"));
  EXPECT_EQ(b.handler, "care-team");  // handlers without `accounts` apply everywhere
}

struct QuestionCase {
  const char* text;
  bool expected;
};

TEST(LooksLikeQuestion, Table) {
  const QuestionCase cases[] = {
      // English, positive
      {"Where is my order?", true},
      {"where is my order", true},
      {"How do I reset my password", true},
      {"Why was I charged twice", true},
      {"Can you check my account", true},
      {"Is the store open today", true},
      {"Does this work with Android", true},
      {"Hi, any news about my parcel", true},
      {"hello what time do you close", true},
      {"My app is not working since the update", true},
      {"I need help with my bill", true},
      {"I want a refund.", true},
      {"Please call me back", true},
      {"@acme_support WHEN will my package arrive", true},
      {"Got an issue with the checkout", true},
      // French, positive
      {"Bonjour, où est ma commande", true},
      {"Ou est mon colis", true},
      {"Comment je fais pour annuler", true},
      {"Pourquoi ma carte est refusée", true},
      {"Quand est-ce que vous livrez", true},
      {"Quelle est la procédure", true},
      {"Combien ça coûte", true},
      {"Est-ce que c'est compatible", true},
      {"Est-ce qu'il y a du stock", true},
      {"Pouvez-vous m'appeler", true},
      {"Pourriez-vous vérifier", true},
      {"Y a-t-il une solution", true},
      {"Savez-vous quand ça revient", true},
      {"Peut-on payer en 3 fois", true},
      {"Puis-je échanger ma taille", true},
      {"Avez-vous reçu mon mail", true},
      {"L'appli ne marche pas depuis hier", true},
      {"Le site ne fonctionne pas", true},
      {"J'ai un PROBLÈME avec ma facture", true},
      {"Aidez moi svp", true},
      {"Remboursement demandé il y a 2 semaines", true},
      {"C'est en panne", true},
      {"Vous livrez le dimanche ?", true},
      {"Vous livrez le dimanche\xC2\xA0?", true},
      {"Vous livrez le dimanche\xEF\xBC\x9F", true},
      {"QUI peut m\xE2\x80\x99"
       "aider",
       true},
      {"\xC3\x80 quelle heure ouvrez-vous", true},
      {"Envoyez-moi la facture s'il vous plaît", true},
      // Negative
      {"Thanks a lot!", false},
      {"Great service, love it", false},
      {"I know what you did", false},
      {"Very helpful, cheers", false},
      {"Merci beaucoup", false},
      {"Bonne journée à vous", false},
      {"J'adore ce produit", false},
      {"Super, c'est réglé", false},
      {"Check https://example.com/faq?id=3", false},
      {"@acme_fr bravo", false},
      {"", false},
      {"   ", false},
      {"Commentaire très sympa", false},
      {"Le debugger est top", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(looksLikeQuestion(c.text), c.expected) << "\"" << c.text << "\"";
  }
}

TEST(LooksLikeQuestion, HugeInputIsFine) {
  std::string text(2 << 20, 'x');
  EXPECT_FALSE(looksLikeQuestion(text));
  text += " help";
  EXPECT_TRUE(looksLikeQuestion(text));
}

TEST_F(ClassifierTest, MessageAccountOverridesTheSourceAccount) {
  Message m = message("1002", "", true, "Réponse");
  m.account = "quiet";
  MessageRecord r = Classifier(cfg_).classify(src_, m);
  EXPECT_EQ(r.account, "quiet");
  EXPECT_EQ(r.handler, "other-only");  // handlers restricted to "quiet" now apply

  Message inbound = message("u1", "", false, "Merci pour tout");
  inbound.account = "quiet";
  EXPECT_EQ(Classifier(cfg_).classify(src_, inbound).role, Role::Inbound);  // quiet counts questions only
}

TEST_F(ClassifierTest, UnconfiguredMessageAccountTakesTheSourceAccountSettings) {
  Message m = message("bot1", "", false, "Hello?");
  m.account = "AppleSupport";
  MessageRecord r = Classifier(cfg_).classify(src_, m);
  EXPECT_EQ(r.account, "AppleSupport");
  EXPECT_EQ(r.role, Role::Ignored);  // acme's ignored authors apply

  Message brand = message("acme_fr", "", false, "Bonjour");
  brand.account = "AppleSupport";
  EXPECT_EQ(Classifier(cfg_).classify(src_, brand).role, Role::Brand);  // acme's brand ids apply
}

// The same with more accounts than are compared one by one (looked up by hash).
TEST_F(ClassifierTest, ManyAccountsAreFoundAsFew) {
  config::Config many = cfg_;
  for (int i = 0; i < 12; ++i) {
    config::AccountConfig a;
    a.name = "extra" + std::to_string(i);
    a.count = i % 2 == 0 ? config::CountMode::Questions : config::CountMode::All;
    many.accounts.push_back(a);
  }
  const Classifier few(cfg_);
  const Classifier lots(many);
  for (const std::string account : {"", "acme", "quiet", "AppleSupport"}) {
    for (const std::string author : {"bot1", "acme_fr", "u1"}) {
      Message m = message(author, "", false, "Merci pour tout");
      m.account = account;
      EXPECT_EQ(lots.classify(src_, m).role, few.classify(src_, m).role) << account << " " << author;
    }
  }
  Message inbound = message("u1", "", false, "Merci pour tout");
  inbound.account = "extra4";  // counts questions only
  EXPECT_EQ(lots.classify(src_, inbound).role, Role::Inbound);
  inbound.account = "extra5";
  EXPECT_EQ(lots.classify(src_, inbound).role, Role::Question);
  inbound.account = "extra99";  // not configured: the source's account, acme, counts all
  EXPECT_EQ(lots.classify(src_, inbound).role, Role::Question);
  Message bot = message("bot1", "", false, "Hello?");
  bot.account = "extra99";
  EXPECT_EQ(lots.classify(src_, bot).role, Role::Ignored);
}

TEST_F(ClassifierTest, RetractionIsRecordedButIgnored) {
  Message m = message("u1", "", false, "Question ?");
  m.id = "m1:removed";
  m.kind = MessageKind::Retraction;
  MessageRecord r = Classifier(cfg_).classify(src_, m);
  EXPECT_EQ(r.role, Role::Ignored);
  EXPECT_EQ(r.id, "m1:removed");
  Message b = message("1001", "", true, "Answer");
  b.kind = MessageKind::Retraction;
  EXPECT_EQ(Classifier(cfg_).classify(src_, b).role, Role::Ignored);
}

}  // namespace
}  // namespace replywatch::tracker
