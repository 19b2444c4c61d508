// The mel settings a vocoder was trained with (Vocoder::mel_config()): Amphion's
// extract_mel_features parameters, as a package manifest's "mel" section records them.
#pragma once

#include <optional>
#include <string>

namespace amphora::audio {

struct MelConfig {
  int sample_rate = 22050;
  int n_fft = 1024;
  int win_length = 1024;
  int hop_length = 256;
  int n_mels = 80;
  double fmin = 0.0;
  double fmax = 0.0;        // <= 0 means sample_rate / 2
  bool center = false;      // true: torch center=True (reflect n_fft/2) instead of Amphion's pad
  double clamp_min = 1e-5;  // floor before the natural log
  std::optional<double> norm_mean;  // both set or both unset
  std::optional<double> norm_std;

  double effective_fmax() const { return fmax > 0.0 ? fmax : sample_rate / 2.0; }
  // Fails with kInvalidArgument naming the first inconsistent field.
  void validate() const;
  // One line for logs: "22050 Hz, 80 mels, n_fft 1024, win 1024, hop 256, 0-8000 Hz".
  std::string describe() const;
};

}  // namespace amphora::audio
