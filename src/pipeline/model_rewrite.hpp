// `amphora optimize` and `amphora quantize`: read a model (an .onnx file or a package directory),
// rewrite its graph, and write standard ONNX that any runtime reads -- a file, or a package
// directory whose manifest (amphora.json, and the copy in the ONNX metadata) records what was
// done. An existing output is only replaced with `overwrite`. Everything is checked and computed
// before anything is written, and the model file is replaced atomically: a failure leaves no
// partial output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/quantize_int8.hpp"

namespace amphora {

struct RewriteSummary {
  std::string input_file;   // the .onnx read
  std::string output_file;  // the .onnx written
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  uintmax_t bytes_before = 0;
  uintmax_t bytes_after = 0;
  std::vector<std::string> notes;  // what the rewrite did, one line each
};

// Constant and shape folding, dead nodes and initializers, identities, BatchNorm into Conv, zero
// Pad into Conv pads, MatMul + Add into Gemm (passes.hpp, GraphUse::kPortable).
RewriteSummary optimize_model(const std::string& in, const std::string& out, bool overwrite);

// optimize_model, then every float32 weight (initializers of 16 values or more whose values
// fit in float16) stored as float16 and read through a Cast to float: half the file, computed
// in float32 as before. A package's other formats (TorchScript) are not copied: they would
// still be float32. Fails with kInvalidArgument for a model already quantized or with no
// float32 weights.
RewriteSummary quantize_model_fp16(const std::string& in, const std::string& out, bool overwrite);

// optimize_model, then Conv, ConvTranspose and MatMul weights as int8 in QDQ form
// (qdq_graph.hpp), the layers chosen by measurement on the calibration data
// (quantize_int8.hpp). The manifest records what was quantized, what stayed float and why.
// Fails with kInvalidArgument for a model already quantized or with nothing to quantize, bad
// calibration data or a --keep-float name that is not a quantizable node.
RewriteSummary quantize_model_int8(const std::string& in, const std::string& out, bool overwrite,
                                   const Int8Options& options);

}  // namespace amphora
