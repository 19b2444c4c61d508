#include "cli/bench_profile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "core/error.hpp"

namespace amphora::cli {
namespace {

std::string shapes_str(const std::vector<std::vector<int64_t>>& shapes) {
  std::string s;
  for (const auto& shape : shapes) {
    if (!s.empty()) s += " ";
    std::string dims;
    for (int64_t d : shape) {
      if (!dims.empty()) dims += 'x';
      dims += std::to_string(d);
    }
    s += dims.empty() ? "-" : dims;
  }
  return s;
}

std::string op_name(const NodeTiming& node) {
  return node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
}

}  // namespace

void BenchProfile::add_run(const std::vector<NodeTiming>& run) {
  if (runs_ == 0) {
    sum_ = run;
  } else {
    if (run.size() != sum_.size()) {
      fail(ErrorCode::kInternal, "profile: a run had {} nodes, an earlier one {}", run.size(),
           sum_.size());
    }
    for (size_t i = 0; i < run.size(); ++i) sum_[i].ms += run[i].ms;
  }
  ++runs_;
}

nlohmann::json BenchProfile::to_json(size_t slowest) const {
  const double runs = std::max(runs_, 1);
  double total_ms = 0, flops = 0;
  for (const NodeTiming& node : sum_) {
    total_ms += node.ms / runs;
    flops += node.flops;
  }
  struct OpTotal {
    int64_t count = 0;
    double ms = 0, flops = 0;
  };
  std::map<std::string, OpTotal> by_op;
  for (const NodeTiming& node : sum_) {
    OpTotal& op = by_op[op_name(node)];
    ++op.count;
    op.ms += node.ms / runs;
    op.flops += node.flops;
  }
  std::vector<std::pair<std::string, OpTotal>> ops(by_op.begin(), by_op.end());
  std::stable_sort(ops.begin(), ops.end(),
                   [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  auto percent = [&](double ms) { return total_ms > 0 ? 100.0 * ms / total_ms : 0.0; };
  auto gflops = [](double flops, double ms) -> nlohmann::json {
    if (flops <= 0 || ms <= 0) return nullptr;
    return flops / (ms * 1e6);
  };
  nlohmann::json op_rows = nlohmann::json::array();
  for (const auto& [name, op] : ops) {
    op_rows.push_back({{"op", name},
                       {"count", op.count},
                       {"ms", op.ms},
                       {"percent", percent(op.ms)},
                       {"gflops", gflops(op.flops, op.ms)}});
  }
  std::vector<size_t> order(sum_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sum_[a].ms > sum_[b].ms; });
  nlohmann::json node_rows = nlohmann::json::array();
  for (size_t i = 0; i < std::min(slowest, order.size()); ++i) {
    const NodeTiming& node = sum_[order[i]];
    const double ms = node.ms / runs;
    node_rows.push_back({{"name", node.name},
                         {"op", op_name(node)},
                         {"inputs", node.input_shapes},
                         {"outputs", node.output_shapes},
                         {"ms", ms},
                         {"percent", percent(ms)},
                         {"gflops", gflops(node.flops, ms)}});
  }
  return {{"runs", runs_},        {"nodes", sum_.size()}, {"total_ms", total_ms},
          {"gflop", flops / 1e9}, {"by_op", op_rows},     {"slowest", node_rows}};
}

std::string BenchProfile::to_text(size_t slowest) const {
  const nlohmann::json j = to_json(slowest);
  auto gflops_str = [](const nlohmann::json& v) {
    return v.is_null() ? std::string("") : fmt::format("{:.1f}", v.get<double>());
  };
  std::string s = fmt::format(
      "profile     {} nodes, {:.2f} ms per run in kernels, {:.2f} GFLOP (conv/matmul), "
      "{} runs\n\n",
      j["nodes"].get<size_t>(), j["total_ms"].get<double>(), j["gflop"].get<double>(),
      j["runs"].get<int>());
  s += fmt::format("{:<28} {:>6} {:>11} {:>7} {:>9}\n", "op type", "nodes", "ms/run", "%",
                   "GFLOP/s");
  for (const auto& row : j["by_op"]) {
    s += fmt::format("{:<28} {:>6} {:>11.3f} {:>7.1f} {:>9}\n", row["op"].get<std::string>(),
                     row["count"].get<int64_t>(), row["ms"].get<double>(),
                     row["percent"].get<double>(), gflops_str(row["gflops"]));
  }
  s += fmt::format("\nslowest nodes\n{:<32} {:<20} {:>10} {:>6} {:>8}  {}\n", "node", "op",
                   "ms/run", "%", "GFLOP/s", "inputs -> outputs");
  for (const auto& row : j["slowest"]) {
    s += fmt::format("{:<32} {:<20} {:>10.3f} {:>6.1f} {:>8}  {} -> {}\n",
                     row["name"].get<std::string>(), row["op"].get<std::string>(),
                     row["ms"].get<double>(), row["percent"].get<double>(),
                     gflops_str(row["gflops"]),
                     shapes_str(row["inputs"].get<std::vector<std::vector<int64_t>>>()),
                     shapes_str(row["outputs"].get<std::vector<std::vector<int64_t>>>()));
  }
  return s;
}

}  // namespace amphora::cli
