// amphora.Vocoder and amphora.VocoderStream: mel (and f0 for NSF-HiFiGAN) in, samples out.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <mutex>
#include <optional>
#include <utility>

#include "amphora/vocoder.hpp"
#include "python/arrays.hpp"
#include "python/bindings.hpp"

namespace amphora::python {

namespace {

struct PyVocoder {
  explicit PyVocoder(Vocoder loaded) : vocoder(std::move(loaded)) {}
  Vocoder vocoder;
  std::mutex mutex;
};

struct PyStream {
  PyStream(VocoderStream started, VocoderInfo info)
      : stream(std::move(started)), info(std::move(info)) {}
  VocoderStream stream;
  VocoderInfo info;  // of its vocoder, for the f0 check
  std::mutex mutex;
};

// The f0 as a Tensor, when given. As the C ABI does, an f0 is refused where the vocoder takes
// none: the C++ API would ignore it silently.
std::optional<Tensor> f0_tensor(const std::optional<FloatArray>& f0, const VocoderInfo& info) {
  if (!f0) return std::nullopt;
  if (!info.needs_f0) {
    throw Error(ErrorCode::kInvalidArgument,
                "this " + info.family + " vocoder takes no f0: pass none");
  }
  return to_tensor(*f0);
}

Samples vocode(PyVocoder& self, const FloatArray& mel, const std::optional<FloatArray>& f0) {
  const Tensor mel_tensor = to_tensor(mel);
  const std::optional<Tensor> f0s = f0_tensor(f0, self.vocoder.info());
  return to_numpy(without_gil(self.mutex, [&] {
    return f0s ? self.vocoder.vocode(mel_tensor, *f0s) : self.vocoder.vocode(mel_tensor);
  }));
}

Samples vocode_chunked(PyVocoder& self, const FloatArray& mel, int64_t chunk_frames,
                       const std::optional<FloatArray>& f0) {
  const Tensor mel_tensor = to_tensor(mel);
  const std::optional<Tensor> f0s = f0_tensor(f0, self.vocoder.info());
  return to_numpy(without_gil(self.mutex, [&] {
    return self.vocoder.vocode_chunked(mel_tensor, f0s ? &*f0s : nullptr, chunk_frames);
  }));
}

Samples push(PyStream& self, const FloatArray& mel, const std::optional<FloatArray>& f0) {
  const Tensor mel_tensor = to_tensor(mel);
  const std::optional<Tensor> f0s = f0_tensor(f0, self.info);
  return to_numpy(without_gil(self.mutex, [&] {
    return f0s ? self.stream.push(mel_tensor, *f0s) : self.stream.push(mel_tensor);
  }));
}

// The manifest's "mel" section, as amphora_export.quality.amphion_mel takes it; None for a
// bare ONNX file, which carries none.
nb::object mel_config(const PyVocoder& self) {
  const std::optional<audio::MelConfig>& config = self.vocoder.mel_config();
  if (!config) return nb::none();
  nb::dict mel;
  mel["sample_rate"] = config->sample_rate;
  mel["n_fft"] = config->n_fft;
  mel["win_length"] = config->win_length;
  mel["hop_length"] = config->hop_length;
  mel["n_mels"] = config->n_mels;
  mel["fmin"] = config->fmin;
  mel["fmax"] = config->effective_fmax();
  mel["center"] = config->center;
  mel["clamp_min"] = config->clamp_min;
  mel["norm"] = nb::none();
  if (config->norm_mean && config->norm_std) {
    nb::dict norm;
    norm["mean"] = *config->norm_mean;
    norm["std"] = *config->norm_std;
    mel["norm"] = norm;
  }
  return mel;
}

}  // namespace

void bind_vocoder(nb::module_& m) {
  nb::class_<StreamInfo>(m, "StreamInfo", "How a vocoder streams, from its graph.")
      .def_ro("streamable", &StreamInfo::streamable)
      .def_ro("not_streamable_because", &StreamInfo::not_streamable_because)
      .def_ro("history_frames", &StreamInfo::history_frames)
      .def_ro("lookahead_frames", &StreamInfo::lookahead_frames)
      .def_ro("bounded_history", &StreamInfo::bounded_history)
      .def_ro("unbounded_because", &StreamInfo::unbounded_because);

  nb::class_<PyStream>(m, "VocoderStream",
                       "One utterance: push() mel frames as they arrive and get the samples "
                       "that are final; finish() returns the rest. Their concatenation is the "
                       "offline vocode() output (within 1e-4) for any split of the mel.")
      .def("push", &push, nb::arg("mel"), nb::arg("f0") = nb::none(),
           "mel: float32 [n_mels, n] or [1, n_mels, n], any n >= 0; f0 [n] in Hz for NSF.")
      .def(
          "finish",
          [](PyStream& self) {
            return to_numpy(without_gil(self.mutex, [&] { return self.stream.finish(); }));
          },
          "Ends the utterance; returns the remaining samples.")
      .def_prop_ro("frames_pushed",
                   [](PyStream& self) {
                     return without_gil(self.mutex, [&] { return self.stream.frames_pushed(); });
                   })
      .def_prop_ro("samples_returned", [](PyStream& self) {
        return without_gil(self.mutex, [&] { return self.stream.samples_returned(); });
      });

  nb::class_<PyVocoder>(m, "Vocoder",
                        "A vocoder package (or a bare ONNX mel -> audio model): vocode() a mel "
                        "to samples, offline, chunked or as a stream.")
      .def(
          "__init__",
          [](PyVocoder* self, const std::filesystem::path& path, int threads,
             const std::string& backend, int sample_rate, uint64_t noise_seed) {
            VocoderOptions options;
            static_cast<Options&>(options) = load_options(threads, backend);
            options.sample_rate = sample_rate;
            options.noise_seed = noise_seed;
            nb::gil_scoped_release release;
            new (self) PyVocoder(Vocoder::load(path.string(), options));
          },
          nb::arg("path"), nb::kw_only(), nb::arg("threads") = 0, nb::arg("backend") = "native",
          nb::arg("sample_rate") = 0, nb::arg("noise_seed") = 0,
          "threads: intra-op threads (0: all cores); sample_rate: for a bare ONNX file, which "
          "carries none; noise_seed: NSF-HiFiGAN's source noise.")
      .def_prop_ro("family", [](const PyVocoder& self) { return self.vocoder.info().family; })
      .def_prop_ro("sample_rate",
                   [](const PyVocoder& self) { return self.vocoder.info().sample_rate; })
      .def_prop_ro("hop_length",
                   [](const PyVocoder& self) { return self.vocoder.info().hop_length; },
                   "Output samples per mel frame.")
      .def_prop_ro("n_mels", [](const PyVocoder& self) { return self.vocoder.info().n_mels; })
      .def_prop_ro("needs_f0", [](const PyVocoder& self) { return self.vocoder.info().needs_f0; })
      .def_prop_ro("head", [](const PyVocoder& self) { return self.vocoder.info().head; },
                   "\"waveform\", or \"istft\" for a spectral head (Vocos, APNet).")
      .def_prop_ro("mel_config", &mel_config,
                   nb::sig("def mel_config(self) -> dict[str, object] | None"),
                   "The mel settings it was trained with (Amphion's extract_mel_features), or "
                   "None for a bare ONNX file.")
      .def_prop_ro(
          "stream_info",
          [](PyVocoder& self) {  // the first call analyses the graph
            return without_gil(self.mutex, [&] { return self.vocoder.stream_info(); });
          },
          nb::rv_policy::copy)
      .def("vocode", &vocode, nb::arg("mel"), nb::arg("f0") = nb::none(),
           "mel: float32 [n_mels, T] or [1, n_mels, T]; f0 [T] in Hz for NSF-HiFiGAN. "
           "Returns T * hop_length float32 samples.")
      .def("vocode_chunked", &vocode_chunked, nb::arg("mel"), nb::arg("chunk_frames"),
           nb::arg("f0") = nb::none(),
           "The offline output, computed chunk_frames mel frames at a time with the context "
           "the receptive field needs (any backend).")
      .def(
          "stream",
          [](PyVocoder& self) {
            VocoderStream stream = without_gil(self.mutex, [&] { return self.vocoder.stream(); });
            return new PyStream(std::move(stream), self.vocoder.info());
          },
          nb::keep_alive<0, 1>(), nb::rv_policy::take_ownership,
          "A stateful stream of one utterance (native engine); fails naming the node when the "
          "model cannot stream.");
}

}  // namespace amphora::python
