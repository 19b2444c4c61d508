#include "text/chinese_phones.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_set>

namespace amphora::text {
namespace {

constexpr char32_t kRising = U'ˊ', kDipping = U'ˇ', kFalling = U'ˋ', kNeutral = U'˙';

bool is_tone_mark(char32_t c) {
  return c == kRising || c == kDipping || c == kFalling || c == kNeutral;
}
char32_t last(const std::u32string& s) { return s.empty() ? 0 : s.back(); }

// Amphion's change_tone: replace the tone mark, or add one to a first-tone syllable.
void change_tone(std::u32string& syllable, const std::u32string& mark) {
  if (!syllable.empty() && is_tone_mark(syllable.back())) syllable.pop_back();
  syllable += mark;
}

// Chinese numerals, what Python's isnumeric() says of ideographs in the 一 rules.
bool is_numeral(char32_t c) {
  static const std::u32string kNumerals =
      U"〇零一二三四五六七八九十百千万亿兆廿卅卌壹贰叁肆伍陆柒捌玖拾佰仟萬億貳參陸幺";
  return kNumerals.find(c) != std::u32string::npos || (c >= U'0' && c <= U'9');
}

void bu_sandhi(const std::u32string& word, std::vector<std::u32string>& s) {
  if (word.find_first_not_of(U'不') == std::u32string::npos || word == U"不字") return;
  if (word.size() == 3 && word[1] == U'不' && s.size() > 1 && s[1].size() == 3 &&
      s[1].compare(0, 2, U"ㄅㄨ") == 0) {
    s[1] = U"ㄅㄨ˙";  // X不X: a neutral 不
    return;
  }
  for (size_t i = 0; i + 1 < word.size() && i + 1 < s.size(); ++i)
    if (word[i] == U'不' && last(s[i + 1]) == kFalling && !s[i].empty())
      s[i].back() = kRising;  // 不 before a falling tone rises
}

void yi_sandhi(const std::u32string& word, std::vector<std::u32string>& s) {
  if (word.size() != s.size()) return;
  bool numeric = false;
  for (char32_t c : word) numeric = numeric || (c != U'一' && is_numeral(c));
  if (word.find(U'一') != std::u32string::npos && numeric) {
    // In a number 一 keeps its first tone, except a leading 一 before a non-numeral.
    for (size_t i = 0; i < word.size(); ++i) {
      if (i == 0 && word[0] == U'一' && word.size() > 1 &&
          std::u32string_view(U"零一二三四五六七八九十").find(word[1]) == std::u32string::npos) {
        const char32_t next = last(s[1]);
        change_tone(s[0], next == kFalling || next == kNeutral ? U"ˊ" : U"ˋ");
      } else if (word[i] == U'一') {
        change_tone(s[i], U"");
      }
    }
  } else if (word.size() == 3 && word[1] == U'一' && word[0] == word[2]) {
    change_tone(s[1], U"˙");  // X一X
  } else if (word.rfind(U"第一", 0) == 0 && s.size() > 1) {
    change_tone(s[1], U"");
  } else if (word.rfind(U"一月", 0) == 0 || word.rfind(U"一日", 0) == 0 ||
             word.rfind(U"一号", 0) == 0) {
    change_tone(s[0], U"");
  } else {
    static const std::u32string kPunctuation = U"：，；。？！“”‘’':,;.?!()（）{}【】[]-~`、 ";
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      if (word[i] != U'一') continue;
      if (last(s[i + 1]) == kFalling)
        change_tone(s[i], U"ˊ");
      else if (kPunctuation.find(word[i + 1]) == std::u32string::npos)
        change_tone(s[i], U"ˋ");
    }
  }
}

void er_sandhi(const std::u32string& word, std::vector<std::u32string>& s) {
  static const std::unordered_set<std::u32string> kKeepsTone = {U"女儿", U"老儿", U"男儿", U"少儿",
                                                                U"小儿"};
  if (word.size() > 1 && word.back() == U'儿' && !kKeepsTone.count(word) && !s.empty())
    change_tone(s.back(), U"˙");
}

struct Rule {
  std::u32string from, to;
};

// Amphion's _bopomofo_to_ipa, applied in this order over the whole text.
const std::vector<Rule>& ipa_rules() {
  static const std::vector<Rule> rules = {
      {U"ㄅㄛ", U"p⁼wo"}, {U"ㄆㄛ", U"pʰwo"}, {U"ㄇㄛ", U"mwo"},  {U"ㄈㄛ", U"fwo"},
      {U"ㄧㄢ", U"|jɛn"}, {U"ㄩㄢ", U"|ɥæn"}, {U"ㄧㄣ", U"|in"},  {U"ㄩㄣ", U"|ɥn"},
      {U"ㄧㄥ", U"|iŋ"},  {U"ㄨㄥ", U"|ʊŋ"},  {U"ㄩㄥ", U"|jʊŋ"}, {U"ㄧㄚ", U"|ia"},
      {U"ㄧㄝ", U"|iɛ"},  {U"ㄧㄠ", U"|iɑʊ"}, {U"ㄧㄡ", U"|ioʊ"}, {U"ㄧㄤ", U"|iɑŋ"},
      {U"ㄨㄚ", U"|ua"},  {U"ㄨㄛ", U"|uo"},  {U"ㄨㄞ", U"|uaɪ"}, {U"ㄨㄟ", U"|ueɪ"},
      {U"ㄨㄢ", U"|uan"}, {U"ㄨㄣ", U"|uən"}, {U"ㄨㄤ", U"|uɑŋ"}, {U"ㄩㄝ", U"|ɥɛ"},
      {U"ㄅ", U"p⁼"},     {U"ㄆ", U"pʰ"},     {U"ㄇ", U"m"},      {U"ㄈ", U"f"},
      {U"ㄉ", U"t⁼"},     {U"ㄊ", U"tʰ"},     {U"ㄋ", U"n"},      {U"ㄌ", U"l"},
      {U"ㄍ", U"k⁼"},     {U"ㄎ", U"kʰ"},     {U"ㄏ", U"x"},      {U"ㄐ", U"tʃ⁼"},
      {U"ㄑ", U"tʃʰ"},    {U"ㄒ", U"ʃ"},      {U"ㄓ", U"ts`⁼"},   {U"ㄔ", U"ts`ʰ"},
      {U"ㄕ", U"s`"},     {U"ㄖ", U"ɹ`"},     {U"ㄗ", U"ts⁼"},    {U"ㄘ", U"tsʰ"},
      {U"ㄙ", U"|s"},     {U"ㄚ", U"|a"},     {U"ㄛ", U"|o"},     {U"ㄜ", U"|ə"},
      {U"ㄝ", U"|ɛ"},     {U"ㄞ", U"|aɪ"},    {U"ㄟ", U"|eɪ"},    {U"ㄠ", U"|ɑʊ"},
      {U"ㄡ", U"|oʊ"},    {U"ㄢ", U"|an"},    {U"ㄣ", U"|ən"},    {U"ㄤ", U"|ɑŋ"},
      {U"ㄥ", U"|əŋ"},    {U"ㄦ", U"əɹ"},     {U"ㄧ", U"|i"},     {U"ㄨ", U"|u"},
      {U"ㄩ", U"|ɥ"},     {U"ˉ", U"→|"},      {U"ˊ", U"↑|"},      {U"ˇ", U"↓↑|"},
      {U"ˋ", U"↓|"},      {U"˙", U"|"},
  };
  return rules;
}

void replace_all(std::u32string& text, const Rule& rule) {
  size_t at = text.find(rule.from);
  if (at == std::u32string::npos) return;
  std::u32string out;
  size_t from = 0;
  for (; at != std::u32string::npos; at = text.find(rule.from, from)) {
    out.append(text, from, at - from);
    out += rule.to;
    from = at + rule.from.size();
  }
  out.append(text, from, std::u32string::npos);
  text = std::move(out);
}

bool ends_sibilant_syllable(const std::u32string& t, size_t j) {
  return j == t.size() || t[j] == U'→' || t[j] == U'↓' || t[j] == U'↑' || t[j] == U' ';
}

// Amphion's two rules that give the syllabic sibilants of zhi chi shi ri and zi ci si their
// vowel: ɹ after s` / ɹ` (then s), an optional ⁼ or ʰ, when a tone arrow or the end follows.
std::u32string add_syllabic_r(const std::u32string& t, bool retroflex) {
  std::u32string out;
  for (size_t i = 0; i < t.size(); ++i) {
    out += t[i];
    size_t j = i + 1;
    if (retroflex) {
      if (!((t[i] == U's' || t[i] == U'ɹ') && j < t.size() && t[j] == U'`')) continue;
      out += t[j++];
    } else if (t[i] != U's') {
      continue;
    }
    if (j < t.size() && (t[j] == U'⁼' || t[j] == U'ʰ')) out += t[j++];
    if (ends_sibilant_syllable(t, j)) out += U'ɹ';
    i = j - 1;
  }
  return out;
}

}  // namespace

std::vector<std::u32string> merge_words(const std::vector<std::u32string>& seg) {
  // X 一 X -> X一X
  std::vector<std::u32string> merged;
  for (size_t i = 0; i < seg.size(); ++i) {
    if (i >= 1 && seg[i] == U"一" && i + 1 < seg.size() && seg[i - 1] == seg[i + 1]) {
      if (i - 1 < merged.size()) {
        merged[i - 1] = merged[i - 1] + U"一" + merged[i - 1];
      } else {
        merged.push_back(seg[i]);
        merged.push_back(seg[i + 1]);
      }
    } else if (!(i >= 2 && seg[i - 1] == U"一" && seg[i - 2] == seg[i])) {
      merged.push_back(seg[i]);
    }
  }
  // 一 joins the next word.
  std::vector<std::u32string> yi;
  for (const std::u32string& w : merged) {
    if (!yi.empty() && yi.back() == U"一")
      yi.back() += w;
    else
      yi.push_back(w);
  }
  // 不 joins the next word. (Amphion's merge_bu drops a 不 that no word follows, which also
  // shifts the positions its BERT reads after it; here that 不 stays a word.)
  std::vector<std::u32string> bu;
  std::u32string pending;
  for (const std::u32string& w : yi) {
    if (w == U"不") {
      pending += w;
    } else {
      bu.push_back(pending + w);
      pending.clear();
    }
  }
  if (!pending.empty()) bu.push_back(pending);
  // 儿 joins the word before it.
  std::vector<std::u32string> er;
  for (size_t i = 0; i < bu.size(); ++i) {
    if (i >= 1 && bu[i] == U"儿")
      er.back() += bu[i];
    else
      er.push_back(bu[i]);
  }
  return er;
}

void apply_sandhi(const std::u32string& word, std::vector<std::u32string>& s) {
  if (word.size() == 3 && s.size() >= 3 && last(s[0]) == kDipping && last(s[1]) == kDipping &&
      last(s.back()) == kDipping) {
    s[0] += kRising;
    s[1] += kRising;
  }
  if (word.size() == 2 && s.size() >= 2 && last(s[0]) == kDipping && last(s.back()) == kDipping)
    s[0].back() = kRising;
  bu_sandhi(word, s);
  yi_sandhi(word, s);
  er_sandhi(word, s);
}

void finish_syllables(std::vector<std::u32string>& syllables) {
  for (std::u32string& s : syllables)
    if (!s.empty() && s.back() >= 0x3105 && s.back() <= 0x3129) s += U'ˉ';
}

std::u32string bopomofo_to_ipa(const std::u32string& text) {
  std::u32string t = text;
  for (const Rule& rule : ipa_rules()) replace_all(t, rule);
  t = add_syllabic_r(add_syllabic_r(t, true), false);
  if (!t.empty() && t[0] == U'|') t.erase(0, 1);
  static const std::u32string kPunctuation = U",.?!;:'…";
  std::u32string out;
  for (char32_t c : t) {
    const bool mark = kPunctuation.find(c) != std::u32string::npos;
    if (mark) out += U'|';
    out += c;
    if (mark) out += U'|';
  }
  // Runs of "|" become one, and none ends the string.
  out.erase(std::unique(out.begin(), out.end(),
                        [](char32_t a, char32_t b) { return a == U'|' && b == U'|'; }),
            out.end());
  while (!out.empty() && out.back() == U'|') out.pop_back();
  return out;
}

}  // namespace amphora::text
