// How streamed audio goes over the wire. The container comes from the Accept header, the sample
// format from the `subtype` query parameter (named as `amphora vocode --subtype` names them):
//   audio/wav (the default; also audio/wave, audio/x-wav, audio/*, */*)
//       a WAV header, then samples; the length is unknown when the header leaves, so the RIFF
//       and data sizes are 0xFFFFFFFF, as streaming WAV writers (ffmpeg, sox) write them:
//       readers take "to the end of the stream".
//   audio/L16  raw signed 16-bit big-endian samples (network byte order, RFC 2586), described
//       by the Content-Type parameters: audio/L16;rate=22050;channels=1. No header.
//   subtype=pcm16 (default) or float (IEEE float32, WAV format 3: the vocoder's exact output;
//       WAV only, as audio/L16 is 16-bit by definition).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace amphora::serve {

struct AudioEncoding {
  enum class Container { kWav, kL16 } container = Container::kWav;
  enum class Sample { kPcm16, kFloat32 } sample = Sample::kPcm16;

  std::string content_type(int sample_rate) const;
  // The bytes that go before any sample: a streaming WAV header (44 bytes), or nothing.
  std::string header(int sample_rate) const;
  // Samples as bytes. 16-bit samples are clipped to [-1, 1] and scaled by 32767, as libsndfile
  // writes a float signal to a 16-bit wav (`amphora vocode -o out.wav`).
  std::string encode(std::span<const float> samples) const;
};

// From the Accept header (a list of media ranges with q-values; the best-quality one amphora
// serves wins, empty = audio/wav) and `subtype` ("" = pcm16). 406 naming the types served when
// none is acceptable; 400 for an unknown subtype or float with audio/L16.
AudioEncoding negotiate_encoding(std::string_view accept, std::string_view subtype);

}  // namespace amphora::serve
