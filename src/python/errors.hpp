// amphora::Error as Python exceptions: amphora.Error (a RuntimeError) carrying the library's
// message and its code, with one subclass per code so that callers can catch what they handle
// (InvalidArgumentError is also a ValueError, UnsupportedError a NotImplementedError).
#pragma once

#include <nanobind/nanobind.h>

namespace amphora::python {

// Creates the classes as attributes of `module` and registers the translator that raises them.
void bind_errors(nanobind::module_& module);

}  // namespace amphora::python
