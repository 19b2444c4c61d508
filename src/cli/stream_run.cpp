#include "cli/stream_run.hpp"

#include <chrono>

#include "stream/time_slices.hpp"

namespace amphora::cli {

StreamTiming run_stream(const Vocoder& vocoder, const Tensor& mel, const Tensor* f0,
                        int64_t chunk_frames) {
  if (chunk_frames < 1) {
    fail(ErrorCode::kInvalidArgument, "--chunk-frames must be at least 1, got {}", chunk_frames);
  }
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  StreamTiming timing;
  const int64_t frames = mel.dim(-1);
  const auto start = Clock::now();
  VocoderStream stream = vocoder.stream();
  auto take = [&](std::vector<float> got, Clock::time_point pushed, Clock::time_point done) {
    timing.chunk_ms.push_back(ms(pushed, done));
    if (timing.samples.empty() && !got.empty()) {
      timing.first_audio_ms = ms(pushed, done);
      timing.first_audio_after_frames = stream.frames_pushed();
    }
    timing.samples.insert(timing.samples.end(), got.begin(), got.end());
  };
  for (int64_t at = 0; at < frames; at += chunk_frames) {
    const int64_t n = std::min(chunk_frames, frames - at);
    Tensor mel_chunk = stream::slice_axis(mel, mel.rank() - 1, at, n);
    const auto pushed = Clock::now();
    std::vector<float> got =
        f0 ? stream.push(mel_chunk, stream::slice_axis(*f0, f0->rank() - 1, at, n))
           : stream.push(mel_chunk);
    take(std::move(got), pushed, Clock::now());
  }
  const auto finishing = Clock::now();
  take(stream.finish(), finishing, Clock::now());
  timing.total_s = ms(start, Clock::now()) / 1000.0;
  return timing;
}

}  // namespace amphora::cli
