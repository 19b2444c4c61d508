#include "audio/mel_filters.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace amphora::audio {
namespace {

constexpr double kLinearHzPerMel = 200.0 / 3.0;
constexpr double kLogStartHz = 1000.0;
constexpr double kLogStartMel = kLogStartHz / kLinearHzPerMel;  // 15
const double kLogStep = std::log(6.4) / 27.0;                   // 27 mels per factor 6.4

}  // namespace

double hz_to_mel_slaney(double hz) {
  if (hz < kLogStartHz) return hz / kLinearHzPerMel;
  return kLogStartMel + std::log(hz / kLogStartHz) / kLogStep;
}

double mel_to_hz_slaney(double mel) {
  if (mel < kLogStartMel) return mel * kLinearHzPerMel;
  return kLogStartHz * std::exp(kLogStep * (mel - kLogStartMel));
}

std::vector<double> mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin,
                                   double fmax) {
  if (sample_rate <= 0 || n_fft <= 0 || n_mels <= 0) {
    fail(ErrorCode::kInvalidArgument,
         "mel filterbank: sample_rate={}, n_fft={}, n_mels={} must all be positive", sample_rate,
         n_fft, n_mels);
  }
  if (!(fmin >= 0.0 && fmin < fmax && fmax <= sample_rate / 2.0)) {
    fail(ErrorCode::kInvalidArgument,
         "mel filterbank: need 0 <= fmin < fmax <= sample_rate/2, got fmin={} fmax={} at {} Hz",
         fmin, fmax, sample_rate);
  }
  const int bins = n_fft / 2 + 1;
  // Edges of the n_mels triangles: n_mels + 2 points evenly spaced on the mel scale.
  const double mel_min = hz_to_mel_slaney(fmin);
  const double mel_max = hz_to_mel_slaney(fmax);
  std::vector<double> edges(static_cast<size_t>(n_mels + 2));
  for (int i = 0; i < n_mels + 2; ++i) {
    // numpy.linspace: start + i * step, the last point exactly the stop value.
    const double mel =
        i == n_mels + 1 ? mel_max : mel_min + i * ((mel_max - mel_min) / (n_mels + 1));
    edges[i] = mel_to_hz_slaney(mel);
  }
  std::vector<double> weights(static_cast<size_t>(n_mels) * bins, 0.0);
  for (int m = 0; m < n_mels; ++m) {
    const double lower_width = edges[m + 1] - edges[m];
    const double upper_width = edges[m + 2] - edges[m + 1];
    const double area_norm = 2.0 / (edges[m + 2] - edges[m]);
    for (int k = 0; k < bins; ++k) {
      const double freq = static_cast<double>(k) * sample_rate / n_fft;
      const double rising = (freq - edges[m]) / lower_width;
      const double falling = (edges[m + 2] - freq) / upper_width;
      const double weight = std::max(0.0, std::min(rising, falling)) * area_norm;
      weights[static_cast<size_t>(m) * bins + k] = static_cast<float>(weight);
    }
  }
  return weights;
}

}  // namespace amphora::audio
