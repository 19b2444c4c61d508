// The English text front end: text -> sentences -> phones, on libflite (CMU's Flite: text
// normalisation of numbers, dates and abbreviations, the CMU lexicon, letter-to-sound rules for
// words it lacks, phrasing and pauses).
//
//   amphora::text::EnglishFrontEnd front_end;
//   for (const std::string& sentence : front_end.split(text)) {
//     amphora::text::Phonemized p = front_end.phonemize(sentence);
//     std::vector<int64_t> ids = amphora::text::phone_ids(p, voice.info());
//   }
//
// Phones are ARPAbet as the CMU dictionary writes them, vowels with their stress digit ("AH0",
// "EY1"), plus "sil" (silence before and after a sentence) and "sp" (a pause between phrases):
// the symbols Amphion's lexicon front end gives its acoustic models.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace amphora {
struct AcousticInfo;
}

namespace amphora::text {

struct Word {
  std::string text;                 // the word flite spoke ("forty" for the "4" of "42")
  std::vector<std::string> phones;  // its phones
};

struct Phonemized {
  std::string text;                   // the sentence as given (after cleaning)
  std::vector<std::string> phones;    // the whole sentence, pauses included
  std::vector<Word> words;            // the same phones grouped by word, pauses left out
  std::vector<std::string> warnings;  // characters dropped, and why
};

// One phone as a flite voice spoke it: what the training data of a voice is labelled with.
struct TimedPhone {
  std::string phone;   // as in Phonemized::phones
  double end_seconds;  // where it ends in the flite voice's audio
};

struct FliteRecording {
  std::vector<TimedPhone> phones;
  std::vector<float> samples;  // mono, in [-1, 1]
  int sample_rate = 0;
};

class EnglishFrontEnd {
 public:
  EnglishFrontEnd();
  ~EnglishFrontEnd();
  EnglishFrontEnd(EnglishFrontEnd&&) noexcept;
  EnglishFrontEnd& operator=(EnglishFrontEnd&&) noexcept;

  // Sentences of a text, in order: a split after ".", "!" or "?" (not after abbreviations such
  // as "Dr." or initials), at blank lines, and inside a sentence too long to speak in one go.
  // Characters flite cannot speak are dropped here, each kind named once in `warnings`.
  std::vector<std::string> split(const std::string& text,
                                 std::vector<std::string>* warnings = nullptr) const;

  // One sentence -> phones. A sentence with nothing to say (only punctuation) gives no word and
  // phones {"sil"}; callers skip it.
  Phonemized phonemize(const std::string& sentence) const;

  // The sentence spoken by one of flite's own voices ("slt", "rms", "awb", "kal16"), with each
  // phone's end time: the labels a voice is trained on. `duration_stretch` > 1 speaks slower.
  // Its phones equal phonemize()'s for the same sentence.
  FliteRecording record(const std::string& sentence, const std::string& voice,
                        double duration_stretch = 1.0) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Phones -> the ids of an acoustic model's phone table (AcousticInfo::symbols), which holds
// Amphion's lexicon symbols ("@AH0", "@sp") or plain ones ("AH0"). Fails naming the phone the
// table lacks, or the package when it carries no table.
std::vector<int64_t> phone_ids(const std::vector<std::string>& phones, const AcousticInfo& info,
                               const std::string& package_name);

}  // namespace amphora::text
