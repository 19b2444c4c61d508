// `amphora vocode`: wav -> mel -> wav (copy synthesis) or mel.npy -> wav/npy, with timing.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "amphora/vocoder.hpp"
#include "audio/mel.hpp"
#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/arguments.hpp"
#include "cli/audio_output.hpp"
#include "cli/commands.hpp"
#include "cli/stream_run.hpp"
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
  std::string backend = "native";
  int sample_rate = 0;
  uint64_t seed = 0;
  std::string subtype = "pcm16";
  bool force = false;
  bool stream = false;              // stateful streaming
  std::string chunk_frames = "16";  // frames per push when streaming (cycled list)
  int64_t chunked = 0;              // chunked mode with this many frames per chunk
};

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
  check_audio_output(args.output, args.force);
  VocoderOptions options;
  options.threads = args.threads;
  options.backend = parse_backend(args.backend);
  options.sample_rate = args.sample_rate;
  options.noise_seed = args.seed;
  std::optional<Tensor> given_mel;
  if (!args.mel.empty()) {
    given_mel = read_npy(args.mel);
    // A bare model may not declare its mel bins (TorchScript): the mel given says them.
    if (given_mel->rank() >= 2) options.n_mels = static_cast<int>(given_mel->dim(-2));
  }
  const auto load_start = std::chrono::steady_clock::now();
  Vocoder vocoder = Vocoder::load(args.model, options);
  if (args.stream || args.chunked > 0) vocoder.stream_info();  // graph analysis: part of loading
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();

  const Tensor mel = given_mel ? *given_mel : mel_from_wav(vocoder, args.wav);
  const int64_t frames = mel.dim(-1);
  const int rate_for_bar = vocoder.info().sample_rate > 0 ? vocoder.info().sample_rate : 22050;
  ProgressBar bar(isatty(fileno(stderr)) &&
                  frames * vocoder.info().hop_length >= int64_t{10} * rate_for_bar);
  auto progress = [&bar](double fraction) { bar.update(fraction); };
  const std::optional<Tensor> f0 =
      args.f0.empty() ? std::nullopt : std::optional<Tensor>(read_npy(args.f0));
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> samples;
  std::string mode = "offline";
  if (args.stream) {
    StreamTiming timing = run_stream(vocoder, mel.dim(-1), slice_source(mel, f0 ? &*f0 : nullptr),
                                     parse_chunk_frames(args.chunk_frames));
    samples = std::move(timing.samples);
    mode = fmt::format("streamed in {}-frame chunks, first audio {:.1f} ms after frame {}",
                       args.chunk_frames, timing.first_audio_ms, timing.first_audio_after_frames);
  } else if (args.chunked > 0) {
    samples = vocoder.vocode_chunked(mel, f0 ? &*f0 : nullptr, args.chunked, progress);
    mode = fmt::format("chunked, {} frames per chunk", args.chunked);
  } else {
    samples = f0 ? vocoder.vocode(mel, *f0, progress) : vocoder.vocode(mel, progress);
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  bar.finish();
  int rate = vocoder.info().sample_rate;
  if (rate <= 0 && !ends_with(args.output, ".npy")) {
    fail(ErrorCode::kInvalidArgument,
         "the model has no sample rate (bare ONNX); give --sample-rate to write a wav");
  }
  write_audio(args.output, samples, rate, args.subtype);
  const double audio_s = rate > 0 ? static_cast<double>(samples.size()) / rate : 0.0;
  std::printf("%s: %lld samples", args.output.c_str(), static_cast<long long>(samples.size()));
  if (rate > 0) std::printf(" (%.2f s at %d Hz)", audio_s, rate);
  std::printf(", load %.0f ms, vocode %.3f s (%s)", load_ms, wall_s, mode.c_str());
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
  cmd->add_option("--backend", args->backend,
                  "native (model.onnx, default) or torchscript (the package's model.ts, or a "
                  ".ts/.pt file, through LibTorch)")
      ->check(CLI::IsMember({"native", "torchscript"}));
  cmd->add_option("--sample-rate", args->sample_rate,
                  "Sample rate for bare ONNX models (packages know theirs)");
  cmd->add_option("--seed", args->seed, "Seed of the NSF source noise (default 0)");
  cmd->add_option("--subtype", args->subtype,
                  "wav sample format: pcm16, pcm24, float (default pcm16)");
  cmd->add_flag("--force", args->force, "Overwrite the output if it exists");
  auto* stream = cmd->add_flag(
      "--stream", args->stream,
      "Stateful streaming (native engine): push the mel in chunks as if it arrived live; the "
      "output equals the offline one; prints first-audio latency");
  cmd->add_option("--chunk-frames", args->chunk_frames,
                  "Frames per push with --stream (default 16); a list such as 1,7,3 cycles "
                  "through uneven pushes");
  cmd->add_option("--chunked", args->chunked,
                  "Chunked mode (any backend): run N-frame chunks with the context the receptive "
                  "field needs and join them; exact, for fixed-shape deployments")
      ->check(CLI::PositiveNumber)
      ->excludes(stream);
  return [args] {
    if (args->wav.empty() == args->mel.empty()) {
      fail(ErrorCode::kInvalidArgument, "give exactly one of --wav or --mel");
    }
    return run_vocode(*args);
  };
}

}  // namespace amphora::cli
