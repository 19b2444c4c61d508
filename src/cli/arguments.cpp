#include "cli/arguments.hpp"

#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::cli {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::map<std::string, Tensor> read_named_inputs(const std::vector<std::string>& specs,
                                                const Model& model) {
  std::map<std::string, Tensor> inputs;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    std::string name, path;
    if (eq != std::string::npos) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    } else if (model.inputs().size() == 1) {
      name = model.inputs()[0].name;
      path = spec;
    } else {
      fail(ErrorCode::kInvalidArgument, "--input '{}': use NAME=FILE.npy (the model has {} inputs)",
           spec, model.inputs().size());
    }
    if (name.empty() || path.empty()) {
      fail(ErrorCode::kInvalidArgument, "--input '{}': expected NAME=FILE.npy", spec);
    }
    if (inputs.count(name)) fail(ErrorCode::kInvalidArgument, "input '{}' given twice", name);
    inputs[name] = read_npy(path);
  }
  return inputs;
}

}  // namespace amphora::cli
