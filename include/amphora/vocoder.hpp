// Vocoder: mel (and f0 for NSF-HiFiGAN) in, waveform out, for any amphora package or bare ONNX.
//
//   amphora::Vocoder vocoder = amphora::Vocoder::load("pkg/hifigan", {.threads = 2});
//   std::vector<float> samples = vocoder.vocode(mel);  // mel: float32 [n_mels, T] or [1, n_mels,
//   T]
//
// Spectral heads (Vocos, APNet) end in a complex spectrum in the ONNX graph; the inverse STFT
// described by the package's "head" runs inside vocode(), so every family returns samples.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"
#include "audio/mel.hpp"

namespace amphora {

struct VocoderInfo {
  std::string family;  // "hifigan", ..., or "onnx" for a bare ONNX file
  int sample_rate = 0;
  int hop_length = 0;  // output samples per mel frame
  int n_mels = 0;
  bool needs_f0 = false;  // NSF-HiFiGAN: vocode(mel, f0)
  std::string head;       // "waveform" or "istft"
};

struct VocoderOptions : Options {
  // Bare ONNX files carry no sample rate; 0 = take it from the package manifest.
  int sample_rate = 0;
  // Seed of the NSF source noise (an explicit model input); fixed so output is reproducible.
  uint64_t noise_seed = 0;
};

class Vocoder {
 public:
  // A package directory, an .onnx written by amphora-export (manifest in its metadata), or a
  // bare ONNX whose one input is a mel [1, n_mels, T] and one output is audio (the hop is
  // measured from the graph by running it on two lengths).
  static Vocoder load(const std::string& path, const VocoderOptions& options = {});

  const VocoderInfo& info() const;
  // The mel settings the model was trained with (Amphion's extract_mel_features); nullopt for
  // a bare ONNX file, which carries none.
  const std::optional<audio::MelConfig>& mel_config() const;

  // Called during vocode() with the fraction of the model's graph done (0..1].
  using Progress = std::function<void(double fraction)>;

  // mel: float32 [n_mels, T] or [1, n_mels, T]; returns T * hop_length samples.
  std::vector<float> vocode(const Tensor& mel, const Progress& progress = {}) const;
  // NSF-HiFiGAN: f0 in Hz at frame rate, [T] or [1, T].
  std::vector<float> vocode(const Tensor& mel, const Tensor& f0,
                            const Progress& progress = {}) const;

  struct Impl;

 private:
  explicit Vocoder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace amphora
