// The Mandarin G2P: number readings, Amphion's word merging, tone sandhi and bopomofo -> IPA
// rules, then ChineseG2P on the shipped model folder (routing, the polyphone BERT, bad input, a
// folder missing a file, Amphion's folder layout).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "amphora/chinese_g2p.hpp"
#include "amphora/error.hpp"
#include "text/bert_tokenizer.hpp"
#include "text/chinese_numbers.hpp"
#include "text/chinese_phones.hpp"
#include "text/utf8.hpp"

namespace amphora::text {
namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(AMPHORA_SOURCE_DIR) + "/models/g2p-zh-polybert-small";
const char* const kFiles[] = {"poly_bert_model.onnx", "vocab.txt",        "polychar.txt",
                              "polydict.json",        "polydict_r.json",  "config.json",
                              "chinese_lexicon.txt",  "pinyin_2_bpmf.txt"};

std::string u8(const std::u32string& s) { return to_utf8(s); }

const ChineseG2P& g2p() {
  static const ChineseG2P instance = ChineseG2P::load(kModel, {.threads = 1});
  return instance;
}

// A copy of the model folder (links to its files) without `missing`.
fs::path folder_without(const std::string& missing, const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("amphora_g2p_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* file : kFiles)
    if (std::string(file) != missing)
      fs::create_symlink(fs::absolute(fs::path(kModel) / file), dir / file);
  return dir;
}

TEST(ChineseNumbers, IntegersReadLikeCn2an) {
  EXPECT_EQ(u8(integer_reading(U"0")), "零");
  EXPECT_EQ(u8(integer_reading(U"10")), "十");
  EXPECT_EQ(u8(integer_reading(U"15")), "十五");
  EXPECT_EQ(u8(integer_reading(U"105")), "一百零五");
  EXPECT_EQ(u8(integer_reading(U"110")), "一百一十");
  EXPECT_EQ(u8(integer_reading(U"10086")), "一万零八十六");
  EXPECT_EQ(u8(integer_reading(U"100000")), "十万");
  EXPECT_EQ(u8(integer_reading(U"20000001")), "二千万零一");
  EXPECT_EQ(u8(integer_reading(U"300000000")), "三亿");
}

TEST(ChineseNumbers, YearsDecimalsPercentagesFractionsAndSigns) {
  EXPECT_EQ(u8(read_numbers(U"2024年")), "二零二四年");
  EXPECT_EQ(u8(read_numbers(U"买了3.14斤")), "买了三点一四斤");
  EXPECT_EQ(u8(read_numbers(U"50%")), "百分之五十");
  EXPECT_EQ(u8(read_numbers(U"1/2")), "二分之一");
  EXPECT_EQ(u8(read_numbers(U"-7度")), "负七度");
  EXPECT_EQ(u8(read_numbers(U"１２个")), "十二个");
  EXPECT_EQ(u8(read_numbers(U"没有数字")), "没有数字");
}

TEST(ChinesePhones, MergesYiBuAndEr) {
  using W = std::vector<std::u32string>;
  EXPECT_EQ(merge_words({U"看", U"一", U"看"}), (W{U"看一看"}));
  EXPECT_EQ(merge_words({U"一", U"个", U"人"}), (W{U"一个", U"人"}));
  EXPECT_EQ(merge_words({U"不", U"要"}), (W{U"不要"}));
  EXPECT_EQ(merge_words({U"玩", U"儿"}), (W{U"玩儿"}));
  // A 不 with no word after it stays (Amphion drops it).
  EXPECT_EQ(merge_words({U"好", U"不"}), (W{U"好", U"不"}));
}

std::vector<std::u32string> sandhi(const std::u32string& word, std::vector<std::u32string> s) {
  apply_sandhi(word, s);
  return s;
}

TEST(ChinesePhones, ToneSandhiAsAmphion) {
  using S = std::vector<std::u32string>;
  EXPECT_EQ(sandhi(U"你好", {U"ㄋㄧˇ", U"ㄏㄠˇ"}), (S{U"ㄋㄧˊ", U"ㄏㄠˇ"}));
  // Three third tones: Amphion adds a rising mark after the first two.
  EXPECT_EQ(sandhi(U"展览馆", {U"ㄓㄢˇ", U"ㄌㄢˇ", U"ㄍㄨㄢˇ"}),
            (S{U"ㄓㄢˇˊ", U"ㄌㄢˇˊ", U"ㄍㄨㄢˇ"}));
  EXPECT_EQ(sandhi(U"不要", {U"ㄅㄨˋ", U"ㄧㄠˋ"}), (S{U"ㄅㄨˊ", U"ㄧㄠˋ"}));
  EXPECT_EQ(sandhi(U"不好", {U"ㄅㄨˋ", U"ㄏㄠˇ"}), (S{U"ㄅㄨˋ", U"ㄏㄠˇ"}));
  EXPECT_EQ(sandhi(U"好不好", {U"ㄏㄠˇ", U"ㄅㄨˋ", U"ㄏㄠˇ"}), (S{U"ㄏㄠˇ", U"ㄅㄨ˙", U"ㄏㄠˇ"}));
  EXPECT_EQ(sandhi(U"一个", {U"ㄧ", U"ㄍㄜˋ"}), (S{U"ㄧˊ", U"ㄍㄜˋ"}));
  EXPECT_EQ(sandhi(U"一天", {U"ㄧ", U"ㄊㄧㄢ"}), (S{U"ㄧˋ", U"ㄊㄧㄢ"}));
  EXPECT_EQ(sandhi(U"看一看", {U"ㄎㄢˋ", U"ㄧ", U"ㄎㄢˋ"}), (S{U"ㄎㄢˋ", U"ㄧ˙", U"ㄎㄢˋ"}));
  EXPECT_EQ(sandhi(U"第一", {U"ㄉㄧˋ", U"ㄧˋ"}), (S{U"ㄉㄧˋ", U"ㄧ"}));
  EXPECT_EQ(sandhi(U"十一", {U"ㄕˊ", U"ㄧˊ"}), (S{U"ㄕˊ", U"ㄧ"}));
  EXPECT_EQ(sandhi(U"一百", {U"ㄧ", U"ㄅㄞˇ"}), (S{U"ㄧˋ", U"ㄅㄞˇ"}));
  EXPECT_EQ(sandhi(U"玩儿", {U"ㄨㄢˊ", U"ㄦˊ"}), (S{U"ㄨㄢˊ", U"ㄦ˙"}));
  EXPECT_EQ(sandhi(U"女儿", {U"ㄋㄩˇ", U"ㄦˊ"}), (S{U"ㄋㄩˇ", U"ㄦˊ"}));
}

TEST(ChinesePhones, BopomofoToAmphionsIpa) {
  EXPECT_EQ(u8(bopomofo_to_ipa(U"ㄋㄧˊ|ㄏㄠˇ")), "n|i↑|x|ɑʊ↓↑");
  EXPECT_EQ(u8(bopomofo_to_ipa(U"ㄓˉ|ㄖˋ")), "ts`⁼ɹ→|ɹ`ɹ↓");  // zhi ri: syllabic ɹ
  EXPECT_EQ(u8(bopomofo_to_ipa(U"ㄙˋ|ㄗ˙")), "sɹ↓|ts⁼");      // si, neutral zi: none
  EXPECT_EQ(u8(bopomofo_to_ipa(U"ㄏㄠˇ|,|ㄅㄛˊ|.")), "x|ɑʊ↓↑|,|p⁼wo↑|.");
  EXPECT_EQ(u8(bopomofo_to_ipa(U"ㄐㄩㄢˋ|ㄒㄩㄝˊ")), "tʃ⁼|ɥæn↓|ʃ|ɥɛ↑");
  EXPECT_EQ(u8(bopomofo_to_ipa(U"")), "");
}

TEST(ChineseG2P, ReadsPhrasesCharactersAndPolyphones) {
  const ChineseG2PResult r = g2p().convert("你好，银行");
  EXPECT_EQ(r.normalized, "你好,银行");
  EXPECT_EQ(r.phones, "n|i↑|x|ɑʊ↓↑|,|in↑|x|ɑŋ↑");  // 你好 with its third-tone sandhi
  ASSERT_EQ(r.readings.size(), 4u);
  EXPECT_EQ(r.readings[3].pinyin, "hang2");
  EXPECT_EQ(r.readings[3].source, "phrase");
  EXPECT_TRUE(r.warnings.empty());

  // A lone polyphone goes to the BERT; a lone monophone to the character dictionary.
  const ChineseG2PResult alone = g2p().convert("他了");
  ASSERT_EQ(alone.readings.size(), 2u);
  EXPECT_EQ(alone.readings[0].source, "character");
  EXPECT_EQ(alone.readings[1].source, "polyphone-bert");
  EXPECT_TRUE(alone.readings[1].pinyin == "le5" || alone.readings[1].pinyin == "liao3" ||
              alone.readings[1].pinyin == "liao5")
      << alone.readings[1].pinyin;
}

TEST(ChineseG2P, BertPicksAmongTheCharactersOwnReadings) {
  const std::vector<std::string> readings = g2p().predict_polyphones("他长大了,行长说");
  ASSERT_EQ(readings.size(), 8u);
  EXPECT_EQ(readings[0], "");  // 他: not a polyphone
  EXPECT_EQ(readings[4], "");  // the comma
  for (size_t i : {1, 5, 6}) {
    const std::string& r = readings[i];
    EXPECT_TRUE(r == "chang2" || r == "chang3" || r == "zhang3" || r == "hang2" || r == "hang5" ||
                r == "heng5" || r == "xing2" || r == "xing4")
        << i << ": " << r;
  }
}

TEST(ChineseG2P, EmptyAndNonChineseTextPassThroughWithWarnings) {
  const ChineseG2PResult empty = g2p().convert("");
  EXPECT_EQ(empty.phones, "");
  EXPECT_TRUE(empty.warnings.empty());

  const ChineseG2PResult latin = g2p().convert("Hello!");
  EXPECT_EQ(latin.phones, "|!");  // the mark is kept (as a word, "|" before it), the letters not
  ASSERT_EQ(latin.warnings.size(), 1u);
  EXPECT_NE(latin.warnings[0].find("'H'"), std::string::npos) << latin.warnings[0];

  const ChineseG2PResult broken = g2p().convert(std::string("中\xff\xfe文"));
  EXPECT_FALSE(broken.phones.empty());
  ASSERT_EQ(broken.warnings.size(), 1u);
  EXPECT_NE(broken.warnings[0].find("invalid UTF-8"), std::string::npos);
}

TEST(ChineseG2P, CharactersOutsideTheBertVocabularyStillGetRead) {
  // 丂 (kao3) is in the lexicon but not in bert-base-chinese's vocabulary: the BERT sees [UNK]
  // there and still reads the polyphone 长 after it.
  const BertTokenizer vocab = BertTokenizer::load(kModel + "/vocab.txt");
  ASSERT_FALSE(vocab.contains("丂"));
  const ChineseG2PResult r = g2p().convert("丂长");
  ASSERT_EQ(r.readings.size(), 2u);
  EXPECT_EQ(r.readings[0].pinyin, "kao3");
  EXPECT_EQ(r.readings[1].source, "polyphone-bert");
  EXPECT_FALSE(r.readings[1].pinyin.empty());
}

TEST(ChineseG2P, SentencesLongerThanTheBertsPositionsAreReadInWindows) {
  std::string text;
  for (int i = 0; i < 120; ++i) text += "银行长了。";  // 600 characters
  const ChineseG2PResult r = g2p().convert(text);
  EXPECT_EQ(r.readings.size(), 480u);
  for (const ChineseReading& c : r.readings) EXPECT_FALSE(c.pinyin.empty()) << c.character;
}

TEST(ChineseG2P, AFolderMissingAFileIsNamed) {
  for (const char* missing : {"poly_bert_model.onnx", "vocab.txt", "polychar.txt", "polydict.json",
                              "chinese_lexicon.txt", "pinyin_2_bpmf.txt"}) {
    const fs::path dir = folder_without(missing, "missing");
    try {
      ChineseG2P::load(dir.string());
      ADD_FAILURE() << "loaded without " << missing;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kIo) << e.what();
      EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    }
    fs::remove_all(dir);
  }
}

TEST(ChineseG2P, ReadsAmphionsLayoutWithTheLexiconBesideTheModelFolder) {
  // sources/{chinese_lexicon.txt, pinyin_2_bpmf.txt, g2p_chinese_model/...}
  const fs::path sources = fs::temp_directory_path() / "amphora_g2p_sources";
  fs::remove_all(sources);
  fs::create_directories(sources / "g2p_chinese_model");
  for (const std::string file : kFiles) {
    const bool beside = file == "chinese_lexicon.txt" || file == "pinyin_2_bpmf.txt";
    fs::create_symlink(fs::absolute(fs::path(kModel) / file),
                       (beside ? sources : sources / "g2p_chinese_model") / file);
  }
  const ChineseG2P amphion = ChineseG2P::load((sources / "g2p_chinese_model").string());
  EXPECT_EQ(amphion.convert("你好").phones, "n|i↑|x|ɑʊ↓↑");
  fs::remove_all(sources);
}

}  // namespace
}  // namespace amphora::text
