// libFuzzer target for the audio reader (libsndfile over the bytes in memory: wav, flac, aiff,
// ...): any byte string must decode to mono samples at a positive rate, or fail with
// amphora::Error -- never crash, hang or allocate more than the decoded audio needs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "audio/wav_io.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    amphora::audio::AudioBuffer audio = amphora::audio::read_audio_from_memory(bytes, "fuzz.wav");
    if (audio.samples.empty() || audio.sample_rate <= 0 || audio.channels_in_file <= 0) {
      __builtin_trap();
    }
  } catch (const amphora::Error&) {
  }
  return 0;
}
