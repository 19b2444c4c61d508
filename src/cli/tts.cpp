// `amphora tts`: English text -> speech with a voice package (and a vocoder package for a voice
// that makes mels), written to a wav as it is made; with --stream the vocoder runs a few mel
// frames at a time and the first audio's latency is printed.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "amphora/synthesizer.hpp"
#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace amphora::cli {
namespace {

struct TtsArgs {
  std::string voice;
  std::string vocoder;
  std::string text;
  std::string text_file;
  bool text_given = false;  // --text "" is an empty text, not a missing one
  std::string output;
  SpeechOptions speech;
  int threads = 0;
  std::string subtype = "pcm16";
  bool force = false;
  bool quiet = false;
};

int run_tts(const TtsArgs& args) {
  check_text_source("--text \"...\"", args.text_given, args.text_file);
  if (!ends_with(args.output, ".wav")) {
    fail(ErrorCode::kInvalidArgument, "output '{}' must end in .wav", args.output);
  }
  audio::check_output_path(args.output, args.force);
  const std::string text = read_text_source(args.text, args.text_file);
  Options options;
  options.threads = args.threads;
  const Synthesizer tts = Synthesizer::load(args.voice, args.vocoder, options);

  audio::WavWriter wav(args.output, tts.sample_rate(),
                       audio::wav_subtype_from_string(args.subtype));
  // Progress for a text of several sentences: one updated line on a terminal, else a line per
  // tenth of the text.
  const bool terminal = isatty(fileno(stderr)) != 0;
  const auto progress = [&](size_t sentence, size_t sentences) {
    if (args.quiet || sentences < 2) return;
    const size_t tenth = std::max<size_t>(1, sentences / 10);
    if (terminal) {
      std::fprintf(stderr, "\ramphora tts: sentence %zu/%zu", sentence + 1, sentences);
      if (sentence + 1 == sentences) std::fprintf(stderr, "\n");
    } else if (sentence % tenth == 0 && sentences >= 10) {
      std::fprintf(stderr, "amphora tts: sentence %zu/%zu\n", sentence + 1, sentences);
    }
  };
  const SpeechReport report = tts.speak(
      text, args.speech, [&](std::span<const float> s) { wav.write(s); }, progress);
  wav.commit();

  for (const std::string& w : report.warnings) {
    std::fprintf(stderr, "amphora tts: warning: %s\n", w.c_str());
  }
  const double seconds = static_cast<double>(report.samples) / tts.sample_rate();
  std::printf("%s: %zu sentence%s, %.2f s of audio at %d Hz, %.0f ms, real-time factor %.3f",
              args.output.c_str(), report.sentences, report.sentences == 1 ? "" : "s", seconds,
              tts.sample_rate(), report.compute_ms, report.compute_ms / 1000.0 / seconds);
  if (args.speech.stream) std::printf(", first audio after %.1f ms", report.first_audio_ms);
  if (report.skipped > 0) std::printf(" (%zu without words skipped)", report.skipped);
  std::printf("\n");
  return 0;
}

}  // namespace

Run add_tts_command(CLI::App& app) {
  auto args = std::make_shared<TtsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tts", "Speak English text: front end (libflite) -> voice package -> vocoder package");
  cmd->add_option("--voice", args->voice,
                  "Voice: an acoustic model package with a phone table (amphora-export "
                  "acoustic), e.g. FastSpeech2 or VITS")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--vocoder", args->vocoder,
                  "Vocoder package for a voice that makes mels; its mel settings must match")
      ->check(CLI::ExistingDirectory);
  CLI::Option* text = cmd->add_option("--text", args->text, "The text to speak");
  cmd->add_option("--text-file", args->text_file,
                  "Read the text from a UTF-8 file (spoken sentence by sentence, any length)");
  cmd->add_option("-o,--output", args->output, "Output .wav (written as it is made)")->required();
  cmd->add_option("--speaker", args->speech.speaker, "Speaker id of a multi-speaker voice");
  cmd->add_option("--speed", args->speech.speed, "Speaking rate: 1 as trained, 1.2 is faster");
  cmd->add_flag("--stream", args->speech.stream,
                "Run the vocoder a chunk of mel frames at a time, as a player would, and "
                "print the first audio's latency");
  cmd->add_option(
      "--chunk-frames", args->speech.chunk_frames,
      "With --stream: mel frames of audio in the first vocoder push (which also carries the "
      "vocoder's look-ahead) and so the first audio's latency; later pushes double, up to 128 "
      "(default 16)");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--subtype", args->subtype,
                  "wav sample format: pcm16, pcm24, float (default pcm16)");
  cmd->add_flag("--force", args->force, "Overwrite the output if it exists");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress on stderr");
  return [args, text] {
    args->text_given = text->count() > 0;
    return run_tts(*args);
  };
}

}  // namespace amphora::cli
