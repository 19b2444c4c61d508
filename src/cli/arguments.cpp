#include "cli/arguments.hpp"

#include <fstream>
#include <iterator>

#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::cli {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void check_text_source(const std::string& inline_text, bool inline_given,
                       const std::string& text_file) {
  if (inline_given == !text_file.empty()) {
    fail(ErrorCode::kInvalidArgument, "give {} or --text-file FILE (one of the two)", inline_text);
  }
}

std::string read_text_source(const std::string& text, const std::string& text_file) {
  if (text_file.empty()) return text;
  std::ifstream in(text_file, std::ios::binary);
  if (!in) fail(ErrorCode::kIo, "{}: cannot open the text file", text_file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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
