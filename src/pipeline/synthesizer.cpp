#include "amphora/synthesizer.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

#include "amphora/text.hpp"
#include "amphora/vocoder.hpp"
#include "core/error.hpp"

namespace amphora {

struct Synthesizer::Impl {
  std::string voice_path;
  AcousticModel voice;
  std::optional<Vocoder> vocoder;
  text::EnglishFrontEnd front_end;
};

namespace {

using Clock = std::chrono::steady_clock;

// Streaming: the largest chunk after the first (1.5 s at 22.05 kHz and hop 256).
constexpr int64_t kMaxChunkFrames = 128;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Whether flite will find a word in it: a letter or a digit (punctuation alone says nothing).
bool has_words(const std::string& sentence) {
  return std::any_of(sentence.begin(), sentence.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; });
}

// Columns [start, start + count) of a [n_mels, frames] mel.
Tensor mel_columns(const Tensor& mel, int64_t start, int64_t count) {
  const int64_t bins = mel.dim(0), frames = mel.dim(1);
  Tensor out = Tensor::uninitialized(DType::kFloat32, {bins, count});
  const float* in = mel.data<float>();
  float* o = out.data<float>();
  for (int64_t b = 0; b < bins; ++b) {
    std::copy_n(in + b * frames + start, count, o + b * count);
  }
  return out;
}

void check_options(const SpeechOptions& options, const AcousticInfo& info) {
  if (options.speaker < 0 || options.speaker >= info.speaker_count) {
    fail(ErrorCode::kInvalidArgument, "speaker {} is out of range: the voice has {} speaker{}",
         options.speaker, info.speaker_count,
         info.speaker_count == 1 ? "" : fmt::format("s (0..{})", info.speaker_count - 1));
  }
  if (!(options.speed > 0.1f && options.speed <= 10.0f)) {
    fail(ErrorCode::kInvalidArgument, "speed {} is outside (0.1, 10]", options.speed);
  }
  if (options.stream && options.chunk_frames < 1) {
    fail(ErrorCode::kInvalidArgument, "chunk of {} mel frames: give at least 1",
         options.chunk_frames);
  }
}

}  // namespace

Synthesizer Synthesizer::load(const std::string& voice, const std::string& vocoder,
                              const Options& options) {
  auto impl = std::make_shared<Impl>(Impl{voice, AcousticModel::load(voice, options), {}, {}});
  const AcousticInfo& info = impl->voice.info();
  if (info.task != "tts") {
    fail(ErrorCode::kInvalidArgument, "{}: a {} model, not a text-to-speech voice", voice,
         info.task);
  }
  if (info.symbols.empty()) {
    fail(ErrorCode::kInvalidArgument,
         "{}: the voice carries no phone table (manifest phones.symbols), so text cannot be "
         "turned into its phone ids",
         voice);
  }
  if (info.produces == "mel") {
    if (vocoder.empty()) {
      fail(ErrorCode::kInvalidArgument, "{} makes mels: give a vocoder package to speak", voice);
    }
    VocoderOptions vocoder_options;
    static_cast<Options&>(vocoder_options) = options;
    impl->vocoder.emplace(load_matching_vocoder(impl->voice, voice, vocoder, vocoder_options));
    // The vocoder's streaming analysis (probe runs) is done once, here, so that a streamed
    // text's first audio does not wait for it.
    impl->vocoder->stream_info();
  } else if (!vocoder.empty()) {
    fail(ErrorCode::kInvalidArgument, "{} makes the waveform itself: it takes no vocoder", voice);
  }
  return Synthesizer(std::move(impl));
}

const AcousticInfo& Synthesizer::voice_info() const { return impl_->voice.info(); }

int Synthesizer::sample_rate() const { return impl_->voice.info().sample_rate; }

SpeechReport Synthesizer::speak(const std::string& text, const SpeechOptions& options,
                                const AudioSink& sink, const Progress& progress) const {
  const Clock::time_point start = Clock::now();
  const AcousticInfo& info = impl_->voice.info();
  check_options(options, info);
  SpeechReport report;
  std::vector<std::string> sentences = impl_->front_end.split(text, &report.warnings);
  const size_t before = sentences.size();
  sentences.erase(std::remove_if(sentences.begin(), sentences.end(),
                                 [](const std::string& s) { return !has_words(s); }),
                  sentences.end());
  report.skipped = before - sentences.size();
  if (sentences.empty()) {
    fail(ErrorCode::kInvalidArgument, "the text has nothing to speak: {}",
         text.find_first_not_of(" \t\r\n") == std::string::npos ? std::string("it is empty")
         : report.warnings.empty() ? std::string("no letters or digits, only punctuation")
                                   : "no letters or digits once " + report.warnings.front());
  }

  double sink_ms = 0.0;
  const auto deliver = [&](std::span<const float> samples) {
    if (samples.empty()) return;
    const Clock::time_point at = Clock::now();
    if (report.samples == 0) report.first_audio_ms = ms_between(start, at);
    sink(samples);
    sink_ms += ms_between(at, Clock::now());
    report.samples += static_cast<int64_t>(samples.size());
  };

  SynthesisControls controls;
  controls.speaker = options.speaker;
  controls.duration = 1.0f / options.speed;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (progress) progress(i, sentences.size());
    const text::Phonemized phones = impl_->front_end.phonemize(sentences[i]);
    if (phones.words.empty()) {
      ++report.skipped;
      continue;
    }
    const Synthesis out =
        impl_->voice.synthesize(text::phone_ids(phones.phones, info, impl_->voice_path), controls);
    ++report.sentences;
    if (!impl_->vocoder) {
      deliver(out.samples);
    } else if (!options.stream) {
      deliver(impl_->vocoder->vocode(out.mel));
    } else {
      // The sentence's whole mel is there: only the first chunk decides when audio starts. It
      // also carries the vocoder's look-ahead, so that it makes chunk_frames of audio final
      // (a first push within the look-ahead would make none). Each later chunk is twice the
      // one before (up to kMaxChunkFrames), so the vocoder recomputes its context less often,
      // and a player stays fed: making a chunk takes RTF times its audio, which is less than
      // the audio already delivered while RTF < 0.5.
      VocoderStream stream = impl_->vocoder->stream();
      const int64_t frames = out.mel.dim(1);
      int64_t chunk = options.chunk_frames + impl_->vocoder->stream_info().lookahead_frames;
      for (int64_t at = 0; at < frames; at += chunk) {
        if (at > 0) chunk = std::max(chunk, std::min(2 * chunk, kMaxChunkFrames));
        deliver(stream.push(mel_columns(out.mel, at, std::min(chunk, frames - at))));
      }
      deliver(stream.finish());
    }
  }
  if (report.sentences == 0) {
    fail(ErrorCode::kInvalidArgument, "the text has nothing to speak: flite found no words in it");
  }
  report.compute_ms = ms_between(start, Clock::now()) - sink_ms;
  return report;
}

std::vector<float> Synthesizer::speak(const std::string& text, const SpeechOptions& options) const {
  std::vector<float> samples;
  speak(text, options,
        [&](std::span<const float> s) { samples.insert(samples.end(), s.begin(), s.end()); });
  return samples;
}

}  // namespace amphora
