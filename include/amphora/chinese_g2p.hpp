// The Mandarin front end of Amphion's MaskGCT G2P, in C++: Chinese text -> the IPA phone string
// Amphion gives its models ("n|i↑|x|ɑʊ↓↑"), with the polyphone BERT run on amphora's engine.
//
//   amphora::ChineseG2P g2p = amphora::ChineseG2P::load("models/g2p-zh-polybert-small");
//   amphora::ChineseG2PResult r = g2p.convert("银行行长说：还有2个人。");
//   // r.phones: "|" between phones, tones as arrows after each final
//
// The steps are Amphion's: numbers read out, punctuation made ASCII and everything but CJK
// ideographs and ,.?!;:'… dropped; words; readings from the phrase dictionary, else each
// character's own reading, with the characters of polychar.txt (as single-character words)
// read by the BERT in the context of the whole sentence; 不/一/third-tone sandhi and the neutral
// tone of a word-final 儿; bopomofo; IPA. Where amphora differs (docs/chinese_g2p.md): words come
// from longest matches in the phrase dictionary rather than jieba, numbers from a reading of
// digits close to cn2an's, and the BERT chooses among the character's own readings only.
//
// The model folder is laid out like Amphion's `g2p_chinese_model`: poly_bert_model.onnx,
// vocab.txt, polychar.txt, polydict.json, and chinese_lexicon.txt ("word<TAB>pin1 yin1") with
// pinyin_2_bpmf.txt, which are read from the folder or, as in Amphion's `sources/`, its parent.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"

namespace amphora {

// One character's reading, before tone sandhi.
struct ChineseReading {
  std::string character;
  std::string pinyin;  // tone number last, neutral tone 5, ü as v ("lv4"); "" when unknown
  std::string source;  // "phrase", "character", "polyphone-bert", or "unknown"
};

struct ChineseG2PResult {
  std::string normalized;                // the text the G2P read: ideographs and ,.?!;:'…
  std::vector<std::string> words;        // its words, after 一/不/儿 merging
  std::vector<ChineseReading> readings;  // one per ideograph of `normalized`
  std::string phones;                    // Amphion's IPA string; "" when there is nothing to read
  std::vector<std::string> warnings;     // characters dropped or left unread, each named
};

class ChineseG2P {
 public:
  // Reads the model folder; fails naming the file that is missing or malformed.
  static ChineseG2P load(const std::string& folder, const Options& options = {});

  // Any UTF-8 text (one sentence or several); never fails on what the text holds: what is not
  // Mandarin is dropped and named in `warnings`, invalid UTF-8 too.
  ChineseG2PResult convert(const std::string& text) const;

  // The BERT's reading for each character of an already-normalised sentence, "" for the
  // characters that are not in polychar.txt (one run per sentence).
  std::vector<std::string> predict_polyphones(const std::string& sentence) const;

  ~ChineseG2P();
  ChineseG2P(ChineseG2P&&) noexcept;
  ChineseG2P& operator=(ChineseG2P&&) noexcept;

  struct Impl;

 private:
  explicit ChineseG2P(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amphora
