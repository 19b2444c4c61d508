// AcousticModel for singing voice conversion packages (VITS-SVC): the manifest's content, f0 and
// energy sections, and convert(): frame-aligned content features + f0 (+ energy) -> waveform.
#include <algorithm>
#include <cmath>

#include "amphora/acoustic.hpp"
#include "core/error.hpp"
#include "core/json_fields.hpp"
#include "pipeline/acoustic_impl.hpp"

namespace amphora {
namespace {

// manifest[key].input: the graph input that section feeds, "" when the model does not use it
// (the exporter writes null then).
std::string section_input(const AcousticModel::Impl& impl, const nlohmann::json& manifest,
                          const char* key) {
  const std::string where = impl.source + " " + key;
  const std::string input =
      optional_string(manifest_section(manifest, key, impl.source), "input", "", where);
  if (!input.empty() && impl.inputs.count(input) == 0) {
    fail(ErrorCode::kInvalidModel, "{}: input '{}' is not one of the model's", where, input);
  }
  return input;
}

std::string describe(const ContentFeature& feature) {
  return fmt::format("content feature '{}' ({})", feature.name, feature.input);
}

// `given` as one row of a batch: float32 [1, frames] (per-frame values, dim 0) or
// [1, frames, dim]. The leading 1 may be left out, and float64 (numpy's default) is narrowed.
Tensor one_row(const Tensor& given, const std::string& what, int64_t dim) {
  const Tensor t = given.dtype() == DType::kFloat64
                       ? Tensor::from_vector<float>(given.shape(), given.to_float_vector())
                       : given;
  const int64_t rank = dim > 0 ? 2 : 1;
  const bool batched = t.rank() == rank + 1 && t.dim(0) == 1;
  if (t.dtype() != DType::kFloat32 || (t.rank() != rank && !batched) ||
      (dim > 0 && t.dim(-1) != dim)) {
    const std::string expected = dim > 0 ? fmt::format("frames, {}", dim) : "frames";
    fail(ErrorCode::kInvalidArgument, "{} is {} {}: the model takes float32 [{}] (or [1, {}])",
         what, dtype_name(t.dtype()), shape_str(t.shape()), expected, expected);
  }
  const int64_t frames = t.dim(batched ? 1 : 0);
  return t.reshaped(dim > 0 ? Shape{1, frames, dim} : Shape{1, frames});
}

// NaN or Inf would spread through the flows into every sample; f0 is a frequency (0 unvoiced).
void check_values(const Tensor& row, const std::string& what, bool is_f0) {
  const float* values = row.data<float>();
  const int64_t per_frame = row.rank() == 3 ? row.dim(2) : 1;
  for (int64_t i = 0; i < row.numel(); ++i) {
    if (!std::isfinite(values[i]) || (is_f0 && values[i] < 0.0f)) {
      fail(ErrorCode::kInvalidArgument, "{} at frame {} is {}: expected {}", what, i / per_frame,
           values[i], is_f0 ? "a finite value >= 0 Hz (0 where unvoiced)" : "finite values");
    }
  }
}

// f0 or energy: present exactly when the model has `input`; as one row of `frames` values.
std::optional<Tensor> per_frame(const std::optional<Tensor>& given, const std::string& input,
                                const char* what, int64_t frames, const std::string& reference) {
  if (input.empty()) {
    if (given) fail(ErrorCode::kInvalidArgument, "the model takes no {}: leave it out", what);
    return std::nullopt;
  }
  if (!given) {
    fail(ErrorCode::kInvalidArgument, "the model needs {} (input '{}', [frames]): none given", what,
         input);
  }
  Tensor row = one_row(*given, what, 0);
  if (row.dim(1) != frames) {
    fail(ErrorCode::kInvalidArgument,
         "{} has {} frames but {} has {}: every input needs one value per frame", what, row.dim(1),
         reference, frames);
  }
  check_values(row, what, input == "f0");
  return row;
}

}  // namespace

void read_svc_manifest(AcousticModel::Impl& impl, const nlohmann::json& manifest) {
  AcousticInfo& info = impl.info;
  const std::string where = impl.source + " content";
  if (info.produces != "waveform") {
    fail(ErrorCode::kInvalidModel, "{}: an SVC model produces a waveform, not '{}'", impl.source,
         info.produces);
  }
  const nlohmann::json& content = manifest_section(manifest, "content", impl.source);
  if (!content.contains("features") || !content["features"].is_array() ||
      content["features"].empty()) {
    fail(ErrorCode::kInvalidModel, "{}: needs a non-empty list \"features\"", where);
  }
  for (const auto& entry : content["features"]) {
    if (!entry.is_object()) {
      fail(ErrorCode::kInvalidModel, "{}: each of \"features\" must be an object, got {}", where,
           entry.dump());
    }
    ContentFeature feature;
    feature.name = optional_string(entry, "name", "", where);
    feature.input = optional_string(entry, "input", "", where);
    feature.dim = positive_int(entry, "dim", where);
    if (feature.name.empty() || impl.inputs.count(feature.input) == 0) {
      fail(ErrorCode::kInvalidModel, "{}: feature {} needs a name and one of the model's inputs",
           where, entry.dump());
    }
    info.content_features.push_back(feature);
  }
  if (content.contains("min_frames")) info.min_frames = positive_int(content, "min_frames", where);
  impl.f0_input = section_input(impl, manifest, "f0");
  impl.energy_input = section_input(impl, manifest, "energy");
  info.uses_f0 = !impl.f0_input.empty();
  info.uses_energy = !impl.energy_input.empty();
}

std::vector<float> AcousticModel::convert(const ConversionInput& input,
                                          const ConversionControls& controls) const {
  const AcousticInfo& info = impl_->info;
  if (info.task != "svc") {
    fail(ErrorCode::kInvalidArgument,
         "{}: a TTS model ({}) speaks phone ids, it does not convert content features: use "
         "synthesize() (`amphora synth`)",
         impl_->source, info.family);
  }
  check_speaker(controls.speaker, info);
  check_control("noise_scale", controls.noise_scale, true);

  // Each feature given, in the manifest's order, under either of its names.
  const std::vector<ContentFeature>& features = info.content_features;
  std::vector<Tensor> rows(features.size());
  std::vector<std::string> given_as(features.size());
  for (const auto& entry : input.content) {
    // Named, not a structured binding: clang 14 cannot capture those in a lambda.
    const std::string& key = entry.first;
    const Tensor& tensor = entry.second;
    auto it = std::find_if(features.begin(), features.end(), [&](const ContentFeature& f) {
      return f.name == key || f.input == key;
    });
    if (it == features.end()) {
      std::string known;
      for (const ContentFeature& f : features) known += (known.empty() ? "" : ", ") + f.name;
      fail(ErrorCode::kInvalidArgument, "content feature '{}' is not one of the model's: {}", key,
           known);
    }
    const size_t k = static_cast<size_t>(it - features.begin());
    if (!given_as[k].empty()) {
      fail(ErrorCode::kInvalidArgument, "{} is given twice (as '{}' and '{}')", describe(*it),
           given_as[k], key);
    }
    given_as[k] = key;
    rows[k] = one_row(tensor, describe(*it), it->dim);
  }
  for (size_t k = 0; k < features.size(); ++k) {
    if (given_as[k].empty()) {
      fail(ErrorCode::kInvalidArgument, "{} is missing: the model takes it as float32 [frames, {}]",
           describe(features[k]), features[k].dim);
    }
  }
  const std::string reference = describe(features[0]);
  const int64_t frames = rows[0].dim(1);
  if (frames == 0)
    fail(ErrorCode::kInvalidArgument, "{} has no frames: nothing to convert", reference);
  if (frames < info.min_frames) {
    fail(ErrorCode::kInvalidArgument, "{} has {} frames: the model needs at least {}", reference,
         frames, info.min_frames);
  }
  for (size_t k = 0; k < features.size(); ++k) {
    if (rows[k].dim(1) != frames) {
      fail(ErrorCode::kInvalidArgument,
           "{} has {} frames but {} has {}: every input needs one value per frame",
           describe(features[k]), rows[k].dim(1), reference, frames);
    }
    check_values(rows[k], describe(features[k]), false);
  }
  const auto f0 = per_frame(input.f0, impl_->f0_input, "f0", frames, reference);
  const auto energy = per_frame(input.energy, impl_->energy_input, "energy", frames, reference);

  std::map<std::string, Tensor> inputs;
  for (size_t k = 0; k < features.size(); ++k) inputs[features[k].input] = rows[k];
  if (f0) inputs[impl_->f0_input] = *f0;
  if (energy) inputs[impl_->energy_input] = *energy;
  for (const std::string& name : impl_->inputs) {
    if (inputs.count(name)) continue;
    if (name == "frame_lengths") {
      inputs[name] = id_input(frames);
    } else if (name == "speaker_id") {
      inputs[name] = id_input(controls.speaker);
    } else if (name == "seed") {
      inputs[name] = id_input(controls.seed);
    } else if (name == "noise_scale") {
      inputs[name] = scalar_input(controls.noise_scale);
    } else {
      fail(ErrorCode::kUnsupported, "{}: the model has an input '{}' amphora does not know",
           impl_->source, name);
    }
  }
  const std::map<std::string, Tensor> outputs = impl_->model.run(inputs);
  const Tensor& audio = impl_->output(outputs, "audio");  // [1, 1, frames * hop]
  int64_t samples = audio.numel();
  if (auto it = outputs.find("audio_lengths"); it != outputs.end()) {
    samples = std::min(samples, it->second.to_int64_vector().at(0));
  }
  const float* s = audio.data<float>();
  return std::vector<float>(s, s + std::max<int64_t>(samples, 0));
}

}  // namespace amphora
