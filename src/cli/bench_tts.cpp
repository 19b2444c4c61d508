#include "cli/bench_tts.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "amphora/synthesizer.hpp"
#include "cli/bench_stream.hpp"
#include "core/error.hpp"

namespace amphora::cli {

void add_tts_bench_options(CLI::App& cmd, const std::shared_ptr<TtsBenchArgs>& args) {
  cmd.add_option("--text", args->text,
                 "Voice packages: speak this text with --vocoder, offline and streamed, and "
                 "report the real-time factor and the first audio's latency");
  cmd.add_option("--vocoder", args->vocoder, "With --text: the vocoder package of a mel voice");
  cmd.add_option("--speaker", args->speaker, "With --text: the speaker id");
}

int run_tts_bench(const std::string& voice, const TtsBenchArgs& args, int threads, int warmup,
                  int runs, bool json) {
  if (runs < 1 || warmup < 0) {
    fail(ErrorCode::kInvalidArgument, "--runs must be >= 1 and --warmup >= 0");
  }
  Options options;
  options.threads = threads;
  const auto load_start = std::chrono::steady_clock::now();
  const Synthesizer tts = Synthesizer::load(voice, args.vocoder, options);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();

  nlohmann::json modes = nlohmann::json::object();
  double seconds = 0.0;
  size_t sentences = 0;
  for (const bool stream : {false, true}) {
    SpeechOptions speech;
    speech.speaker = args.speaker;
    speech.stream = stream;
    std::vector<double> first, rtf;
    for (int i = 0; i < warmup + runs; ++i) {
      const SpeechReport r = tts.speak(args.text, speech, [](std::span<const float>) {});
      seconds = static_cast<double>(r.samples) / tts.sample_rate();
      sentences = r.sentences;
      if (i < warmup) continue;
      first.push_back(r.first_audio_ms);
      rtf.push_back(r.compute_ms / 1000.0 / seconds);
    }
    modes[stream ? "stream" : "offline"] = {
        {"first_audio_ms", median(first)},
        {"rtf", median(rtf)},
        {"rtf_best", *std::min_element(rtf.begin(), rtf.end())}};
  }
  if (json) {
    const nlohmann::json out = {{"voice", voice},
                                {"vocoder", args.vocoder},
                                {"text", args.text},
                                {"sentences", sentences},
                                {"audio_s", seconds},
                                {"threads", threads},
                                {"runs", runs},
                                {"load_ms", load_ms},
                                {"offline", modes["offline"]},
                                {"stream", modes["stream"]}};
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
  }
  std::printf("%s + %s: %zu sentence(s), %.2f s of audio, load %.0f ms, median of %d runs\n",
              voice.c_str(), args.vocoder.empty() ? "(no vocoder)" : args.vocoder.c_str(),
              sentences, seconds, load_ms, runs);
  for (const char* mode : {"offline", "stream"}) {
    std::printf("  %-8s first audio %7.1f ms   real-time factor %.4f (best %.4f)\n", mode,
                modes[mode]["first_audio_ms"].get<double>(), modes[mode]["rtf"].get<double>(),
                modes[mode]["rtf_best"].get<double>());
  }
  return 0;
}

}  // namespace amphora::cli
