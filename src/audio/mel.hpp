// Log-mel spectrogram identical to Amphion's extract_mel_features (utils/mel.py), the input
// every Amphion vocoder was trained on:
//   reflect-pad (n_fft - hop)/2 each side -> torch.stft(center=False, periodic Hann(win_length)
//   centred in n_fft, onesided) -> sqrt(re^2 + im^2 + 1e-9) -> slaney mel filterbank ->
//   log(clamp(x, clamp_min)) -> optional (mel - mean) / std (Vocos-family configs).
// Frames = floor(samples / hop_length).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>

#include "amphora/mel_config.hpp"
#include "core/tensor.hpp"

namespace amphora::audio {

// Reads the manifest's "mel" section (see the package schema): sample_rate, n_fft, win_length,
// hop_length, n_mels, fmin, fmax (null => sr/2), center, log ("natural"), clamp_min,
// norm (null or {"mean", "std"}). `source` names the file in error messages (kInvalidModel).
MelConfig mel_config_from_json(const nlohmann::json& mel, const std::string& source);
// Reads PKG_DIR/amphora.json (or the file itself when given a .json path) and returns its
// "mel" section. Fails with kIo / kInvalidModel naming the file.
MelConfig mel_config_from_package(const std::string& package_path);

// Log-mel features of mono samples at cfg.sample_rate: float32 Tensor [n_mels, frames].
// Fails with kInvalidArgument when the signal is too short for one frame (or for the reflect
// padding) or holds NaN/Inf.
Tensor mel_spectrogram(std::span<const float> samples, const MelConfig& cfg);

}  // namespace amphora::audio
