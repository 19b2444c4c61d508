#include "amphora/acoustic.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "audio/mel.hpp"
#include "core/error.hpp"
#include "core/json_fields.hpp"
#include "pipeline/acoustic_impl.hpp"

namespace amphora {

namespace {

std::vector<std::string> string_list(const nlohmann::json& object, const char* key,
                                     const std::string& where) {
  std::vector<std::string> out;
  if (!object.contains(key) || object[key].is_null()) return out;
  if (!object[key].is_array()) {
    fail(ErrorCode::kInvalidModel, "{}: \"{}\" must be a list of strings", where, key);
  }
  for (const auto& item : object[key]) {
    if (!item.is_string()) {
      fail(ErrorCode::kInvalidModel, "{}: \"{}\" must be a list of strings, has {}", where, key,
           item.dump());
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

void read_manifest(AcousticModel::Impl& impl, const std::string& text) {
  const std::string& where = impl.source;
  const nlohmann::json m = parse_manifest(text, where);
  const std::string kind = optional_string(m, "kind", "vocoder", where);
  AcousticInfo& info = impl.info;
  info.family = optional_string(m, "family", "unknown", where);
  if (kind != "acoustic") {
    fail(ErrorCode::kInvalidArgument,
         "{}: a {} package ({}), not an acoustic model: vocode mels with `amphora vocode`", where,
         kind, info.family);
  }
  info.task = optional_string(m, "task", "tts", where);
  if (info.task != "tts" && info.task != "svc") {
    fail(ErrorCode::kUnsupported, "{}: a {} model ({}): amphora knows the tasks tts and svc", where,
         info.task, info.family);
  }
  info.produces = optional_string(m, "produces", "", where);
  if (info.produces != "mel" && info.produces != "waveform") {
    fail(ErrorCode::kUnsupported, "{}: \"produces\" is '{}', amphora knows mel and waveform", where,
         info.produces);
  }
  info.sample_rate = positive_int(m, "sample_rate", where);
  info.hop_length = positive_int(m, "hop_length", where);
  if (m.contains("mel") && !m["mel"].is_null()) {
    impl.mel = audio::mel_config_from_json(m["mel"], where);
  }
  if (info.produces == "mel" && !impl.mel) {
    fail(ErrorCode::kInvalidModel, "{}: a model producing mels needs the \"mel\" settings", where);
  }
  const auto& speakers = manifest_section(m, "speakers", where);
  info.speaker_count = positive_int(speakers, "count", where + " speakers");
  info.speaker_names = string_list(speakers, "names", where + " speakers");
  for (const TensorInfo& input : impl.model.inputs()) impl.inputs.insert(input.name);
  if (info.task == "svc") {
    read_svc_manifest(impl, m);  // content features take the phones' place
    return;
  }
  const auto& phones = manifest_section(m, "phones", where);
  info.phone_count = positive_int(phones, "count", where + " phones");
  info.symbols = string_list(phones, "symbols", where + " phones");
  info.intersperse_blank = phones.value("intersperse_blank", false);
  info.has_duration_noise = impl.inputs.count("noise_scale_w") > 0;
}

Tensor ids(const std::vector<int64_t>& values) {
  return Tensor::from_vector<int64_t>({1, static_cast<int64_t>(values.size())}, values);
}

}  // namespace

const nlohmann::json& manifest_section(const nlohmann::json& manifest, const char* key,
                                       const std::string& where) {
  if (!manifest.contains(key) || !manifest[key].is_object()) {
    fail(ErrorCode::kInvalidModel, "{}: needs a \"{}\" object", where, key);
  }
  return manifest[key];
}

Tensor scalar_input(float value) { return Tensor::from_vector<float>({1}, {value}); }
Tensor id_input(int64_t value) { return Tensor::from_vector<int64_t>({1}, {value}); }

void check_control(const char* name, float value, bool zero_ok) {
  if (!std::isfinite(value) || value < 0.0f || (!zero_ok && value == 0.0f)) {
    fail(ErrorCode::kInvalidArgument, "{} is {}: it must be a finite number {} 0", name, value,
         zero_ok ? ">=" : ">");
  }
}

void check_speaker(int64_t speaker, const AcousticInfo& info) {
  if (speaker < 0 || speaker >= info.speaker_count) {
    fail(ErrorCode::kInvalidArgument, "speaker {} is out of range: the model has {} speaker{}",
         speaker, info.speaker_count, info.speaker_count == 1 ? "" : "s (0..N-1)");
  }
}

const Tensor& AcousticModel::Impl::output(const std::map<std::string, Tensor>& outputs,
                                          const char* name) const {
  auto it = outputs.find(name);
  if (it == outputs.end()) {
    fail(ErrorCode::kInvalidModel, "{}: the model has no output '{}'", source, name);
  }
  return it->second;
}

AcousticModel AcousticModel::load(const std::string& path, const Options& options) {
  std::error_code ec;
  const auto manifest_path = std::filesystem::path(path) / "amphora.json";
  if (!std::filesystem::is_directory(path, ec) || !std::filesystem::exists(manifest_path, ec)) {
    fail(ErrorCode::kInvalidArgument,
         "{}: not an acoustic model package (a directory with amphora.json, written by "
         "`amphora-export acoustic`)",
         path);
  }
  std::ifstream in(manifest_path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto impl = std::make_shared<Impl>(Model::load(path, options));
  impl->source = manifest_path.string();
  read_manifest(*impl, text);
  return AcousticModel(std::move(impl));
}

const AcousticInfo& AcousticModel::info() const { return impl_->info; }
const std::optional<audio::MelConfig>& AcousticModel::mel_config() const { return impl_->mel; }

Synthesis AcousticModel::synthesize(const std::vector<int64_t>& phone_ids,
                                    const SynthesisControls& controls) const {
  const AcousticInfo& info = impl_->info;
  if (info.task != "tts") {
    fail(ErrorCode::kInvalidArgument,
         "{}: an SVC model ({}) converts content features and f0, not phone ids: use "
         "convert() (`amphora svc`)",
         impl_->source, info.family);
  }
  if (phone_ids.empty()) fail(ErrorCode::kInvalidArgument, "no phone ids: nothing to say");
  for (size_t k = 0; k < phone_ids.size(); ++k) {
    if (phone_ids[k] < 0 || phone_ids[k] >= info.phone_count) {
      fail(ErrorCode::kInvalidArgument, "phone id #{} is {}: the model's phones are 0..{}", k,
           phone_ids[k], info.phone_count - 1);
    }
  }
  check_speaker(controls.speaker, info);
  check_control("the duration scale", controls.duration, false);
  check_control("the pitch scale", controls.pitch, false);
  check_control("the energy scale", controls.energy, false);
  check_control("noise_scale", controls.noise_scale, true);
  check_control("noise_scale_w", controls.noise_scale_w, true);

  std::vector<int64_t> tokens;
  if (info.intersperse_blank) {  // as Amphion's VITS inference: blank, p1, blank, p2, ..., blank
    tokens.push_back(0);
    for (int64_t id : phone_ids) {
      tokens.push_back(id);
      tokens.push_back(0);
    }
  } else {
    tokens = phone_ids;
  }
  // Every input the model has, by the name the exporter gives it.
  std::map<std::string, Tensor> inputs;
  for (const std::string& name : impl_->inputs) {
    if (name == "phone_ids") {
      inputs[name] = ids(tokens);
    } else if (name == "phone_lengths") {
      inputs[name] = id_input(static_cast<int64_t>(tokens.size()));
    } else if (name == "speaker_id") {
      inputs[name] = id_input(controls.speaker);
    } else if (name == "seed") {
      inputs[name] = id_input(controls.seed);
    } else if (name == "duration_control" || name == "length_scale") {
      inputs[name] = scalar_input(controls.duration);
    } else if (name == "pitch_control") {
      inputs[name] = scalar_input(controls.pitch);
    } else if (name == "energy_control") {
      inputs[name] = scalar_input(controls.energy);
    } else if (name == "noise_scale") {
      inputs[name] = scalar_input(controls.noise_scale);
    } else if (name == "noise_scale_w") {
      inputs[name] = scalar_input(controls.noise_scale_w);
    } else {
      fail(ErrorCode::kUnsupported, "{}: the model has an input '{}' amphora does not know",
           impl_->source, name);
    }
  }
  const std::map<std::string, Tensor> outputs = impl_->model.run(inputs);
  auto output = [&](const char* name) -> const Tensor& { return impl_->output(outputs, name); };
  Synthesis result;
  const Tensor& durations = output("durations");
  const int64_t* d = durations.data<int64_t>();
  result.durations.assign(d, d + durations.numel());
  if (info.produces == "mel") {
    const Tensor& mel = output("mel");  // [1, n_mels, frames]
    result.mel = mel.reshaped({mel.dim(-2), mel.dim(-1)});
  } else {
    const Tensor& audio = output("audio");  // [1, 1, samples]
    const float* s = audio.data<float>();
    result.samples.assign(s, s + audio.numel());
  }
  return result;
}

void check_mel_match(const audio::MelConfig& acoustic, const std::string& acoustic_name,
                     const audio::MelConfig& vocoder, const std::string& vocoder_name) {
  std::string differences;
  auto compare = [&](const char* what, double a, double v) {
    if (a == v) return;
    differences += fmt::format("{}{} {} vs {}", differences.empty() ? "" : ", ", what, a, v);
  };
  compare("sample_rate", acoustic.sample_rate, vocoder.sample_rate);
  compare("n_mels", acoustic.n_mels, vocoder.n_mels);
  compare("hop_length", acoustic.hop_length, vocoder.hop_length);
  compare("n_fft", acoustic.n_fft, vocoder.n_fft);
  compare("win_length", acoustic.win_length, vocoder.win_length);
  compare("fmin", acoustic.fmin, vocoder.fmin);
  compare("fmax", acoustic.effective_fmax(), vocoder.effective_fmax());
  if (!differences.empty()) {
    fail(ErrorCode::kInvalidArgument,
         "the mel {} makes does not match the mel vocoder {} was trained on (acoustic vs "
         "vocoder: {})",
         acoustic_name, vocoder_name, differences);
  }
}

Vocoder load_matching_vocoder(const AcousticModel& model, const std::string& model_name,
                              const std::string& vocoder_path, const VocoderOptions& options) {
  Vocoder vocoder = Vocoder::load(vocoder_path, options);
  if (!vocoder.mel_config()) {
    fail(ErrorCode::kInvalidArgument,
         "vocoder {} carries no mel settings (a bare model): give a package, so that its mel "
         "can be checked against {}",
         vocoder_path, model_name);
  }
  check_mel_match(*model.mel_config(), model_name, *vocoder.mel_config(), vocoder_path);
  return vocoder;
}

}  // namespace amphora
