// amphora::ChineseG2P (amphora/chinese_g2p.hpp): normalisation, words, the reading of each
// character (phrase dictionary, character dictionary, polyphone BERT), then chinese_phones.
#include "amphora/chinese_g2p.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/error.hpp"
#include "text/bert_tokenizer.hpp"
#include "text/chinese_dictionary.hpp"
#include "text/chinese_numbers.hpp"
#include "text/chinese_phones.hpp"
#include "text/utf8.hpp"

namespace amphora {
namespace {

using text::to_code_points;
using text::to_utf8;

bool is_ideograph(char32_t c) { return c >= 0x4E00 && c <= 0x9FFF; }
bool is_kept_mark(char32_t c) {
  return std::u32string_view(U"_,.?!;:'…").find(c) != std::u32string_view::npos;
}

bool is_space(char32_t c) {
  return c == U' ' || (c >= U'\t' && c <= U'\r') || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Amphion's normalization(): Chinese punctuation made ASCII, spaces removed, and everything but
// ideographs and _,.?!;:'… dropped (named in `dropped`).
std::u32string normalise(std::u32string t, std::set<char32_t>& dropped) {
  static const std::pair<std::u32string, std::u32string> kReplace[] = {
      {U"，", U","},  {U"。", U"."},     {U"！", U"!"}, {U"？", U"?"}, {U"；", U";"},
      {U"：", U":"},  {U"、", U","},     {U"‘", U"'"},  {U"’", U"'"},  {U"⋯", U"…"},
      {U"···", U"…"}, {U"・・・", U"…"}, {U"...", U"…"}};
  for (const auto& [from, to] : kReplace) {
    for (size_t at = t.find(from); at != std::u32string::npos; at = t.find(from, at + to.size()))
      t.replace(at, from.size(), to);
  }
  std::u32string out;
  for (char32_t c : t) {
    if (is_ideograph(c) || is_kept_mark(c))
      out += c;
    else if (!is_space(c))
      dropped.insert(c);
  }
  return out;
}

std::string quoted_list(const std::set<char32_t>& chars) {
  std::string out;
  size_t shown = 0;
  for (char32_t c : chars) {
    if (shown++ == 12) return out + fmt::format(" and {} more", chars.size() - 12);
    out += (out.empty() ? "" : " ") +
           fmt::format("'{}'", c == 0xFFFD ? "invalid UTF-8" : to_utf8(std::u32string(1, c)));
  }
  return out;
}

int max_positions(const std::string& folder) {
  std::ifstream in(folder + "/config.json");
  if (!in) return 512;  // BERT's, and what Amphion's config says
  const nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  if (config.is_object() && config.contains("max_position_embeddings") &&
      config["max_position_embeddings"].is_number_integer())
    return std::max(2, config["max_position_embeddings"].get<int>());
  return 512;
}

}  // namespace

struct ChineseG2P::Impl {
  std::string folder;
  text::ChineseDictionary dictionary;
  text::BertTokenizer tokenizer;
  std::optional<Model> bert;  // set by load()
  std::string input_name, output_name;
  DType input_dtype = DType::kInt32;
  size_t window = 511;  // characters per BERT run: its positions, less [CLS]
  int32_t cls_id = 0;

  std::vector<std::string> predict(const std::u32string& sentence) const;
  ChineseG2PResult convert(const std::string& text) const;
};

ChineseG2P ChineseG2P::load(const std::string& folder, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->folder = folder;
  // Every file is looked up before the slow loads, so that a missing one is named first.
  const std::string model_path = text::find_model_file(folder, "poly_bert_model.onnx", false);
  const std::string vocab_path = text::find_model_file(folder, "vocab.txt", false);
  impl->dictionary = text::ChineseDictionary::load(folder);
  impl->tokenizer = text::BertTokenizer::load(vocab_path);
  if (!impl->tokenizer.contains("[CLS]"))
    fail(ErrorCode::kInvalidModel, "the BERT vocabulary '{}' has no [CLS] token", vocab_path);
  impl->cls_id = impl->tokenizer.id("[CLS]");
  impl->bert.emplace(Model::load(model_path, options));
  const auto& inputs = impl->bert->inputs();
  const auto& outputs = impl->bert->outputs();
  if (inputs.size() != 1 || outputs.empty() ||
      (inputs[0].dtype != DType::kInt32 && inputs[0].dtype != DType::kInt64))
    fail(ErrorCode::kInvalidModel,
         "'{}' should take one input, input_ids int32 [1, 1 + characters], and give logits "
         "[1, characters, labels]",
         model_path);
  impl->input_name = inputs[0].name;
  impl->input_dtype = inputs[0].dtype;
  impl->output_name = outputs[0].name;
  const auto& dims = outputs[0].dims;
  if (outputs[0].rank_known && !dims.empty() && dims.back().size >= 0 &&
      static_cast<size_t>(dims.back().size) != impl->dictionary.labels.size())
    fail(ErrorCode::kInvalidModel, "'{}' gives {} labels per character, polydict.json has {}",
         model_path, dims.back().size, impl->dictionary.labels.size());
  impl->window = static_cast<size_t>(max_positions(folder) - 1);
  return ChineseG2P(std::move(impl));
}

std::vector<std::string> ChineseG2P::Impl::predict(const std::u32string& sentence) const {
  std::vector<std::string> readings(sentence.size());
  // Sentences longer than the BERT's positions are read window by window.
  for (size_t start = 0; start < sentence.size(); start += window) {
    const size_t n = std::min(window, sentence.size() - start);
    bool any = false;
    for (size_t i = 0; i < n; ++i) any = any || dictionary.polyphones.count(sentence[start + i]);
    if (!any) continue;
    std::vector<int32_t> ids = {cls_id};
    for (size_t i = 0; i < n; ++i)
      ids.push_back(tokenizer.id(to_utf8(sentence.substr(start + i, 1))));
    const Shape shape = {1, static_cast<int64_t>(ids.size())};
    Tensor input = input_dtype == DType::kInt32
                       ? Tensor::from_vector<int32_t>(shape, ids)
                       : Tensor::from_vector<int64_t>(shape, {ids.begin(), ids.end()});
    const Tensor logits = bert->run({{input_name, input}}).at(output_name);
    const size_t labels = dictionary.labels.size();
    // Amphion's model leaves out the [CLS] position; one that keeps it is read past it.
    const int64_t rows = logits.rank() == 3 ? logits.dim(1) : -1;
    if (logits.dtype() != DType::kFloat32 || logits.dim(-1) != static_cast<int64_t>(labels) ||
        (rows != static_cast<int64_t>(n) && rows != static_cast<int64_t>(n + 1)))
      fail(ErrorCode::kInvalidModel,
           "the polyphone BERT gave {} {} for {} characters; expected float32 [1, {}, {}]",
           dtype_name(logits.dtype()), shape_str(logits.shape()), n, n, labels);
    const float* data = logits.data<float>() + (rows == static_cast<int64_t>(n) ? 0 : labels);
    for (size_t i = 0; i < n; ++i) {
      const auto own = dictionary.labels_of.find(sentence[start + i]);
      if (!dictionary.polyphones.count(sentence[start + i]) || own == dictionary.labels_of.end())
        continue;
      // The best of the character's own readings.
      const float* row = data + i * labels;
      const int best = *std::max_element(own->second.begin(), own->second.end(),
                                         [&](int a, int b) { return row[a] < row[b]; });
      readings[start + i] = dictionary.labels[best].second;
    }
  }
  return readings;
}

ChineseG2PResult ChineseG2P::Impl::convert(const std::string& input) const {
  ChineseG2PResult result;
  std::set<char32_t> dropped;
  const std::u32string sentence = normalise(text::read_numbers(to_code_points(input)), dropped);
  if (!dropped.empty())
    result.warnings.push_back("dropped what the Mandarin G2P does not read: " +
                              quoted_list(dropped));
  result.normalized = to_utf8(sentence);
  const std::vector<std::u32string> words = text::merge_words(dictionary.segment(sentence));
  std::vector<std::string> bert_readings;  // run once, on the first polyphone
  std::set<char32_t> unread;
  std::u32string phones;
  size_t position = 0;
  for (const std::u32string& word : words) {
    result.words.push_back(to_utf8(word));
    const size_t word_start = position;
    position += word.size();
    if (std::none_of(word.begin(), word.end(), is_ideograph)) {
      phones += U"|" + word;
      continue;
    }
    std::vector<std::u32string> syllables;
    std::vector<ChineseReading> readings;
    const auto entry = dictionary.lexicon.find(word);
    const bool single_polyphone = word.size() == 1 && dictionary.polyphones.count(word[0]);
    if (entry != dictionary.lexicon.end() && !single_polyphone) {
      for (size_t i = 0; i < word.size(); ++i) {
        syllables.push_back(dictionary.to_bopomofo(entry->second[i]));
        readings.push_back({to_utf8(word.substr(i, 1)), entry->second[i],
                            word.size() == 1 ? "character" : "phrase"});
      }
      if (std::any_of(syllables.begin(), syllables.end(), [](auto& s) { return s.empty(); }))
        syllables.clear(), readings.clear();  // a reading with no spelling: character by character
    }
    for (size_t i = syllables.size() == word.size() ? word.size() : 0; i < word.size(); ++i) {
      const char32_t c = word[i];
      std::string pinyin, source = "unknown";
      if (dictionary.polyphones.count(c) && dictionary.labels_of.count(c)) {
        if (bert_readings.empty()) bert_readings = predict(sentence);
        pinyin = bert_readings[word_start + i], source = "polyphone-bert";
      } else if (const auto one = dictionary.lexicon.find(word.substr(i, 1));
                 one != dictionary.lexicon.end()) {
        pinyin = one->second[0], source = "character";
      }
      std::u32string syllable = dictionary.to_bopomofo(pinyin);
      if (syllable.empty()) {  // Amphion keeps the character itself
        syllable = std::u32string(1, c);
        if (is_ideograph(c)) unread.insert(c), source = "unknown";
      }
      syllables.push_back(syllable);
      if (is_ideograph(c)) readings.push_back({to_utf8(word.substr(i, 1)), pinyin, source});
    }
    text::apply_sandhi(word, syllables);
    text::finish_syllables(syllables);
    for (size_t i = 0; i < syllables.size(); ++i)
      phones += (i == 0 && phones.empty() ? U"" : U"|") + syllables[i];
    result.readings.insert(result.readings.end(), readings.begin(), readings.end());
  }
  if (!unread.empty())
    result.warnings.push_back("no reading in the dictionaries, kept as written: " +
                              quoted_list(unread));
  result.phones = to_utf8(text::bopomofo_to_ipa(phones));
  return result;
}

ChineseG2PResult ChineseG2P::convert(const std::string& text) const { return impl_->convert(text); }

std::vector<std::string> ChineseG2P::predict_polyphones(const std::string& sentence) const {
  return impl_->predict(to_code_points(sentence));
}

ChineseG2P::ChineseG2P(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChineseG2P::~ChineseG2P() = default;
ChineseG2P::ChineseG2P(ChineseG2P&&) noexcept = default;
ChineseG2P& ChineseG2P::operator=(ChineseG2P&&) noexcept = default;

}  // namespace amphora
