// `amphora svc`: singing voice conversion with an SVC acoustic package (VITS-SVC): the source's
// frame-aligned content features and f0 (+ energy) -> the target singer's waveform, with timing.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "amphora/acoustic.hpp"
#include "cli/arguments.hpp"
#include "cli/audio_output.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::cli {
namespace {

struct SvcArgs {
  std::string model;
  std::vector<std::string> content;  // NAME=FILE.npy
  std::string f0;
  std::string energy;
  std::string output;
  ConversionControls controls;
  int threads = 0;
  std::string backend = "native";
  std::string subtype = "pcm16";
  bool force = false;
};

int run_svc(const SvcArgs& args) {
  check_audio_output(args.output, args.force);
  Options options;
  options.threads = args.threads;
  options.backend = parse_backend(args.backend);
  const auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  const auto load_start = std::chrono::steady_clock::now();
  const AcousticModel model = AcousticModel::load(args.model, options);
  const AcousticInfo& info = model.info();
  // Before reading the inputs: they would be refused for the wrong reason (no content features).
  if (info.task != "svc") {
    fail(ErrorCode::kInvalidArgument,
         "{} is a TTS model ({}), not a singing voice conversion one: speak its phone ids with "
         "`amphora synth`",
         args.model, info.family);
  }
  const double load_ms = ms_since(load_start);

  std::string names;
  for (const ContentFeature& f : info.content_features) {
    names += (names.empty() ? "" : ", ") + f.name;
  }
  ConversionInput input;
  input.content =
      read_named_npys(args.content, "--content",
                      info.content_features.size() == 1 ? info.content_features[0].name : "",
                      "the model takes " + names);
  if (!args.f0.empty()) input.f0 = read_npy(args.f0);
  if (!args.energy.empty()) input.energy = read_npy(args.energy);

  const auto start = std::chrono::steady_clock::now();
  const std::vector<float> samples = model.convert(input, args.controls);
  const double convert_ms = ms_since(start);
  write_audio(args.output, samples, info.sample_rate, args.subtype);

  const double audio_s = static_cast<double>(samples.size()) / info.sample_rate;
  std::printf("%s: %lld frames -> %zu samples (%.2f s of audio at %d Hz), load %.0f ms, %s %.1f ms",
              args.output.c_str(), static_cast<long long>(samples.size() / info.hop_length),
              samples.size(), audio_s, info.sample_rate, load_ms, info.family.c_str(), convert_ms);
  if (audio_s > 0) std::printf(", real-time factor %.3f", convert_ms / 1000.0 / audio_s);
  std::printf("\n");
  return 0;
}

}  // namespace

Run add_svc_command(CLI::App& app) {
  auto args = std::make_shared<SvcArgs>();
  CLI::App* cmd = app.add_subcommand(
      "svc",
      "Singing voice conversion with an SVC acoustic model package (VITS-SVC): the source's "
      "content features and f0, aligned to the model's frames, -> the target singer's audio");
  cmd->add_option("--model", args->model, "SVC package (amphora-export acoustic --family vits_svc)")
      ->required();
  cmd->add_option("--content", args->content,
                  "NAME=FILE.npy, one per content feature the package lists (amphora-export "
                  "inspect: whisper, contentvec, mert, wenet): float32 [frames, dim]; NAME is "
                  "the feature or its input (whisper_feat); a bare FILE.npy for a model with one")
      ->required();
  cmd->add_option("--f0", args->f0,
                  "The source's f0 .npy in Hz per frame, [frames] (0 where unvoiced; multiply by "
                  "2^(semitones/12) to transpose)");
  cmd->add_option("--energy", args->energy,
                  "The source's frame energy .npy, [frames], for a model that uses energy (as "
                  "Amphion's preprocessing stores it)");
  cmd->add_option("-o,--output", args->output, "Output .wav, or .npy (float samples)")->required();
  cmd->add_option("--speaker", args->controls.speaker,
                  "Target singer id of a multi-singer model (default 0)");
  cmd->add_option("--noise-scale", args->controls.noise_scale,
                  "Prior noise (default 0.667, Amphion's; 0 is noiseless)");
  cmd->add_option("--seed", args->controls.seed, "Noise seed: same seed, same audio (default 0)");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--backend", args->backend,
                  "native (model.onnx, default) or torchscript (model.ts through LibTorch)")
      ->check(CLI::IsMember({"native", "torchscript"}));
  cmd->add_option("--subtype", args->subtype,
                  "wav sample format: pcm16, pcm24, float (default pcm16)");
  cmd->add_flag("--force", args->force, "Overwrite the output if it exists");
  return [args] { return run_svc(*args); };
}

}  // namespace amphora::cli
