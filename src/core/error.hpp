// How libamphora raises amphora::Error (amphora/error.hpp, public): fail() formats the message
// with fmt, which stays out of the public headers.
#pragma once

#include <fmt/format.h>

#include "amphora/error.hpp"

namespace amphora {

// fail(ErrorCode::kInvalidArgument, "input '{}' has rank {}, expected {}", name, r, e);
template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace amphora
