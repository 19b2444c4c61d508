#include "runtime/backend.hpp"

#include <mutex>

namespace amphora {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<Backend, BackendFactory> factories;
};

Registry& registry() {
  static Registry* instance = new Registry();  // never destroyed: used until the process ends
  return *instance;
}

}  // namespace

void register_backend(Backend backend, BackendFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[backend] = std::move(factory);
}

const BackendFactory* find_backend(Backend backend) {
  static std::once_flag builtin;
  std::call_once(builtin, register_builtin_backends);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.factories.find(backend);
  return it == r.factories.end() ? nullptr : &it->second;
}

}  // namespace amphora
