// The library's side of the C ABI (include/amphora/amphora.h): what the opaque handles hold, and
// the guard that every exported function runs its body in. Nothing may cross the boundary as a
// C++ exception, so the guard turns each one into a status and the thread's last error message.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "amphora/amphora.h"
#include "amphora/amphora.hpp"
#include "amphora/synthesizer.hpp"
#include "amphora/vocoder.hpp"

struct amphora_model {
  amphora::Model model;
};

struct amphora_vocoder {
  amphora::Vocoder vocoder;
};

struct amphora_stream {
  amphora::VocoderStream stream;
  amphora::VocoderInfo info;  // of its vocoder, for the checks a push makes before the C++ call
  bool finished = false;
};

struct amphora_synthesizer {
  amphora::Synthesizer synthesizer;
};

namespace amphora::capi {

// A failure found at the boundary itself, with a status amphora::ErrorCode has no word for
// (a NULL pointer, a struct_size, a call out of order) or one it has (a bad size, a bad enum).
class CallError : public std::exception {
 public:
  CallError(amphora_status status, std::string message)
      : status_(status), message_(std::move(message)) {}
  amphora_status status() const { return status_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  amphora_status status_;
  std::string message_;
};

template <typename... Args>
[[noreturn]] void refuse(amphora_status status, fmt::format_string<Args...> format,
                         Args&&... args) {
  throw CallError(status, fmt::format(format, std::forward<Args>(args)...));
}

// Records the exception being handled as the thread's last error, prefixed by `function`, and
// returns its status. Call only inside a catch block.
amphora_status failed(const char* function) noexcept;

// amphora_last_error(): "" on a thread where no call has failed.
const char* last_error_message() noexcept;

// Runs `body`; any exception becomes a status (never std::terminate at the boundary).
template <typename Body>
amphora_status guarded(const char* function, Body&& body) noexcept {
  try {
    body();
    return AMPHORA_STATUS_OK;
  } catch (...) {
    return failed(function);
  }
}

template <typename T>
T& require(T* pointer, const char* what) {
  if (!pointer) refuse(AMPHORA_STATUS_NULL_ARGUMENT, "{} is NULL", what);
  return *pointer;
}

// Output parameters are cleared first, so that a call that fails leaves NULL and 0 in them
// whatever it failed on.
template <typename T>
void clear(T* out) {
  if (out) *out = T{};
}

// Samples as a malloc'd array for amphora_free; none is (NULL, 0).
void give_samples(const std::vector<float>& samples, float** out, size_t* count);

// amphora_options (NULL: the defaults) as the C++ API's.
Options load_options(const amphora_options* options);
int threads_of(int32_t threads);
Backend backend_of(int32_t backend);

// Structs that grow (amphora.h, "Versioning"). `first_size` is where the last field of the first
// version of the struct ends: the smallest struct_size any caller can have.
void check_struct_size(size_t size, size_t known_size, size_t first_size, const char* type);

// A caller's input struct as this library's T: its fields where the caller's size covers them,
// the defaults elsewhere. Bytes past what this library knows must be zero (a newer caller's
// fields left as before); a newer caller that sets them is refused rather than ignored.
template <typename T>
T read_struct(const T* given, const T& defaults, size_t first_size, const char* type) {
  if (!given) return defaults;
  const size_t size = given->struct_size;
  check_struct_size(size, sizeof(T), first_size, type);
  T value = defaults;
  std::memcpy(&value, given, std::min(size, sizeof(T)));
  const auto* bytes = reinterpret_cast<const unsigned char*>(given);
  if (std::any_of(bytes + std::min(size, sizeof(T)), bytes + size,
                  [](unsigned char b) { return b != 0; })) {
    refuse(AMPHORA_STATUS_UNSUPPORTED,
           "{} sets fields past its first {} bytes, which this libamphora ({}) does not know", type,
           sizeof(T), amphora_version());
  }
  value.struct_size = sizeof(T);
  return value;
}

// Writes `value` into the first `size` bytes the caller has at `target` (zeros past what this
// library knows) and leaves the caller's size in struct_size.
template <typename T>
void write_struct(T* target, size_t size, const T& value, size_t first_size, const char* type) {
  check_struct_size(size, sizeof(T), first_size, type);
  auto* bytes = reinterpret_cast<unsigned char*>(target);
  std::memcpy(bytes, &value, std::min(size, sizeof(T)));
  if (size > sizeof(T)) std::memset(bytes + sizeof(T), 0, size - sizeof(T));
  target->struct_size = size;
}

}  // namespace amphora::capi
