#include "text/chinese_dictionary.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.hpp"
#include "text/utf8.hpp"

namespace amphora::text {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::kIo, "cannot read '{}'", path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// "word\tvalue" -> (word, value); fails naming the file and line.
std::pair<std::string, std::string> tab_pair(const std::string& line, const std::string& path,
                                             size_t number) {
  const size_t tab = line.find('\t');
  if (tab == std::string::npos || tab == 0 || tab + 1 == line.size())
    fail(ErrorCode::kInvalidModel, "{} line {}: expected 'key<TAB>value', got '{}'", path, number,
         line);
  return {line.substr(0, tab), line.substr(tab + 1)};
}

bool is_tone(char c) { return c >= '0' && c <= '5'; }

}  // namespace

std::string find_model_file(const std::string& folder, const std::string& name, bool parent_too) {
  const fs::path here = fs::path(folder) / name;
  if (fs::is_regular_file(here)) return here.string();
  const fs::path parent = fs::path(folder).lexically_normal().parent_path() / name;
  if (parent_too && fs::is_regular_file(parent)) return parent.string();
  if (parent_too)
    fail(ErrorCode::kIo, "the G2P model folder '{}' lacks {} (looked for '{}' and '{}')", folder,
         name, here.string(), parent.string());
  fail(ErrorCode::kIo, "the G2P model folder '{}' lacks {} ('{}')", folder, name, here.string());
}

ChineseDictionary ChineseDictionary::load(const std::string& folder) {
  ChineseDictionary d;
  const std::string bpmf_path = find_model_file(folder, "pinyin_2_bpmf.txt", true);
  const std::vector<std::string> bpmf = lines_of(bpmf_path);
  for (size_t i = 0; i < bpmf.size(); ++i) {
    if (bpmf[i].empty()) continue;
    auto [pinyin, spelling] = tab_pair(bpmf[i], bpmf_path, i + 1);
    d.bopomofo[pinyin] = to_code_points(spelling);
  }

  const std::string lexicon_path = find_model_file(folder, "chinese_lexicon.txt", true);
  const std::vector<std::string> lexicon = lines_of(lexicon_path);
  for (size_t i = 0; i < lexicon.size(); ++i) {
    if (lexicon[i].empty()) continue;
    auto [word, readings] = tab_pair(lexicon[i], lexicon_path, i + 1);
    std::vector<std::string> pinyins;
    std::istringstream in(readings);
    for (std::string p; in >> p;) pinyins.push_back(p);
    std::u32string key = to_code_points(word);
    // An entry whose readings do not pair with its characters is of no use to the G2P.
    if (pinyins.size() != key.size()) continue;
    d.longest_word = std::max(d.longest_word, key.size());
    d.lexicon[std::move(key)] = std::move(pinyins);
  }

  const std::string poly_path = find_model_file(folder, "polychar.txt", false);
  for (const std::string& line : lines_of(poly_path)) {
    const std::u32string chars = to_code_points(line);
    if (chars.size() == 1) d.polyphones.insert(chars[0]);
  }
  if (d.polyphones.empty())
    fail(ErrorCode::kInvalidModel, "'{}' lists no polyphonic character", poly_path);

  const std::string labels_path = find_model_file(folder, "polydict.json", false);
  std::ifstream in(labels_path, std::ios::binary);
  nlohmann::json labels;
  try {
    labels = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kInvalidModel, "'{}' is not JSON: {}", labels_path, e.what());
  }
  if (!labels.is_object() || labels.empty())
    fail(ErrorCode::kInvalidModel, "'{}' should map label ids to \"字{{pinyin}}\"", labels_path);
  d.labels.resize(labels.size());
  for (const auto& [key, value] : labels.items()) {
    // "3": "中{zhong1}"
    size_t id = 0;
    try {
      id = std::stoul(key);
    } catch (const std::exception&) {
    }
    const std::u32string name = value.is_string() ? to_code_points(value.get<std::string>()) : U"";
    if (id < 1 || id > labels.size() || name.size() < 5 || name[1] != U'{' || name.back() != U'}')
      fail(ErrorCode::kInvalidModel, "'{}': label \"{}\": {} is not a 字{{pinyin}} label",
           labels_path, key, value.dump());
    const std::string pinyin = to_utf8(name.substr(2, name.size() - 3));
    d.labels[id - 1] = {name[0], pinyin};
    d.labels_of[name[0]].push_back(static_cast<int>(id - 1));
  }
  return d;
}

std::u32string ChineseDictionary::to_bopomofo(const std::string& pinyin) const {
  if (pinyin.size() < 2 || !is_tone(pinyin.back())) return U"";
  const auto it = bopomofo.find(pinyin.substr(0, pinyin.size() - 1));
  if (it == bopomofo.end()) return U"";
  static const char32_t kMarks[] = {U'˙', 0, U'ˊ', U'ˇ', U'ˋ', U'˙'};
  const char32_t mark = kMarks[pinyin.back() - '0'];
  return mark == 0 ? it->second : it->second + mark;
}

std::vector<std::u32string> ChineseDictionary::segment(const std::u32string& text) const {
  std::vector<std::u32string> words;
  size_t i = 0;
  while (i < text.size()) {
    size_t length = std::min(longest_word, text.size() - i);
    for (; length > 1; --length)
      if (lexicon.count(text.substr(i, length))) break;
    words.push_back(text.substr(i, length));
    i += length;
  }
  return words;
}

}  // namespace amphora::text
