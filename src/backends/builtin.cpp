// The backends libamphora is built with, registered with the runtime's backend registry
// (runtime/backend.hpp says why the runtime calls this rather than each registering itself).
#include "backends/torchscript/script_model.hpp"
#include "runtime/backend.hpp"

namespace amphora {

void register_builtin_backends() { torchscript::register_torchscript_backend(); }

}  // namespace amphora
