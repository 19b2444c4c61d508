// Engines other than the native Session that can run a Model (Backend::kTorchScript): the
// interface the runtime owns and each backend in src/backends/ implements. A backend registers a
// factory for its Backend value and Model looks it up, so the runtime never depends on a backend.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"

namespace amphora {

// A model a backend loaded, as Model sees it.
class BackendModel {
 public:
  virtual ~BackendModel() = default;
  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;
  // Model::metadata(): {"amphora": manifest JSON text} when there is a manifest.
  virtual const std::map<std::string, std::string>& metadata() const = 0;
  // Validates the inputs against inputs() like the native Session, runs, names the outputs.
  // Safe to call from several threads.
  virtual std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const = 0;
};

struct BackendFactory {
  // Whether models can be opened in this build and installation (cheap: loads nothing).
  std::function<bool()> available;
  // Loads the model at `path` (a package directory or a model file); fails naming the file.
  std::function<std::unique_ptr<BackendModel>(const std::string& path, const Options& options)>
      open;
};

// Registers `factory` for `backend`, replacing an earlier one. kNative is the Session, not a
// registered backend.
void register_backend(Backend backend, BackendFactory factory);
// The factory registered for `backend`, or nullptr.
const BackendFactory* find_backend(Backend backend);

// Registers the backends compiled into libamphora. Declared here, defined in src/backends/ and
// called by find_backend() before its first lookup: libamphora is a static archive, from which
// the linker takes only the members something refers to, so a backend that registered itself from
// a static initializer would be silently missing from programs linking the library.
void register_builtin_backends();

}  // namespace amphora
