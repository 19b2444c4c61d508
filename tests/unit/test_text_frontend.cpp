// The English front end: phones of known words, numbers, abbreviations and unknown words
// (letter-to-sound), sentence splitting, cleaning of characters flite cannot speak, flite's
// labelled recordings agreeing with the phonemizer, and phone ids from a voice's table.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "amphora/acoustic.hpp"
#include "amphora/error.hpp"
#include "amphora/text.hpp"
#include "text/sentences.hpp"

namespace amphora::text {
namespace {

std::vector<std::string> words_of(const Phonemized& p) {
  std::vector<std::string> out;
  for (const Word& w : p.words) out.push_back(w.text);
  return out;
}

const std::set<std::string>& arpabet() {
  static const std::set<std::string> phones = [] {
    std::set<std::string> s = {"B",  "CH", "D", "DH", "F", "G",  "HH",  "JH", "K",
                               "L",  "M",  "N", "NG", "P", "R",  "S",   "SH", "T",
                               "TH", "V",  "W", "Y",  "Z", "ZH", "sil", "sp"};
    for (const char* v : {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW",
                          "OY", "UH", "UW"}) {
      for (const char* stress : {"0", "1", "2"}) s.insert(std::string(v) + stress);
    }
    return s;
  }();
  return phones;
}

TEST(EnglishFrontEnd, KnownWordsGetTheirLexiconPhonesWithStressAndSilences) {
  const Phonemized p = EnglishFrontEnd().phonemize("Hello world.");
  EXPECT_EQ(p.phones, (std::vector<std::string>{"sil", "HH", "AH0", "L", "OW1", "W", "ER1", "L",
                                                "D", "sil"}));
  ASSERT_EQ(p.words.size(), 2u);
  EXPECT_EQ(p.words[1].text, "world");
  EXPECT_EQ(p.words[1].phones, (std::vector<std::string>{"W", "ER1", "L", "D"}));
}

TEST(EnglishFrontEnd, NumbersMoneyAndAbbreviationsAreSpokenAsWords) {
  const EnglishFrontEnd fe;
  EXPECT_EQ(words_of(fe.phonemize("Dr. Smith paid $42.")),
            (std::vector<std::string>{"doctor", "smith", "paid", "forty", "two", "dollars"}));
  EXPECT_EQ(words_of(fe.phonemize("In 1984.")),
            (std::vector<std::string>{"in", "nineteen", "eighty", "four"}));
}

TEST(EnglishFrontEnd, UnknownWordsGoThroughLetterToSound) {
  const Phonemized p = EnglishFrontEnd().phonemize("The zorblax glimmerfrob.");
  ASSERT_EQ(p.words.size(), 3u);
  EXPECT_GE(p.words[1].phones.size(), 5u);
  EXPECT_GE(p.words[2].phones.size(), 7u);
  for (const std::string& phone : p.phones) EXPECT_TRUE(arpabet().count(phone)) << phone;
}

TEST(EnglishFrontEnd, PhrasesAreSeparatedByPauses) {
  const Phonemized p = EnglishFrontEnd().phonemize("First, we wait; then, we go home.");
  EXPECT_EQ(p.phones.front(), "sil");
  EXPECT_EQ(p.phones.back(), "sil");
  EXPECT_GE(std::count(p.phones.begin(), p.phones.end(), "sp"), 1);
}

TEST(EnglishFrontEnd, PunctuationAloneHasNoWords) {
  const Phonemized p = EnglishFrontEnd().phonemize("...!?");
  EXPECT_TRUE(p.words.empty());
  EXPECT_EQ(p.phones, std::vector<std::string>{"sil"});
}

TEST(Sentences, SplitAfterSentenceMarksButNotAfterTitlesInitialsOrMonths) {
  const std::vector<std::string> s = EnglishFrontEnd().split(
      "Dr. J. Smith came on Jan. 3rd. He left! Did he? \"Yes.\" Then\n\nanother paragraph");
  EXPECT_EQ(s, (std::vector<std::string>{"Dr. J. Smith came on Jan. 3rd.", "He left!", "Did he?",
                                         "\"Yes.\"", "Then", "another paragraph"}));
}

TEST(Sentences, RunOnTextIsCutAtCommasThenAnywhere) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += (i % 35 == 34) ? "word, " : "word ";
  for (const std::string& sentence : split_sentences(text)) {
    const auto words = std::count(sentence.begin(), sentence.end(), ' ') + 1;
    EXPECT_LE(words, kHardWordLimit);
    EXPECT_GE(words, 1);
  }
  const std::vector<std::string> long_word = split_sentences(std::string(100, 'a'));
  ASSERT_EQ(long_word.size(), 1u);
  EXPECT_EQ(long_word[0], std::string(kLongestWord, 'a') + " " + std::string(kLongestWord, 'a') +
                              " " + std::string(100 - 2 * kLongestWord, 'a'));
}

TEST(Sentences, CleaningReplacesTypographyAndDropsWhatFliteCannotSpeakWithAWarning) {
  std::vector<std::string> warnings;
  EXPECT_EQ(clean_text("\xE2\x80\x9C"
                       "Caf\xC3\xA9\xE2\x80\x9D \xE2\x80\x94 ok",
                       warnings),
            "\"Cafe\" ,  ok");
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(clean_text("a\xD0\x96 b\xD0\x96 c\xFF", warnings), "a b c");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("2 x "), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("U+0416"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("not UTF-8"), std::string::npos) << warnings[1];
}

TEST(Sentences, AHundredKilobyteTextSplitsIntoBoundedSentences) {
  std::string text;
  while (text.size() < 100 * 1024) text += "The quick brown fox jumps over 13 lazy dogs. ";
  const std::vector<std::string> sentences = EnglishFrontEnd().split(text);
  EXPECT_GT(sentences.size(), 2000u);
  for (const std::string& s : sentences) EXPECT_LE(s.size(), 100u);
}

TEST(FliteRecording, EachVoiceSpeaksThePhonesThePhonemizerGives) {
  const EnglishFrontEnd fe;
  const std::string sentence = "Seven boats drifted past 12 harbour lights, slowly.";
  const Phonemized expected = fe.phonemize(sentence);
  for (const char* voice : {"slt", "rms", "awb", "kal16"}) {
    const FliteRecording rec = fe.record(sentence, voice, 1.1);
    ASSERT_EQ(rec.phones.size(), expected.phones.size()) << voice;
    double previous = 0.0;
    for (size_t i = 0; i < rec.phones.size(); ++i) {
      EXPECT_EQ(rec.phones[i].phone, expected.phones[i]) << voice << " phone " << i;
      EXPECT_GE(rec.phones[i].end_seconds, previous) << voice << " phone " << i;
      previous = rec.phones[i].end_seconds;
    }
    EXPECT_EQ(rec.sample_rate, 16000) << voice;
    // Speech ends inside the audio; the final silence may be cut a little short (kal16's
    // diphone synthesis trims it).
    const double seconds = static_cast<double>(rec.samples.size()) / rec.sample_rate;
    EXPECT_LT(rec.phones[rec.phones.size() - 2].end_seconds, seconds) << voice;
    EXPECT_NEAR(previous, seconds, 0.15) << voice;
  }
}

TEST(FliteRecording, AnUnknownVoiceIsRefusedByName) {
  try {
    EnglishFrontEnd().record("Hello.", "hal9000");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("hal9000"), std::string::npos) << e.what();
  }
}

TEST(PhoneIds, LexiconAndPlainTablesMapAndAMissingPhoneIsNamed) {
  AcousticInfo lexicon;
  lexicon.symbols = {"_", "@sil", "@HH", "@AH0", "@sp"};
  EXPECT_EQ(phone_ids({"sil", "HH", "AH0", "sp"}, lexicon, "voice"),
            (std::vector<int64_t>{1, 2, 3, 4}));
  AcousticInfo plain;
  plain.symbols = {"<pad>", "HH", "AH0"};
  EXPECT_EQ(phone_ids({"AH0", "HH"}, plain, "voice"), (std::vector<int64_t>{2, 1}));
  try {
    phone_ids({"HH", "ZH"}, plain, "pkg/voice");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'ZH'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pkg/voice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(phone_ids({"HH"}, AcousticInfo{}, "voice"), Error);
}

}  // namespace
}  // namespace amphora::text
