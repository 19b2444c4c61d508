#include "text/bert_tokenizer.hpp"

#include <array>
#include <fstream>

#include "core/error.hpp"
#include "text/bert_unicode.hpp"
#include "text/utf8.hpp"

namespace amphora::text {
namespace {

namespace uni = bert_unicode;

constexpr size_t kMaxCharsPerWord = 100;
const std::array<std::u32string_view, 5> kSpecialTokens = {U"[UNK]", U"[SEP]", U"[PAD]", U"[CLS]",
                                                           U"[MASK]"};

// Where the next special token starts at or after `from` (text.size() if none), and its length.
size_t find_special(std::u32string_view text, size_t from, size_t& length) {
  size_t best = text.size();
  for (std::u32string_view token : kSpecialTokens) {
    const size_t at = text.find(token, from);
    if (at < best) best = at, length = token.size();
  }
  return best;
}

// Splits at the spaces Python's str.split() sees, dropping empty pieces.
std::vector<std::u32string> split_words(std::u32string_view text) {
  std::vector<std::u32string> words;
  std::u32string word;
  for (char32_t cp : text) {
    if (uni::splits_words(cp)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += cp;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

}  // namespace

BertTokenizer BertTokenizer::load(const std::string& vocab_path, bool do_lower_case) {
  std::ifstream in(vocab_path, std::ios::binary);
  if (!in) fail(ErrorCode::kIo, "cannot read the BERT vocabulary '{}'", vocab_path);
  BertTokenizer tokenizer;
  tokenizer.lower_case_ = do_lower_case;
  std::string line;
  int32_t index = 0;
  // The reference strips only "\n" from each line, and a repeated token keeps its last line.
  while (std::getline(in, line)) tokenizer.vocab_[line] = index++;
  tokenizer.size_ = static_cast<size_t>(index);
  const auto unk = tokenizer.vocab_.find("[UNK]");
  if (unk == tokenizer.vocab_.end())
    fail(ErrorCode::kInvalidModel, "the BERT vocabulary '{}' ({} lines) has no [UNK] token",
         vocab_path, index);
  tokenizer.unk_id_ = unk->second;
  return tokenizer;
}

int32_t BertTokenizer::id(std::string_view token) const {
  const auto it = vocab_.find(std::string(token));
  return it == vocab_.end() ? unk_id_ : it->second;
}

std::vector<int32_t> BertTokenizer::ids(const std::vector<std::string>& tokens) const {
  std::vector<int32_t> out;
  out.reserve(tokens.size());
  for (const std::string& t : tokens) out.push_back(id(t));
  return out;
}

std::vector<std::string> BertTokenizer::tokenize(std::string_view text) const {
  const std::u32string cps = to_code_points(text);
  std::vector<std::string> out;
  size_t start = 0;
  while (start < cps.size()) {
    size_t length = 0;
    const size_t special = find_special(cps, start, length);
    basic_then_wordpiece(std::u32string_view(cps).substr(start, special - start), out);
    if (special == cps.size()) break;
    out.push_back(to_utf8(std::u32string_view(cps).substr(special, length)));
    start = special + length;
  }
  return out;
}

void BertTokenizer::basic_then_wordpiece(std::u32string_view text,
                                         std::vector<std::string>& out) const {
  // Cleaning (controls and U+FFFD go, every space becomes ' '), then a space on both sides of
  // each ideograph so that each is a word of its own.
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (char32_t cp : text) {
    if (cp == 0 || cp == 0xFFFD || uni::is_control(cp)) continue;
    if (uni::is_whitespace(cp)) {
      cleaned += U' ';
    } else if (uni::is_cjk(cp)) {
      cleaned += U' ';
      cleaned += cp;
      cleaned += U' ';
    } else {
      cleaned += cp;
    }
  }
  std::u32string folded;
  for (const std::u32string& word : split_words(cleaned)) {
    const std::u32string* current = &word;
    if (lower_case_) {
      folded.clear();
      for (char32_t cp : word) uni::fold(cp, folded);
      current = &folded;
    }
    // Every punctuation mark is a word of its own.
    std::u32string piece;
    for (char32_t cp : *current) {
      if (uni::is_punctuation(cp)) {
        if (!piece.empty()) wordpiece(piece, out);
        piece.clear();
        wordpiece(std::u32string(1, cp), out);
      } else {
        piece += cp;
      }
    }
    if (!piece.empty()) wordpiece(piece, out);
  }
}

void BertTokenizer::wordpiece(std::u32string_view word, std::vector<std::string>& out) const {
  if (word.size() > kMaxCharsPerWord) {
    out.emplace_back("[UNK]");
    return;
  }
  const size_t first = out.size();
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    std::string found;
    for (; end > start; --end) {
      std::string candidate = (start > 0 ? "##" : "") + to_utf8(word.substr(start, end - start));
      if (vocab_.count(candidate)) {
        found = std::move(candidate);
        break;
      }
    }
    if (found.empty()) {  // no piece covers this position: the whole word is unknown
      out.resize(first);
      out.emplace_back("[UNK]");
      return;
    }
    out.push_back(std::move(found));
    start = end;
  }
}

}  // namespace amphora::text
