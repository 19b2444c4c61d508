#include "cli/bench_stream.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "amphora/vocoder.hpp"
#include "cli/peak_rss.hpp"
#include "cli/stream_run.hpp"
#include "core/error.hpp"

namespace amphora::cli {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

namespace {

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  if (values.empty()) return 0.0;
  const auto index = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace

void add_stream_bench_options(CLI::App& cmd, const std::shared_ptr<StreamBenchArgs>& args) {
  cmd.add_flag("--stream", args->stream,
               "Vocoder packages: stream the mel in chunks (stateful) and report first-audio "
               "latency, per-chunk p50/p99 and throughput relative to the offline run");
  cmd.add_option("--chunk-frames", args->chunk_frames,
                 "Frames per push with --stream (default 16; a list such as 1,7,3 cycles)");
  cmd.add_flag("--skip-offline", args->skip_offline,
               "With --stream: do not run the offline comparison (for very long inputs, to "
               "measure that streaming memory stays flat)");
}

int run_stream_bench(const std::string& model, const StreamBenchArgs& args, int64_t frames,
                     int threads, int warmup, int runs, bool json) {
  if (frames < 1 || runs < 1 || warmup < 0) {
    fail(ErrorCode::kInvalidArgument, "--frames and --runs must be >= 1, --warmup >= 0");
  }
  const std::vector<int64_t> chunks = parse_chunk_frames(args.chunk_frames);
  VocoderOptions options;
  options.threads = threads;
  const Vocoder vocoder = Vocoder::load(model, options);  // + the analysis, below
  const VocoderInfo& info = vocoder.info();
  const StreamInfo& stream_info = vocoder.stream_info();
  if (!stream_info.streamable) {
    fail(ErrorCode::kUnsupported, "{}: not streamable: {}", model,
         stream_info.not_streamable_because);
  }
  // A speech-like log-mel level and a plausible f0 (the values do not change the cost), made
  // per pushed chunk from a 64-frame block, so a 10-minute stream holds no 10-minute input.
  std::mt19937 rng(0);
  std::normal_distribution<float> level(-5.0f, 2.0f);
  constexpr int64_t kBlock = 64;
  std::vector<float> block(static_cast<size_t>(info.n_mels * kBlock));
  for (float& v : block) v = level(rng);
  const MelSource source = [&](int64_t at, int64_t n) {
    MelChunk chunk{Tensor(DType::kFloat32, {info.n_mels, n}), std::nullopt};
    float* mel = chunk.mel.data<float>();
    for (int64_t b = 0; b < info.n_mels; ++b) {
      for (int64_t t = 0; t < n; ++t) mel[b * n + t] = block[b * kBlock + (at + t) % kBlock];
    }
    if (info.needs_f0) {
      chunk.f0 =
          Tensor::from_vector<float>({n}, std::vector<float>(static_cast<size_t>(n), 150.0f));
    }
    return chunk;
  };
  const MelChunk whole = args.skip_offline ? MelChunk{} : source(0, frames);

  std::vector<double> offline_ms, stream_ms, first_ms, chunk_ms;
  int64_t first_after = 0;
  for (int i = 0; i < warmup + runs; ++i) {  // interleaved, so drift hits both alike
    const bool timed = i >= warmup;
    if (!args.skip_offline) {
      const auto start = std::chrono::steady_clock::now();
      if (whole.f0) {
        vocoder.vocode(whole.mel, *whole.f0);
      } else {
        vocoder.vocode(whole.mel);
      }
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (timed) offline_ms.push_back(ms);
    }
    StreamTiming timing = run_stream(vocoder, frames, source, chunks, /*keep_samples=*/false);
    if (!timed) continue;
    stream_ms.push_back(timing.total_s * 1000.0);
    first_ms.push_back(timing.first_audio_ms);
    first_after = timing.first_audio_after_frames;
    chunk_ms.insert(chunk_ms.end(), timing.chunk_ms.begin(), timing.chunk_ms.end());
  }
  const double audio_ms = info.sample_rate > 0 ? 1000.0 * static_cast<double>(frames) *
                                                     info.hop_length / info.sample_rate
                                               : 0.0;
  const double lookahead_ms = info.sample_rate > 0
                                  ? 1000.0 * static_cast<double>(stream_info.lookahead_frames) *
                                        info.hop_length / info.sample_rate
                                  : 0.0;
  nlohmann::json out = {
      {"model", model},
      {"frames", frames},
      {"chunk_frames", args.chunk_frames},
      {"threads", threads},
      {"runs", runs},
      {"first_audio_ms", median(first_ms)},
      {"first_audio_after_frames", first_after},
      {"lookahead_frames", stream_info.lookahead_frames},
      {"lookahead_ms", lookahead_ms},
      {"chunk_p50_ms", percentile(chunk_ms, 0.5)},
      {"chunk_p99_ms", percentile(chunk_ms, 0.99)},
      {"stream_median_ms", median(stream_ms)},
      {"stream_rtf", audio_ms > 0 ? median(stream_ms) / audio_ms : 0.0},
      {"peak_rss_mb", peak_rss_mb()},
  };
  if (!args.skip_offline) {
    out["offline_median_ms"] = median(offline_ms);
    out["throughput_vs_offline"] = median(offline_ms) / median(stream_ms);
  }
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s: %lld frames in %s-frame pushes, %d threads, %d runs\n", model.c_str(),
              static_cast<long long>(frames), args.chunk_frames.c_str(), threads, runs);
  std::printf("  first audio      %8.2f ms after the push that completed frame %lld\n",
              median(first_ms), static_cast<long long>(first_after));
  std::printf("  model look-ahead %8lld frames (%.1f ms of audio)\n",
              static_cast<long long>(stream_info.lookahead_frames), lookahead_ms);
  std::printf("  per push         p50 %.2f ms, p99 %.2f ms\n", percentile(chunk_ms, 0.5),
              percentile(chunk_ms, 0.99));
  std::printf("  stream total     %8.1f ms", median(stream_ms));
  if (audio_ms > 0) std::printf(" (real-time factor %.3f)", median(stream_ms) / audio_ms);
  std::printf("\n");
  if (!args.skip_offline) {
    std::printf("  offline total    %8.1f ms; streaming throughput %.2fx offline\n",
                median(offline_ms), median(offline_ms) / median(stream_ms));
  }
  std::printf("  peak RSS         %8.1f MB\n", peak_rss_mb());
  return 0;
}

}  // namespace amphora::cli
