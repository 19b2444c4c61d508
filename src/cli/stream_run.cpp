#include "cli/stream_run.hpp"

#include <chrono>

#include "stream/time_slices.hpp"

namespace amphora::cli {

std::vector<int64_t> parse_chunk_frames(const std::string& text) {
  std::vector<int64_t> sizes;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string part = text.substr(pos, comma == std::string::npos ? comma : comma - pos);
    size_t used = 0;
    int64_t size = 0;
    try {
      size = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || size < 1) {
      fail(ErrorCode::kInvalidArgument,
           "--chunk-frames '{}': '{}' is not a frame count >= 1 (give N or N1,N2,...)", text, part);
    }
    sizes.push_back(size);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return sizes;
}

MelSource slice_source(const Tensor& mel, const Tensor* f0) {
  if (f0 && f0->dim(-1) != mel.dim(-1)) {
    fail(ErrorCode::kInvalidArgument, "f0 has {} values for {} mel frames", f0->dim(-1),
         mel.dim(-1));
  }
  return [&mel, f0](int64_t at, int64_t n) {
    MelChunk chunk{stream::slice_axis(mel, mel.rank() - 1, at, n), std::nullopt};
    if (f0) chunk.f0 = stream::slice_axis(*f0, f0->rank() - 1, at, n);
    return chunk;
  };
}

StreamTiming run_stream(const Vocoder& vocoder, int64_t frames, const MelSource& source,
                        const std::vector<int64_t>& chunk_frames, bool keep_samples) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  StreamTiming timing;
  const auto start = Clock::now();
  VocoderStream stream = vocoder.stream();
  auto take = [&](std::vector<float> got, Clock::time_point pushed, Clock::time_point done) {
    timing.chunk_ms.push_back(ms(pushed, done));
    if (timing.sample_count == 0 && !got.empty()) {
      timing.first_audio_ms = ms(pushed, done);
      timing.first_audio_after_frames = stream.frames_pushed();
    }
    timing.sample_count += static_cast<int64_t>(got.size());
    if (keep_samples) timing.samples.insert(timing.samples.end(), got.begin(), got.end());
  };
  for (int64_t at = 0, push = 0; at < frames; ++push) {
    const int64_t n = std::min(chunk_frames[push % chunk_frames.size()], frames - at);
    MelChunk chunk = source(at, n);
    const auto pushed = Clock::now();
    std::vector<float> got = chunk.f0 ? stream.push(chunk.mel, *chunk.f0) : stream.push(chunk.mel);
    take(std::move(got), pushed, Clock::now());
    at += n;
  }
  const auto finishing = Clock::now();
  take(stream.finish(), finishing, Clock::now());
  timing.total_s = ms(start, Clock::now()) / 1000.0;
  return timing;
}

}  // namespace amphora::cli
