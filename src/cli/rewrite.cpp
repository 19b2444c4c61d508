// `amphora optimize IN OUT` and `amphora quantize IN OUT --int8|--fp16`: write a simplified or
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
  bool int8 = false;
  bool force = false;
  Int8Options int8_options;
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
      "Write a smaller copy of a model, standard ONNX. --int8: Conv, ConvTranspose and MatMul "
      "weights as int8 (one scale per output channel) in QDQ form, activations int8 with scales "
      "from --calibrate data (dynamic without it); the layers that cost the audio most stay "
      "float, by measurement. --fp16: weights stored as float16 (half the file; computed in "
      "float32). Optimizes first, as `amphora optimize`");
  add_paths(cmd, *args);
  cmd->add_flag("--fp16", args->fp16, "Store weights as float16, read through a Cast to float");
  cmd->add_flag("--int8", args->int8, "Quantize convolutions and matmuls to int8");
  Int8Options& o = args->int8_options;
  cmd->add_option("--calibrate", o.calibration,
                  "--int8: wavs (at the model's sample rate; the package's mel settings make "
                  "the mels), mel .npy files [n_mels, T], or directories of them. Gives static "
                  "activation scales and the measurement that keeps the costliest layers float")
      ->expected(1, -1);
  cmd->add_option("--keep-float", o.keep_float, "--int8: nodes to leave float, by name")
      ->delimiter(',');
  cmd->add_option("--mel-l1-budget", o.mel_l1_budget,
                  "--int8 with --calibrate: the largest log-mel L1 between the quantized and "
                  "the float model's audio on the calibration data; layers go back to float, "
                  "costliest first, until it is met")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--calibration-frames", o.calibration_frames,
                  "--int8: mel frames of calibration data used in all (files in order)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--percentile", o.percentile,
                  "--int8 with --calibrate: an activation's range is this percentile of |x| on "
                  "the calibration data (100: the largest); values beyond it saturate")
      ->capture_default_str()
      ->check(CLI::Range(50.0, 100.0));
  cmd->add_option("--threads", o.threads, "Threads for the calibration runs (0: all cores)")
      ->capture_default_str();
  return [args] {
    if (args->fp16 == args->int8) {
      fail(ErrorCode::kInvalidArgument,
           "say how to quantize, once: --int8 (int8 weights and activations) or --fp16 (weights "
           "stored as float16)");
    }
    if (args->fp16) {
      if (!args->int8_options.calibration.empty() || !args->int8_options.keep_float.empty()) {
        fail(ErrorCode::kInvalidArgument,
             "--calibrate and --keep-float go with --int8, not --fp16");
      }
      print_summary("quantize", quantize_model_fp16(args->in, args->out, args->force));
      return 0;
    }
    args->int8_options.progress = [](const std::string& line) {
      std::fprintf(stderr, "quantize: %s\n", line.c_str());
    };
    print_summary("quantize",
                  quantize_model_int8(args->in, args->out, args->force, args->int8_options));
    return 0;
  };
}

}  // namespace amphora::cli
