// `amphora vocode`: wav -> mel -> wav (copy synthesis) or mel.npy -> wav/npy, with timing.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "amphora/vocoder.hpp"
#include "audio/mel.hpp"
#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/commands.hpp"
#include "core/npy.hpp"

namespace amphora::cli {
namespace {

struct VocodeArgs {
  std::string model;
  std::string wav;
  std::string mel;
  std::string f0;
  std::string output;
  int threads = 0;
  int sample_rate = 0;
  uint64_t seed = 0;
  std::string subtype = "pcm16";
  bool force = false;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The mel for this model from a wav, with the package's mel settings (resampling if needed).
Tensor mel_from_wav(const Vocoder& vocoder, const std::string& wav) {
  if (!vocoder.mel_config()) {
    fail(ErrorCode::kInvalidArgument,
         "a bare ONNX model carries no mel settings; compute the mel with `amphora mel` and pass "
         "--mel");
  }
  const audio::MelConfig& cfg = *vocoder.mel_config();
  audio::AudioBuffer input = audio::read_audio(wav);
  audio::resample_to(input, wav, cfg.sample_rate);
  return audio::mel_spectrogram(input.samples, cfg);
}

// A one-line bar on stderr, for inputs long enough to wait for (>= 10 s of audio) and only
// when stderr is a terminal, so logs and pipes stay clean.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  ~ProgressBar() { finish(); }
  // Clears the bar line so the summary that follows starts on a clean line.
  void finish() {
    if (shown_) std::fprintf(stderr, "\r%60s\r", "");
    shown_ = false;
  }
  void update(double fraction) {
    if (!enabled_) return;
    const int percent = static_cast<int>(fraction * 100.0);
    if (percent == last_percent_) return;
    last_percent_ = percent;
    shown_ = true;
    const int filled = percent * kWidth / 100;
    std::fprintf(stderr, "\rvocoding [%.*s%*s] %3d%%", filled, kBar, kWidth - filled, "", percent);
    std::fflush(stderr);
  }

 private:
  static constexpr int kWidth = 40;
  static constexpr const char* kBar = "########################################";
  bool enabled_;
  bool shown_ = false;
  int last_percent_ = -1;
};

int run_vocode(const VocodeArgs& args) {
  audio::check_output_path(args.output, args.force);
  if (!ends_with(args.output, ".wav") && !ends_with(args.output, ".npy")) {
    fail(ErrorCode::kInvalidArgument, "output '{}' must end in .wav or .npy", args.output);
  }
  VocoderOptions options;
  options.threads = args.threads;
  options.sample_rate = args.sample_rate;
  options.noise_seed = args.seed;
  const auto load_start = std::chrono::steady_clock::now();
  Vocoder vocoder = Vocoder::load(args.model, options);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();

  const Tensor mel = args.wav.empty() ? read_npy(args.mel) : mel_from_wav(vocoder, args.wav);
  const int64_t frames = mel.dim(-1);
  const int rate_for_bar = vocoder.info().sample_rate > 0 ? vocoder.info().sample_rate : 22050;
  ProgressBar bar(isatty(fileno(stderr)) &&
                  frames * vocoder.info().hop_length >= int64_t{10} * rate_for_bar);
  auto progress = [&bar](double fraction) { bar.update(fraction); };
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> samples = args.f0.empty() ? vocoder.vocode(mel, progress)
                                               : vocoder.vocode(mel, read_npy(args.f0), progress);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  bar.finish();
  int rate = vocoder.info().sample_rate;
  if (ends_with(args.output, ".npy")) {
    write_npy(args.output,
              Tensor::from_vector<float>({static_cast<int64_t>(samples.size())}, samples));
  } else {
    if (rate <= 0) {
      fail(ErrorCode::kInvalidArgument,
           "the model has no sample rate (bare ONNX); give --sample-rate to write a wav");
    }
    audio::write_wav(args.output, samples, rate, audio::wav_subtype_from_string(args.subtype));
  }
  const double audio_s = rate > 0 ? static_cast<double>(samples.size()) / rate : 0.0;
  std::printf("%s: %lld samples", args.output.c_str(), static_cast<long long>(samples.size()));
  if (rate > 0) std::printf(" (%.2f s at %d Hz)", audio_s, rate);
  std::printf(", load %.0f ms, vocode %.3f s", load_ms, wall_s);
  if (audio_s > 0) std::printf(", real-time factor %.3f", wall_s / audio_s);
  std::printf("\n");
  return 0;
}

}  // namespace

Run add_vocode_command(CLI::App& app) {
  auto args = std::make_shared<VocodeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "vocode", "Turn a mel (or a wav, by copy synthesis) into audio with a vocoder package");
  cmd->add_option("--model", args->model,
                  "Package directory, amphora-exported .onnx, or bare ONNX mel->audio model")
      ->required();
  auto* wav = cmd->add_option("--wav", args->wav,
                              "Input audio: its Amphion mel (package settings) is vocoded");
  auto* mel = cmd->add_option("--mel", args->mel, "Input mel .npy, [n_mels, T] or [1, n_mels, T]");
  wav->excludes(mel);
  cmd->add_option("--f0", args->f0, "f0 .npy in Hz per frame, [T] or [1, T] (NSF-HiFiGAN)");
  cmd->add_option("-o,--output", args->output, "Output .wav or .npy (float samples)")->required();
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--sample-rate", args->sample_rate,
                  "Sample rate for bare ONNX models (packages know theirs)");
  cmd->add_option("--seed", args->seed, "Seed of the NSF source noise (default 0)");
  cmd->add_option("--subtype", args->subtype,
                  "wav sample format: pcm16, pcm24, float (default pcm16)");
  cmd->add_flag("--force", args->force, "Overwrite the output if it exists");
  return [args] {
    if (args->wav.empty() == args->mel.empty()) {
      fail(ErrorCode::kInvalidArgument, "give exactly one of --wav or --mel");
    }
    return run_vocode(*args);
  };
}

}  // namespace amphora::cli
