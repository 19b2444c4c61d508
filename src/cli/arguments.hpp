// Command-line arguments more than one `amphora` subcommand reads the same way.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"

namespace amphora::cli {

bool ends_with(const std::string& s, const std::string& suffix);

// Model inputs from `--input NAME=FILE.npy` specs (a bare FILE.npy when the model has exactly one
// input); fails naming the spec when it is malformed or a name is given twice.
std::map<std::string, Tensor> read_named_inputs(const std::vector<std::string>& specs,
                                                const Model& model);

}  // namespace amphora::cli
