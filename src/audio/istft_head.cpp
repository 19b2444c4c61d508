#include "audio/istft_head.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_fields.hpp"

namespace amphora::audio {
namespace {

int int_field(const nlohmann::json& head, const char* key, const std::string& source) {
  if (!head.contains(key) || !is_int(head[key])) {
    fail(ErrorCode::kInvalidModel, "{}: istft head needs an integer \"{}\"", source, key);
  }
  return head[key].get<int>();
}

}  // namespace

std::optional<StftConfig> istft_head_from_json(const nlohmann::json& head,
                                               const std::string& source) {
  if (!head.is_object()) fail(ErrorCode::kInvalidModel, "{}: \"head\" must be an object", source);
  const std::string where = source + " head";
  const std::string type = optional_string(head, "type", "", where);
  if (type == "waveform") return std::nullopt;
  if (type != "istft") {
    fail(ErrorCode::kUnsupported, "{}: head type '{}' (expected waveform or istft)", source, type);
  }
  StftConfig config;
  config.n_fft = int_field(head, "n_fft", source);
  config.hop_length = int_field(head, "hop_length", source);
  config.win_length =
      head.contains("win_length") ? int_field(head, "win_length", source) : config.n_fft;
  const std::string window = optional_string(head, "window", "hann", where);
  const std::string padding = optional_string(head, "padding", "same", where);
  const std::string output = optional_string(head, "output", "real_imag", where);
  if (window != "hann") {
    fail(ErrorCode::kUnsupported, "{}: istft window '{}' (only hann)", source, window);
  }
  if (padding == "same") {
    config.padding = StftPadding::kSame;
  } else if (padding == "center") {
    config.padding = StftPadding::kCenter;
  } else {
    fail(ErrorCode::kUnsupported, "{}: istft padding '{}' (expected same or center)", source,
         padding);
  }
  if (output != "real_imag") {
    fail(ErrorCode::kUnsupported, "{}: istft output '{}' (only real_imag)", source, output);
  }
  try {
    Stft check(config);  // validates sizes the same way the runtime will
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidModel, "{}: {}", source, e.what());
  }
  return config;
}

}  // namespace amphora::audio
