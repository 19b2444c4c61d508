// EnglishFrontEnd: the public face of text/sentences (cleaning, splitting) and text/flite_voice
// (phones), and phone_ids, which maps phones onto a voice's phone table.
#include <algorithm>
#include <unordered_map>

#include "amphora/acoustic.hpp"
#include "amphora/text.hpp"
#include "core/error.hpp"
#include "text/flite_voice.hpp"
#include "text/sentences.hpp"

namespace amphora::text {

struct EnglishFrontEnd::Impl {};

EnglishFrontEnd::EnglishFrontEnd() : impl_(std::make_unique<Impl>()) {}
EnglishFrontEnd::~EnglishFrontEnd() = default;
EnglishFrontEnd::EnglishFrontEnd(EnglishFrontEnd&&) noexcept = default;
EnglishFrontEnd& EnglishFrontEnd::operator=(EnglishFrontEnd&&) noexcept = default;

std::vector<std::string> EnglishFrontEnd::split(const std::string& text,
                                                std::vector<std::string>* warnings) const {
  std::vector<std::string> dropped;
  std::vector<std::string> sentences = split_sentences(clean_text(text, dropped));
  if (warnings) warnings->insert(warnings->end(), dropped.begin(), dropped.end());
  return sentences;
}

Phonemized EnglishFrontEnd::phonemize(const std::string& sentence) const {
  std::vector<std::string> warnings;
  const std::string cleaned = clean_text(sentence, warnings);
  Phonemized out = flite::phonemize(cleaned);
  out.warnings = std::move(warnings);
  return out;
}

FliteRecording EnglishFrontEnd::record(const std::string& sentence, const std::string& voice,
                                       double duration_stretch) const {
  std::vector<std::string> warnings;
  return flite::record(clean_text(sentence, warnings), voice, duration_stretch);
}

std::vector<int64_t> phone_ids(const std::vector<std::string>& phones, const AcousticInfo& info,
                               const std::string& package_name) {
  if (info.symbols.empty()) {
    fail(ErrorCode::kInvalidArgument,
         "{}: the package has no phone table (manifest phones.symbols), so text cannot be "
         "turned into its phone ids; give phone ids instead",
         package_name);
  }
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < info.symbols.size(); ++i) {
    ids.emplace(info.symbols[i], static_cast<int64_t>(i));
  }
  std::vector<int64_t> out;
  out.reserve(phones.size());
  for (const std::string& phone : phones) {
    // Amphion's lexicon table writes phones "@AH0"; a symbols.dict table writes them plain.
    auto it = ids.find("@" + phone);
    if (it == ids.end()) it = ids.find(phone);
    if (it == ids.end()) {
      fail(ErrorCode::kInvalidArgument,
           "{}: its phone table has no '{}' (nor '@{}'): the voice was trained with another "
           "phone set than the English front end's",
           package_name, phone, phone);
    }
    out.push_back(it->second);
  }
  return out;
}

}  // namespace amphora::text
