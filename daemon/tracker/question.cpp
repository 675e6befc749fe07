// FR/EN heuristic deciding whether an inbound message asks for something
// (`count: questions`).
//
// The text is lower-cased (ASCII and the Latin-1 accented capitals), typographic
// apostrophes, non-breaking spaces and the full-width question mark are folded, URLs and
// @mentions are removed and whitespace is collapsed. It is a question when it contains a
// '?', when a clause starts with an interrogative opening (optionally after a greeting),
// or when it contains a request-for-help phrase anywhere (on word boundaries).
#include <array>
#include <string>
#include <string_view>

#include "daemon/tracker/tracker.h"

namespace replywatch::tracker {
namespace {

// Interrogative openings, matched at the start of a clause.
constexpr std::string_view kOpenings[] = {
    // English
    "how", "what", "what's", "whats", "why", "when", "where", "where's", "who", "who's", "whom", "whose",
    "which", "can", "could", "is", "are", "am", "do", "does", "did", "will", "would", "should", "shall",
    "may", "might", "has", "have", "was", "were", "any", "anyone", "anybody", "is there", "are there",
    // French (accented and unaccented spellings)
    "comment", "pourquoi", "quand", "où", "ou est", "ou sont", "ou se", "ou puis", "qui", "quel", "quelle",
    "quels", "quelles", "combien", "est-ce que", "est-ce qu'", "est ce que", "est ce qu'", "qu'est-ce",
    "qu'est ce", "pouvez-vous", "pouvez vous", "pourriez-vous", "pourriez vous", "peut-on", "peut on",
    "puis-je", "puis je", "avez-vous", "avez vous", "y a-t-il", "y-a-t-il", "y a t il", "savez-vous",
    "savez vous", "sauriez-vous", "peux-tu", "peux tu", "pourrais-tu", "pourrais tu", "as-tu", "sais-tu",
    "est-il", "est-elle", "faut-il", "dois-je", "doit-on", "vais-je", "auriez-vous", "êtes-vous", "etes-vous",
    "c'est quand", "c'est où", "c'est combien", "à quelle", "a quelle", "de quel", "de quelle", "pour quand"};

// Requests for help, matched anywhere on word boundaries.
constexpr std::string_view kHelpPhrases[] = {
    // English
    "help", "please", "pls", "plz", "issue", "issues", "problem", "problems", "not working", "doesn't work",
    "does not work", "isn't working", "stopped working", "won't work", "broken", "refund", "bug", "error",
    "unable to", "can't log", "cannot log", "still waiting", "no answer", "no reply", "any update",
    "complaint", "assist", "support",
    // French
    "aide", "aider", "aidez", "svp", "stp", "s'il vous plaît", "s'il vous plait", "s'il te plaît",
    "s'il te plait", "problème", "probleme", "problèmes", "problemes", "ne marche pas", "ne marche plus",
    "ne fonctionne pas", "ne fonctionne plus", "marche pas", "fonctionne pas", "remboursement", "rembourser",
    "remboursez", "panne", "bloqué", "bloquée", "erreur", "impossible de", "toujours pas", "pas de réponse",
    "pas de reponse", "réclamation", "reclamation"};

constexpr std::string_view kGreetings[] = {"hi",    "hello",   "hey",    "bonjour",
                                           "salut", "bonsoir", "coucou", "hola"};

bool isWordByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u >= 0x80 || c == '\'';
}

// Lower-cases and folds the text (see the file comment).
std::string fold(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c + 32));
    } else if (c == 0xC3 && i + 1 < text.size()) {
      auto d = static_cast<unsigned char>(text[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) d = static_cast<unsigned char>(d + 0x20);  // À..Þ -> à..þ
      out.push_back(static_cast<char>(c));
      out.push_back(static_cast<char>(d));
      ++i;
    } else if (c == 0xC5 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x92) {
      out.append("\xC5\x93");  // Œ -> œ
      ++i;
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA0) {
      out.push_back(' ');  // no-break space
      ++i;
    } else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80) {
      auto e = static_cast<unsigned char>(text[i + 2]);
      if (e == 0x98 || e == 0x99) {
        out.push_back('\'');  // ‘ ’
      } else if (e == 0xAF || e == 0x89) {
        out.push_back(' ');  // narrow no-break space, thin space
      } else {
        out.append(text.substr(i, 3));
      }
      i += 2;
    } else if (c == 0xEF && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xBC &&
               static_cast<unsigned char>(text[i + 2]) == 0x9F) {
      out.push_back('?');  // full-width question mark
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Drops URLs and @mentions and collapses whitespace into single spaces.
std::string stripNoise(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (isSpace(s[i])) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !isSpace(s[j])) ++j;
    std::string_view token(s.data() + i, j - i);
    bool noise = token.starts_with("http://") || token.starts_with("https://") || token.starts_with("www.") ||
                 (token.size() > 1 && token[0] == '@');
    if (!noise) out.append(token);
    i = j;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// `phrase` occurs at `pos` of `s` on word boundaries.
bool matchesAt(std::string_view s, std::size_t pos, std::string_view phrase) {
  if (s.substr(pos, phrase.size()) != phrase) return false;
  if (pos > 0 && isWordByte(s[pos - 1]) && isWordByte(phrase.front())) return false;
  std::size_t end = pos + phrase.size();
  if (end < s.size() && isWordByte(s[end]) && isWordByte(phrase.back()) && phrase.back() != '\'')
    return false;
  return true;
}

bool containsPhrase(std::string_view s, std::string_view phrase) {
  for (std::size_t pos = s.find(phrase); pos != std::string_view::npos; pos = s.find(phrase, pos + 1)) {
    if (matchesAt(s, pos, phrase)) return true;
  }
  return false;
}

bool opensQuestion(std::string_view s, std::size_t pos) {
  for (std::string_view o : kOpenings) {
    if (matchesAt(s, pos, o)) return true;
  }
  return false;
}

bool isClausePunct(char c) {
  return c == '.' || c == '!' || c == ',' || c == ';' || c == ':' || c == '(' || c == ')' || c == '"' ||
         c == '-';
}

}  // namespace

bool looksLikeQuestion(std::string_view text) {
  std::string s = stripNoise(fold(text));
  if (s.empty()) return false;
  if (s.find('?') != std::string::npos) return true;
  for (std::string_view p : kHelpPhrases) {
    if (containsPhrase(s, p)) return true;
  }
  // Clause starts: the beginning of the text and after clause punctuation.
  std::size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && (s[pos] == ' ' || isClausePunct(s[pos]))) ++pos;
    if (pos >= s.size()) break;
    if (opensQuestion(s, pos)) return true;
    for (std::string_view g : kGreetings) {
      if (matchesAt(s, pos, g)) {
        std::size_t after = pos + g.size();
        while (after < s.size() && (s[after] == ' ' || isClausePunct(s[after]))) ++after;
        if (after < s.size() && opensQuestion(s, after)) return true;
      }
    }
    while (pos < s.size() && !isClausePunct(s[pos])) ++pos;
  }
  return false;
}

}  // namespace replywatch::tracker
