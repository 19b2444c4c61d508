// Signals as the CLI meets them: a wav/flac file or a .npy of float samples, and output paths
// that must not be overwritten by accident.
#pragma once

#include <optional>
#include <string>

#include "audio/mel.hpp"
#include "audio/wav_io.hpp"

namespace amphora::audio {

// .npy (1-D samples, or [1, N] / [1, 1, N] as a vocoder writes them; float32 or float64):
// sample_rate is 0 (unknown). Anything else goes through read_audio. NaN/Inf samples are
// refused (kInvalidArgument naming the file and index).
AudioBuffer read_signal(const std::string& path);

// Resamples `signal` (read from `path`) to `rate` in place and says so on stderr. A signal of
// unknown rate (0: an .npy) is taken to be at `rate` already.
void resample_to(AudioBuffer& signal, const std::string& path, int rate);

// Fails with kIo when `path` exists and `force` is false, or when its directory is missing.
void check_output_path(const std::string& path, bool force);

// Mel settings given piecewise on a command line; unset fields take Amphion's common defaults
// (n_fft 1024, win = n_fft, hop 256, 80 mels, 0 Hz to sr/2, no normalisation).
struct MelOptions {
  std::optional<int> sample_rate;
  std::optional<int> n_fft;
  std::optional<int> win_length;
  std::optional<int> hop_length;
  std::optional<int> n_mels;
  std::optional<double> fmin;
  std::optional<double> fmax;
  std::optional<double> norm_mean;
  std::optional<double> norm_std;

  bool any_set() const;
  // `default_rate` is used when sample_rate is unset. Validates the result.
  MelConfig resolve(int default_rate) const;
};

}  // namespace amphora::audio
