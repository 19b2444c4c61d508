// UTF-8 <-> code points, for the text front ends.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace amphora::text {

// Decodes one code point at text[i]; returns its length in bytes, or 0 for an invalid sequence
// (a stray continuation byte, a truncated sequence, an overlong or surrogate form).
size_t decode_utf8(std::string_view text, size_t i, char32_t& cp);

// The whole text; each invalid byte becomes U+FFFD, which callers drop or report.
std::u32string to_code_points(std::string_view text);

void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(std::u32string_view text);

}  // namespace amphora::text
