#include "audio/stft.hpp"

#include <algorithm>
#include <cmath>
#include <kissfft.hh>
#include <numbers>

#include "core/error.hpp"

namespace amphora::audio {

// torch.istft refuses to divide by an envelope below this; so do we.
constexpr double kMinEnvelope = 1e-11;

struct Stft::Plans {
  explicit Plans(int n_fft)
      : half_forward(static_cast<size_t>(n_fft / 2), false),
        full_inverse(static_cast<size_t>(n_fft), true) {}
  kissfft<double> half_forward;  // real FFT of n_fft points as a complex FFT of n_fft/2
  kissfft<double> full_inverse;  // complex inverse of n_fft points (Hermitian input)
};

std::vector<double> hann_window(int length) {
  std::vector<double> window(static_cast<size_t>(std::max(length, 0)));
  for (int i = 0; i < length; ++i) {
    window[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / length);
  }
  return window;
}

std::vector<double> reflect_pad(std::span<const float> samples, int64_t left, int64_t right) {
  const auto n = static_cast<int64_t>(samples.size());
  if (left < 0 || right < 0 || left >= n || right >= n) {
    fail(ErrorCode::kInvalidArgument,
         "reflect padding of {}+{} samples needs a longer signal than {} samples", left, right, n);
  }
  std::vector<double> padded(static_cast<size_t>(n + left + right));
  for (int64_t i = 0; i < left; ++i) padded[i] = samples[left - i];
  for (int64_t i = 0; i < n; ++i) padded[left + i] = samples[i];
  for (int64_t i = 0; i < right; ++i) padded[left + n + i] = samples[n - 2 - i];
  return padded;
}

Spectrum spectrum_from_tensors(const Tensor& real, const Tensor& imag) {
  const Shape& shape = real.shape();
  const bool batched = shape.size() == 3 && shape[0] == 1;
  if (!(shape.size() == 2 || batched) || imag.shape() != shape) {
    fail(ErrorCode::kInvalidArgument,
         "spectrum real {} and imaginary {} parts must both be [bins, frames] or "
         "[1, bins, frames]",
         shape_str(shape), shape_str(imag.shape()));
  }
  if (real.dtype() != DType::kFloat32 || imag.dtype() != DType::kFloat32) {
    fail(ErrorCode::kInvalidArgument, "spectrum parts must be float32, got {} and {}",
         dtype_name(real.dtype()), dtype_name(imag.dtype()));
  }
  Spectrum spectrum;
  spectrum.bins = shape[shape.size() - 2];
  spectrum.frames = shape[shape.size() - 1];
  spectrum.real.assign(real.data<float>(), real.data<float>() + real.numel());
  spectrum.imag.assign(imag.data<float>(), imag.data<float>() + imag.numel());
  return spectrum;
}

Stft::Stft(const StftConfig& config) : config_(config) {
  if (config.n_fft <= 0 || config.n_fft % 2 != 0) {
    fail(ErrorCode::kInvalidArgument, "STFT n_fft must be a positive even number, got {}",
         config.n_fft);
  }
  if (config.n_fft > kMaxFftSize) {
    fail(ErrorCode::kInvalidArgument, "STFT n_fft {} exceeds the largest supported, {}",
         config.n_fft, kMaxFftSize);
  }
  if (config.hop_length <= 0) {
    fail(ErrorCode::kInvalidArgument, "STFT hop_length must be positive, got {}",
         config.hop_length);
  }
  if (config.win_length <= 0 || config.win_length > config.n_fft) {
    fail(ErrorCode::kInvalidArgument, "STFT win_length must be in [1, n_fft={}], got {}",
         config.n_fft, config.win_length);
  }
  if (config.padding == StftPadding::kSame && config.win_length != config.n_fft) {
    fail(ErrorCode::kInvalidArgument,
         "'same'-padding ISTFT needs win_length == n_fft (as in Vocos), got {} and {}",
         config.win_length, config.n_fft);
  }
  // torch pads a shorter window with zeros on both sides, the extra one on the right.
  window_.assign(static_cast<size_t>(config.n_fft), 0.0);
  const std::vector<double> hann = hann_window(config.win_length);
  const int offset = (config.n_fft - config.win_length) / 2;
  std::copy(hann.begin(), hann.end(), window_.begin() + offset);
  plans_ = std::make_unique<Plans>(config.n_fft);
  frame_scratch_.resize(static_cast<size_t>(config.n_fft));
  packed_scratch_.resize(static_cast<size_t>(config.n_fft / 2));
}

Stft::~Stft() = default;
Stft::Stft(Stft&&) noexcept = default;
Stft& Stft::operator=(Stft&&) noexcept = default;

int64_t Stft::frames_for(int64_t samples) const {
  const int64_t n_fft = config_.n_fft;
  const int64_t hop = config_.hop_length;
  switch (config_.padding) {
    case StftPadding::kCenter:
      return samples > n_fft / 2 ? 1 + samples / hop : 0;
    case StftPadding::kNone:
      return samples >= n_fft ? 1 + (samples - n_fft) / hop : 0;
    case StftPadding::kSame:
      return samples / hop;
  }
  return 0;
}

void Stft::analyze_frame(const double* frame, std::complex<double>* spectrum) const {
  const int64_t n_fft = config_.n_fft;
  const int64_t half = n_fft / 2;
  for (int64_t i = 0; i < n_fft; ++i) frame_scratch_[i] = frame[i] * window_[i];
  plans_->half_forward.transform_real(frame_scratch_.data(), packed_scratch_.data());
  // transform_real packs the two purely real bins (DC and Nyquist) into packed[0].
  spectrum[0] = {packed_scratch_[0].real(), 0.0};
  spectrum[half] = {packed_scratch_[0].imag(), 0.0};
  for (int64_t k = 1; k < half; ++k) spectrum[k] = packed_scratch_[k];
}

std::vector<std::complex<double>> Stft::analyze(std::span<const double> signal) const {
  const int64_t n_fft = config_.n_fft;
  const auto length = static_cast<int64_t>(signal.size());
  if (length < n_fft) {
    fail(ErrorCode::kInvalidArgument, "STFT input of {} samples is shorter than n_fft={}", length,
         n_fft);
  }
  const int64_t frames = 1 + (length - n_fft) / config_.hop_length;
  std::vector<std::complex<double>> result(static_cast<size_t>(frames * bins()));
  for (int64_t t = 0; t < frames; ++t) {
    analyze_frame(signal.data() + t * config_.hop_length, result.data() + t * bins());
  }
  return result;
}

Spectrum Stft::forward(std::span<const float> samples) const {
  std::vector<double> signal;
  if (config_.padding == StftPadding::kCenter) {
    signal = reflect_pad(samples, config_.n_fft / 2, config_.n_fft / 2);
  } else if (config_.padding == StftPadding::kNone) {
    signal.assign(samples.begin(), samples.end());
  } else {
    fail(ErrorCode::kUnsupported, "forward STFT with 'same' padding is not defined");
  }
  const std::vector<std::complex<double>> frames_major = analyze(signal);
  Spectrum spectrum;
  spectrum.bins = bins();
  spectrum.frames = static_cast<int64_t>(frames_major.size()) / spectrum.bins;
  spectrum.real.resize(frames_major.size());
  spectrum.imag.resize(frames_major.size());
  for (int64_t t = 0; t < spectrum.frames; ++t) {
    for (int64_t k = 0; k < spectrum.bins; ++k) {
      const std::complex<double> value = frames_major[t * spectrum.bins + k];
      spectrum.real[k * spectrum.frames + t] = static_cast<float>(value.real());
      spectrum.imag[k * spectrum.frames + t] = static_cast<float>(value.imag());
    }
  }
  return spectrum;
}

std::vector<float> Stft::inverse(const Spectrum& spectrum, std::optional<int64_t> length) const {
  const int64_t n_fft = config_.n_fft;
  const int64_t hop = config_.hop_length;
  const int64_t bins = this->bins();
  const int64_t frames = spectrum.frames;
  if (spectrum.bins != bins || frames <= 0) {
    fail(ErrorCode::kInvalidArgument, "ISTFT input is [{}, {}], expected [{} bins, frames >= 1]",
         spectrum.bins, frames, bins);
  }
  const auto expected = static_cast<size_t>(bins * frames);
  if (spectrum.real.size() != expected || spectrum.imag.size() != expected) {
    fail(ErrorCode::kInvalidArgument,
         "ISTFT input holds {} real and {} imaginary values, expected {} x {} = {}",
         spectrum.real.size(), spectrum.imag.size(), bins, frames, expected);
  }
  if (length && *length < 0) {
    fail(ErrorCode::kInvalidArgument, "ISTFT length must not be negative, got {}", *length);
  }

  // Overlap-add the windowed inverse FFTs and the squared window (the envelope to divide by).
  const int64_t full_length = n_fft + hop * (frames - 1);
  std::vector<double> signal(static_cast<size_t>(full_length), 0.0);
  std::vector<double> envelope(static_cast<size_t>(full_length), 0.0);
  std::vector<double> time(static_cast<size_t>(n_fft));
  for (int64_t t = 0; t < frames; ++t) {
    synthesize_frame(&spectrum.real[t], &spectrum.imag[t], frames, time.data());
    double* out = signal.data() + t * hop;
    double* env = envelope.data() + t * hop;
    for (int64_t i = 0; i < n_fft; ++i) {
      out[i] += time[i];
      env[i] += window_[i] * window_[i];
    }
  }

  // torch.istft with `length` reads past the centre trim when asked to; the Vocos ISTFT has
  // no length argument, so beyond its trimmed end we only zero-pad.
  const int64_t start = trim_start();
  int64_t end = full_length - start;
  const int64_t limit = config_.padding == StftPadding::kSame ? end : full_length;
  if (length) end = start + *length;
  const int64_t available = std::min(end, limit);
  std::vector<float> result(static_cast<size_t>(std::max<int64_t>(end - start, 0)), 0.0f);
  for (int64_t i = start; i < available; ++i) {
    if (envelope[i] < kMinEnvelope) {
      fail(ErrorCode::kInvalidArgument,
           "ISTFT window envelope vanishes at sample {} (n_fft={}, hop={}, win={}): the "
           "frames do not overlap enough to invert",
           i - start, n_fft, hop, config_.win_length);
    }
    result[i - start] = static_cast<float>(signal[i] / envelope[i]);
  }
  return result;
}

int64_t Stft::trim_start() const {
  switch (config_.padding) {
    case StftPadding::kCenter:
      return config_.n_fft / 2;
    case StftPadding::kSame:
      return (config_.win_length - config_.hop_length) / 2;
    default:
      return 0;
  }
}

void Stft::synthesize_frame(const float* real, const float* imag, int64_t stride,
                            double* time) const {
  const int64_t n_fft = config_.n_fft;
  const int64_t half = n_fft / 2;
  std::vector<std::complex<double>>& hermitian = synthesis_scratch_;
  hermitian.resize(static_cast<size_t>(n_fft));
  for (int64_t k = 0; k <= half; ++k) hermitian[k] = {real[k * stride], imag[k * stride]};
  // A real inverse FFT ignores the imaginary parts of the DC and Nyquist bins.
  hermitian[0].imag(0.0);
  hermitian[half].imag(0.0);
  for (int64_t k = 1; k < half; ++k) hermitian[n_fft - k] = std::conj(hermitian[k]);
  std::vector<std::complex<double>>& result = synthesis_time_;
  result.resize(static_cast<size_t>(n_fft));
  plans_->full_inverse.transform(hermitian.data(), result.data());
  for (int64_t i = 0; i < n_fft; ++i) {
    time[i] = result[i].real() / static_cast<double>(n_fft) * window_[i];
  }
}

}  // namespace amphora::audio
