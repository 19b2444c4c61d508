// `amphora bench --profile`: per-node timings summed over the timed runs, reported as time per
// op type and the slowest nodes (with GFLOP/s for the dense linear ops).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"

namespace amphora::cli {

class BenchProfile {
 public:
  // Adds one run's timings (Model::last_profile()); runs must come from the same graph.
  void add_run(const std::vector<NodeTiming>& run);
  bool empty() const { return runs_ == 0; }

  // {"runs", "total_ms", "gflop", "by_op": [{op, count, ms, percent}],
  //  "slowest": [{name, op, inputs, outputs, ms, percent, gflops}]} with times per run.
  nlohmann::json to_json(size_t slowest = 20) const;
  // The same as two aligned text tables.
  std::string to_text(size_t slowest = 20) const;

 private:
  std::vector<NodeTiming> sum_;  // ms summed over runs
  int runs_ = 0;
};

}  // namespace amphora::cli
