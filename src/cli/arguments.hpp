// Command-line arguments more than one `amphora` subcommand reads the same way.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"

namespace amphora::cli {

bool ends_with(const std::string& s, const std::string& suffix);

// A command's text comes inline (`inline_text` names how, e.g. "--text \"...\"") or from
// --text-file: fails unless exactly one is given. An inline "" counts as given (an empty text).
void check_text_source(const std::string& inline_text, bool inline_given,
                       const std::string& text_file);
// The inline text, or the file's contents when `text_file` is set; fails naming the file.
std::string read_text_source(const std::string& text, const std::string& text_file);

// Tensors from `NAME=FILE.npy` specs of option `flag` (e.g. "--input"); a bare FILE.npy takes
// the name `sole_name` when that is not empty (what there is exactly one of). Fails naming the
// spec when it is malformed or a name is given twice; `what` says what the names are for a bare
// spec that has no sole name ("the model has 3 inputs").
std::map<std::string, Tensor> read_named_npys(const std::vector<std::string>& specs,
                                              const std::string& flag, const std::string& sole_name,
                                              const std::string& what);

// Model inputs from `--input NAME=FILE.npy` specs (a bare FILE.npy when the model has exactly one
// input).
std::map<std::string, Tensor> read_named_inputs(const std::vector<std::string>& specs,
                                                const Model& model);

}  // namespace amphora::cli
