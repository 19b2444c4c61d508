// `amphora run MODEL --input NAME=FILE.npy [...] [--output-dir DIR] [--threads N] [--reference]
// [--backend native|torchscript]`: runs a model once on .npy inputs and writes each output to
// DIR/<output name>.npy.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "core/npy.hpp"

namespace amphora::cli {
namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir = ".";
  int threads = 0;
  bool reference = false;
  std::string backend = "native";
};

// ONNX value names may contain '/', ':' or spaces ("onnx::Conv_12"); keep file names portable.
std::string file_name_for(const std::string& value_name) {
  std::string out;
  for (char c : value_name) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
    out += plain ? c : '_';
  }
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out + ".npy";
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

int run_model(const RunArgs& args) {
  auto start = std::chrono::steady_clock::now();
  Model model =
      Model::load(args.model, Options{args.threads, args.reference, parse_backend(args.backend)});
  double load_ms = ms_since(start);
  std::map<std::string, Tensor> inputs = read_named_inputs(args.inputs, model);

  std::error_code ec;
  std::filesystem::create_directories(args.output_dir, ec);
  if (ec || !std::filesystem::is_directory(args.output_dir)) {
    fail(ErrorCode::kIo, "--output-dir '{}': cannot create directory{}", args.output_dir,
         ec ? ": " + ec.message() : "");
  }

  start = std::chrono::steady_clock::now();
  std::map<std::string, Tensor> outputs = model.run(inputs);
  double run_ms = ms_since(start);

  for (const auto& [name, tensor] : inputs) {
    std::printf("input  %-16s %-8s %s\n", name.c_str(), dtype_name(tensor.dtype()),
                shape_str(tensor.shape()).c_str());
  }
  for (const TensorInfo& info : model.outputs()) {
    const Tensor& tensor = outputs.at(info.name);
    std::string path = (std::filesystem::path(args.output_dir) / file_name_for(info.name)).string();
    write_npy(path, tensor);
    std::printf("output %-16s %-8s %s -> %s\n", info.name.c_str(), dtype_name(tensor.dtype()),
                shape_str(tensor.shape()).c_str(), path.c_str());
  }
  std::printf("time   load %.1f ms, run %.1f ms (%s backend)\n", load_ms, run_ms,
              backend_name(model.backend()));
  return 0;
}

// Tests look for "built without LibTorch" here to know whether the backend can be exercised.
std::string backend_help() {
  return backend_available(Backend::kTorchScript)
             ? "native (amphora's engine on model.onnx, default) or torchscript (model.ts "
               "through LibTorch)"
             : "native (amphora's engine on model.onnx, default) or torchscript (unavailable: "
               "built without LibTorch)";
}

}  // namespace

Run add_run_command(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a model on .npy inputs; writes DIR/<output name>.npy for every output");
  cmd->add_option("model", args->model,
                  "ONNX file or model package directory; with --backend torchscript a package "
                  "(its model.ts) or a .ts/.pt file (described by the amphora.json beside it, "
                  "else as one input 'mel' -> 'audio')")
      ->required();
  cmd->add_option("-i,--input", args->inputs, "NAME=FILE.npy (repeat for each model input)")
      ->allow_extra_args(false)
      ->required();
  cmd->add_option("-o,--output-dir", args->output_dir, "Directory for the outputs (default: .)");
  cmd->add_option("-t,--threads", args->threads, "Intra-op threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--reference", args->reference, "Use the plain reference kernels only");
  cmd->add_option("--backend", args->backend, backend_help())
      ->check(CLI::IsMember({"native", "torchscript"}));
  return [args] { return run_model(*args); };
}

}  // namespace amphora::cli
