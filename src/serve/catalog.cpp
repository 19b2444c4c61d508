#include "serve/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "serve/request.hpp"

namespace amphora::serve {
namespace {

// The package's amphora.json, when it is a directory that has one (a bare .onnx: null).
nlohmann::json read_manifest(const std::string& path) {
  std::ifstream in(std::filesystem::path(path) / "amphora.json");
  if (!in) return nullptr;
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json describe_vocoder(const std::string& name, const std::string& path,
                                const Vocoder& vocoder) {
  const VocoderInfo& info = vocoder.info();
  const StreamInfo& stream = vocoder.stream_info();
  return {{"name", name},
          {"family", info.family},
          {"sample_rate", info.sample_rate},
          {"hop_length", info.hop_length},
          {"n_mels", info.n_mels},
          {"copy_synthesis", vocoder.mel_config().has_value()},  // takes a wav
          {"streaming",
           {{"streamable", stream.streamable},
            {"lookahead_frames", stream.lookahead_frames},
            {"history_frames", stream.history_frames}}},
          {"manifest", read_manifest(path)}};
}

// By name, the first for an empty one; 404 naming the name and those served.
template <typename Served>
const Served& find_named(const std::vector<Served>& served, const std::string& name,
                         const char* kind, const char* flag) {
  if (served.empty()) refuse(404, "no {} is served (start the server with {})", kind, flag);
  if (name.empty()) return served.front();
  std::vector<std::string> names;
  for (const Served& s : served) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  refuse(404, "{} '{}' is not served ({}s: {})", kind, name, kind, fmt::join(names, ", "));
}

}  // namespace

ModelSpec parse_model_spec(const std::string& spec, bool voice) {
  ModelSpec out;
  std::string rest = spec;
  const size_t eq = rest.find('=');
  if (eq != std::string::npos) {
    out.name = rest.substr(0, eq);
    rest = rest.substr(eq + 1);
    if (out.name.empty())
      fail(ErrorCode::kInvalidArgument, "'{}': the name before '=' is empty", spec);
  }
  if (voice) {
    const size_t at = rest.rfind('@');
    if (at != std::string::npos) {
      out.vocoder = rest.substr(at + 1);
      rest = rest.substr(0, at);
      if (out.vocoder.empty()) {
        fail(ErrorCode::kInvalidArgument, "'{}': the vocoder name after '@' is empty", spec);
      }
    }
  }
  out.path = rest;
  if (out.path.empty()) fail(ErrorCode::kInvalidArgument, "'{}': no package path", spec);
  if (out.name.empty()) {
    std::filesystem::path p(out.path);
    out.name = (p.has_filename() ? p : p.parent_path()).stem().string();
  }
  for (char c : out.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      fail(ErrorCode::kInvalidArgument,
           "'{}': name '{}' may hold only letters, digits and -_. (it goes in URLs)", spec,
           out.name);
    }
  }
  return out;
}

Catalog Catalog::load(const std::vector<std::string>& vocoder_specs,
                      const std::vector<std::string>& voice_specs, const Options& options) {
  Catalog catalog;
  auto check_new_name = [&](const std::string& name, const std::string& spec) {
    const auto taken = [&](const auto& served) { return served.name == name; };
    if (std::any_of(catalog.vocoders_.begin(), catalog.vocoders_.end(), taken) ||
        std::any_of(catalog.voices_.begin(), catalog.voices_.end(), taken)) {
      fail(ErrorCode::kInvalidArgument, "'{}': name '{}' is taken", spec, name);
    }
  };
  for (const std::string& text : vocoder_specs) {
    const ModelSpec spec = parse_model_spec(text, false);
    check_new_name(spec.name, text);
    VocoderOptions vocoder_options;
    static_cast<Options&>(vocoder_options) = options;
    Vocoder vocoder = Vocoder::load(spec.path, vocoder_options);
    if (vocoder.info().needs_f0) {
      fail(ErrorCode::kUnsupported,
           "--model {}: NSF vocoders need f0 per frame, which POST /v1/vocode does not take", text);
    }
    if (vocoder.info().sample_rate <= 0) {
      fail(ErrorCode::kInvalidArgument,
           "--model {}: a bare ONNX model has no sample rate; export it as a package", text);
    }
    nlohmann::json description = describe_vocoder(spec.name, spec.path, vocoder);
    catalog.vocoders_.push_back({spec.name, spec.path, std::move(vocoder), std::move(description)});
  }
  for (const std::string& text : voice_specs) {
    const ModelSpec spec = parse_model_spec(text, true);
    check_new_name(spec.name, text);
    std::vector<const ServedVocoder*> candidates;
    if (!spec.vocoder.empty()) {
      candidates.push_back(&catalog.vocoder(spec.vocoder));
    } else {
      for (const auto& v : catalog.vocoders_) candidates.push_back(&v);
    }
    // A waveform voice (VITS) takes no vocoder: tried first without one; a mel voice refuses
    // that and each candidate in turn until one's mel settings match.
    std::string why_not;
    auto try_load = [&](const ServedVocoder* with) -> bool {
      try {
        Synthesizer synthesizer = Synthesizer::load(spec.path, with ? with->path : "", options);
        const AcousticInfo& info = synthesizer.voice_info();
        nlohmann::json description = {{"name", spec.name},
                                      {"family", info.family},
                                      {"sample_rate", synthesizer.sample_rate()},
                                      {"speakers", info.speaker_count},
                                      {"speaker_names", info.speaker_names},
                                      {"vocoder", with ? nlohmann::json(with->name) : nullptr}};
        catalog.voices_.push_back({spec.name, spec.path, with ? with->name : "",
                                   std::move(synthesizer), std::move(description)});
        return true;
      } catch (const Error& e) {
        why_not += fmt::format("\n  {}: {}", with ? with->name : "without a vocoder", e.what());
        return false;
      }
    };
    bool loaded = spec.vocoder.empty() && try_load(nullptr);
    for (const ServedVocoder* candidate : candidates) loaded = loaded || try_load(candidate);
    if (!loaded) {
      fail(ErrorCode::kInvalidArgument, "--voice {}: no served vocoder speaks it:{}", text,
           why_not);
    }
  }
  return catalog;
}

const Catalog::ServedVocoder& Catalog::vocoder(const std::string& name) const {
  return find_named(vocoders_, name, "model", "--model");
}

const Catalog::ServedVoice& Catalog::voice(const std::string& name) const {
  return find_named(voices_, name, "voice", "--voice");
}

nlohmann::json Catalog::describe() const {
  nlohmann::json models = nlohmann::json::array(), voices = nlohmann::json::array();
  for (const auto& v : vocoders_) models.push_back(v.description);
  for (const auto& v : voices_) voices.push_back(v.description);
  return {{"models", models}, {"voices", voices}};
}

}  // namespace amphora::serve
