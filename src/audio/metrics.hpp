// How close two signals are: the numbers `amphora compare`, the parity reports and the
// quantization quality checks print. All compare the common prefix of the two signals.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "audio/mel.hpp"

namespace amphora::audio {

// max |a[i] - b[i]| over the common prefix (0 for empty signals).
double max_abs_difference(std::span<const float> a, std::span<const float> b);

// 10 log10(sum ref^2 / sum (ref - test)^2) over the common prefix, with `reference` the first
// argument. +inf when the signals are identical, -inf when the reference is silent but the
// test is not.
double snr_db(std::span<const float> reference, std::span<const float> test);

// mean |logmel(a) - logmel(b)| with both mels computed by mel_spectrogram(cfg) (natural log,
// Amphion's extraction). Fails like mel_spectrogram when the prefix is shorter than a frame.
double log_mel_l1(std::span<const float> a, std::span<const float> b, const MelConfig& cfg);

// Multi-resolution STFT distance. For each resolution (n_fft, hop) in (512, 128), (1024, 256),
// (2048, 512), with a periodic Hann window of n_fft and torch.stft(center=True) framing:
//   |S| = sqrt(max(re^2 + im^2, 1e-7))                      (as in Parallel WaveGAN's loss)
//   spectral convergence  SC  = ||S_a| - |S_b||_F / ||S_a||_F
//   log-magnitude L1      LM  = mean |log|S_a| - log|S_b||
// and distance = mean over resolutions of (SC + LM); 0 for identical signals. Resolutions
// whose n_fft/2 is not shorter than the signal (reflect padding impossible) are left out.
struct MrStftDistance {
  double spectral_convergence = 0.0;  // mean over the resolutions used
  double log_magnitude_l1 = 0.0;      // mean over the resolutions used
  double distance = 0.0;              // spectral_convergence + log_magnitude_l1
  int resolutions = 0;                // how many resolutions fitted the signal
};
// nullopt when the common prefix is too short for even the 512-point resolution.
std::optional<MrStftDistance> multi_resolution_stft_distance(std::span<const float> a,
                                                             std::span<const float> b);

struct SignalComparison {
  int64_t length_a = 0;
  int64_t length_b = 0;
  int64_t compared = 0;  // min(length_a, length_b): the common prefix every metric uses
  double max_abs = 0.0;
  double snr_db = 0.0;
  std::optional<double> log_mel_l1;       // nullopt: prefix shorter than one mel frame
  std::optional<MrStftDistance> mr_stft;  // nullopt: prefix shorter than 257 samples
};

// All of the above; `mel` chooses the log-mel configuration (its sample_rate must be the
// signals' rate).
SignalComparison compare_signals(std::span<const float> a, std::span<const float> b,
                                 const MelConfig& mel);

}  // namespace amphora::audio
