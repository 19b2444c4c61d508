// `amphora synth`: phone ids -> speech with an acoustic model package (and, for a model that
// makes mels, a vocoder package), with timing.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "amphora/acoustic.hpp"
#include "amphora/vocoder.hpp"
#include "cli/arguments.hpp"
#include "cli/audio_output.hpp"
#include "cli/commands.hpp"
#include "core/npy.hpp"

namespace amphora::cli {
namespace {

struct SynthArgs {
  std::string model;
  std::string tokens;
  std::string vocoder;
  std::string output;
  SynthesisControls controls;
  int threads = 0;
  std::string backend = "native";
  std::string subtype = "pcm16";
  bool force = false;
};

// Phone ids from a .npy (integer, 1-D or [1, N]) or a text file of integers separated by
// spaces, commas or new lines.
std::vector<int64_t> read_phone_ids(const std::string& path) {
  std::vector<int64_t> ids;
  if (ends_with(path, ".npy")) {
    const Tensor t = read_npy(path);
    if (t.rank() > 2 || (t.rank() == 2 && t.dim(0) != 1)) {
      fail(ErrorCode::kInvalidArgument, "{}: phone ids must be [N] or [1, N], got {}", path,
           shape_str(t.shape()));
    }
    if (t.dtype() == DType::kInt64) {
      ids.assign(t.data<int64_t>(), t.data<int64_t>() + t.numel());
    } else if (t.dtype() == DType::kInt32) {
      ids.assign(t.data<int32_t>(), t.data<int32_t>() + t.numel());
    } else {
      fail(ErrorCode::kInvalidArgument, "{}: phone ids must be integers, got {}", path,
           dtype_name(t.dtype()));
    }
    return ids;
  }
  std::ifstream in(path);
  if (!in) fail(ErrorCode::kIo, "{}: cannot open the phone ids", path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text) {
    if (c == ',') c = ' ';
  }
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    size_t used = 0;
    int64_t id = 0;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size()) {
      fail(ErrorCode::kInvalidArgument, "{}: '{}' (id #{}) is not an integer phone id", path, word,
           ids.size());
    }
    ids.push_back(id);
  }
  return ids;
}

int run_synth(const SynthArgs& args) {
  check_audio_output(args.output, args.force);
  const std::vector<int64_t> ids = read_phone_ids(args.tokens);
  Options options;
  options.threads = args.threads;
  options.backend = parse_backend(args.backend);
  const auto load_start = std::chrono::steady_clock::now();
  const AcousticModel model = AcousticModel::load(args.model, options);
  if (model.info().task != "tts") {
    fail(ErrorCode::kInvalidArgument,
         "{} is a singing voice conversion model ({}), not a TTS one: convert content features "
         "and f0 with `amphora svc`",
         args.model, model.info().family);
  }
  const bool makes_mel = model.info().produces == "mel";
  std::optional<Vocoder> vocoder;
  if (!args.vocoder.empty()) {
    if (!makes_mel) {
      fail(ErrorCode::kInvalidArgument, "{} makes a waveform itself; --vocoder is for mel models",
           args.model);
    }
    VocoderOptions vocoder_options;
    vocoder_options.threads = args.threads;
    vocoder.emplace(load_matching_vocoder(model, args.model, args.vocoder, vocoder_options));
  } else if (makes_mel && ends_with(args.output, ".wav")) {
    fail(ErrorCode::kInvalidArgument,
         "{} makes a mel: give --vocoder PKG to turn it into audio, or write the mel to a .npy",
         args.model);
  }
  const auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  const double load_ms = ms_since(load_start);

  const auto start = std::chrono::steady_clock::now();
  const Synthesis out = model.synthesize(ids, args.controls);
  const double acoustic_ms = ms_since(start);
  std::vector<float> samples = out.samples;
  double vocoder_ms = 0.0;
  if (vocoder) {
    const auto vocode_start = std::chrono::steady_clock::now();
    samples = vocoder->vocode(out.mel);
    vocoder_ms = ms_since(vocode_start);
  }
  const int rate = model.info().sample_rate;
  if (makes_mel && !vocoder) {
    write_npy(args.output, out.mel);  // a .npy: a wav without a vocoder was refused above
  } else {
    write_audio(args.output, samples, rate, args.subtype);
  }
  int64_t frames = 0;
  for (int64_t d : out.durations) frames += d;
  std::printf("%s: %zu phone ids -> %lld frames", args.output.c_str(), ids.size(),
              static_cast<long long>(frames));
  const double audio_s = samples.empty()
                             ? static_cast<double>(frames) * model.info().hop_length / rate
                             : static_cast<double>(samples.size()) / rate;
  std::printf(" (%.2f s of audio at %d Hz), load %.0f ms, %s %.1f ms", audio_s, rate, load_ms,
              model.info().family.c_str(), acoustic_ms);
  if (vocoder) std::printf(", %s %.1f ms", vocoder->info().family.c_str(), vocoder_ms);
  if (audio_s > 0) {
    std::printf(", real-time factor %.3f", (acoustic_ms + vocoder_ms) / 1000.0 / audio_s);
  }
  std::printf("\n");
  return 0;
}

}  // namespace

Run add_synth_command(CLI::App& app) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Speak phone ids with a TTS acoustic model package (FastSpeech2 + a vocoder package, or "
      "VITS); SVC packages convert with `amphora svc`");
  cmd->add_option("--model", args->model, "Acoustic model package (amphora-export acoustic)")
      ->required();
  cmd->add_option("--tokens", args->tokens,
                  "Phone ids: a text file of integers (spaces, commas or lines) or an integer "
                  ".npy, in the package's phone table (amphora-export inspect lists it)")
      ->required();
  cmd->add_option("--vocoder", args->vocoder,
                  "Vocoder package for a model that makes mels; its mel settings must match")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--output", args->output,
                  "Output .wav, or .npy (the mel of a mel model without --vocoder, else samples)")
      ->required();
  cmd->add_option("--speaker", args->controls.speaker, "Speaker id of a multi-speaker model");
  cmd->add_option("--length-scale", args->controls.duration,
                  "Duration scale: 1 as trained, larger is slower (FastSpeech2 duration_control, "
                  "VITS length_scale)");
  cmd->add_option("--pitch", args->controls.pitch, "FastSpeech2 pitch scale (default 1)");
  cmd->add_option("--energy", args->controls.energy, "FastSpeech2 energy scale (default 1)");
  cmd->add_option("--noise-scale", args->controls.noise_scale,
                  "VITS prior noise (default 0.667; 0 is noiseless)");
  cmd->add_option("--noise-scale-w", args->controls.noise_scale_w,
                  "VITS duration noise (default 0.8)");
  cmd->add_option("--seed", args->controls.seed, "VITS noise seed: same seed, same audio");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--backend", args->backend,
                  "native (model.onnx, default) or torchscript (model.ts through LibTorch)")
      ->check(CLI::IsMember({"native", "torchscript"}));
  cmd->add_option("--subtype", args->subtype,
                  "wav sample format: pcm16, pcm24, float (default pcm16)");
  cmd->add_flag("--force", args->force, "Overwrite the output if it exists");
  return [args] { return run_synth(*args); };
}

}  // namespace amphora::cli
