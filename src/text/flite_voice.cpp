#include "text/flite_voice.hpp"

#include <flite/flite.h>

#include <cctype>
#include <cmath>
#include <memory>
#include <mutex>

#include "core/error.hpp"

extern "C" {
// Defined by libflite_usenglish, libflite_cmulex and each voice's library; flite ships no header
// for them.
void usenglish_init(cst_voice* v);
cst_lexicon* cmu_lex_init(void);
cst_voice* register_cmu_us_slt(const char* voxdir);
cst_voice* register_cmu_us_rms(const char* voxdir);
cst_voice* register_cmu_us_awb(const char* voxdir);
cst_voice* register_cmu_us_kal16(const char* voxdir);
}

namespace amphora::text::flite {
namespace {

std::mutex& flite_lock() {
  static std::mutex lock;
  return lock;
}

// flite's text-to-phones modules, in its own order (utt_synth's list), stopping before the
// duration, intonation and waveform modules, which a phone sequence does not need.
const cst_synth_module kTextToPhones[] = {
    {"tokenizer_func", default_tokenization},
    {"textanalysis_func", default_textanalysis},
    {"pos_tagger_func", default_pos_tagger},
    {"phrasing_func", default_phrasing},
    {"lexical_insertion_func", default_lexical_insertion},
    {"pause_insertion_func", default_pause_insertion},
    {"postlex_func", nullptr},
    {nullptr, nullptr},
};

// The voice flite's US voices are built on, without their acoustic models: what each voice's
// register function sets up for text.
cst_voice* text_voice() {
  static cst_voice* voice = [] {
    flite_init();
    cst_voice* v = new_voice();
    usenglish_init(v);
    cst_lexicon* lexicon = cmu_lex_init();
    feat_set(v->features, "lexicon", lexicon_val(lexicon));
    feat_set(v->features, "postlex_func", uttfunc_val(lexicon->postlex));
    return v;
  }();
  return voice;
}

struct NamedVoice {
  const char* name;
  cst_voice* (*reg)(const char*);
};
const NamedVoice kVoices[] = {{"slt", register_cmu_us_slt},
                              {"rms", register_cmu_us_rms},
                              {"awb", register_cmu_us_awb},
                              {"kal16", register_cmu_us_kal16}};

cst_voice* named_voice(const std::string& name) {
  for (const NamedVoice& v : kVoices) {
    if (name == v.name) {
      flite_init();
      return v.reg(nullptr);  // flite keeps one voice per library: later calls return it
    }
  }
  std::string known;
  for (const std::string& n : voice_names()) known += (known.empty() ? "" : ", ") + n;
  fail(ErrorCode::kInvalidArgument, "'{}' is not a flite voice amphora knows ({})", name, known);
}

// flite's phone names are the CMU dictionary's in lower case, plus "ax" (a schwa flite's
// post-lexical rules make of "ah0") and "pau".
std::string arpabet(const std::string& flite_phone, const char* stress, bool vowel) {
  std::string phone = flite_phone == "ax" ? "ah" : flite_phone;
  for (char& c : phone) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (vowel) phone += (stress && *stress) ? stress : "0";
  return phone;
}

struct Utterance {
  cst_utterance* utt;
  ~Utterance() { delete_utterance(utt); }
};

// The Segment relation as phones, each with the word it belongs to; the first and last pause
// are the sentence's silences.
void read_segments(cst_utterance* utt, Phonemized& out, std::vector<double>* ends) {
  const cst_item* last_word = nullptr;
  for (cst_item* seg = relation_head(utt_relation(utt, "Segment")); seg; seg = item_next(seg)) {
    const std::string name = item_feat_string(seg, "name");
    if (ends) ends->push_back(item_feat_float(seg, "end"));
    if (name == "pau") {
      out.phones.push_back(item_prev(seg) && item_next(seg) ? "sp" : "sil");
      last_word = nullptr;
      continue;
    }
    const bool vowel = std::string(ffeature_string(seg, "ph_vc")) == "+";
    out.phones.push_back(
        arpabet(name, vowel ? ffeature_string(seg, "R:SylStructure.parent.stress") : "", vowel));
    const cst_item* in_syllable = item_as(seg, "SylStructure");
    const cst_item* word = in_syllable ? item_parent(item_parent(in_syllable)) : nullptr;
    if (word != last_word || out.words.empty()) {
      out.words.push_back({word ? item_feat_string(word, "name") : "", {}});
      last_word = word;
    }
    out.words.back().phones.push_back(out.phones.back());
  }
  if (out.phones.empty()) out.phones.push_back("sil");
}

}  // namespace

const std::vector<std::string>& voice_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const NamedVoice& v : kVoices) n.emplace_back(v.name);
    return n;
  }();
  return names;
}

Phonemized phonemize(const std::string& sentence) {
  std::lock_guard<std::mutex> guard(flite_lock());
  Phonemized out;
  out.text = sentence;
  Utterance u{new_utterance()};
  utt_set_input_text(u.utt, sentence.c_str());
  utt_init(u.utt, text_voice());
  if (!apply_synth_method(u.utt, kTextToPhones)) {
    fail(ErrorCode::kInternal, "flite could not analyse the sentence '{}'", sentence);
  }
  read_segments(u.utt, out, nullptr);
  return out;
}

FliteRecording record(const std::string& sentence, const std::string& voice_name,
                      double duration_stretch) {
  if (!(duration_stretch > 0.1 && duration_stretch < 10.0)) {
    fail(ErrorCode::kInvalidArgument, "duration stretch {} is outside (0.1, 10)", duration_stretch);
  }
  std::lock_guard<std::mutex> guard(flite_lock());
  cst_voice* voice = named_voice(voice_name);
  feat_set_float(voice->features, "duration_stretch", static_cast<float>(duration_stretch));
  Utterance u{flite_synth_text(sentence.c_str(), voice)};
  feat_set_float(voice->features, "duration_stretch", 1.0f);
  const cst_wave* wave = u.utt ? utt_wave(u.utt) : nullptr;
  if (!wave)
    fail(ErrorCode::kInternal, "flite voice {} made no audio for '{}'", voice_name, sentence);

  FliteRecording out;
  out.sample_rate = wave->sample_rate;
  out.samples.resize(static_cast<size_t>(wave->num_samples) * wave->num_channels);
  for (size_t i = 0; i < out.samples.size(); ++i) out.samples[i] = wave->samples[i] / 32768.0f;
  Phonemized phones;
  std::vector<double> ends;
  read_segments(u.utt, phones, &ends);
  for (size_t i = 0; i < ends.size(); ++i) out.phones.push_back({phones.phones[i], ends[i]});
  return out;
}

}  // namespace amphora::text::flite
