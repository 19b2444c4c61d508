// Synthesizer: English text in, speech out. The text is cut into sentences and phonemized by
// the English front end (amphora/text.hpp); each sentence goes through the voice (an acoustic
// model package) and, for a voice that makes mels, the vocoder. Audio reaches the caller a
// sentence at a time, or -- streaming -- a few mel frames at a time as the vocoder makes it
// final, so the first audio of a long text comes after its first sentence's acoustic model.
//
//   amphora::Synthesizer tts = amphora::Synthesizer::load("models/voice", "models/vocoder");
//   tts.speak("Hello there. How are you?", {.stream = true},
//             [&](std::span<const float> samples) { play(samples); });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "amphora/acoustic.hpp"

namespace amphora {

struct SpeechOptions {
  int64_t speaker = 0;
  float speed = 1.0f;   // > 1 speaks faster (the voice's durations are divided by it)
  bool stream = false;  // hand audio on as the vocoder makes it, not per sentence
  // Streaming: mel frames of audio the first push makes final (it adds the vocoder's look-ahead);
  // later pushes double, up to 128.
  int64_t chunk_frames = 16;
};

struct SpeechReport {
  size_t sentences = 0;               // spoken
  size_t skipped = 0;                 // with nothing to say (only punctuation)
  int64_t samples = 0;                // delivered to the sink
  double first_audio_ms = 0.0;        // from speak() being called to the first samples delivered
  double compute_ms = 0.0;            // front end + voice + vocoder, the sink's own time excluded
  std::vector<std::string> warnings;  // characters dropped by the front end
};

class Synthesizer {
 public:
  // `vocoder` may be empty for a voice that makes the waveform itself (VITS). Fails naming the
  // package at fault: not a text-to-speech voice, a voice without a phone table, a mel voice
  // without a vocoder, or a vocoder whose mel settings differ from the voice's.
  static Synthesizer load(const std::string& voice, const std::string& vocoder,
                          const Options& options = {});

  const AcousticInfo& voice_info() const;
  int sample_rate() const;

  using AudioSink = std::function<void(std::span<const float> samples)>;
  // Called before each sentence with its index and the sentence count.
  using Progress = std::function<void(size_t sentence, size_t sentences)>;

  // Speaks `text`, handing audio to `sink` in order. Fails (kInvalidArgument) before any audio
  // when the text has nothing to speak, the speaker is out of range or the speed is not in
  // (0.1, 10]; an error mid-text comes after the audio of the sentences before it.
  SpeechReport speak(const std::string& text, const SpeechOptions& options, const AudioSink& sink,
                     const Progress& progress = {}) const;

  // The whole text's samples at once.
  std::vector<float> speak(const std::string& text, const SpeechOptions& options = {}) const;

  struct Impl;

 private:
  explicit Synthesizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace amphora
