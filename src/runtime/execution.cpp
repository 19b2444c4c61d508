#include "runtime/execution.hpp"

#include <omp.h>

#include <new>
#include <string>

#include "ops/amphora_domain.hpp"

namespace amphora {

namespace {

// `what` with the node named once: kernels usually name it already.
[[noreturn]] void rethrow_naming(ErrorCode code, const std::string& what, const Node& node,
                                 const char* context) {
  const std::string who = node.display_name();
  const std::string prefix = *context ? fmt::format("{} {}", context, who) : who;
  if (what.find(who) != std::string::npos) {
    if (!*context) fail(code, "{}", what);
    fail(code, "{}: {}", context, what);
  }
  fail(code, "{}: {}", prefix, what);
}

}  // namespace

Graph prepare_graph(Graph imported, GraphUse use, bool optimize) {
  if (optimize) optimize_graph(imported, use);
  return imported;
}

std::unique_ptr<Kernel> create_kernel(const Graph& graph, const Node& node,
                                      const KernelOptions& options) {
  register_amphora_domain_ops_once();  // the passes' fused nodes, also in graphs saved after them
  try {
    return OpRegistry::instance().create(node, graph.opset(node.domain), options);
  } catch (const Error& e) {
    rethrow_naming(e.code(), e.what(), node, "");
  }
}

std::vector<Tensor> run_node(Kernel& kernel, const Node& node,
                             const std::vector<const Tensor*>& inputs, const char* context) {
  return run_named(node, [&] { return kernel.run(inputs); }, context);
}

std::vector<Tensor> run_named(const Node& node, const std::function<std::vector<Tensor>()>& compute,
                              const char* context) {
  try {
    return compute();
  } catch (const Error& e) {
    rethrow_naming(e.code(), e.what(), node, context);
  } catch (const std::bad_alloc&) {
    rethrow_naming(ErrorCode::kOutOfRange, "out of memory", node, context);
  } catch (const std::exception& e) {
    rethrow_naming(ErrorCode::kInternal, e.what(), node, context);
  }
}

void use_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
}

}  // namespace amphora
