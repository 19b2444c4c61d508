#include "audio/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "audio/stft.hpp"
#include "core/error.hpp"

namespace amphora::audio {
namespace {

std::span<const float> prefix(std::span<const float> signal, size_t length) {
  return signal.first(std::min(signal.size(), length));
}

struct Resolution {
  int n_fft;
  int hop_length;
};
constexpr Resolution kResolutions[] = {{512, 128}, {1024, 256}, {2048, 512}};
constexpr double kMagnitudeFloor = 1e-7;  // on re^2 + im^2, keeps log finite in silence

}  // namespace

double max_abs_difference(std::span<const float> a, std::span<const float> b) {
  const size_t n = std::min(a.size(), b.size());
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(diff)) return std::numeric_limits<double>::quiet_NaN();
    worst = std::max(worst, diff);
  }
  return worst;
}

double snr_db(std::span<const float> reference, std::span<const float> test) {
  const size_t n = std::min(reference.size(), test.size());
  double signal = 0.0;
  double noise = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double diff = static_cast<double>(reference[i]) - test[i];
    signal += static_cast<double>(reference[i]) * reference[i];
    noise += diff * diff;
  }
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  if (signal == 0.0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

double log_mel_l1(std::span<const float> a, std::span<const float> b, const MelConfig& cfg) {
  const size_t n = std::min(a.size(), b.size());
  const Tensor mel_a = mel_spectrogram(prefix(a, n), cfg);
  const Tensor mel_b = mel_spectrogram(prefix(b, n), cfg);
  const float* x = mel_a.data<float>();
  const float* y = mel_b.data<float>();
  double sum = 0.0;
  for (int64_t i = 0; i < mel_a.numel(); ++i) sum += std::fabs(static_cast<double>(x[i]) - y[i]);
  return sum / static_cast<double>(mel_a.numel());
}

std::optional<MrStftDistance> multi_resolution_stft_distance(std::span<const float> a,
                                                             std::span<const float> b) {
  const size_t n = std::min(a.size(), b.size());
  MrStftDistance result;
  for (const Resolution& res : kResolutions) {
    if (static_cast<int64_t>(n) <= res.n_fft / 2) continue;
    const Stft stft({res.n_fft, res.hop_length, res.n_fft, StftPadding::kCenter});
    const std::vector<double> padded_a = reflect_pad(prefix(a, n), res.n_fft / 2, res.n_fft / 2);
    const std::vector<double> padded_b = reflect_pad(prefix(b, n), res.n_fft / 2, res.n_fft / 2);
    const auto spec_a = stft.analyze(padded_a);
    const auto spec_b = stft.analyze(padded_b);
    double diff_energy = 0.0;
    double ref_energy = 0.0;
    double log_l1 = 0.0;
    for (size_t i = 0; i < spec_a.size(); ++i) {
      const double mag_a = std::sqrt(std::max(std::norm(spec_a[i]), kMagnitudeFloor));
      const double mag_b = std::sqrt(std::max(std::norm(spec_b[i]), kMagnitudeFloor));
      diff_energy += (mag_a - mag_b) * (mag_a - mag_b);
      ref_energy += mag_a * mag_a;
      log_l1 += std::fabs(std::log(mag_a) - std::log(mag_b));
    }
    result.spectral_convergence += std::sqrt(diff_energy / ref_energy);
    result.log_magnitude_l1 += log_l1 / static_cast<double>(spec_a.size());
    ++result.resolutions;
  }
  if (result.resolutions == 0) return std::nullopt;
  result.spectral_convergence /= result.resolutions;
  result.log_magnitude_l1 /= result.resolutions;
  result.distance = result.spectral_convergence + result.log_magnitude_l1;
  return result;
}

SignalComparison compare_signals(std::span<const float> a, std::span<const float> b,
                                 const MelConfig& mel) {
  SignalComparison result;
  result.length_a = static_cast<int64_t>(a.size());
  result.length_b = static_cast<int64_t>(b.size());
  result.compared = std::min(result.length_a, result.length_b);
  result.max_abs = max_abs_difference(a, b);
  result.snr_db = snr_db(a, b);
  // Very short signals cannot be framed; those metrics are then reported as unavailable.
  const int64_t mel_pad = mel.center ? mel.n_fft / 2 : (mel.n_fft - mel.hop_length) / 2;
  if (result.compared > mel_pad && result.compared + 2 * mel_pad >= mel.n_fft) {
    result.log_mel_l1 = log_mel_l1(a, b, mel);
  }
  result.mr_stft = multi_resolution_stft_distance(a, b);
  return result;
}

}  // namespace amphora::audio
