// What acoustic.cpp (the package, TTS synthesis) and acoustic_svc.cpp (SVC conversion) share.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "amphora/acoustic.hpp"

namespace amphora {

struct AcousticModel::Impl {
  explicit Impl(Model loaded) : model(std::move(loaded)) {}
  Model model;
  std::string source;  // the manifest, for messages
  AcousticInfo info;
  std::optional<audio::MelConfig> mel;
  std::set<std::string> inputs;  // the model's input names
  std::string f0_input;          // SVC: the graph inputs of f0 and energy, empty when unused
  std::string energy_input;

  // outputs[name], failing (kInvalidModel) when the model has no such output.
  const Tensor& output(const std::map<std::string, Tensor>& outputs, const char* name) const;
};

// manifest[key] when it is an object; otherwise fails with kInvalidModel naming `where`.
const nlohmann::json& manifest_section(const nlohmann::json& manifest, const char* key,
                                       const std::string& where);

// The manifest's SVC sections (content, f0, energy) into impl.info, checked against the
// model's inputs; fails with kInvalidModel naming impl.source.
void read_svc_manifest(AcousticModel::Impl& impl, const nlohmann::json& manifest);

// Model inputs of one row.
Tensor scalar_input(float value);  // float32 [1]
Tensor id_input(int64_t value);    // int64 [1]

// Fails (kInvalidArgument) unless speaker is in [0, info.speaker_count).
void check_speaker(int64_t speaker, const AcousticInfo& info);
// Fails (kInvalidArgument) unless value is finite and >= 0 (> 0 unless zero_ok).
void check_control(const char* name, float value, bool zero_ok);

}  // namespace amphora
