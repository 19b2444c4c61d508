#include "serve/audio_encoding.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "serve/request.hpp"

namespace amphora::serve {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The container a media type (without parameters) asks for; nullopt when not served.
std::optional<AudioEncoding::Container> container_of(const std::string& type) {
  if (type == "audio/wav" || type == "audio/wave" || type == "audio/x-wav" ||
      type == "audio/vnd.wave" || type == "audio/*" || type == "*/*") {
    return AudioEncoding::Container::kWav;
  }
  if (type == "audio/l16") return AudioEncoding::Container::kL16;
  return std::nullopt;
}

void put_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

}  // namespace

std::string AudioEncoding::content_type(int sample_rate) const {
  if (container == Container::kL16) return fmt::format("audio/L16;rate={};channels=1", sample_rate);
  return "audio/wav";
}

std::string AudioEncoding::header(int sample_rate) const {
  if (container == Container::kL16) return {};
  const bool is_float = sample == Sample::kFloat32;
  const uint32_t bytes_per_sample = is_float ? 4 : 2;
  constexpr uint32_t kUnknownLength = 0xFFFFFFFF;  // streaming: the length is not known yet
  std::string h = "RIFF";
  put_le(h, kUnknownLength, 4);
  h += "WAVEfmt ";
  put_le(h, 16, 4);                // fmt chunk size
  put_le(h, is_float ? 3 : 1, 2);  // WAVE_FORMAT_IEEE_FLOAT or WAVE_FORMAT_PCM
  put_le(h, 1, 2);                 // mono
  put_le(h, static_cast<uint32_t>(sample_rate), 4);
  put_le(h, static_cast<uint32_t>(sample_rate) * bytes_per_sample, 4);  // byte rate
  put_le(h, bytes_per_sample, 2);                                       // block align
  put_le(h, 8 * bytes_per_sample, 2);
  h += "data";
  put_le(h, kUnknownLength, 4);
  return h;
}

std::string AudioEncoding::encode(std::span<const float> samples) const {
  std::string out;
  if (sample == Sample::kFloat32) {
    out.resize(samples.size() * 4);
    // WAV is little-endian, as is every machine amphora builds for (x86-64).
    std::memcpy(out.data(), samples.data(), out.size());
    return out;
  }
  out.resize(samples.size() * 2);
  const bool big_endian = container == Container::kL16;
  for (size_t i = 0; i < samples.size(); ++i) {
    const float clipped = std::clamp(std::isnan(samples[i]) ? 0.0f : samples[i], -1.0f, 1.0f);
    const auto value = static_cast<uint16_t>(static_cast<int16_t>(std::lrint(clipped * 32767.0f)));
    out[2 * i + (big_endian ? 1 : 0)] = static_cast<char>(value & 0xFF);
    out[2 * i + (big_endian ? 0 : 1)] = static_cast<char>(value >> 8);
  }
  return out;
}

AudioEncoding negotiate_encoding(std::string_view accept, std::string_view subtype) {
  AudioEncoding encoding;
  if (subtype == "float") {
    encoding.sample = AudioEncoding::Sample::kFloat32;
  } else if (!subtype.empty() && subtype != "pcm16") {
    refuse(400, "subtype '{}' is not served (pcm16 or float)", subtype);
  }
  if (trim(accept).empty()) return encoding;
  // Media ranges in the order given, the highest q first (a stable sort keeps that order
  // among equal q).
  struct Range {
    std::string type;
    double q;
  };
  std::vector<Range> ranges;
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    const size_t semi = item.find(';');
    Range range{lower(trim(item.substr(0, semi))), 1.0};
    for (std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
         !params.empty();) {
      const size_t next = params.find(';');
      const std::string_view param = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view{} : params.substr(next + 1);
      if (param.substr(0, 2) != "q=" && param.substr(0, 2) != "Q=") continue;
      const std::string value(param.substr(2));
      char* end = nullptr;
      const double q = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(q >= 0.0 && q <= 1.0)) {
        refuse(400, "Accept: q value '{}' of '{}' is not a number in [0, 1]", value,
               trim(range.type));
      }
      range.q = q;
    }
    if (!range.type.empty()) ranges.push_back(std::move(range));
  }
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const Range& a, const Range& b) { return a.q > b.q; });
  for (const Range& range : ranges) {
    if (range.q <= 0.0) break;
    if (auto container = container_of(range.type)) {
      encoding.container = *container;
      if (*container == AudioEncoding::Container::kL16 &&
          encoding.sample == AudioEncoding::Sample::kFloat32) {
        refuse(400, "audio/L16 is 16-bit: subtype=float needs audio/wav");
      }
      return encoding;
    }
  }
  std::vector<std::string> asked;
  for (const Range& range : ranges) asked.push_back(range.type);
  refuse(406, "Accept: none of '{}' is served (audio/wav, audio/L16)", fmt::join(asked, ", "));
}

}  // namespace amphora::serve
