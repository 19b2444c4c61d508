// amphora_synthesizer: amphora::Synthesizer behind the C ABI, with its audio sink as a C
// callback.
#include "capi/boundary.hpp"

namespace amphora::capi {
namespace {

constexpr size_t kSpeechFirstSize =
    offsetof(amphora_speech_options, chunk_frames) + sizeof(int64_t);

amphora_speech_options default_speech_options() {
  const SpeechOptions defaults;
  amphora_speech_options options{};
  options.struct_size = sizeof options;
  options.speaker = defaults.speaker;
  options.speed = defaults.speed;
  options.stream = defaults.stream ? 1 : 0;
  options.chunk_frames = defaults.chunk_frames;
  return options;
}

// The synthesizer checks the values (speaker, speed, chunk) against the voice.
SpeechOptions speech_options(const amphora_speech_options* given) {
  const amphora_speech_options c =
      read_struct(given, default_speech_options(), kSpeechFirstSize, "amphora_speech_options");
  SpeechOptions options;
  options.speaker = c.speaker;
  options.speed = c.speed;
  options.stream = c.stream != 0;
  options.chunk_frames = c.chunk_frames;
  return options;
}

}  // namespace
}  // namespace amphora::capi

using namespace amphora::capi;

extern "C" {

amphora_status amphora_speech_options_init_sized(amphora_speech_options* options,
                                                 size_t struct_size) {
  return guarded(__func__, [&] {
    write_struct(&require(options, "options"), struct_size, default_speech_options(),
                 kSpeechFirstSize, "amphora_speech_options");
  });
}

amphora_status amphora_synthesizer_load(const char* voice, const char* vocoder,
                                        const amphora_options* options,
                                        amphora_synthesizer** synthesizer) {
  clear(synthesizer);
  return guarded(__func__, [&] {
    require(synthesizer, "synthesizer");
    require(voice, "voice");
    *synthesizer = new amphora_synthesizer{
        amphora::Synthesizer::load(voice, vocoder ? vocoder : "", load_options(options))};
  });
}

void amphora_synthesizer_destroy(amphora_synthesizer* synthesizer) { delete synthesizer; }

amphora_status amphora_synthesizer_sample_rate(const amphora_synthesizer* synthesizer,
                                               int32_t* sample_rate) {
  clear(sample_rate);
  return guarded(__func__, [&] {
    require(sample_rate, "sample_rate") =
        require(synthesizer, "synthesizer").synthesizer.sample_rate();
  });
}

amphora_status amphora_synthesizer_speaker_count(const amphora_synthesizer* synthesizer,
                                                 int64_t* speaker_count) {
  clear(speaker_count);
  return guarded(__func__, [&] {
    require(speaker_count, "speaker_count") =
        require(synthesizer, "synthesizer").synthesizer.voice_info().speaker_count;
  });
}

amphora_status amphora_synthesizer_speak(const amphora_synthesizer* synthesizer, const char* text,
                                         const amphora_speech_options* options, float** samples,
                                         size_t* sample_count) {
  clear(samples);
  clear(sample_count);
  return guarded(__func__, [&] {
    const amphora::Synthesizer& loaded = require(synthesizer, "synthesizer").synthesizer;
    require(text, "text");
    require(samples, "samples");
    require(sample_count, "sample_count");
    give_samples(loaded.speak(text, speech_options(options)), samples, sample_count);
  });
}

amphora_status amphora_synthesizer_speak_streamed(const amphora_synthesizer* synthesizer,
                                                  const char* text,
                                                  const amphora_speech_options* options,
                                                  amphora_audio_callback callback,
                                                  void* user_data) {
  return guarded(__func__, [&] {
    const amphora::Synthesizer& loaded = require(synthesizer, "synthesizer").synthesizer;
    require(text, "text");
    if (!callback) refuse(AMPHORA_STATUS_NULL_ARGUMENT, "callback is NULL");
    size_t delivered = 0;
    // A non-zero answer unwinds the synthesis by an exception, which the guard turns into
    // AMPHORA_STATUS_CANCELLED; the callback itself is C and throws nothing.
    loaded.speak(text, speech_options(options), [&](std::span<const float> audio) {
      if (audio.empty()) return;
      const int32_t answer = callback(audio.data(), audio.size(), user_data);
      delivered += audio.size();
      if (answer != 0) {
        refuse(AMPHORA_STATUS_CANCELLED, "the audio callback returned {} after {} samples: stopped",
               answer, delivered);
      }
    });
  });
}

}  // extern "C"
