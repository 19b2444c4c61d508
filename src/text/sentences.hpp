// Text -> sentences, before flite sees it: characters flite cannot speak are replaced (curly
// quotes, dashes, accented Latin letters) or dropped with a warning, and the text is cut into
// sentences short enough for an acoustic model to speak in one go.
#pragma once

#include <string>
#include <vector>

namespace amphora::text {

// UTF-8 text -> printable ASCII and newlines. Each kind of character dropped (one outside what
// is replaced, an invalid UTF-8 byte) is named once in `warnings`.
std::string clean_text(const std::string& text, std::vector<std::string>& warnings);

// Cleaned text -> sentences: after ".", "!" or "?" (and any closing quote or bracket) when the
// next word starts a sentence, never after a title ("Dr.") or an initial ("J."); at blank
// lines; and, in a run-on sentence, after a comma once it reaches kSoftWordLimit words, or
// anywhere at kHardWordLimit.
std::vector<std::string> split_sentences(const std::string& cleaned);

inline constexpr int kSoftWordLimit = 30;
inline constexpr int kHardWordLimit = 50;
// A "word" longer than this (no spaces) is cut: flite would spell it letter by letter.
inline constexpr size_t kLongestWord = 40;

}  // namespace amphora::text
