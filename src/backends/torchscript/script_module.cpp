// ScriptModule: opens the LibTorch plugin (plugin_api.hpp) on first use and forwards to it.
// Built without LibTorch (AMPHORA_WITH_TORCHSCRIPT off), every constructor fails with the reason
// instead of the backend silently disappearing.
#include "backends/torchscript/script_module.hpp"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "backends/torchscript/plugin_api.hpp"

namespace amphora::torchscript {

struct ScriptModule::State {
  std::unique_ptr<ScriptModuleImpl> impl;
};

namespace {

namespace fs = std::filesystem;

#ifdef AMPHORA_WITH_TORCHSCRIPT
// The directories of the shared object holding libamphora's code, when a shared object links the
// static library, and of the running executable. dladdr names the main program only by its
// argv[0], hence /proc/self/exe for it.
std::vector<fs::path> library_dirs() {
  std::vector<fs::path> dirs;
  Dl_info info;
  link_map* object = nullptr;
  if (dladdr1(reinterpret_cast<void*>(&library_dirs), &info, reinterpret_cast<void**>(&object),
              RTLD_DL_LINKMAP) &&
      object && object->l_name && object->l_name[0] != '\0') {
    dirs.push_back(fs::path(object->l_name).parent_path());
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path());
  return dirs;
}

// $AMPHORA_TORCHSCRIPT_PLUGIN when set; else beside the library or the executable (the build tree
// writes the plugin next to the CLI and the tests), else in the install tree's library directory
// relative to them (bin/../lib). The first candidate, for the error message, when none exists.
fs::path plugin_path() {
  if (const char* path = std::getenv("AMPHORA_TORCHSCRIPT_PLUGIN"); path && *path) return path;
  std::vector<fs::path> candidates;
  for (const fs::path& dir : library_dirs()) {
    candidates.push_back(dir / kPluginFile);
    candidates.push_back(dir / AMPHORA_LIBDIR_FROM_BINDIR / kPluginFile);
  }
  std::error_code ec;
  for (const fs::path& candidate : candidates) {
    if (fs::is_regular_file(candidate, ec)) return candidate.lexically_normal();
  }
  return candidates.empty() ? fs::path(kPluginFile) : candidates.front();
}

struct Plugin {
  PluginOpenFn open = nullptr;
  std::string version;
  std::string error;  // why it could not be loaded; empty when it was
};

const Plugin& plugin() {
  static const Plugin loaded = [] {
    Plugin p;
    const fs::path path = plugin_path();
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      p.error = fmt::format("cannot load the LibTorch plugin {}: {}", path.string(), dlerror());
      return p;
    }
    auto api =
        reinterpret_cast<PluginApiVersionFn>(dlsym(handle, "amphora_torchscript_api_version"));
    auto version = reinterpret_cast<PluginLibtorchVersionFn>(
        dlsym(handle, "amphora_torchscript_libtorch_version"));
    p.open = reinterpret_cast<PluginOpenFn>(dlsym(handle, "amphora_torchscript_open"));
    if (!api || !version || !p.open || api() != kPluginApiVersion) {
      p.open = nullptr;
      p.error = fmt::format("{} is not a plugin of this amphora build (rebuild it)", path.string());
      return p;
    }
    p.version = version();
    return p;  // never unloaded: tensors it made may outlive every ScriptModule
  }();
  return loaded;
}
#endif

}  // namespace

bool libtorch_available() {
#ifdef AMPHORA_WITH_TORCHSCRIPT
  std::error_code ec;
  return fs::is_regular_file(plugin_path(), ec);  // no dlopen: --help asks this
#else
  return false;
#endif
}

std::string libtorch_version() {
#ifdef AMPHORA_WITH_TORCHSCRIPT
  return plugin().version;
#else
  return "";
#endif
}

ScriptModule::ScriptModule(const std::string& path, int threads)
    : state_(std::make_unique<State>()) {
#ifdef AMPHORA_WITH_TORCHSCRIPT
  const Plugin& p = plugin();
  if (!p.open)
    fail(ErrorCode::kUnsupported, "{}: the TorchScript backend is not available: {}", path,
         p.error);
  state_->impl.reset(p.open(path, threads));
#else
  (void)threads;
  fail(ErrorCode::kUnsupported,
       "{}: the TorchScript backend is not available: amphora was built without LibTorch "
       "(install libtorch-dev and reconfigure with -DAMPHORA_WITH_TORCHSCRIPT=ON)",
       path);
#endif
}

ScriptModule::~ScriptModule() = default;

const std::string& ScriptModule::path() const { return state_->impl->path(); }
const std::vector<std::string>& ScriptModule::argument_names() const {
  return state_->impl->argument_names();
}
int64_t ScriptModule::first_conv_in_channels() const {
  return state_->impl->first_conv_in_channels();
}
std::vector<Tensor> ScriptModule::forward(const std::vector<Tensor>& args) const {
  return state_->impl->forward(args);
}

}  // namespace amphora::torchscript
