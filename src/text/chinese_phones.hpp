// The last steps of Amphion's Mandarin G2P, on bopomofo: word merging for 一/不/儿, tone sandhi,
// and bopomofo -> its IPA phone string. Each syllable is bopomofo plus a tone mark (none for the
// first tone until `finish_syllables`, ˊ ˇ ˋ, ˙ for the neutral tone); a character without a
// reading stands for itself.
#pragma once

#include <string>
#include <vector>

namespace amphora::text {

// Amphion's merge_yi, merge_bu and merge_er, in that order: "X一X" is one word, 一 and 不 join
// the word after them, 儿 joins the word before it. The words still spell the text.
std::vector<std::u32string> merge_words(const std::vector<std::u32string>& words);

// Third-tone, 不, 一 and 儿 sandhi within one word, as Amphion applies them (a three-syllable
// word of third tones gets a rising mark added after the first two, as Amphion does).
void apply_sandhi(const std::u32string& word, std::vector<std::u32string>& syllables);

// Adds the first tone's mark (ˉ) to syllables that end in a bopomofo letter.
void finish_syllables(std::vector<std::u32string>& syllables);

// "ㄋㄧˊ|ㄏㄠˇ|,|..." -> "n|i↑|x|ɑʊ↓↑|,|...": Amphion's bopomofo -> IPA table, ɹ after
// syllabic sibilants, "|" around punctuation, no repeated or trailing "|".
std::u32string bopomofo_to_ipa(const std::u32string& text);

}  // namespace amphora::text
