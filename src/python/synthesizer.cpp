// amphora.Synthesizer: English text in, speech out, whole or handed on as it is made.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <mutex>
#include <span>
#include <utility>

#include "amphora/synthesizer.hpp"
#include "python/arrays.hpp"
#include "python/bindings.hpp"

namespace amphora::python {

namespace {

struct PySynthesizer {
  explicit PySynthesizer(Synthesizer loaded) : synthesizer(std::move(loaded)) {}
  Synthesizer synthesizer;
  std::mutex mutex;
};

Samples speak(PySynthesizer& self, const std::string& text, int64_t speaker, float speed) {
  SpeechOptions options;
  options.speaker = speaker;
  options.speed = speed;
  return to_numpy(without_gil(self.mutex, [&] { return self.synthesizer.speak(text, options); }));
}

// The sink takes the GIL only while the callback runs; its samples are a copy, since the span
// is the synthesizer's buffer. An exception from the callback ends speak_to with it.
nb::dict speak_to(PySynthesizer& self, const std::string& text, nb::callable on_audio,
                  int64_t speaker, float speed, bool stream, int64_t chunk_frames) {
  const SpeechOptions options{speaker, speed, stream, chunk_frames};
  const SpeechReport report = without_gil(self.mutex, [&] {
    return self.synthesizer.speak(text, options, [&](std::span<const float> samples) {
      nb::gil_scoped_acquire acquire;
      on_audio(to_numpy(std::vector<float>(samples.begin(), samples.end())));
    });
  });
  nb::dict result;
  result["sentences"] = report.sentences;
  result["skipped"] = report.skipped;
  result["samples"] = report.samples;
  result["first_audio_ms"] = report.first_audio_ms;
  result["compute_ms"] = report.compute_ms;
  result["warnings"] = report.warnings;
  return result;
}

}  // namespace

void bind_synthesizer(nb::module_& m) {
  nb::class_<PySynthesizer>(m, "Synthesizer",
                            "Text to speech: a voice package and, for a voice that makes mels, "
                            "a vocoder package with the same mel settings.")
      .def(
          "__init__",
          [](PySynthesizer* self, const std::filesystem::path& voice,
             const std::filesystem::path& vocoder, int threads, const std::string& backend) {
            const Options options = load_options(threads, backend);
            nb::gil_scoped_release release;
            new (self)
                PySynthesizer(Synthesizer::load(voice.string(), vocoder.string(), options));
          },
          nb::arg("voice"), nb::arg("vocoder") = "", nb::kw_only(), nb::arg("threads") = 0,
          nb::arg("backend") = "native",
          "vocoder: empty for a voice that makes the waveform itself (VITS).")
      .def_prop_ro("sample_rate",
                   [](const PySynthesizer& self) { return self.synthesizer.sample_rate(); })
      .def_prop_ro("family",
                   [](const PySynthesizer& self) { return self.synthesizer.voice_info().family; })
      .def_prop_ro("speaker_count",
                   [](const PySynthesizer& self) {
                     return self.synthesizer.voice_info().speaker_count;
                   })
      .def_prop_ro("speaker_names",
                   [](const PySynthesizer& self) {
                     return self.synthesizer.voice_info().speaker_names;
                   })
      .def("speak", &speak, nb::arg("text"), nb::kw_only(), nb::arg("speaker") = 0,
           nb::arg("speed") = 1.0f,
           "The whole text's speech as float32 samples at sample_rate. speed > 1 is faster.")
      .def("speak_to", &speak_to, nb::arg("text"), nb::arg("on_audio"), nb::kw_only(),
           nb::arg("speaker") = 0, nb::arg("speed") = 1.0f, nb::arg("stream") = true,
           nb::arg("chunk_frames") = SpeechOptions{}.chunk_frames,
           nb::sig("def speak_to(self, text: str, on_audio: collections.abc.Callable[["
                   "numpy.typing.NDArray[numpy.float32]], object], *, speaker: int = 0, "
                   "speed: float = 1.0, stream: bool = True, chunk_frames: int = 16) -> "
                   "dict[str, object]"),
           "Calls on_audio(samples) in order as the speech is made: per sentence, or with "
           "stream=True as the vocoder makes it: first chunk_frames mel frames, then chunks "
           "twice the one before up to 128 (on_audio must not call this "
           "synthesizer, which is busy). Returns the report (sentences, samples, "
           "first_audio_ms, compute_ms, warnings).");
}

}  // namespace amphora::python
