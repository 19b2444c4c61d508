#include "serve/request.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/npy.hpp"

namespace amphora::serve {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] != '%') {
      out += text[i];
    } else {
      const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        refuse(400, "query: malformed percent escape in '{}'", text);
      }
      out += static_cast<char>(high * 16 + low);
      i += 2;
    }
  }
  return out;
}

std::string shape_text(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace

std::string_view query_of(std::string_view target) {
  const size_t mark = target.find('?');
  if (mark == std::string_view::npos) return {};
  std::string_view query = target.substr(mark + 1);
  return query.substr(0, query.find('#'));
}

std::map<std::string, std::string> parse_query(std::string_view query,
                                               std::initializer_list<std::string_view> known) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const size_t eq = pair.find('=');
    std::string name = percent_decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    bool is_known = false;
    for (std::string_view k : known) is_known = is_known || k == name;
    if (!is_known) {
      refuse(400, "query: unknown parameter '{}' (this endpoint takes: {})", name,
             fmt::join(known, ", "));
    }
    if (params.count(name) > 0) refuse(400, "query: parameter '{}' given twice", name);
    params.emplace(std::move(name), std::move(value));
  }
  return params;
}

bool is_npy(std::string_view body) { return body.substr(0, 6) == "\x93NUMPY"; }

Tensor mel_from_npy(std::string_view body, int64_t n_mels) {
  Tensor given;
  try {
    given = parse_npy(std::string(body), "the request body (.npy)");
  } catch (const Error& e) {
    refuse(400, "{}", e.what());
  }
  const Shape& shape = given.shape();
  const bool batched = shape.size() == 3 && shape[0] == 1;
  if (!(shape.size() == 2 || batched) || shape[shape.size() - 2] != n_mels) {
    refuse(400, "mel: shape {} is not [{}, frames] or [1, {}, frames] (this model has {} mel bins)",
           shape_text(shape), n_mels, n_mels, n_mels);
  }
  const int64_t frames = shape.back();
  if (frames < 1) refuse(400, "mel: shape {} has no frames", shape_text(shape));
  Tensor mel(DType::kFloat32, {n_mels, frames});
  float* out = mel.data<float>();
  if (given.dtype() == DType::kFloat32) {
    std::copy_n(given.data<float>(), mel.numel(), out);
  } else if (given.dtype() == DType::kFloat64) {
    const double* in = given.data<double>();
    for (int64_t i = 0; i < mel.numel(); ++i) out[i] = static_cast<float>(in[i]);
  } else {
    refuse(400, "mel: dtype {} (shape {}); send float32 (or float64)", dtype_name(given.dtype()),
           shape_text(shape));
  }
  for (int64_t i = 0; i < mel.numel(); ++i) {
    if (!std::isfinite(out[i])) {
      refuse(400, "mel: value {} at bin {}, frame {} is not finite", out[i], i / frames,
             i % frames);
    }
  }
  return mel;
}

SpeechRequest parse_speech_request(std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) refuse(400, "body: not valid JSON (send {{\"text\": \"...\"}})");
  if (!json.is_object()) refuse(400, "body: a JSON object is expected, got {}", json.type_name());
  SpeechRequest request;
  bool has_text = false;
  for (const auto& [key, value] : json.items()) {
    if (key == "text" && value.is_string()) {
      request.text = value.get<std::string>();
      has_text = true;
    } else if (key == "voice" && value.is_string()) {
      request.voice = value.get<std::string>();
    } else if (key == "speaker" && value.is_number_integer()) {
      request.speaker = value.get<int64_t>();
    } else if (key == "speed" && value.is_number()) {
      request.speed = value.get<float>();
    } else if (key == "text" || key == "voice") {
      refuse(400, "body: \"{}\" must be a string, got {}", key, value.type_name());
    } else if (key == "speaker") {
      refuse(400, "body: \"speaker\" must be an integer, got {}", value.dump());
    } else if (key == "speed") {
      refuse(400, "body: \"speed\" must be a number, got {}", value.type_name());
    } else {
      refuse(400, "body: unknown field \"{}\" (fields: text, voice, speaker, speed)", key);
    }
  }
  if (!has_text) refuse(400, "body: \"text\" is missing");
  if (request.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    refuse(400, "body: \"text\" is empty");
  }
  if (!(request.speed > 0.1f && request.speed <= 10.0f)) {
    refuse(400, "body: \"speed\" {} is not in (0.1, 10]", request.speed);
  }
  return request;
}

}  // namespace amphora::serve
