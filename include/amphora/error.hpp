// amphora::Error, what the API throws. Every message names what is at fault (file, node, op,
// input, shape) so a user can act on it without a debugger.
#pragma once

#include <stdexcept>
#include <string>

namespace amphora {

enum class ErrorCode {
  kInvalidArgument,  // bad user input: wrong name, dtype, rank, shape, flag
  kInvalidModel,     // the model file is corrupt, fails the checker, or is inconsistent
  kUnsupported,      // valid but not implemented (op, attribute, dtype)
  kIo,               // file missing, unreadable, unwritable
  kOutOfRange,       // absurd sizes, out-of-bounds indices
  kInternal,         // a bug in amphora
};

const char* to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace amphora
