// The parts of the amphora._amphora module, one file each (module.cpp calls them in order).
//
// Every call that computes (load, run, vocode, push, finish, speak) releases the GIL, so other
// Python threads run meanwhile; objects that the C++ API allows on one thread at a time (a
// Vocoder, its streams, a Synthesizer) carry a mutex, taken after the GIL is released.
#pragma once

#include <nanobind/nanobind.h>

#include <mutex>
#include <string>

#include "amphora/amphora.hpp"

namespace amphora::python {

void bind_model(nanobind::module_& module);
void bind_vocoder(nanobind::module_& module);
void bind_synthesizer(nanobind::module_& module);

// Runs `call` without the GIL, holding `mutex` (released before the GIL is taken back, so a
// thread waiting for it never holds the GIL).
template <typename Call>
auto without_gil(std::mutex& mutex, Call&& call) {
  nanobind::gil_scoped_release release;
  std::lock_guard lock(mutex);
  return call();
}

// The Options every loader takes; `backend` is "native" or "torchscript".
Options load_options(int threads, const std::string& backend);

}  // namespace amphora::python
