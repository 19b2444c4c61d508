// Session: executes an imported Graph. Kernels are created once per node when the session is
// built, so an unsupported op or a bad attribute fails at load time, not on the first run.
// Each run validates the named inputs against the graph's declared inputs, executes the nodes
// in order, frees every intermediate value after its last use, and returns the graph outputs.
//
// Per distinct set of input shapes the session keeps a ShapePlan (resolved symbolic dims and
// size checks), so repeated runs on the same shapes skip that work.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora {

// Called after each node of a run with (nodes done, nodes in the graph): a long run (a whole
// utterance through a vocoder) can show progress.
using ProgressFn = std::function<void(size_t done, size_t total)>;

struct SessionOptions {
  int threads = 0;                 // intra-op threads (OpenMP/oneDNN); 0: library default
  bool reference_kernels = false;  // force plain reference kernels (no oneDNN fast paths)
};

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

 private:
  struct ShapePlan {
    std::map<std::string, int64_t> symbols;
  };

  void plan_lifetimes();
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
  mutable std::mutex mutex_;
};

}  // namespace amphora
