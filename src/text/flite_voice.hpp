// libflite behind one small interface: a text-only voice (flite's US English text analysis and
// CMU lexicon, no acoustics) for phonemizing, and flite's own voices for labelled recordings.
// libflite is C with process-wide state, so every call here holds one lock.
#pragma once

#include <string>
#include <vector>

#include "amphora/text.hpp"

namespace amphora::text::flite {

// A sentence through flite's text analysis, phrasing, lexicon and post-lexical rules: the phones
// (ARPAbet with stress, "sil"/"sp" for pauses) grouped by word.
Phonemized phonemize(const std::string& sentence);

// A sentence spoken by one of flite's voices, with each phone's end time.
FliteRecording record(const std::string& sentence, const std::string& voice,
                      double duration_stretch);

// The voices record() knows.
const std::vector<std::string>& voice_names();

}  // namespace amphora::text::flite
