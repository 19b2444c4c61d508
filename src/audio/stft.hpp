// Short-time Fourier transform and its inverse with torch.stft / torch.istft semantics, plus
// the "same"-padding inverse that Vocos and APNet use in place of torch.istft.
//
// Spectra are one-sided: bins = n_fft / 2 + 1, stored bins-major ([bins, frames], row-major)
// as separate real and imaginary arrays, the layout of an ONNX spectral head's outputs.
// The FFT is KissFFT's C++ template (kissfft.hh) instantiated for double: float FFTs of
// 1024-2048 points lose ~1e-6 of the frame energy, which becomes > 1e-4 after the log of
// quiet mel bins, so everything between the samples and the final float rounding is double.
#pragma once

#include <complex>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/tensor.hpp"

namespace amphora::audio {

struct Spectrum {
  int64_t bins = 0;
  int64_t frames = 0;
  std::vector<float> real;  // [bins, frames]
  std::vector<float> imag;  // [bins, frames]
};

enum class StftPadding {
  kNone,    // torch center=False: frames start at sample 0, nothing is trimmed
  kCenter,  // torch center=True: reflect-pad n_fft/2 each side; istft trims n_fft/2
  kSame,    // Vocos/APNet ISTFT: trim (win_length - hop_length)/2 each side (inverse only)
};

// Largest n_fft accepted. Vocoders use 512-4096; a size from a corrupt manifest must fail
// clearly rather than allocate gigabytes of window and FFT tables.
constexpr int kMaxFftSize = 1 << 16;

struct StftConfig {
  int n_fft = 1024;
  int hop_length = 256;
  int win_length = 1024;  // periodic Hann of this length, centred in n_fft
  StftPadding padding = StftPadding::kCenter;
};

// Spectrum from an ONNX spectral head's outputs: float32 [bins, frames] or [1, bins, frames]
// real and imaginary tensors of the same shape. Fails with kInvalidArgument naming the shapes.
Spectrum spectrum_from_tensors(const Tensor& real, const Tensor& imag);

// torch.hann_window(length) (periodic=True).
std::vector<double> hann_window(int length);

// Reflect padding as torch.nn.functional.pad(mode="reflect"): the edge sample is not repeated.
// Fails with kInvalidArgument when a pad is not shorter than the signal.
std::vector<double> reflect_pad(std::span<const float> samples, int64_t left, int64_t right);

// A plan for one configuration: window and FFT twiddles computed once. Not thread-safe (the
// FFT keeps scratch space); use one Stft per thread.
class Stft {
 public:
  // Validates the configuration (positive sizes, even n_fft <= kMaxFftSize, win_length <= n_fft;
  // kSame needs win_length == n_fft as in Vocos) and fails with kInvalidArgument naming the bad
  // field.
  explicit Stft(const StftConfig& config);
  ~Stft();
  Stft(Stft&&) noexcept;
  Stft& operator=(Stft&&) noexcept;

  const StftConfig& config() const { return config_; }
  int64_t bins() const { return config_.n_fft / 2 + 1; }
  // Frames produced for `samples` input samples (after the configured padding).
  int64_t frames_for(int64_t samples) const;

  // torch.stft(x, n_fft, hop, win, hann_window(win), center=(padding == kCenter),
  // pad_mode="reflect", normalized=False, onesided=True). kSame is refused here.
  Spectrum forward(std::span<const float> samples) const;
  // The same on an already padded double signal (no padding applied), frame-major:
  // result[frame * bins() + bin]. The mel front end uses this to stay in double.
  std::vector<std::complex<double>> analyze(std::span<const double> signal) const;
  // One frame: the windowed DFT of frame[0 .. n_fft) into spectrum[0 .. bins()).
  void analyze_frame(const double* frame, std::complex<double>* spectrum) const;

  // kNone/kCenter: torch.istft(spec, n_fft, hop, win, hann_window(win), center, length).
  // kSame: Vocos ISTFT, output frames * hop_length samples (`length` then trims or zero-pads).
  // Fails with kInvalidArgument when the shape is not [bins, frames] or the window envelope
  // vanishes (hop too large for the window: not invertible).
  std::vector<float> inverse(const Spectrum& spectrum,
                             std::optional<int64_t> length = std::nullopt) const;
  // One frame of the inverse: the windowed inverse DFT of bins real[k*stride], imag[k*stride]
  // into time[0 .. n_fft), ready to overlap-add (inverse() and the streaming ISTFT share it).
  void synthesize_frame(const float* real, const float* imag, int64_t stride, double* time) const;
  const std::vector<double>& window() const { return window_; }
  // Where the output starts in the overlap-added signal (the centre/"same" trim).
  int64_t trim_start() const;

 private:
  struct Plans;
  StftConfig config_;
  std::vector<double> window_;  // n_fft long, the Hann window centred in it
  std::unique_ptr<Plans> plans_;
  mutable std::vector<double> frame_scratch_;                 // n_fft windowed samples
  mutable std::vector<std::complex<double>> packed_scratch_;  // n_fft/2 packed real-FFT bins
  mutable std::vector<std::complex<double>> synthesis_scratch_, synthesis_time_;
};

}  // namespace amphora::audio
