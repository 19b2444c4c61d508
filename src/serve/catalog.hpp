// The models one `amphora serve` process serves, loaded once at start: vocoders (--model) for
// POST /v1/vocode and voices (--voice) for POST /v1/tts, each under a name.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "amphora/synthesizer.hpp"
#include "amphora/vocoder.hpp"

namespace amphora::serve {

// "NAME=PATH" or "PATH" (named after its last path component: pkg/hifigan -> "hifigan"). A
// voice may end in "@VOCODER", the name of the --model it speaks through.
struct ModelSpec {
  std::string name;
  std::string path;
  std::string vocoder;  // voices only; empty: chosen by mel settings
};
ModelSpec parse_model_spec(const std::string& spec, bool voice);

class Catalog {
 public:
  struct ServedVocoder {
    std::string name;
    std::string path;
    Vocoder vocoder;
    nlohmann::json description;  // for GET /v1/models
  };
  struct ServedVoice {
    std::string name;
    std::string path;
    std::string vocoder_name;  // empty for a voice that makes the waveform itself (VITS)
    Synthesizer synthesizer;
    nlohmann::json description;
  };

  // Loads every vocoder, then every voice. A voice without "@VOCODER" speaks through the first
  // vocoder whose mel settings match its own (or none, for a waveform voice). Fails naming the
  // spec at fault: a name given twice, a package that does not load, an NSF vocoder (it needs
  // f0, which the vocode endpoint does not take), a voice no vocoder matches.
  static Catalog load(const std::vector<std::string>& vocoder_specs,
                      const std::vector<std::string>& voice_specs, const Options& options);

  // By name; an empty name is the first one. 404 naming the unknown name and those served.
  const ServedVocoder& vocoder(const std::string& name) const;
  const ServedVoice& voice(const std::string& name) const;

  bool has_voices() const { return !voices_.empty(); }
  // {"models": [...], "voices": [...]}: names, families, rates, streaming, manifests.
  nlohmann::json describe() const;

 private:
  std::vector<ServedVocoder> vocoders_;
  std::vector<ServedVoice> voices_;
};

}  // namespace amphora::serve
