#include "cli/arguments.hpp"

#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::cli {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::map<std::string, Tensor> read_named_npys(const std::vector<std::string>& specs,
                                              const std::string& flag, const std::string& sole_name,
                                              const std::string& what) {
  std::map<std::string, Tensor> tensors;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    std::string name, path;
    if (eq != std::string::npos) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    } else if (!sole_name.empty()) {
      name = sole_name;
      path = spec;
    } else {
      fail(ErrorCode::kInvalidArgument, "{} '{}': use NAME=FILE.npy ({})", flag, spec, what);
    }
    if (name.empty() || path.empty()) {
      fail(ErrorCode::kInvalidArgument, "{} '{}': expected NAME=FILE.npy", flag, spec);
    }
    if (tensors.count(name)) fail(ErrorCode::kInvalidArgument, "{} '{}' given twice", flag, name);
    tensors[name] = read_npy(path);
  }
  return tensors;
}

std::map<std::string, Tensor> read_named_inputs(const std::vector<std::string>& specs,
                                                const Model& model) {
  const size_t count = model.inputs().size();
  return read_named_npys(specs, "--input", count == 1 ? model.inputs()[0].name : "",
                         fmt::format("the model has {} inputs", count));
}

}  // namespace amphora::cli
