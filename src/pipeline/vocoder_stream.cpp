// Vocoder streaming: the stateful VocoderStream (native engine, src/stream) and chunked mode
// (any backend, through Model::run).
#include <algorithm>
#include <filesystem>

#include "audio/istft_stream.hpp"
#include "graph/onnx_import.hpp"
#include "ops/kernel.hpp"
#include "passes/passes.hpp"
#include "pipeline/vocoder_impl.hpp"
#include "stream/graph_streamer.hpp"
#include "stream/time_slices.hpp"

namespace amphora {

const Vocoder::Impl::Streaming& Vocoder::Impl::streaming() const {
  std::call_once(streaming_once, [&] {
    // The offline session's rewrites (fused convs) but those the streamer cannot follow.
    if (std::filesystem::is_directory(package.onnx_path)) {
      fail(ErrorCode::kUnsupported,
           "{}: streaming and chunked mode analyse the ONNX graph, and this package has no "
           "model.onnx (export it with --formats onnx,...)",
           package.onnx_path);
    }
    auto graph = std::make_shared<Graph>(load_onnx(package.onnx_path));
    if (!options.reference_kernels) optimize_graph(*graph, GraphUse::kStreaming);
    const std::map<std::string, int64_t> rates = {{"frames", 1}, {"samples", info.hop_length}};
    auto plan = std::make_shared<stream::StreamPlan>(stream::plan_stream(
        *graph, rates, KernelOptions{options.reference_kernels, options.threads}));
    StreamInfo& out = streaming_cache.info;
    out.streamable = plan->problem.empty();
    out.not_streamable_because = plan->problem;
    out.history_frames = plan->field.history_frames;
    out.lookahead_frames = plan->field.lookahead_frames;
    out.bounded_history = plan->field.bounded;
    out.unbounded_because = plan->field.unbounded_because;
    if (package.spectral_head) {  // the ISTFT's own overlap, in frames
      const audio::Stft stft(*package.spectral_head);
      const int64_t hop = package.spectral_head->hop_length;
      out.lookahead_frames += (stft.trim_start() + hop - 1) / hop;
      out.history_frames += (package.spectral_head->n_fft - stft.trim_start() + hop - 1) / hop;
    }
    streaming_cache.graph = std::move(graph);
    streaming_cache.plan = std::move(plan);
  });
  return streaming_cache;
}

const StreamInfo& Vocoder::stream_info() const { return impl_->streaming().info; }

struct VocoderStream::Impl {
  std::shared_ptr<const Vocoder::Impl> vocoder;
  std::unique_ptr<stream::GraphStreamer> graph;
  std::optional<audio::IstftStream> istft;
  std::optional<NoiseSource> noise;
  int64_t frames = 0, samples = 0;
  bool finished = false;

  std::vector<float> take(const std::map<std::string, Tensor>& outputs, bool last);
  std::vector<float> push(const Tensor& mel, const Tensor* f0);
};

// Output steps -> samples: waveforms directly, spectral heads through the streaming ISTFT.
// Never more than frames * hop in all (Amphion's trim).
std::vector<float> VocoderStream::Impl::take(const std::map<std::string, Tensor>& outputs,
                                             bool last) {
  std::vector<float> out;
  if (istft) {
    const Tensor& real = outputs.at("spec_real");
    if (!real.empty() && real.numel() > 0) {
      out = istft->push(audio::spectrum_from_tensors(real, outputs.at("spec_imag")));
    }
    if (last) {
      std::vector<float> rest = istft->finish();
      out.insert(out.end(), rest.begin(), rest.end());
    }
  } else {
    const Tensor& audio = outputs.at(vocoder->audio_output);
    if (!audio.empty()) out.assign(audio.data<float>(), audio.data<float>() + audio.numel());
  }
  const int64_t room = frames * vocoder->info.hop_length - samples;
  if (static_cast<int64_t>(out.size()) > room) out.resize(static_cast<size_t>(room));
  samples += static_cast<int64_t>(out.size());
  return out;
}

std::vector<float> VocoderStream::Impl::push(const Tensor& mel, const Tensor* f0) {
  if (finished) fail(ErrorCode::kInvalidArgument, "push() after finish(): start a new stream");
  const VocoderInfo& info = vocoder->info;
  if (info.needs_f0 && !f0) {
    fail(ErrorCode::kInvalidArgument, "this {} model needs f0 with every push", info.family);
  }
  Tensor batch = mel_batch(mel, info, /*allow_empty=*/true);
  const int64_t n = batch.dim(2);
  std::map<std::string, Tensor> inputs = {{vocoder->mel_input, batch}};
  if (info.needs_f0) {
    if (f0->numel() != n) {
      fail(ErrorCode::kInvalidArgument, "f0 has {} values for {} mel frames in this push",
           f0->numel(), n);
    }
    inputs["f0"] = f0_batch(*f0, n);
    if (noise) inputs["noise"] = noise->next(n * info.hop_length);
  }
  frames += n;
  return take(graph->push(inputs), false);
}

VocoderStream Vocoder::stream() const {
  const Impl::Streaming& streaming = impl_->streaming();
  if (!streaming.info.streamable) {
    fail(ErrorCode::kUnsupported, "{}: not streamable: {}", impl_->package.onnx_path,
         streaming.info.not_streamable_because);
  }
  auto impl = std::make_unique<VocoderStream::Impl>();
  impl->vocoder = impl_;
  impl->graph = std::make_unique<stream::GraphStreamer>(
      streaming.graph, streaming.plan,
      KernelOptions{impl_->options.reference_kernels, impl_->options.threads}, streaming.kernels);
  if (impl_->package.spectral_head) impl->istft.emplace(*impl_->package.spectral_head);
  if (impl_->noise_channels > 0) impl->noise.emplace(impl_->noise_channels, impl_->noise_seed);
  return VocoderStream(std::move(impl));
}

VocoderStream::VocoderStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VocoderStream::~VocoderStream() = default;
VocoderStream::VocoderStream(VocoderStream&&) noexcept = default;
VocoderStream& VocoderStream::operator=(VocoderStream&&) noexcept = default;

std::vector<float> VocoderStream::push(const Tensor& mel) { return impl_->push(mel, nullptr); }
std::vector<float> VocoderStream::push(const Tensor& mel, const Tensor& f0) {
  return impl_->push(mel, &f0);
}

std::vector<float> VocoderStream::finish() {
  if (impl_->finished) fail(ErrorCode::kInvalidArgument, "finish() called twice");
  impl_->finished = true;
  if (impl_->frames == 0) fail(ErrorCode::kInvalidArgument, "finish() before any mel frame");
  return impl_->take(impl_->graph->finish(), true);
}

int64_t VocoderStream::frames_pushed() const { return impl_->frames; }
int64_t VocoderStream::samples_returned() const { return impl_->samples; }

std::vector<float> Vocoder::vocode_chunked(const Tensor& mel, const Tensor* f0,
                                           int64_t chunk_frames, const Progress& progress) const {
  const StreamInfo& info = stream_info();
  if (chunk_frames < 1) {
    fail(ErrorCode::kInvalidArgument, "chunk size must be at least 1 frame, got {}", chunk_frames);
  }
  if (!info.streamable) {
    fail(ErrorCode::kUnsupported, "{}: chunked mode impossible: {}", impl_->package.onnx_path,
         info.not_streamable_because);
  }
  if (!info.bounded_history) {
    fail(ErrorCode::kUnsupported,
         "{}: chunked mode cannot be exact: {} (state spans the whole input); use the stateful "
         "stream instead",
         impl_->package.onnx_path, info.unbounded_because);
  }
  if (impl_->info.needs_f0 && !f0) {
    fail(ErrorCode::kInvalidArgument, "this {} model needs f0 as well as the mel",
         impl_->info.family);
  }
  const Tensor batch = mel_batch(mel, impl_->info);
  const int64_t frames = batch.dim(2), hop = impl_->info.hop_length;
  std::map<std::string, Tensor> whole = {{impl_->mel_input, batch}};
  if (impl_->info.needs_f0) {
    whole["f0"] = f0_batch(*f0, frames);
    if (impl_->noise_channels > 0) {
      whole["noise"] = NoiseSource(impl_->noise_channels, impl_->noise_seed).next(frames * hop);
    }
  }
  const bool spectral = impl_->package.spectral_head.has_value();
  // The model's part of the context; the ISTFT runs once over the joined spectra.
  const stream::StreamPlan& plan = *impl_->streaming().plan;
  const int64_t history = plan.field.history_frames, lookahead = plan.field.lookahead_frames;
  std::vector<float> samples;
  std::vector<Tensor> real_parts, imag_parts;
  for (int64_t start = 0; start < frames; start += chunk_frames) {
    const int64_t end = std::min(frames, start + chunk_frames);
    const int64_t from = std::max<int64_t>(0, start - history);
    const int64_t to = std::min(frames, end + lookahead);
    std::map<std::string, Tensor> window;
    for (const auto& [name, tensor] : whole) {
      const int64_t per_frame = name == "noise" ? hop : 1;
      window[name] =
          stream::slice_axis(tensor, tensor.rank() - 1, from * per_frame, (to - from) * per_frame);
    }
    auto outputs = impl_->model.run(window);
    if (spectral) {
      for (const char* part : {"spec_real", "spec_imag"}) {
        const Tensor& spectrum = outputs.at(part);
        (part[5] == 'r' ? real_parts : imag_parts)
            .push_back(
                stream::slice_axis(spectrum, spectrum.rank() - 1, start - from, end - start));
      }
    } else {
      const Tensor& audio = outputs.at(impl_->audio_output);
      const float* values = audio.data<float>();
      samples.insert(samples.end(), values + (start - from) * hop, values + (end - from) * hop);
    }
    if (progress) progress(static_cast<double>(end) / static_cast<double>(frames));
  }
  if (!spectral) return samples;
  audio::Spectrum spectrum =
      audio::spectrum_from_tensors(stream::concat_axis(real_parts, real_parts[0].rank() - 1),
                                   stream::concat_axis(imag_parts, imag_parts[0].rank() - 1));
  return audio::Stft(*impl_->package.spectral_head).inverse(spectrum, frames * hop);
}

}  // namespace amphora
