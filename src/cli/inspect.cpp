// `amphora inspect MODEL [--json]`: what a model expects and contains -- inputs/outputs with
// their (symbolic) dims, opsets, op histogram, parameter count, whether this build can run
// every op, and the metadata, with the amphora package manifest pretty-printed.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "amphora/vocoder.hpp"
#include <string>

#include "cli/commands.hpp"
#include "graph/onnx_import.hpp"
#include "graph/summary.hpp"
#include "ops/kernel.hpp"
#include "runtime/model_path.hpp"

namespace amphora::cli {
namespace {

using nlohmann::ordered_json;

struct InspectArgs {
  std::string model;
  bool json = false;
};

ordered_json dims_json(const ValueInfo& value) {
  if (!value.rank_known) return nullptr;
  ordered_json dims = ordered_json::array();
  for (const Dim& d : value.dims) {
    if (d.is_fixed()) {
      dims.push_back(d.value);
    } else if (!d.symbol.empty()) {
      dims.push_back(d.symbol);
    } else {
      dims.push_back(nullptr);
    }
  }
  return dims;
}

ordered_json values_json(const std::vector<ValueInfo>& values) {
  ordered_json out = ordered_json::array();
  for (const ValueInfo& v : values) {
    out.push_back({{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"dims", dims_json(v)}});
  }
  return out;
}

std::string domain_name(const std::string& domain) { return domain.empty() ? "ai.onnx" : domain; }

// The manifest is JSON; show it structured when it parses, verbatim otherwise.
ordered_json metadata_value(const std::string& key, const std::string& value) {
  if (key == "amphora") {
    ordered_json parsed = ordered_json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) return parsed;
  }
  return value;
}

ordered_json inspect_json(const std::string& path, const Graph& graph, const GraphSummary& s) {
  const OpRegistry& registry = OpRegistry::instance();
  ordered_json report;
  report["model"] = path;
  report["producer"] = graph.producer;
  report["opsets"] = ordered_json::object();
  for (const auto& [domain, version] : graph.opset_imports) {
    report["opsets"][domain_name(domain)] = version;
  }
  report["inputs"] = values_json(graph.inputs);
  report["outputs"] = values_json(graph.outputs);
  report["nodes"] = s.node_count;
  report["parameters"] = s.parameters;
  report["parameter_bytes"] = s.parameter_bytes;  // as computed: float32 for float16-stored weights
  report["float16_weights"] = graph.float16_initializers.size();
  size_t int8_weights = 0;  // a QDQ model's quantized weights (scales and zero points aside)
  for (const auto& [name, tensor] : graph.initializers) {
    int8_weights += tensor.dtype() == DType::kInt8 && tensor.rank() >= 2;
  }
  report["int8_weights"] = int8_weights;
  report["ops"] = ordered_json::array();
  ordered_json unsupported = ordered_json::array();
  for (const OpCount& op : s.ops) {
    report["ops"].push_back(
        {{"op_type", op.op_type}, {"domain", domain_name(op.domain)}, {"count", op.count}});
    if (!registry.supports(op.domain, op.op_type, graph.opset(op.domain))) {
      unsupported.push_back(op.op_type);
    }
  }
  report["unsupported_ops"] = unsupported;
  report["metadata"] = ordered_json::object();
  for (const auto& [key, value] : graph.metadata) {
    report["metadata"][key] = metadata_value(key, value);
  }
  return report;
}

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out = prefix;
  for (char c : text) {
    out += c;
    if (c == '\n') out += prefix;
  }
  return out;
}

void print_text(const ordered_json& r) {
  auto str = [](const ordered_json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); };
  std::printf("model:      %s\n", r["model"].get<std::string>().c_str());
  if (!r["producer"].get<std::string>().empty()) {
    std::printf("producer:   %s\n", r["producer"].get<std::string>().c_str());
  }
  std::string opsets;
  for (const auto& [domain, version] : r["opsets"].items()) {
    opsets += (opsets.empty() ? "" : ", ") + domain + " " + version.dump();
  }
  std::printf("opset:      %s\n", opsets.c_str());
  for (const char* kind : {"inputs", "outputs"}) {
    std::printf("%s:\n", kind);
    for (const auto& v : r[kind]) {
      std::string dims = "[?]";
      if (!v["dims"].is_null()) {
        dims = "[";
        for (size_t i = 0; i < v["dims"].size(); ++i) {
          const auto& d = v["dims"][i];
          dims += (i ? ", " : "") + (d.is_null() ? std::string("?") : str(d));
        }
        dims += "]";
      }
      std::printf("  %-20s %-8s %s\n", v["name"].get<std::string>().c_str(),
                  v["dtype"].get<std::string>().c_str(), dims.c_str());
    }
  }
  double mb = r["parameter_bytes"].get<double>() / (1024.0 * 1024.0);
  std::printf("nodes:      %s\nparameters: %s (%.2f MiB as loaded)\n", r["nodes"].dump().c_str(),
              r["parameters"].dump().c_str(), mb);
  if (r["float16_weights"].get<size_t>() > 0) {
    std::printf("stored:     %s weight tensors as float16 (widened to float32 at load)\n",
                r["float16_weights"].dump().c_str());
  }
  if (r["int8_weights"].get<size_t>() > 0) {
    std::printf("stored:     %s weight tensors as int8 (QDQ: run as int8 kernels)\n",
                r["int8_weights"].dump().c_str());
  }
  std::printf("ops:\n");
  for (const auto& op : r["ops"]) {
    std::string name = op["op_type"].get<std::string>();
    if (op["domain"] != "ai.onnx") name = op["domain"].get<std::string>() + "::" + name;
    std::printf("  %-24s %6s\n", name.c_str(), op["count"].dump().c_str());
  }
  if (r["unsupported_ops"].empty()) {
    std::printf("runnable:   yes (every op is supported by this build)\n");
  } else {
    std::string list;
    for (const auto& op : r["unsupported_ops"]) list += (list.empty() ? "" : ", ") + str(op);
    std::printf("runnable:   no; unsupported ops: %s\n", list.c_str());
  }
  if (r.contains("streaming")) {
    const ordered_json& st = r["streaming"];
    if (!st["streamable"].get<bool>()) {
      std::printf("streaming:  no: %s\n", st["reason"].get<std::string>().c_str());
    } else {
      std::printf("streaming:  yes; receptive field %s frames back, %s ahead (%s samples/frame)\n",
                  st["history_frames"].dump().c_str(), st["lookahead_frames"].dump().c_str(),
                  st["samples_per_frame"].dump().c_str());
      if (st.contains("unbounded_because")) {
        std::printf("            history unbounded: %s (chunked mode refused; --stream is exact)\n",
                    st["unbounded_because"].get<std::string>().c_str());
      }
    }
  }
  if (!r["metadata"].empty()) {
    std::printf("metadata:\n");
    for (const auto& [key, value] : r["metadata"].items()) {
      if (value.is_string()) {
        std::printf("  %s: %s\n", key.c_str(), value.get<std::string>().c_str());
      } else {
        std::printf("  %s:\n%s\n", key.c_str(), indent(value.dump(2), "    ").c_str());
      }
    }
  }
}

// For vocoders: the receptive field along time from the graph (src/stream), i.e. how much
// context chunked mode gives each chunk and how far streaming output lags its input.
ordered_json streaming_json(const std::string& model) {
  try {
    const Vocoder vocoder = Vocoder::load(model);
    const StreamInfo& info = vocoder.stream_info();
    ordered_json out = {{"streamable", info.streamable}};
    if (!info.streamable) {
      out["reason"] = info.not_streamable_because;
      return out;
    }
    out["history_frames"] = info.history_frames;
    out["lookahead_frames"] = info.lookahead_frames;
    out["samples_per_frame"] = vocoder.info().hop_length;
    out["bounded_history"] = info.bounded_history;
    if (!info.bounded_history) out["unbounded_because"] = info.unbounded_because;
    return out;
  } catch (const Error& e) {
    return {{"streamable", false}, {"reason", fmt::format("not a vocoder: {}", e.what())}};
  }
}

int run_inspect(const InspectArgs& args) {
  std::string path = resolve_onnx_path(args.model);
  Graph graph = load_onnx(path);
  ordered_json report = inspect_json(path, graph, summarize(graph));
  if (report["unsupported_ops"].empty()) report["streaming"] = streaming_json(args.model);
  if (args.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    print_text(report);
  }
  return 0;
}

}  // namespace

Run add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show a model's inputs/outputs, opset, op histogram, parameters and metadata");
  cmd->add_option("model", args->model, "ONNX file or model package directory")->required();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  return [args] { return run_inspect(*args); };
}

}  // namespace amphora::cli
