// `amphora quantize --int8`: which layers to quantize, by measurement. The cost of a set of
// quantized layers (qdq_graph.hpp) is how much it raises the copy-synthesis log-mel L1 (the
// audio's log-mel against the mel it was made from, over the calibration mels) above the float
// model's. All layers are quantized; when that costs more than the budget, each layer is
// measured quantized alone, and the costliest per weight left goes back to float until the budget
// is met. Without
// calibration data the activations are quantized dynamically and every layer is quantized (nothing
// to measure with).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "graph/ir.hpp"

namespace amphora {

struct Int8Options {
  std::vector<std::string> calibration;  // wavs, mel .npy files or directories; empty: dynamic
  std::vector<std::string> keep_float;   // node names that stay float whatever they cost
  double mel_l1_budget = 0.02;           // largest copy-synthesis log-mel L1 increase
  int64_t calibration_frames = 1024;     // mel frames used in all (files are read in order)
  double percentile = 99.99;             // of |x| on the calibration data: an activation's range
  int threads = 0;
  std::function<void(const std::string&)> progress;  // one line per step of a long measurement
};

struct LayerCost {
  std::string node;  // its name (or "#index")
  std::string op_type;
  std::optional<double> mel_l1;  // log-mel L1 increase quantized alone (< 0: noise); measured?
  bool kept_float = false;
  std::string why;  // why it stayed float
};

struct Int8Result {
  Graph graph;                    // the QDQ graph to write
  std::vector<LayerCost> layers;  // every quantizable layer, in graph order
  size_t quantized = 0;
  bool static_activations = false;
  std::vector<std::string> calibration_files;
  int64_t calibration_frames = 0;
  std::optional<double> mel_l1;  // increase of the written model on the calibration mels
};

// `graph` is the optimized float model, `model_path` the file or package it was read from
// (for its manifest: mel settings, head); `graph` is what is measured.
Int8Result quantize_graph_int8(const Graph& graph, const std::string& model_path,
                               const Int8Options& options);

}  // namespace amphora
