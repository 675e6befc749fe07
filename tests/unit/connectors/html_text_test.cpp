#include <gtest/gtest.h>

#include "connectors/common/html_text.h"

namespace replywatch::connectors {
namespace {

TEST(HtmlText, MastodonMentionAndParagraphs) {
  // The content of the recorded reply (tests/fixtures/mastodon/status_reply.json).
  EXPECT_EQ(
      htmlToText(
          "<p><span class=\"h-card\" translate=\"no\"><a href=\"http://localhost:3000/@mastodonpy_test_2\" "
          "class=\"u-url mention\">@<span>mastodonpy_test_2</span></a></span> same!</p>"),
      "@mastodonpy_test_2 same!");
  EXPECT_EQ(htmlToText("<p>Bonjour,</p><p>une question&#160;?<br>Merci</p>"),
            "Bonjour,\nune question ?\nMerci");
  EXPECT_EQ(htmlToText("<p>Toot, finally!</p>"), "Toot, finally!");
}

TEST(HtmlText, CharacterReferences) {
  EXPECT_EQ(htmlToText("a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#x27; &nbsp;f"), "a & b <c> \"d\" 'e' f");
  EXPECT_EQ(htmlToText("&#233;t&#xE9; &euro; &hellip;"), "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xE2\x80\xA6");
  // Unknown or broken references stay as written; invalid code points become U+FFFD.
  EXPECT_EQ(htmlToText("&bogus; &amp &#xZZ; &#1114112;"), "&bogus; &amp &#xZZ; \xEF\xBF\xBD");
  EXPECT_EQ(htmlToText("&#0;"), "\xEF\xBF\xBD");
  // A ';' further than a reference can be long ends none: the text stays as it is.
  EXPECT_EQ(htmlToText("&abcdefghijk; &#111411100;"), "&abcdefghijk; &#111411100;");
  EXPECT_EQ(htmlToText("&#x1F642;"), "\xF0\x9F\x99\x82");
  // Many '&' without a ';' near them are kept, each looked at once.
  const std::string ampersands(100'000, '&');
  EXPECT_EQ(htmlToText(ampersands + ";"), ampersands + ";");
}

TEST(HtmlText, ScriptsStylesAndMalformedMarkup) {
  EXPECT_EQ(htmlToText("<p>a</p><script>alert('?')</script><style>p{}</style><p>b</p>"), "a\nb");
  EXPECT_EQ(htmlToText("<SCRIPT>x</SCRIPT>y"), "y");
  EXPECT_EQ(htmlToText("<script>never closed"), "");
  EXPECT_EQ(htmlToText("before <a href=\"x"), "before");
  EXPECT_EQ(htmlToText("  spaced \t out  "), "spaced out");
  EXPECT_EQ(htmlToText(""), "");
  EXPECT_EQ(htmlToText("no markup?"), "no markup?");
}

}  // namespace
}  // namespace replywatch::connectors
