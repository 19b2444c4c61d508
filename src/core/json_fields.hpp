// Reading a manifest's fields (amphora.json) so that a wrong one is reported by name, with its
// file: nlohmann::json's own accessors throw a type_error that names neither, and get<int>
// wraps an integer that does not fit around to a wrong but plausible value.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"

namespace amphora {

// Whether `value` is an integer that an int holds.
inline bool is_int(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    return value.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int>::max());
  }
  return value.is_number_integer() && value.get<int64_t>() >= std::numeric_limits<int>::min() &&
         value.get<int64_t>() <= std::numeric_limits<int>::max();
}

// The text of an amphora.json as a JSON object; anything else fails with kInvalidModel naming
// `source`.
inline nlohmann::json parse_manifest(const std::string& text, const std::string& source) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    fail(ErrorCode::kInvalidModel, "{}: the amphora manifest is not a JSON object", source);
  }
  return json;
}

// object[key] when it is a positive integer that an int holds; otherwise fails with
// kInvalidModel: "<where>: manifest needs a positive integer "<key>"".
inline int positive_int(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.contains(key) || !is_int(object[key]) || object[key].get<int>() <= 0) {
    fail(ErrorCode::kInvalidModel, "{}: manifest needs a positive integer \"{}\"", where, key);
  }
  return object[key].get<int>();
}

// object[key] when it is a string, `fallback` when it is absent or null; anything else fails
// with kInvalidModel: "<where>: "<key>" must be a string, got <value>".
inline std::string optional_string(const nlohmann::json& object, const char* key,
                                   const std::string& fallback, const std::string& where) {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  if (!object[key].is_string()) {
    fail(ErrorCode::kInvalidModel, "{}: \"{}\" must be a string, got {}", where, key,
         object[key].dump());
  }
  return object[key].get<std::string>();
}

}  // namespace amphora
