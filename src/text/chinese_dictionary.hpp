// The dictionaries of Amphion's Mandarin G2P, read from a model folder laid out like its
// `g2p_chinese_model` (beside `sources/`): the phrase and character lexicon, pinyin ->
// bopomofo, the polyphonic characters and the BERT's labels.
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace amphora::text {

struct ChineseDictionary {
  // chinese_lexicon.txt: word -> one pinyin per character ("zhong1"); single characters too.
  std::unordered_map<std::u32string, std::vector<std::string>> lexicon;
  size_t longest_word = 1;
  // pinyin_2_bpmf.txt: pinyin without tone -> bopomofo ("zhong" -> "ㄓㄨㄥ").
  std::unordered_map<std::string, std::u32string> bopomofo;
  // polychar.txt: the characters the BERT reads.
  std::unordered_set<char32_t> polyphones;
  // polydict.json: output index (label id - 1) -> (character, pinyin), and each character's
  // indices.
  std::vector<std::pair<char32_t, std::string>> labels;
  std::unordered_map<char32_t, std::vector<int>> labels_of;

  // `folder` holds every file, or (Amphion's layout) chinese_lexicon.txt and pinyin_2_bpmf.txt
  // sit in its parent. Fails naming the file missing or the line malformed.
  static ChineseDictionary load(const std::string& folder);

  // Bopomofo with Amphion's tone mark ("" for tone 1, ˊ ˇ ˋ, ˙ for 5 and 0), or "" when the
  // pinyin has no spelling.
  std::u32string to_bopomofo(const std::string& pinyin) const;

  // Words by longest match in the lexicon from the left; characters outside it are words of
  // one; each punctuation mark is a word.
  std::vector<std::u32string> segment(const std::u32string& text) const;
};

// A file of the model folder, or of its parent; fails naming both places.
std::string find_model_file(const std::string& folder, const std::string& name, bool parent_too);

}  // namespace amphora::text
