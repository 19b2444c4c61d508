// `amphora mel`: the log-mel features Amphion's extract_mel_features would compute for a wav,
// with the settings of a model package or given as flags.
#include "audio/mel.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/commands.hpp"
#include "core/npy.hpp"

namespace amphora::cli {
namespace {

struct MelArgs {
  std::string wav;
  std::string model;
  std::string output;
  bool force = false;
  audio::MelOptions mel;
};

void add_mel_flags(CLI::App& cmd, audio::MelOptions& mel, CLI::Option* model) {
  auto flag = [&](CLI::Option* option) { option->excludes(model); };
  flag(cmd.add_option("--sample-rate", mel.sample_rate, "Sample rate in Hz (default: the wav's)"));
  flag(cmd.add_option("--n-fft", mel.n_fft, "FFT size (default 1024)"));
  flag(cmd.add_option("--win-length", mel.win_length, "Hann window length (default n_fft)"));
  flag(cmd.add_option("--hop-length", mel.hop_length, "Hop in samples (default 256)"));
  flag(cmd.add_option("--n-mels", mel.n_mels, "Mel bands (default 80)"));
  flag(cmd.add_option("--fmin", mel.fmin, "Lowest filter frequency in Hz (default 0)"));
  flag(cmd.add_option("--fmax", mel.fmax, "Highest filter frequency in Hz (default sr/2)"));
  flag(cmd.add_option("--norm-mean", mel.norm_mean, "Normalise: (mel - mean) / std"));
  flag(cmd.add_option("--norm-std", mel.norm_std, "Normalise: (mel - mean) / std"));
}

int run_mel(const MelArgs& args) {
  audio::check_output_path(args.output, args.force);
  audio::AudioBuffer input = audio::read_audio(args.wav);
  const audio::MelConfig cfg = args.model.empty() ? args.mel.resolve(input.sample_rate)
                                                  : audio::mel_config_from_package(args.model);
  audio::resample_to(input, args.wav, cfg.sample_rate);
  const Tensor mel = audio::mel_spectrogram(input.samples, cfg);
  write_npy(args.output, mel);
  std::printf("mel [%lld, %lld] (%s) -> %s\n", static_cast<long long>(mel.dim(0)),
              static_cast<long long>(mel.dim(1)), cfg.describe().c_str(), args.output.c_str());
  return 0;
}

}  // namespace

Run add_mel_command(CLI::App& app) {
  auto args = std::make_shared<MelArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mel", "Compute Amphion's log-mel spectrogram of a wav; writes float32 [n_mels, frames]");
  cmd->add_option("--wav", args->wav, "Input audio (wav, flac, ...)")->required();
  cmd->add_option("-o,--output", args->output, "Output .npy")->required();
  cmd->add_flag("--force", args->force, "Overwrite the output if it exists");
  CLI::Option* model =
      cmd->add_option("--model", args->model, "Model package dir (reads amphora.json's \"mel\")");
  add_mel_flags(*cmd, args->mel, model);
  return [args] { return run_mel(*args); };
}

}  // namespace amphora::cli
