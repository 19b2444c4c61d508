// The character classes and the case/accent folding of BERT's basic tokenizer, as
// transformers.BertTokenizer gets them from Python's unicodedata. The tables are generated
// (scripts/gen_bert_unicode.py -> bert_unicode_tables.cpp).
#pragma once

#include <cstddef>
#include <string>

namespace amphora::text::bert_unicode {

struct CodeRange {
  char32_t first, last;
};
// Code points first..last fold to target + step * (cp - first).
struct FoldRun {
  char32_t first, last, target;
  int step;
};
// A code point that folds to more than one code point.
struct FoldMany {
  char32_t cp;
  char32_t out[3];
};

extern const CodeRange kPunctuation[];  // general category P*
extern const size_t kPunctuation_size;
extern const CodeRange kSpaceSeparator[];  // Zs
extern const size_t kSpaceSeparator_size;
extern const CodeRange kOther[];  // C*: control, format, surrogate, private use, unassigned
extern const size_t kOther_size;
extern const CodeRange kNonspacingMark[];  // Mn: what accent stripping removes
extern const size_t kNonspacingMark_size;
extern const FoldRun kFold[];
extern const size_t kFold_size;
extern const FoldMany kFoldMany[];
extern const size_t kFoldMany_size;

// BertTokenizer's _is_punctuation: ASCII symbols and punctuation, or category P*.
bool is_punctuation(char32_t cp);
// _is_whitespace: space, tab, newline, carriage return, or category Zs.
bool is_whitespace(char32_t cp);
// _is_control: category C*, except tab, newline and carriage return.
bool is_control(char32_t cp);
// _is_chinese_char: the CJK Unified Ideographs blocks (not CJK punctuation, not kana).
bool is_cjk(char32_t cp);
// Python's str.isspace() after cleaning: what whitespace_tokenize splits on.
bool splits_words(char32_t cp);
// Appends what lower() then NFD without nonspacing marks makes of `cp` (nothing for a mark).
void fold(char32_t cp, std::u32string& out);

}  // namespace amphora::text::bert_unicode
