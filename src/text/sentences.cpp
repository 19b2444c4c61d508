#include "text/sentences.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "text/utf8.hpp"

namespace amphora::text {
namespace {

// What a few common non-ASCII characters are spoken as.
const std::map<char32_t, std::string>& replacements() {
  static const std::map<char32_t, std::string> table = [] {
    std::map<char32_t, std::string> t = {
        {0x00A0, " "},  {0x2018, "'"},  {0x2019, "'"},   {0x201C, "\""},       {0x201D, "\""},
        {0x2013, ", "}, {0x2014, ", "}, {0x2026, "..."}, {0x00AB, "\""},       {0x00BB, "\""},
        {0x00DF, "ss"}, {0x00E6, "ae"}, {0x00C6, "AE"},  {0x0153, "oe"},       {0x00F1, "n"},
        {0x00D1, "N"},  {0x00E7, "c"},  {0x00C7, "C"},   {0x00A3, " pounds "}, {0x20AC, " euros "}};
    // Latin-1 vowels with accents (grave, acute, circumflex, ...), by base letter.
    const std::pair<char32_t, std::string> runs[] = {
        {0x00E0, "aaaaaa"}, {0x00E8, "eeee"},   {0x00EC, "iiii"}, {0x00F2, "ooooo"},
        {0x00F9, "uuuu"},   {0x00C0, "AAAAAA"}, {0x00C8, "EEEE"}, {0x00CC, "IIII"},
        {0x00D2, "OOOOO"},  {0x00D9, "UUUU"}};
    for (const auto& [first, bases] : runs) {
      for (size_t k = 0; k < bases.size(); ++k) t[first + k] = std::string(1, bases[k]);
    }
    return t;
  }();
  return table;
}

// Abbreviations that a capitalised word or a number usually follows: titles, months.
bool is_title(std::string word) {
  static const std::set<std::string> titles = {
      "mr",  "mrs", "ms",  "dr",   "prof",   "st",  "mt",   "rev", "gen", "capt",
      "lt",  "col", "sgt", "sen",  "rep",    "gov", "pres", "jr",  "sr",  "vs",
      "no",  "fig", "e.g", "i.e",  "approx", "jan", "feb",  "mar", "apr", "jun",
      "jul", "aug", "sep", "sept", "oct",    "nov", "dec"};
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return titles.count(word) > 0;
}

// Whether a sentence ends after `word`, given the word after it.
bool ends_sentence(const std::string& word, const std::string& next) {
  size_t end = word.size();
  while (end > 0 && std::strchr("\"')]", word[end - 1])) --end;
  if (end == 0) return false;
  const char mark = word[end - 1];
  if (mark == '!' || mark == '?') return true;
  if (mark != '.') return false;
  size_t start = 0;
  while (start < end && std::strchr("\"'([", word[start])) ++start;
  const std::string stem = word.substr(start, end - 1 - start);
  if (stem.size() == 1 && std::isalpha(static_cast<unsigned char>(stem[0]))) return false;
  if (is_title(stem)) return false;
  const unsigned char first = next.empty() ? 'A' : static_cast<unsigned char>(next[0]);
  return std::isupper(first) || std::isdigit(first) || std::strchr("\"'([", first);
}

}  // namespace

std::string clean_text(const std::string& text, std::vector<std::string>& warnings) {
  std::string out;
  out.reserve(text.size());
  std::map<std::string, size_t> dropped;
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t length = decode_utf8(text, i, cp);
    if (length == 0) {
      ++dropped["bytes that are not UTF-8"];
      ++i;
      continue;
    }
    i += length;
    if (cp == '\n') {
      out += '\n';
    } else if (cp == '\t' || cp == '\r' || cp == '\f' || cp == '\v') {
      out += ' ';
    } else if (cp >= 0x20 && cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (auto it = replacements().find(cp); it != replacements().end()) {
      out += it->second;
    } else {
      ++dropped[cp < 0x20 || cp == 0x7F
                    ? std::string("control characters")
                    : fmt::format("'{}' (U+{:04X})", text.substr(i - length, length),
                                  static_cast<uint32_t>(cp))];
    }
  }
  for (const auto& [what, count] : dropped) {
    warnings.push_back(fmt::format("{} x {} dropped: flite cannot speak it", count, what));
  }
  return out;
}

std::vector<std::string> split_sentences(const std::string& cleaned) {
  // Words, with a blank line kept as an empty word (a paragraph break).
  std::vector<std::string> words;
  std::istringstream lines(cleaned);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string word;
    bool any = false;
    while (in >> word) {
      for (size_t at = 0; at < word.size(); at += kLongestWord) {
        words.push_back(word.substr(at, kLongestWord));
      }
      any = true;
    }
    if (!any && !words.empty() && !words.back().empty()) words.emplace_back();
  }

  std::vector<std::string> sentences;
  std::string current;
  int count = 0;
  const auto finish = [&] {
    if (!current.empty()) sentences.push_back(current);
    current.clear();
    count = 0;
  };
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.empty()) {
      finish();
      continue;
    }
    current += (current.empty() ? "" : " ") + word;
    ++count;
    const std::string& next = i + 1 < words.size() ? words[i + 1] : std::string();
    const char last = word.back();
    if (ends_sentence(word, next) || count >= kHardWordLimit ||
        (count >= kSoftWordLimit && (last == ',' || last == ';' || last == ':'))) {
      finish();
    }
  }
  finish();
  return sentences;
}

}  // namespace amphora::text
