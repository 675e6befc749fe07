#pragma once
// Words and number formats shared by the Markdown and HTML reports, in English and French.
#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/model.h"
#include "daemon/verdict/verdict.h"

namespace replywatch::verdict::labels {

// The label of `key` (a fixed identifier such as "late_ratio") in `lang`; the key itself
// when unknown.
std::string_view text(std::string_view key, Language lang);
std::string_view routeName(Route route, Language lang);
std::string_view verdictTitle(Verdict v, Language lang);    // "Bring the role in-house"
std::string_view verdictSummary(Verdict v, Language lang);  // one sentence
// "12.5%" / "12,5 %" (with `decimals` decimals); "–" when absent.
std::string percent(std::optional<double> ratio, Language lang, int decimals = 1);
// "45 s", "12 min", "1 h 05", "2 d 3 h"; "–" when absent.
std::string duration(std::optional<double> seconds, Language lang);
// "1,234.50 EUR" / "1 234,50 EUR"; "–" when absent.
std::string money(std::optional<double> amount, const std::string& currency, Language lang);
// A whole number with thousands separators.
std::string integer(std::uint64_t n, Language lang);

}  // namespace replywatch::verdict::labels
