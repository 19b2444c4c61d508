// Vocoder: mel (and f0 for NSF-HiFiGAN) in, waveform out, for any amphora package or bare ONNX.
//
//   amphora::Vocoder vocoder = amphora::Vocoder::load("pkg/hifigan", {.threads = 2});
//   // mel: float32 [n_mels, T] or [1, n_mels, T]
//   std::vector<float> samples = vocoder.vocode(mel);
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
#include "amphora/mel_config.hpp"

namespace amphora {

struct VocoderInfo {
  std::string family;  // "hifigan", ..., or "onnx" for a bare ONNX file
  int sample_rate = 0;
  int hop_length = 0;  // output samples per mel frame
  int n_mels = 0;
  bool needs_f0 = false;  // NSF-HiFiGAN: vocode(mel, f0)
  std::string head;       // "waveform" or "istft"
};

// How a model streams, from the analysis of its graph along time (src/stream/plan.hpp).
struct StreamInfo {
  bool streamable = false;
  std::string not_streamable_because;  // names the node at fault
  int64_t history_frames = 0;          // past mel frames one output frame depends on
  int64_t lookahead_frames = 0;        // future mel frames it needs: the streaming delay
  bool bounded_history = true;         // false: state spans the whole input (NSF's phase)
  std::string unbounded_because;       // ... and which node makes it so
};

class VocoderStream;

struct VocoderOptions : Options {
  // Bare ONNX files carry no sample rate; 0 = take it from the package manifest.
  int sample_rate = 0;
  // Mel bins of a bare model that does not declare them (a TorchScript file: [batch, ?, frames]);
  // the CLI takes them from the mel it is given. 0: the model must declare them.
  int n_mels = 0;
  // Seed of the NSF source noise (an explicit model input); fixed so output is reproducible.
  uint64_t noise_seed = 0;
};

class Vocoder {
 public:
  // A package directory, an .onnx written by amphora-export (manifest in its metadata), or a
  // bare model (ONNX, or TorchScript with Options::backend) whose one input is a mel
  // [1, n_mels, T] and one output is audio (the hop is measured by running it on two lengths).
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

  // Streaming. stream_info() analyses the graph once (two probe runs) and caches the result.
  const StreamInfo& stream_info() const;
  // A stateful stream (native engine): push mel frames as they arrive, get the samples that
  // are final. Fails with the reason when the model does not stream.
  VocoderStream stream() const;
  // Chunked mode (any backend): the mel is cut into chunks of `chunk_frames`, each run with the
  // context the receptive field requires, and the cores are joined -- the offline output.
  // Needs a bounded receptive field (so not NSF with the source fixed: use stream()).
  std::vector<float> vocode_chunked(const Tensor& mel, const Tensor* f0, int64_t chunk_frames,
                                    const Progress& progress = {}) const;

  struct Impl;

 private:
  explicit Vocoder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// A stream of one utterance. Concatenating every push() and finish() result gives the offline
// vocode() output (within 1e-4) for any split of the mel into pushes.
class VocoderStream {
 public:
  ~VocoderStream();
  VocoderStream(VocoderStream&&) noexcept;
  VocoderStream& operator=(VocoderStream&&) noexcept;

  // mel frames: [n_mels, n] or [1, n_mels, n], any n >= 0; NSF models also take f0 [n] Hz.
  std::vector<float> push(const Tensor& mel);
  std::vector<float> push(const Tensor& mel, const Tensor& f0);
  // Ends the utterance and returns the remaining samples (frames * hop_length in all).
  std::vector<float> finish();

  int64_t frames_pushed() const;
  int64_t samples_returned() const;

  struct Impl;

 private:
  friend class Vocoder;
  explicit VocoderStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amphora
