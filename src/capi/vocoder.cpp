// amphora_vocoder and amphora_stream: amphora::Vocoder and amphora::VocoderStream behind the C
// ABI. The mel arrives as the caller's [n_mels, frames] buffer and is copied into a Tensor.
#include "capi/boundary.hpp"

namespace amphora::capi {
namespace {

constexpr size_t kOptionsFirstSize =
    offsetof(amphora_vocoder_options, noise_seed) + sizeof(uint64_t);
constexpr size_t kInfoFirstSize = offsetof(amphora_vocoder_info, family) + sizeof(const char*);

amphora_vocoder_options default_options() {
  amphora_vocoder_options options{};
  options.struct_size = sizeof options;
  options.threads = 0;
  options.backend = AMPHORA_BACKEND_NATIVE;
  options.sample_rate = 0;
  options.n_mels = 0;
  options.noise_seed = 0;
  return options;
}

VocoderOptions vocoder_options(const amphora_vocoder_options* given) {
  const amphora_vocoder_options c =
      read_struct(given, default_options(), kOptionsFirstSize, "amphora_vocoder_options");
  if (c.sample_rate < 0 || c.n_mels < 0) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT,
           "sample_rate {} and n_mels {}: give 0 (the model's) or a positive value", c.sample_rate,
           c.n_mels);
  }
  VocoderOptions options;
  options.threads = threads_of(c.threads);
  options.backend = backend_of(c.backend);
  options.sample_rate = c.sample_rate;
  options.n_mels = c.n_mels;
  options.noise_seed = c.noise_seed;
  return options;
}

// The caller's mel [n_mels, frames] (and f0 [frames]) as Tensors. The vocoder checks the bins
// against its own; here only what a pointer and two sizes can get wrong.
Tensor mel_tensor(const float* mel, int64_t n_mels, int64_t frames) {
  if (n_mels < 1 || frames < 0) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT,
           "mel of {} bins and {} frames: give n_mels >= 1 and frames >= 0", n_mels, frames);
  }
  if (frames > kMaxTensorElements / n_mels) {
    refuse(AMPHORA_STATUS_OUT_OF_RANGE, "mel of {} bins and {} frames has more than {} values",
           n_mels, frames, kMaxTensorElements);
  }
  if (frames > 0) require(mel, "mel");
  Tensor tensor = Tensor::uninitialized(DType::kFloat32, {n_mels, frames});
  if (frames > 0) std::memcpy(tensor.raw(), mel, tensor.nbytes());
  return tensor;
}

Tensor f0_tensor(const float* f0, int64_t frames) {
  Tensor tensor = Tensor::uninitialized(DType::kFloat32, {frames});
  if (frames > 0) std::memcpy(tensor.raw(), f0, tensor.nbytes());
  return tensor;
}

// An f0 where the vocoder takes none would be silently ignored: refused instead.
void check_f0(const float* f0, const VocoderInfo& info) {
  if (f0 && !info.needs_f0) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT, "this {} vocoder takes no f0: pass NULL", info.family);
  }
}

void check_outputs(float** samples, size_t* sample_count) {
  require(samples, "samples");
  require(sample_count, "sample_count");
}

}  // namespace
}  // namespace amphora::capi

using namespace amphora::capi;

extern "C" {

amphora_status amphora_vocoder_options_init_sized(amphora_vocoder_options* options,
                                                  size_t struct_size) {
  return guarded(__func__, [&] {
    write_struct(&require(options, "options"), struct_size, default_options(), kOptionsFirstSize,
                 "amphora_vocoder_options");
  });
}

amphora_status amphora_vocoder_load(const char* path, const amphora_vocoder_options* options,
                                    amphora_vocoder** vocoder) {
  clear(vocoder);
  return guarded(__func__, [&] {
    require(vocoder, "vocoder");
    require(path, "path");
    *vocoder = new amphora_vocoder{amphora::Vocoder::load(path, vocoder_options(options))};
  });
}

void amphora_vocoder_destroy(amphora_vocoder* vocoder) { delete vocoder; }

amphora_status amphora_vocoder_get_info(const amphora_vocoder* vocoder,
                                        amphora_vocoder_info* info) {
  return guarded(__func__, [&] {
    const amphora::VocoderInfo& known = require(vocoder, "vocoder").vocoder.info();
    const size_t size = require(info, "info").struct_size;
    amphora_vocoder_info value{};
    value.struct_size = sizeof value;
    value.sample_rate = known.sample_rate;
    value.hop_length = known.hop_length;
    value.n_mels = known.n_mels;
    value.needs_f0 = known.needs_f0 ? 1 : 0;
    value.family = known.family.c_str();
    write_struct(info, size, value, kInfoFirstSize, "amphora_vocoder_info");
  });
}

amphora_status amphora_vocoder_vocode(const amphora_vocoder* vocoder, const float* mel,
                                      int64_t n_mels, int64_t frames, const float* f0,
                                      float** samples, size_t* sample_count) {
  clear(samples);
  clear(sample_count);
  return guarded(__func__, [&] {
    const amphora::Vocoder& loaded = require(vocoder, "vocoder").vocoder;
    check_outputs(samples, sample_count);
    check_f0(f0, loaded.info());
    const amphora::Tensor mel_frames = mel_tensor(mel, n_mels, frames);
    const std::vector<float> made =
        f0 ? loaded.vocode(mel_frames, f0_tensor(f0, frames)) : loaded.vocode(mel_frames);
    give_samples(made, samples, sample_count);
  });
}

amphora_status amphora_stream_create(const amphora_vocoder* vocoder, amphora_stream** stream) {
  clear(stream);
  return guarded(__func__, [&] {
    const amphora::Vocoder& loaded = require(vocoder, "vocoder").vocoder;
    require(stream, "stream");
    *stream = new amphora_stream{loaded.stream(), loaded.info()};
  });
}

void amphora_stream_destroy(amphora_stream* stream) { delete stream; }

amphora_status amphora_stream_push(amphora_stream* stream, const float* mel, int64_t n_mels,
                                   int64_t frames, const float* f0, float** samples,
                                   size_t* sample_count) {
  clear(samples);
  clear(sample_count);
  return guarded(__func__, [&] {
    amphora_stream& open = require(stream, "stream");
    check_outputs(samples, sample_count);
    if (open.finished) {
      refuse(AMPHORA_STATUS_MISUSE,
             "push after amphora_stream_finish: the utterance has ended; create another stream");
    }
    check_f0(f0, open.info);
    const amphora::Tensor mel_frames = mel_tensor(mel, n_mels, frames);
    const std::vector<float> made =
        f0 ? open.stream.push(mel_frames, f0_tensor(f0, frames)) : open.stream.push(mel_frames);
    give_samples(made, samples, sample_count);
  });
}

amphora_status amphora_stream_finish(amphora_stream* stream, float** samples,
                                     size_t* sample_count) {
  clear(samples);
  clear(sample_count);
  return guarded(__func__, [&] {
    amphora_stream& open = require(stream, "stream");
    check_outputs(samples, sample_count);
    if (open.finished) {
      refuse(AMPHORA_STATUS_MISUSE, "the stream was finished already; create another stream");
    }
    // Finished even if finish fails (no frame pushed): the C++ stream has ended either way.
    open.finished = true;
    give_samples(open.stream.finish(), samples, sample_count);
  });
}

}  // extern "C"
