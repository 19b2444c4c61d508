// amphora._amphora: the Python module on amphora's public C++ API (include/amphora), built by
// `pip install .` (pyproject.toml); the package amphora (python/amphora) re-exports it.
#include "amphora/amphora.h"
#include "python/bindings.hpp"
#include "python/errors.hpp"

NB_MODULE(_amphora, m) {
  m.doc() = "amphora's runtime: models, vocoders and text to speech on numpy arrays.";
  m.attr("__version__") = amphora_version();
  amphora::python::bind_errors(m);
  amphora::python::bind_model(m);
  amphora::python::bind_vocoder(m);
  amphora::python::bind_synthesizer(m);
}
