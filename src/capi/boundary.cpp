// The C ABI's common part: versions, statuses and the last error, amphora_free, the options
// structs, and the guard's handling of exceptions.
#include "capi/boundary.hpp"

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string_view>

#ifndef AMPHORA_VERSION_STRING
#error "AMPHORA_VERSION_STRING (the project's version) is set by CMakeLists.txt"
#endif

namespace amphora::capi {
namespace {

// A fixed buffer rather than a std::string, so that recording an out-of-memory failure cannot
// itself fail; longer messages are cut.
thread_local char last_error[4096];

amphora_status record(amphora_status status, const char* function, const char* message) noexcept {
  std::snprintf(last_error, sizeof last_error, "%s: %s", function, message);
  return status;
}

amphora_status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return AMPHORA_STATUS_INVALID_ARGUMENT;
    case ErrorCode::kInvalidModel:
      return AMPHORA_STATUS_INVALID_MODEL;
    case ErrorCode::kUnsupported:
      return AMPHORA_STATUS_UNSUPPORTED;
    case ErrorCode::kIo:
      return AMPHORA_STATUS_IO;
    case ErrorCode::kOutOfRange:
      return AMPHORA_STATUS_OUT_OF_RANGE;
    case ErrorCode::kInternal:
      return AMPHORA_STATUS_INTERNAL;
  }
  return AMPHORA_STATUS_INTERNAL;
}

// Past what this library knows, a struct_size larger than this is taken for garbage (a struct
// never given to its *_init) rather than a newer caller's struct, whose tail would be read.
constexpr size_t kMaxStructGrowth = 1024;

}  // namespace

const char* last_error_message() noexcept { return last_error; }

amphora_status failed(const char* function) noexcept {
  try {
    throw;
  } catch (const CallError& e) {
    return record(e.status(), function, e.what());
  } catch (const Error& e) {
    return record(status_of(e.code()), function, e.what());
  } catch (const std::bad_alloc&) {
    return record(AMPHORA_STATUS_OUT_OF_MEMORY, function, "out of memory");
  } catch (const std::exception& e) {
    return record(AMPHORA_STATUS_INTERNAL, function, e.what());
  } catch (...) {
    return record(AMPHORA_STATUS_INTERNAL, function, "an exception that is not a std::exception");
  }
}

void give_samples(const std::vector<float>& samples, float** out, size_t* count) {
  if (samples.empty()) return;
  auto* copy = static_cast<float*>(std::malloc(samples.size() * sizeof(float)));
  if (!copy) throw std::bad_alloc();
  std::copy(samples.begin(), samples.end(), copy);
  *out = copy;
  *count = samples.size();
}

void check_struct_size(size_t size, size_t known_size, size_t first_size, const char* type) {
  if (size < first_size || size > known_size + kMaxStructGrowth) {
    // Options structs have an *_init to fill them; the others are only sized by the caller.
    const bool has_init = std::string_view(type).ends_with("_options");
    refuse(AMPHORA_STATUS_MISUSE,
           "{}.struct_size is {}, not the size of any version of {} ({} bytes in this "
           "libamphora): {} {}",
           type, size, type, known_size, has_init ? "fill it with" : "set it to",
           has_init ? fmt::format("{}_init", type) : fmt::format("sizeof({})", type));
  }
}

namespace {

constexpr size_t kOptionsFirstSize = offsetof(amphora_options, backend) + sizeof(int32_t);

amphora_options default_options() {
  amphora_options options{};
  options.struct_size = sizeof options;
  options.threads = 0;
  options.backend = AMPHORA_BACKEND_NATIVE;
  return options;
}

}  // namespace

Backend backend_of(int32_t backend) {
  switch (backend) {
    case AMPHORA_BACKEND_NATIVE:
      return Backend::kNative;
    case AMPHORA_BACKEND_TORCHSCRIPT:
      return Backend::kTorchScript;
    default:
      refuse(AMPHORA_STATUS_INVALID_ARGUMENT,
             "backend {} is not an amphora_backend (0: native, 1: torchscript)", backend);
  }
}

int threads_of(int32_t threads) {
  if (threads < 0) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT, "threads is {}: give 0 (all cores) or more", threads);
  }
  return threads;
}

Options load_options(const amphora_options* given) {
  const amphora_options c =
      read_struct(given, default_options(), kOptionsFirstSize, "amphora_options");
  Options options;
  options.threads = threads_of(c.threads);
  options.backend = backend_of(c.backend);
  return options;
}

}  // namespace amphora::capi

using namespace amphora::capi;

extern "C" {

int32_t amphora_abi_version(void) { return AMPHORA_ABI_VERSION; }

const char* amphora_version(void) { return AMPHORA_VERSION_STRING; }

const char* amphora_status_name(amphora_status status) {
  switch (status) {
    case AMPHORA_STATUS_OK:
      return "ok";
    case AMPHORA_STATUS_INVALID_ARGUMENT:
      return "invalid_argument";
    case AMPHORA_STATUS_INVALID_MODEL:
      return "invalid_model";
    case AMPHORA_STATUS_UNSUPPORTED:
      return "unsupported";
    case AMPHORA_STATUS_IO:
      return "io";
    case AMPHORA_STATUS_OUT_OF_RANGE:
      return "out_of_range";
    case AMPHORA_STATUS_INTERNAL:
      return "internal";
    case AMPHORA_STATUS_NULL_ARGUMENT:
      return "null_argument";
    case AMPHORA_STATUS_MISUSE:
      return "misuse";
    case AMPHORA_STATUS_OUT_OF_MEMORY:
      return "out_of_memory";
    case AMPHORA_STATUS_CANCELLED:
      return "cancelled";
  }
  return "unknown";
}

const char* amphora_last_error(void) { return last_error_message(); }

void amphora_free(void* buffer) { std::free(buffer); }

amphora_status amphora_options_init_sized(amphora_options* options, size_t struct_size) {
  return guarded(__func__, [&] {
    write_struct(&require(options, "options"), struct_size, default_options(), kOptionsFirstSize,
                 "amphora_options");
  });
}

}  // extern "C"
