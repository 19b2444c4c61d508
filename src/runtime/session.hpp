// Session: executes an imported Graph. Kernels are created once per node when the session is
// built, so an unsupported op or a bad attribute fails at load time, not on the first run.
// Each run validates the named inputs against the graph's declared inputs, executes the nodes
// in order, frees every intermediate value after its last use, and returns the graph outputs.
//
// Per distinct set of input shapes the session keeps a ShapePlan (resolved symbolic dims and
// size checks), so repeated runs on the same shapes skip that work.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/buffer_pool.hpp"
#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora {

// Called after each node of a run with (nodes done, nodes in the graph): a long run (a whole
// utterance through a vocoder) can show progress.
using ProgressFn = std::function<void(size_t done, size_t total)>;

struct SessionOptions {
  int threads = 0;                 // intra-op threads (OpenMP/oneDNN); 0: library default
  bool reference_kernels = false;  // force plain reference kernels (no oneDNN fast paths)
  bool profile = false;            // time every node of each run (see last_profile())
  // Run the graph passes (src/passes: constant folding, conv fusion, ...) before creating
  // kernels; off to execute the graph exactly as imported (reference for the passes' tests).
  bool optimize = true;
};

// One node of the last profiled run: what it was, on which shapes, and how long it took.
struct NodeProfile {
  std::string name;  // node name, or "#index" when the graph gives none
  std::string op_type;
  std::string domain;
  std::vector<Shape> input_shapes;  // empty shape for an absent optional input
  std::vector<Shape> output_shapes;
  double ms = 0;
  double flops = 0;  // multiply-adds x 2 for Conv/ConvTranspose/MatMul/Gemm (fused too), else 0
};

// Floating-point operations of one node on the given shapes (0 when not a dense linear op).
double node_flops(const Node& node, const std::vector<Shape>& inputs,
                  const std::vector<Shape>& outputs);

class Session {
 public:
  explicit Session(Graph graph, SessionOptions options = {});

  const Graph& graph() const { return graph_; }
  const SessionOptions& options() const { return options_; }

  // Runs the graph. `inputs` must name every graph input exactly once, with the declared dtype,
  // rank and fixed dims, and consistent sizes for each symbolic dim; otherwise kInvalidArgument
  // naming the input and its shape. Thread-safe (runs are serialised: kernels cache state).
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs,
                                    const ProgressFn& progress = {});

  // The symbolic dims resolved for the given input shapes, e.g. {"frames": 200}. Validates the
  // shapes like run() does; cached.
  std::map<std::string, int64_t> resolve_symbols(const std::map<std::string, Shape>& shapes);
  size_t cached_plan_count() const;

  // Memory held by values during the last run (inputs, intermediates, outputs; not
  // initializers): shows that intermediates are freed after their last use.
  struct RunStats {
    size_t peak_live_values = 0;
    size_t peak_live_bytes = 0;
  };
  RunStats last_run_stats() const;
  // Per-node timings of the last run, in execution order; empty unless options().profile.
  std::vector<NodeProfile> last_profile() const;

 private:
  struct ShapePlan {
    std::map<std::string, int64_t> symbols;
  };

  void plan_lifetimes();
  static void record_profile(const Node& node, const std::vector<const Tensor*>& inputs,
                             const std::vector<Tensor>& outputs,
                             std::chrono::steady_clock::time_point start,
                             std::vector<NodeProfile>& profile);
  void check_input_dtypes(const std::map<std::string, Tensor>& inputs) const;
  const ShapePlan& plan_for(const std::vector<Shape>& shapes);  // shapes in graph_.inputs order
  ShapePlan make_plan(const std::vector<Shape>& shapes) const;
  void check_sizes(const ShapePlan& plan) const;

  Graph graph_;
  SessionOptions options_;
  std::vector<std::unique_ptr<Kernel>> kernels_;         // one per node, same order
  std::vector<std::vector<std::string>> release_after_;  // values dead after the node at [i]
  std::vector<std::vector<bool>> output_needed_;         // per node output: consumed or returned
  std::map<std::vector<Shape>, ShapePlan> plans_;
  RunStats last_stats_;
  std::vector<NodeProfile> last_profile_;
  std::shared_ptr<BufferPool> buffers_ = std::make_shared<BufferPool>();
  mutable std::mutex mutex_;
};

}  // namespace amphora
