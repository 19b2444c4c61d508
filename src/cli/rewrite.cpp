// `amphora optimize IN OUT` and `amphora quantize IN OUT --fp16`: write a simplified or
// quantized copy of a model as standard ONNX (pipeline/model_rewrite.hpp), printing nodes and
// bytes before and after. IN and OUT are .onnx files or package directories.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "pipeline/model_rewrite.hpp"

namespace amphora::cli {
namespace {

struct RewriteArgs {
  std::string in;
  std::string out;
  bool fp16 = false;
  bool force = false;
};

void print_summary(const char* command, const RewriteSummary& s) {
  const auto mib = [](uintmax_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  std::printf("%s: %s -> %s\n", command, s.input_file.c_str(), s.output_file.c_str());
  std::printf("  nodes: %zu -> %zu\n", s.nodes_before, s.nodes_after);
  std::printf("  bytes: %.2f MiB -> %.2f MiB (%.2fx smaller)\n", mib(s.bytes_before),
              mib(s.bytes_after),
              s.bytes_after ? static_cast<double>(s.bytes_before) / s.bytes_after : 0.0);
  for (const std::string& note : s.notes) std::printf("  %s\n", note.c_str());
}

void add_paths(CLI::App* cmd, RewriteArgs& args) {
  cmd->add_option("in", args.in, "The model: an .onnx file or a package directory")->required();
  cmd->add_option("out", args.out,
                  "Where to write: an .onnx file, or a directory (a package for a package: its "
                  "other files and manifest are copied)")
      ->required();
  cmd->add_flag("--force", args.force, "Replace OUT if it exists");
}

}  // namespace

Run add_optimize_command(CLI::App& app) {
  auto args = std::make_shared<RewriteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "optimize",
      "Write a simplified copy of a model, still standard ONNX (any runtime reads it): constants "
      "and known shapes folded, dead nodes, identities and unused weights removed, weight norm "
      "and BatchNorm folded into convs, zero Pads merged into conv pads, MatMul + Add -> Gemm");
  add_paths(cmd, *args);
  return [args] {
    print_summary("optimize", optimize_model(args->in, args->out, args->force));
    return 0;
  };
}

Run add_quantize_command(CLI::App& app) {
  auto args = std::make_shared<RewriteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Write a smaller copy of a model, standard ONNX: --fp16 stores the weights as float16 "
      "(half the file; computed in float32 as before). Optimizes first, as `amphora optimize`");
  add_paths(cmd, *args);
  cmd->add_flag("--fp16", args->fp16, "Store weights as float16, read through a Cast to float");
  return [args] {
    if (!args->fp16) {
      fail(ErrorCode::kInvalidArgument, "say how to quantize: --fp16 (weights stored as float16)");
    }
    print_summary("quantize", quantize_model_fp16(args->in, args->out, args->force));
    return 0;
  };
}

}  // namespace amphora::cli
