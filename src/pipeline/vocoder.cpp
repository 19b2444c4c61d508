// Vocoder: package -> Model, mel/f0 validation, NSF noise, spectral-head ISTFT.
#include "amphora/vocoder.hpp"

#include <cmath>
#include <random>

#include "pipeline/vocoder_impl.hpp"

namespace amphora {

namespace {

// Output samples of the graph for a zero mel of `frames` frames (bare ONNX hop measurement).
int64_t probe_output_samples(const Model& model, const std::string& input, int64_t n_mels,
                             int64_t frames) {
  auto outputs = model.run({{input, Tensor(DType::kFloat32, {1, n_mels, frames})}});
  return outputs.begin()->second.numel();
}

// A bare model: one input [1 or batch, n_mels, T], one output; measure the hop.
void describe_bare_model(Vocoder::Impl& impl, const std::string& path,
                         const VocoderOptions& options) {
  const auto& inputs = impl.model.inputs();
  const auto& outputs = impl.model.outputs();
  if (inputs.size() != 1 || outputs.size() != 1) {
    fail(ErrorCode::kInvalidModel,
         "{}: has no amphora manifest, and a bare vocoder needs exactly one input (mel) and one "
         "output (audio); it has {} inputs and {} outputs",
         path, inputs.size(), outputs.size());
  }
  const TensorInfo& mel = inputs[0];
  if (mel.dims.size() != 3) {
    fail(ErrorCode::kInvalidModel, "{}: input {} is not a mel [batch, n_mels, frames]", path,
         mel.to_string());
  }
  const int64_t declared = mel.dims[1].size;
  if (declared > 0 && options.n_mels > 0 && declared != options.n_mels) {
    fail(ErrorCode::kInvalidArgument, "{}: input {} takes {} mel bins, not {}", path,
         mel.to_string(), declared, options.n_mels);
  }
  const int64_t n_mels = declared > 0 ? declared : options.n_mels;
  if (n_mels <= 0) {
    fail(ErrorCode::kInvalidArgument,
         "{}: input {} does not say how many mel bins it takes; give them "
         "(VocoderOptions::n_mels; the CLI takes them from --mel)",
         path, mel.to_string());
  }
  impl.mel_input = mel.name;
  impl.audio_output = outputs[0].name;
  const int64_t short_len = probe_output_samples(impl.model, mel.name, n_mels, 8);
  const int64_t long_len = probe_output_samples(impl.model, mel.name, n_mels, 16);
  const int64_t hop = (long_len - short_len) / 8;
  if (hop <= 0 || long_len - short_len != 8 * hop) {
    fail(ErrorCode::kInvalidModel,
         "{}: output length does not grow linearly with the mel frames ({} samples for 8 "
         "frames, {} for 16); cannot tell the hop length",
         path, short_len, long_len);
  }
  impl.info = VocoderInfo{impl.model.backend() == Backend::kNative ? "onnx" : "torchscript",
                          options.sample_rate,
                          static_cast<int>(hop),
                          static_cast<int>(n_mels),
                          false,
                          "waveform"};
}

void describe_package(Vocoder::Impl& impl) {
  const VocoderPackage& pkg = impl.package;
  impl.info.family = pkg.family;
  impl.info.sample_rate = pkg.sample_rate;
  impl.info.hop_length = pkg.hop_length;
  impl.info.n_mels = pkg.n_mels;
  impl.info.head = pkg.spectral_head ? "istft" : "waveform";
  impl.mel_input = "mel";
  for (const TensorInfo& input : impl.model.inputs()) {
    if (input.name == "f0") impl.info.needs_f0 = true;
    if (input.name == "noise") {
      if (input.dims.size() != 3 || input.dims[1].size <= 0) {
        fail(ErrorCode::kInvalidModel, "{}: NSF input {} should be [batch, harmonics, samples]",
             pkg.onnx_path, input.to_string());
      }
      impl.noise_channels = input.dims[1].size;
    }
  }
  impl.audio_output = impl.model.outputs().front().name;
}

}  // namespace

// [n_mels, T] or [1, n_mels, T] -> [1, n_mels, T], with the checks a user needs to hear about.
Tensor mel_batch(const Tensor& mel, const VocoderInfo& info, bool allow_empty) {
  Tensor mel32;
  if (mel.dtype() == DType::kFloat32) {
    mel32 = mel;
  } else if (mel.dtype() == DType::kFloat64) {  // numpy's default; Amphion's mels are float32
    mel32 = Tensor::from_vector<float>(mel.shape(), mel.to_float_vector());
  } else {
    fail(ErrorCode::kInvalidArgument, "mel must be float32 or float64, got {}",
         dtype_name(mel.dtype()));
  }
  Tensor batch;
  if (mel32.rank() == 2) {
    batch = mel32.reshaped({1, mel32.dim(0), mel32.dim(1)});
  } else if (mel32.rank() == 3 && mel32.dim(0) == 1) {
    batch = mel32;
  } else {
    fail(ErrorCode::kInvalidArgument,
         "mel has shape {}, expected [n_mels, frames] or [1, n_mels, frames]",
         shape_str(mel.shape()));
  }
  if (batch.dim(1) != info.n_mels) {
    fail(ErrorCode::kInvalidArgument, "mel has {} bins but the model expects {} (shape {})",
         batch.dim(1), info.n_mels, shape_str(mel.shape()));
  }
  if (batch.dim(2) < 1 && !allow_empty) fail(ErrorCode::kInvalidArgument, "mel has no frames");
  const float* values = batch.data<float>();
  for (int64_t i = 0; i < batch.numel(); ++i) {
    if (!std::isfinite(values[i])) {
      fail(ErrorCode::kInvalidArgument, "mel value at bin {}, frame {} is {}", (i / batch.dim(2)),
           i % batch.dim(2), values[i]);
    }
  }
  return batch;
}

Tensor f0_batch(const Tensor& given, int64_t frames) {
  const Tensor f0 = given.dtype() == DType::kFloat64
                        ? Tensor::from_vector<float>(given.shape(), given.to_float_vector())
                        : given;
  if (f0.dtype() != DType::kFloat32 || f0.numel() != frames || f0.rank() > 2 ||
      (f0.rank() == 2 && f0.dim(0) != 1)) {
    fail(ErrorCode::kInvalidArgument,
         "f0 is {} {}, expected float32 [{}] or [1, {}] (one value per mel frame)",
         dtype_name(f0.dtype()), shape_str(f0.shape()), frames, frames);
  }
  const float* values = f0.data<float>();
  for (int64_t i = 0; i < frames; ++i) {
    if (!std::isfinite(values[i]) || values[i] < 0) {
      fail(ErrorCode::kInvalidArgument, "f0 at frame {} is {}; expected a finite value >= 0 Hz", i,
           values[i]);
    }
  }
  return f0.reshaped({1, frames});
}

NoiseSource::NoiseSource(int64_t channels, uint64_t seed) {
  for (int64_t c = 0; c < channels; ++c) {
    generators_.emplace_back(seed + static_cast<uint64_t>(c) * 0x9E3779B97F4A7C15ull);
    normals_.emplace_back(0.0f, 1.0f);
  }
}

Tensor NoiseSource::next(int64_t samples) {
  const auto channels = static_cast<int64_t>(generators_.size());
  Tensor noise(DType::kFloat32, {1, channels, samples});
  float* out = noise.data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t i = 0; i < samples; ++i) out[c * samples + i] = normals_[c](generators_[c]);
  }
  return noise;
}

std::vector<float> run_vocoder(const Vocoder::Impl& impl, std::map<std::string, Tensor> inputs,
                               int64_t frames, const Vocoder::Progress& progress) {
  const int64_t samples = frames * impl.info.hop_length;
  std::function<void(size_t, size_t)> node_progress;
  if (progress) {
    node_progress = [&](size_t done, size_t total) {
      progress(static_cast<double>(done) / static_cast<double>(total));
    };
  }
  auto outputs = impl.model.run(inputs, node_progress);
  if (impl.package.spectral_head) {
    auto find = [&](const char* name) -> const Tensor& {
      auto it = outputs.find(name);
      if (it == outputs.end()) {
        fail(ErrorCode::kInvalidModel, "{}: spectral head needs output '{}'",
             impl.package.onnx_path, name);
      }
      return it->second;
    };
    audio::Spectrum spectrum = audio::spectrum_from_tensors(find("spec_real"), find("spec_imag"));
    return audio::Stft(*impl.package.spectral_head).inverse(spectrum, samples);
  }
  const Tensor& audio = outputs.at(impl.audio_output);
  if (audio.numel() < samples) {
    fail(ErrorCode::kInvalidModel, "{}: produced {} samples for {} frames, expected {} (hop {})",
         impl.package.onnx_path, audio.numel(), frames, samples, impl.info.hop_length);
  }
  const float* begin = audio.data<float>();
  return std::vector<float>(begin, begin + samples);  // Amphion trims to frames * hop
}

Vocoder Vocoder::load(const std::string& path, const VocoderOptions& options) {
  auto impl = std::make_shared<Impl>(Model::load(path, options));
  impl->noise_seed = options.noise_seed;
  impl->options = options;
  impl->package = read_vocoder_package(path, impl->model.metadata());
  if (impl->package.manifest) {
    describe_package(*impl);
    if (options.sample_rate > 0) impl->info.sample_rate = options.sample_rate;
  } else {
    describe_bare_model(*impl, impl->package.onnx_path, options);
  }
  return Vocoder(std::move(impl));
}

const VocoderInfo& Vocoder::info() const { return impl_->info; }
const std::optional<audio::MelConfig>& Vocoder::mel_config() const { return impl_->package.mel; }

std::vector<float> Vocoder::vocode(const Tensor& mel, const Progress& progress) const {
  if (impl_->info.needs_f0) {
    fail(ErrorCode::kInvalidArgument, "this {} model needs f0 as well as the mel (use --f0)",
         impl_->info.family);
  }
  Tensor batch = mel_batch(mel, impl_->info);
  return run_vocoder(*impl_, {{impl_->mel_input, batch}}, batch.dim(2), progress);
}

std::vector<float> Vocoder::vocode(const Tensor& mel, const Tensor& f0,
                                   const Progress& progress) const {
  if (!impl_->info.needs_f0) return vocode(mel, progress);
  Tensor batch = mel_batch(mel, impl_->info);
  const int64_t frames = batch.dim(2);
  std::map<std::string, Tensor> inputs = {{impl_->mel_input, batch}, {"f0", f0_batch(f0, frames)}};
  if (impl_->noise_channels > 0) {
    inputs["noise"] =
        NoiseSource(impl_->noise_channels, impl_->noise_seed).next(frames * impl_->info.hop_length);
  }
  return run_vocoder(*impl_, std::move(inputs), frames, progress);
}

}  // namespace amphora
