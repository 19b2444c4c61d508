// BERT's tokenizer, as transformers.BertTokenizer runs it: a vocab.txt (one token a line, its
// line number its id), the basic tokenizer (cleaning, a space around every CJK ideograph,
// lower-casing and accent stripping when do_lower_case, a split at every punctuation mark) and
// greedy longest-match-first WordPiece ("##" continues a word; a word that cannot be covered, or
// longer than 100 code points, is [UNK]). tests/python/test_bert_tokenizer.py checks it token for
// token against transformers.
//
// Not done: the NFC composition the reference applies first (text that is already NFC, as
// almost all text is, is unaffected; lower-casing then strips the accents either way), and
// Greek's final sigma, which Python lower-cases by context.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace amphora::text {

class BertTokenizer {
 public:
  // Reads `vocab_path`; fails naming the file when it cannot be read or lacks [UNK].
  static BertTokenizer load(const std::string& vocab_path, bool do_lower_case = true);

  // Text -> WordPiece tokens. The special tokens ([CLS], [SEP], [UNK], [PAD], [MASK]) written in
  // the text stay whole, as the reference's added-token split keeps them.
  std::vector<std::string> tokenize(std::string_view text) const;
  std::vector<int32_t> ids(const std::vector<std::string>& tokens) const;

  // A token's id, or [UNK]'s when the vocabulary lacks it (convert_tokens_to_ids).
  int32_t id(std::string_view token) const;
  bool contains(std::string_view token) const { return vocab_.count(std::string(token)) != 0; }
  int32_t unk_id() const { return unk_id_; }
  size_t size() const { return size_; }

 private:
  void basic_then_wordpiece(std::u32string_view text, std::vector<std::string>& out) const;
  void wordpiece(std::u32string_view word, std::vector<std::string>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  size_t size_ = 0;
  int32_t unk_id_ = 0;
  bool lower_case_ = true;
};

}  // namespace amphora::text
