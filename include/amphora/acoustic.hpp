// AcousticModel: a package written by `amphora-export acoustic`. A TTS model (task "tts") takes
// phone ids to a mel (FastSpeech2) or a waveform (VITS); an SVC model (task "svc", VITS-SVC)
// takes frame-aligned content features and f0 to a waveform.
//
//   amphora::AcousticModel fs2 = amphora::AcousticModel::load("pkg/fs2", {.threads = 2});
//   amphora::Synthesis out = fs2.synthesize({12, 40, 7, 33});
//   // out.mel: float32 [n_mels, frames] for a vocoder; out.durations: frames per phone
//
//   amphora::AcousticModel svc = amphora::AcousticModel::load("pkg/vitssvc");
//   std::vector<float> singing = svc.convert({.content = {{"whisper", whisper}}, .f0 = f0});
//
// A TTS frame count is known only after the model ran (the durations it predicts decide it):
// the graph computes it, and the engine sizes everything after it per run. An SVC model's
// frames are its inputs'.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"
#include "amphora/mel_config.hpp"
#include "amphora/vocoder.hpp"

namespace amphora {

// One content feature an SVC model takes (the manifest's content.features).
struct ContentFeature {
  std::string name;   // "whisper", "contentvec", "mert" or "wenet"
  std::string input;  // its graph input: "whisper_feat", ...
  int64_t dim = 0;    // values per frame
};

struct AcousticInfo {
  std::string family;    // "fastspeech2", "vits", "vits_svc"
  std::string task;      // "tts": synthesize(); "svc": convert()
  std::string produces;  // "mel" or "waveform"
  int sample_rate = 0;
  int hop_length = 0;
  int64_t phone_count = 0;           // valid ids are [0, phone_count)
  std::vector<std::string> symbols;  // id -> phone symbol, when the package knows them
  bool intersperse_blank = false;    // VITS: id 0 goes before, between and after the phones
  int64_t speaker_count = 1;         // > 1: synthesize() takes a speaker in [0, speaker_count)
  std::vector<std::string> speaker_names;
  bool has_duration_noise = false;  // VITS with the stochastic duration predictor
  // SVC: what convert() takes, besides the speaker and the noise.
  std::vector<ContentFeature> content_features;
  bool uses_f0 = false;
  bool uses_energy = false;
  int64_t min_frames = 1;  // the fewest frames the decoder runs on (MelGAN pads by 3: 4)
};

// Knobs of one synthesis; each applies to the families that have it.
struct SynthesisControls {
  int64_t speaker = 0;
  float duration = 1.0f;       // FastSpeech2 duration_control, VITS length_scale: larger is slower
  float pitch = 1.0f;          // FastSpeech2
  float energy = 1.0f;         // FastSpeech2
  float noise_scale = 0.667f;  // VITS prior noise (Amphion's inference default)
  float noise_scale_w = 0.8f;  // VITS duration noise
  int64_t seed = 0;            // VITS noise: same seed, same audio
};

struct Synthesis {
  Tensor mel;                      // FastSpeech2: float32 [n_mels, frames]
  std::vector<float> samples;      // VITS: the waveform
  std::vector<int64_t> durations;  // frames per phone id given (after any blanks VITS adds)
};

// The source of one conversion, already aligned to the model's frames (hop_length samples at
// sample_rate; the manifest's content section says how Amphion aligns each feature). Every
// tensor is float32 (float64 is narrowed), with an optional leading batch of 1.
struct ConversionInput {
  // Each of info().content_features by its name ("whisper") or input ("whisper_feat"):
  // [frames, dim].
  std::map<std::string, Tensor> content;
  std::optional<Tensor> f0;      // [frames], Hz, 0 where unvoiced; when info().uses_f0
  std::optional<Tensor> energy;  // [frames], as Amphion's preprocessing stores it; uses_energy
};

struct ConversionControls {
  int64_t speaker = 0;         // target singer, in [0, speaker_count)
  float noise_scale = 0.667f;  // prior noise (Amphion's SVC inference default; 0 is noiseless)
  int64_t seed = 0;            // same seed, same audio
};

class AcousticModel {
 public:
  // A package directory written by `amphora-export acoustic` (amphora.json + model.onnx, or
  // model.ts with Options::backend = kTorchScript).
  static AcousticModel load(const std::string& path, const Options& options = {});

  const AcousticInfo& info() const;
  // FastSpeech2: the mel settings a vocoder must share to turn its mel into audio.
  const std::optional<audio::MelConfig>& mel_config() const;

  // phone ids -> mel or waveform. Ids outside the phone table, an empty sequence, a speaker
  // out of range and controls that are not finite and positive fail naming what is wrong.
  // A TTS model only: an SVC model fails pointing to convert().
  Synthesis synthesize(const std::vector<int64_t>& phone_ids,
                       const SynthesisControls& controls = {}) const;

  // content features + f0 (+ energy) -> frames * hop_length samples, for an SVC model (a TTS
  // model fails pointing to synthesize()). A feature missing, unknown or given twice, of the
  // wrong dim, frame counts that disagree, no frames, values that are not finite, f0 below 0,
  // a speaker out of range and a noise scale that is not finite and >= 0 fail
  // (kInvalidArgument) naming the input and its shape.
  std::vector<float> convert(const ConversionInput& input,
                             const ConversionControls& controls = {}) const;

  struct Impl;

 private:
  explicit AcousticModel(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Fails (kInvalidArgument) naming each setting in which a vocoder's mel differs from what the
// acoustic model produces, so that a mismatched pair is refused before any audio is made.
void check_mel_match(const audio::MelConfig& acoustic, const std::string& acoustic_name,
                     const audio::MelConfig& vocoder, const std::string& vocoder_name);

// The vocoder package at `vocoder_path` for mel model `model` (loaded from `model_name`):
// refused when it carries no mel settings (a bare model) or they differ from the model's.
Vocoder load_matching_vocoder(const AcousticModel& model, const std::string& model_name,
                              const std::string& vocoder_path, const VocoderOptions& options);

}  // namespace amphora
