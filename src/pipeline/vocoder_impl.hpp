// What vocoder.cpp (offline) and vocoder_stream.cpp (streaming, chunked) share.
#pragma once

#include <memory>
#include <mutex>
#include <random>

#include "amphora/vocoder.hpp"
#include "pipeline/package.hpp"
#include "stream/graph_streamer.hpp"
#include "stream/plan.hpp"

namespace amphora {

// NSF's source noise, standard normal, [1, channels, samples]. Each channel draws from its own
// generator, so the noise of consecutive calls concatenates to the noise of one long call:
// streaming and offline runs see the same noise.
class NoiseSource {
 public:
  NoiseSource(int64_t channels, uint64_t seed);
  Tensor next(int64_t samples);

 private:
  std::vector<std::mt19937_64> generators_;
  std::vector<std::normal_distribution<float>> normals_;
};

struct Vocoder::Impl {
  explicit Impl(Model loaded) : model(std::move(loaded)) {}
  Model model;
  VocoderPackage package;
  VocoderInfo info;
  std::string mel_input;  // "mel", or the one input of a bare ONNX file
  std::string audio_output;
  int64_t noise_channels = 0;  // NSF: harmonics + 1
  uint64_t noise_seed = 0;
  Options options;

  // Streaming analysis, made on first use.
  struct Streaming {
    std::shared_ptr<const Graph> graph;  // absent when the field was measured
    std::shared_ptr<const stream::StreamPlan> plan;
    std::shared_ptr<stream::KernelPool> kernels = std::make_shared<stream::KernelPool>();
    stream::ReceptiveField model_field;  // the model's own, before a spectral head's ISTFT
    bool field_measured = false;         // by running the model: no graph to analyse
    StreamInfo info;
  };
  const Streaming& streaming() const;
  bool has_onnx_graph() const;
  void analyse_graph(Streaming& out) const;
  void measure_field(Streaming& out) const;
  mutable std::once_flag streaming_once;
  mutable Streaming streaming_cache;
};

// Runs the model on whole inputs; returns frames * hop samples (spectral heads through the ISTFT).
std::vector<float> run_vocoder(const Vocoder::Impl& impl, std::map<std::string, Tensor> inputs,
                               int64_t frames, const Vocoder::Progress& progress);

// Checked, batched model inputs for a whole utterance or one pushed piece of it.
Tensor mel_batch(const Tensor& mel, const VocoderInfo& info, bool allow_empty = false);
Tensor f0_batch(const Tensor& f0, int64_t frames);

}  // namespace amphora
