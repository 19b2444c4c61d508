// libFuzzer target for what `amphora serve` parses from a request: the query string, the Accept
// header and subtype, an .npy mel body and a JSON speech body. The input is split at its first
// three newlines into query, Accept, subtype and body. Each parser must accept its part or
// refuse it with a RequestError (a JSON error with a 4xx status) -- never crash, hang, throw
// anything else or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "serve/audio_encoding.hpp"
#include "serve/request.hpp"

namespace {

std::string_view next_line(std::string_view& rest) {
  const size_t newline = rest.find('\n');
  const std::string_view line = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  return line;
}

template <typename F>
void expect_parsed_or_refused(F&& parse) {
  try {
    parse();
  } catch (const amphora::serve::RequestError& e) {
    if (e.status() < 400 || e.status() > 499) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace amphora::serve;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const std::string_view query = next_line(rest);
  const std::string_view accept = next_line(rest);
  const std::string_view subtype = next_line(rest);
  const std::string_view body = rest;

  expect_parsed_or_refused([&] { parse_query(query_of(query), {"model", "subtype"}); });
  expect_parsed_or_refused([&] {
    const AudioEncoding encoding = negotiate_encoding(accept, subtype);
    const float samples[3] = {0.5f, -2.0f, 1.0f};
    if (encoding.header(22050).size() % 44 != 0) __builtin_trap();
    if (encoding.encode(samples).empty()) __builtin_trap();
  });
  expect_parsed_or_refused([&] {
    if (!is_npy(body)) return;
    for (int64_t n_mels : {1, 4, 80}) {
      try {
        const amphora::Tensor mel = mel_from_npy(body, n_mels);
        if (mel.rank() != 2 || mel.dim(0) != n_mels || mel.dim(1) < 1) __builtin_trap();
      } catch (const RequestError&) {
      }
    }
  });
  expect_parsed_or_refused([&] {
    const SpeechRequest request = parse_speech_request(body);
    if (request.text.empty() || !(request.speed > 0.1f)) __builtin_trap();
  });
  return 0;
}
