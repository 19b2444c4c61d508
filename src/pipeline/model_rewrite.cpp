#include "pipeline/model_rewrite.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/float16.hpp"
#include "graph/onnx_export.hpp"
#include "graph/onnx_import.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"
#include "runtime/model_path.hpp"

namespace amphora {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kManifestFile = "amphora.json";
constexpr const char* kManifestKey = "amphora";  // the manifest's copy in the ONNX metadata

struct RewritePaths {
  std::string in_file, out_file;
  std::string in_dir, out_dir;  // package directories; empty for bare files
};

RewritePaths rewrite_paths(const std::string& in, const std::string& out, bool overwrite) {
  RewritePaths p;
  std::error_code ec;
  if (fs::is_directory(in, ec)) {
    p.in_dir = in;
    p.in_file = resolve_onnx_path(in);
    if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
      fail(ErrorCode::kInvalidArgument,
           "{}: the input {} is a package directory, so the output must be a directory too, but "
           "this is a file",
           out, in);
    }
    p.out_dir = out;
    p.out_file = (fs::path(out) / fs::path(p.in_file).lexically_relative(in)).string();
  } else {
    if (!fs::exists(in, ec))
      fail(ErrorCode::kIo, "{}: no such .onnx file or package directory", in);
    p.in_file = in;
    p.out_file =
        fs::is_directory(out, ec) ? (fs::path(out) / fs::path(in).filename()).string() : out;
  }
  const std::string& target = p.out_dir.empty() ? p.out_file : p.out_dir;
  if (!overwrite && fs::exists(target, ec)) {
    fail(ErrorCode::kInvalidArgument, "{}: exists; pass --force to overwrite it", target);
  }
  return p;
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".partial";
  std::ofstream file(temporary, std::ios::trunc);
  file << text;
  file.close();
  std::error_code ec;
  if (file) fs::rename(temporary, path, ec);
  if (!file || ec) {
    fs::remove(temporary, ec);
    fail(ErrorCode::kIo, "{}: cannot write", path);
  }
}

// What a rewrite records in the manifest, and whether the package keeps only its ONNX model
// (the other formats were not rewritten with it).
struct ManifestEdit {
  std::function<void(json&)> edit;
  bool onnx_only = false;
};

void apply_edit(json& manifest, const ManifestEdit& change, const std::string& onnx_name) {
  change.edit(manifest);
  if (change.onnx_only && manifest.contains("formats")) manifest["formats"] = {{"onnx", onnx_name}};
}

// Writes the model and, for a package, the manifest and every other file of the input package
// (except formats left out). The model goes first, through a temporary file; the package's
// manifest last, so a reader never sees a manifest describing a model that is not there yet.
void write_rewritten(const RewritePaths& p, Graph& graph, const OnnxWriteOptions& options,
                     const ManifestEdit& change) {
  const std::string onnx_name = fs::path(p.out_file).filename().string();
  if (auto it = graph.metadata.find(kManifestKey); it != graph.metadata.end()) {
    json embedded = json::parse(it->second, nullptr, false);
    if (!embedded.is_discarded()) {
      apply_edit(embedded, change, onnx_name);
      it->second = embedded.dump();
    }
  }
  std::optional<json> manifest;
  std::set<std::string> left_out = {fs::path(p.in_file).filename().string(), kManifestFile};
  if (!p.in_dir.empty()) {
    std::ifstream file(fs::path(p.in_dir) / kManifestFile);
    if (file) {
      manifest = json::parse(file, nullptr, false);
      if (manifest->is_discarded()) {
        fail(ErrorCode::kInvalidModel, "{}: {} is not valid JSON", p.in_dir, kManifestFile);
      }
      if (change.onnx_only && manifest->contains("formats")) {
        for (const auto& [format, file_name] : (*manifest)["formats"].items()) {
          if (format != "onnx" && file_name.is_string())
            left_out.insert(file_name.get<std::string>());
        }
      }
      apply_edit(*manifest, change, onnx_name);
    }
    std::error_code ec;
    fs::create_directories(p.out_dir, ec);
    if (ec)
      fail(ErrorCode::kIo, "{}: cannot create the package directory: {}", p.out_dir, ec.message());
  }
  save_onnx(graph, p.out_file, options);
  if (p.in_dir.empty()) return;
  std::error_code ec;
  if (!fs::equivalent(p.in_dir, p.out_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(p.in_dir)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_regular_file() || left_out.count(name)) continue;
      fs::copy_file(entry.path(), fs::path(p.out_dir) / name, fs::copy_options::overwrite_existing,
                    ec);
      if (ec) fail(ErrorCode::kIo, "{}: cannot copy {}: {}", p.out_dir, name, ec.message());
    }
  }
  if (manifest) {
    write_text_atomically((fs::path(p.out_dir) / kManifestFile).string(), manifest->dump(2) + "\n");
  }
}

uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

// Loads and runs the portable passes; fills the summary's input side.
Graph load_optimized(const RewritePaths& p, RewriteSummary& summary) {
  Graph graph = load_onnx(p.in_file);
  summary.input_file = p.in_file;
  summary.output_file = p.out_file;
  summary.nodes_before = graph.nodes.size();
  summary.bytes_before = file_size_or_zero(p.in_file);
  optimize_graph(graph, GraphUse::kPortable);
  graph.value_info.clear();  // stale after the rewrites; not written anyway
  return graph;
}

void finish_summary(const Graph& graph, RewriteSummary& summary) {
  summary.nodes_after = graph.nodes.size();
  summary.bytes_after = file_size_or_zero(summary.output_file);
}

bool is_quantized(const Graph& graph) {
  if (!graph.float16_initializers.empty()) return true;
  for (const Node& node : graph.nodes) {
    if (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear" ||
        node.op_type == "ConvInteger" || node.op_type == "MatMulInteger" ||
        node.op_type == "QLinearConv" || node.op_type == "QLinearMatMul") {
      return true;
    }
  }
  return false;
}

void refuse_quantized(const Graph& graph, const std::string& file) {
  if (is_quantized(graph)) {
    fail(ErrorCode::kInvalidArgument,
         "{}: the model is already quantized (float16 weights or QuantizeLinear/DequantizeLinear "
         "nodes); quantize the float32 original instead",
         file);
  }
}

// A weight worth storing as float16: enough values to matter (scalars and tiny vectors keep
// their exact value) and all of them finite in float16.
bool fits_float16(const Tensor& tensor) {
  constexpr int64_t kMinValues = 16;
  constexpr float kHalfMax = 65504.0f;
  if (tensor.dtype() != DType::kFloat32 || tensor.numel() < kMinValues) return false;
  const float* v = tensor.data<float>();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    if (!std::isfinite(v[i]) || std::fabs(v[i]) > kHalfMax) return false;
  }
  return true;
}

}  // namespace

RewriteSummary optimize_model(const std::string& in, const std::string& out, bool overwrite) {
  const RewritePaths paths = rewrite_paths(in, out, overwrite);
  RewriteSummary summary;
  Graph graph = load_optimized(paths, summary);
  const size_t before = summary.nodes_before;
  const size_t after = graph.nodes.size();
  write_rewritten(paths, graph, {},
                  {[&](json& m) {
                     m["optimized"] = {{"by", "amphora optimize"},
                                       {"nodes_before", before},
                                       {"nodes_after", after}};
                   },
                   false});
  finish_summary(graph, summary);
  return summary;
}

RewriteSummary quantize_model_fp16(const std::string& in, const std::string& out, bool overwrite) {
  const RewritePaths paths = rewrite_paths(in, out, overwrite);
  RewriteSummary summary;
  Graph graph = load_optimized(paths, summary);
  refuse_quantized(graph, paths.in_file);
  // Each weight W becomes a float16 initializer W_fp16 and a Cast(W_fp16 -> W, to float), so
  // every node still reads W; the Casts go first, as the initializers they replace were.
  OnnxWriteOptions options;
  std::vector<Node> casts;
  for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
    if (!fits_float16(it->second)) {
      ++it;
      continue;
    }
    Tensor rounded = std::move(it->second);
    float* v = rounded.data<float>();
    for (int64_t i = 0; i < rounded.numel(); ++i) v[i] = half_to_float(float_to_half(v[i]));
    const std::string weight = it->first;
    it = graph.initializers.erase(it);
    const std::string stored = unused_name(graph, weight + "_fp16");
    graph.initializers[stored] = std::move(rounded);
    options.float16_initializers.insert(stored);
    Node cast;
    cast.name = weight + "_to_float";
    cast.op_type = "Cast";
    cast.inputs = {stored};
    cast.outputs = {weight};
    cast.attributes["to"] = int64_t{dtype_to_onnx(DType::kFloat32)};
    casts.push_back(std::move(cast));
  }
  if (casts.empty()) {
    fail(ErrorCode::kInvalidArgument,
         "{}: nothing to quantize: the model has no float32 weights of 16 values or more",
         paths.in_file);
  }
  const size_t tensors = casts.size();
  graph.nodes.insert(graph.nodes.begin(), std::make_move_iterator(casts.begin()),
                     std::make_move_iterator(casts.end()));
  renumber_nodes(graph);
  write_rewritten(paths, graph, options,
                  {[&](json& m) {
                     m["quantization"] = {{"weights", "float16"},
                                          {"compute", "float32"},
                                          {"tensors", tensors},
                                          {"by", "amphora quantize --fp16"}};
                   },
                   true});
  finish_summary(graph, summary);
  summary.notes.push_back(fmt::format("{} weight tensors stored as float16", tensors));
  return summary;
}

RewriteSummary quantize_model_int8(const std::string& in, const std::string& out, bool overwrite,
                                   const Int8Options& options) {
  const RewritePaths paths = rewrite_paths(in, out, overwrite);
  RewriteSummary summary;
  Graph graph = load_optimized(paths, summary);
  refuse_quantized(graph, paths.in_file);
  // Per-channel DequantizeLinear (its axis) is opset 13.
  constexpr int64_t kPerAxisOpset = 13;
  if (graph.opset() < kPerAxisOpset) {
    fail(ErrorCode::kUnsupported,
         "{}: opset {}; int8 weights with one scale per channel need opset {} or later (export "
         "the model again with a newer opset)",
         paths.in_file, graph.opset(), kPerAxisOpset);
  }
  Int8Result result =
      quantize_graph_int8(graph, paths.in_dir.empty() ? paths.in_file : paths.in_dir, options);
  json kept = json::array();
  for (const LayerCost& layer : result.layers) {
    if (layer.kept_float) kept.push_back({{"node", layer.node}, {"why", layer.why}});
  }
  json record = {
      {"weights", "int8"},
      {"weight_scales", "per output channel, symmetric"},
      {"activations", result.static_activations ? "int8, one scale per tensor, calibrated"
                                                : "uint8, dynamic (range of each run)"},
      {"compute", "int8"},
      {"quantized_layers", result.quantized},
      {"float_layers", kept},
      {"by", "amphora quantize --int8"}};
  if (result.static_activations) {
    record["calibration"] = {{"files", result.calibration_files.size()},
                             {"frames", result.calibration_frames}};
  }
  if (result.mel_l1) {
    record["calibration_log_mel_l1_increase"] = *result.mel_l1;
    record["log_mel_l1_increase_budget"] = options.mel_l1_budget;
  }
  write_rewritten(paths, result.graph, {}, {[&](json& m) { m["quantization"] = record; }, true});
  finish_summary(result.graph, summary);
  summary.notes.push_back(fmt::format(
      "{} of {} layers quantized to int8 ({} activations)", result.quantized, result.layers.size(),
      result.static_activations ? "static, calibrated" : "dynamic"));
  for (const LayerCost& layer : result.layers) {
    if (layer.kept_float)
      summary.notes.push_back(fmt::format("kept float: {} ({})", layer.node, layer.why));
  }
  if (result.mel_l1) {
    summary.notes.push_back(
        fmt::format("copy-synthesis log-mel L1 on the calibration data: {:+.4f} "
                    "over the float model's (budget {:.4f})",
                    *result.mel_l1, options.mel_l1_budget));
  } else if (!result.static_activations) {
    summary.notes.push_back(
        "no calibration data: no layer measured (pass --calibrate to keep the "
        "costliest layers float)");
  }
  return summary;
}

}  // namespace amphora
