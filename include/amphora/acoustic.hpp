// AcousticModel: phone ids in, a mel (FastSpeech2) or a waveform (VITS) out, for a package
// written by `amphora-export acoustic`.
//
//   amphora::AcousticModel fs2 = amphora::AcousticModel::load("pkg/fs2", {.threads = 2});
//   amphora::Synthesis out = fs2.synthesize({12, 40, 7, 33});
//   // out.mel: float32 [n_mels, frames] for a vocoder; out.durations: frames per phone
//
// The frame count is known only after the model ran (the durations it predicts decide it): the
// graph computes it, and the engine sizes everything after it per run.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"
#include "amphora/mel_config.hpp"

namespace amphora {

struct AcousticInfo {
  std::string family;    // "fastspeech2", "vits"
  std::string produces;  // "mel" or "waveform"
  int sample_rate = 0;
  int hop_length = 0;
  int64_t phone_count = 0;           // valid ids are [0, phone_count)
  std::vector<std::string> symbols;  // id -> phone symbol, when the package knows them
  bool intersperse_blank = false;    // VITS: id 0 goes before, between and after the phones
  int64_t speaker_count = 1;         // > 1: synthesize() takes a speaker in [0, speaker_count)
  std::vector<std::string> speaker_names;
  bool has_duration_noise = false;  // VITS with the stochastic duration predictor
};

// Knobs of one synthesis; each applies to the families that have it.
struct SynthesisControls {
  int64_t speaker = 0;
  float duration = 1.0f;  // FastSpeech2 duration_control, VITS length_scale: larger is slower
  float pitch = 1.0f;     // FastSpeech2
  float energy = 1.0f;    // FastSpeech2
  float noise_scale = 0.667f;    // VITS prior noise (Amphion's inference default)
  float noise_scale_w = 0.8f;    // VITS duration noise
  int64_t seed = 0;              // VITS noise: same seed, same audio
};

struct Synthesis {
  Tensor mel;                      // FastSpeech2: float32 [n_mels, frames]
  std::vector<float> samples;      // VITS: the waveform
  std::vector<int64_t> durations;  // frames per phone id given (after any blanks VITS adds)
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
  Synthesis synthesize(const std::vector<int64_t>& phone_ids,
                       const SynthesisControls& controls = {}) const;

  struct Impl;

 private:
  explicit AcousticModel(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Fails (kInvalidArgument) naming each setting in which a vocoder's mel differs from what the
// acoustic model produces, so that a mismatched pair is refused before any audio is made.
void check_mel_match(const audio::MelConfig& acoustic, const std::string& acoustic_name,
                     const audio::MelConfig& vocoder, const std::string& vocoder_name);

}  // namespace amphora
