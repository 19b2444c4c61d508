#include "text/bert_unicode.hpp"

#include <algorithm>

namespace amphora::text::bert_unicode {
namespace {

bool in(const CodeRange* ranges, size_t size, char32_t cp) {
  const CodeRange* end = ranges + size;
  const CodeRange* it =
      std::upper_bound(ranges, end, cp, [](char32_t c, const CodeRange& r) { return c < r.first; });
  return it != ranges && cp <= (it - 1)->last;
}

}  // namespace

bool is_punctuation(char32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126))
    return true;
  return in(kPunctuation, kPunctuation_size, cp);
}

bool is_whitespace(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
         in(kSpaceSeparator, kSpaceSeparator_size, cp);
}

bool is_control(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return in(kOther, kOther_size, cp);
}

bool is_cjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool splits_words(char32_t cp) {
  // Cleaning has turned every other space into ' ' and removed the controls; the line and
  // paragraph separators (Zl, Zp) survive it and Python's split() still breaks on them.
  return cp == ' ' || cp == 0x2028 || cp == 0x2029;
}

void fold(char32_t cp, std::u32string& out) {
  if (cp >= 0xAC00 && cp <= 0xD7A3) {  // a Hangul syllable: NFD gives its conjoining jamo
    const char32_t s = cp - 0xAC00;
    out += static_cast<char32_t>(0x1100 + s / 588);
    out += static_cast<char32_t>(0x1161 + (s % 588) / 28);
    if (s % 28 != 0) out += static_cast<char32_t>(0x11A7 + s % 28);
    return;
  }
  if (in(kNonspacingMark, kNonspacingMark_size, cp)) return;
  const FoldRun* end = kFold + kFold_size;
  const FoldRun* it =
      std::upper_bound(kFold, end, cp, [](char32_t c, const FoldRun& r) { return c < r.first; });
  if (it != kFold && cp <= (it - 1)->last) {
    const FoldRun& run = *(it - 1);
    out += static_cast<char32_t>(run.target + run.step * (cp - run.first));
    return;
  }
  for (size_t i = 0; i < kFoldMany_size; ++i) {
    if (kFoldMany[i].cp != cp) continue;
    for (char32_t c : kFoldMany[i].out)
      if (c != 0) out += c;
    return;
  }
  out += cp;
}

}  // namespace amphora::text::bert_unicode
