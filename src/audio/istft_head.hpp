// The manifest's "head" section: whether the model ends in a waveform or in a spectrum that the
// runtime inverts (Vocos, APNet: ONNX has no ISTFT op, so the graph stops at spec_real/imag).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "audio/stft.hpp"

namespace amphora::audio {

// {"type": "waveform"} -> nullopt. {"type": "istft", "n_fft", "hop_length", "win_length",
// "window": "hann", "padding": "same" | "center", "output": "real_imag"} -> the inverse's
// configuration. Fails with kInvalidModel (malformed) or kUnsupported (another window, padding
// or output), naming `source`.
std::optional<StftConfig> istft_head_from_json(const nlohmann::json& head,
                                               const std::string& source);

}  // namespace amphora::audio
