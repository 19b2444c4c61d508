// What a request to `amphora serve` carries, parsed without a socket in sight: the query string,
// the Accept header, an .npy or audio body, a JSON speech request. Pure functions, so the unit
// tests and the fuzzer (tests/fuzz/fuzz_serve_request.cpp) reach every branch the server does.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "amphora/tensor.hpp"

namespace amphora::serve {

// A request the server refuses: the HTTP status and a message naming what was wrong. The server
// sends it as {"error": {"status": 400, "message": "..."}}.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

template <typename... Args>
[[noreturn]] void refuse(int status, fmt::format_string<Args...> format, Args&&... args) {
  throw RequestError(status, fmt::format(format, std::forward<Args>(args)...));
}

// The query part of a request target ("/v1/vocode?model=a" -> "model=a"; "" when none).
std::string_view query_of(std::string_view target);

// "a=1&b=x%20y" -> {a: "1", b: "x y"} (percent escapes and '+' decoded). 400 on a malformed
// escape, a name given twice, or a name not in `known` (a typo such as ?mdoel= must not be
// silently ignored).
std::map<std::string, std::string> parse_query(std::string_view query,
                                               std::initializer_list<std::string_view> known);

// Whether a body is a NumPy .npy (a mel) -- by its magic -- or, otherwise, audio to
// copy-synthesise.
bool is_npy(std::string_view body);

// A mel for a vocoder with `n_mels` bins from an .npy body: float32 or float64 (converted),
// [n_mels, T] or [1, n_mels, T] with T >= 1, every value finite. 400 naming the shape, dtype or
// the first bad value otherwise. Returns float32 [n_mels, T].
Tensor mel_from_npy(std::string_view body, int64_t n_mels);

// POST /v1/tts's JSON body: {"text": "...", "voice": "name", "speaker": 0, "speed": 1.0}; only
// text is required. 400 naming the field that is missing, of the wrong type, or unknown.
struct SpeechRequest {
  std::string text;
  std::string voice;  // empty: the server's first voice
  int64_t speaker = 0;
  float speed = 1.0f;
};
SpeechRequest parse_speech_request(std::string_view body);

}  // namespace amphora::serve
