#include "audio/wav_io.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.hpp"

namespace amphora::audio {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfileHandle = std::unique_ptr<SNDFILE, SndfileCloser>;

// Longest file accepted: one hour at 192 kHz stereo; beyond that a corrupt header is likelier
// than a real recording, and the allocation would fail somewhere less clear.
constexpr sf_count_t kMaxSamples = sf_count_t{192000} * 3600 * 2;

// libsndfile's virtual I/O over a byte string in memory.
struct MemoryFile {
  std::string_view bytes;
  sf_count_t position = 0;
};

sf_count_t memory_length(void* user) {
  return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size());
}

sf_count_t memory_seek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(file->bytes.size());
  sf_count_t base = 0;
  if (whence == SEEK_CUR) base = file->position;
  if (whence == SEEK_END) base = size;
  // A seek outside the bytes is refused, as a real file could not be read there either.
  if (offset < -base || offset > size - base) return -1;
  file->position = base + offset;
  return file->position;
}

sf_count_t memory_read(void* destination, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const sf_count_t left = static_cast<sf_count_t>(file->bytes.size()) - file->position;
  const sf_count_t n = std::clamp<sf_count_t>(count, 0, left);
  if (n == 0) return 0;  // memcpy must not see the null pointers of an empty read
  std::memcpy(destination, file->bytes.data() + file->position, static_cast<size_t>(n));
  file->position += n;
  return n;
}

sf_count_t memory_write(const void*, sf_count_t, void*) { return 0; }

sf_count_t memory_tell(void* user) { return static_cast<MemoryFile*>(user)->position; }

// Decodes an opened file; `path` names it in messages.
AudioBuffer decode(SndfileHandle file, const SF_INFO& info, const std::string& path) {
  if (info.channels <= 0 || info.samplerate <= 0) {
    fail(ErrorCode::kIo, "audio file '{}' has {} channels at {} Hz", path, info.channels,
         info.samplerate);
  }
  if (info.frames <= 0) fail(ErrorCode::kIo, "audio file '{}' holds no samples", path);
  // Read in blocks instead of trusting the header's frame count: a stream of unknown length
  // (a FLAC without its total, where libsndfile reports SF_COUNT_MAX frames) or a corrupt header
  // must cost the memory of the samples really there, not of those claimed.
  const auto channels = static_cast<sf_count_t>(info.channels);
  const sf_count_t block_frames = std::max<sf_count_t>(1, (sf_count_t{1} << 16) / channels);
  std::vector<float> interleaved;
  sf_count_t got = 0;
  while (true) {
    if ((got + block_frames) * channels > kMaxSamples) {
      fail(ErrorCode::kIo, "audio file '{}' holds more than {} samples, more than supported", path,
           kMaxSamples);
    }
    interleaved.resize(static_cast<size_t>((got + block_frames) * channels));
    const sf_count_t read =
        sf_readf_float(file.get(), interleaved.data() + got * channels, block_frames);
    if (read <= 0) break;
    got += read;
  }
  if (got <= 0) fail(ErrorCode::kIo, "audio file '{}': no samples could be decoded", path);
  if (info.frames != SF_COUNT_MAX && got < info.frames) {
    std::fprintf(stderr, "warning: '%s' is truncated: read %lld of %lld frames\n", path.c_str(),
                 static_cast<long long>(got), static_cast<long long>(info.frames));
  }

  AudioBuffer buffer;
  buffer.sample_rate = info.samplerate;
  buffer.channels_in_file = info.channels;
  if (channels == 1) {
    interleaved.resize(static_cast<size_t>(got));
    buffer.samples = std::move(interleaved);
  } else {
    std::fprintf(stderr, "warning: '%s' has %d channels; averaging them to mono\n", path.c_str(),
                 info.channels);
    buffer.samples.resize(static_cast<size_t>(got));
    for (sf_count_t i = 0; i < got; ++i) {
      double sum = 0.0;
      for (sf_count_t c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
      buffer.samples[i] = static_cast<float>(sum / static_cast<double>(channels));
    }
  }
  return buffer;
}

}  // namespace

AudioBuffer read_audio(const std::string& path) {
  SF_INFO info{};
  SndfileHandle file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) {
    fail(ErrorCode::kIo, "cannot read audio file '{}': {}", path, sf_strerror(nullptr));
  }
  return decode(std::move(file), info, path);
}

AudioBuffer read_audio_from_memory(std::string_view bytes, const std::string& name) {
  MemoryFile memory{bytes};
  SF_VIRTUAL_IO io{memory_length, memory_seek, memory_read, memory_write, memory_tell};
  SF_INFO info{};
  SndfileHandle file(sf_open_virtual(&io, SFM_READ, &info, &memory));
  if (!file) {
    fail(ErrorCode::kIo, "cannot read audio file '{}': {}", name, sf_strerror(nullptr));
  }
  return decode(std::move(file), info, name);
}

WavSubtype wav_subtype_from_string(const std::string& name) {
  if (name == "pcm16") return WavSubtype::kPcm16;
  if (name == "pcm24") return WavSubtype::kPcm24;
  if (name == "float32" || name == "float") return WavSubtype::kFloat32;
  fail(ErrorCode::kInvalidArgument, "unknown wav subtype '{}' (expected pcm16, pcm24, float32)",
       name);
}

namespace {

SNDFILE* open_for_writing(const std::string& path, int sample_rate, WavSubtype subtype) {
  if (sample_rate <= 0) {
    fail(ErrorCode::kInvalidArgument, "cannot write '{}': sample rate {} Hz", path, sample_rate);
  }
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = 1;
  int format = SF_FORMAT_WAV;
  switch (subtype) {
    case WavSubtype::kPcm16:
      format |= SF_FORMAT_PCM_16;
      break;
    case WavSubtype::kPcm24:
      format |= SF_FORMAT_PCM_24;
      break;
    case WavSubtype::kFloat32:
      format |= SF_FORMAT_FLOAT;
      break;
  }
  info.format = format;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!file) {
    fail(ErrorCode::kIo, "cannot write audio file '{}': {}", path, sf_strerror(nullptr));
  }
  // Without this libsndfile lets out-of-range floats wrap around to the opposite sign.
  if (subtype != WavSubtype::kFloat32) sf_command(file, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  return file;
}

size_t count_clipped(std::span<const float> samples) {
  size_t clipped = 0;
  for (float x : samples) clipped += (x > 1.0f || x < -1.0f) ? 1 : 0;
  return clipped;
}

void write_all(SNDFILE* file, std::span<const float> samples, const std::string& path) {
  const auto count = static_cast<sf_count_t>(samples.size());
  if (sf_writef_float(file, samples.data(), count) != count) {
    fail(ErrorCode::kIo, "writing audio file '{}' failed: {}", path, sf_strerror(file));
  }
}

void warn_clipped(size_t clipped, const std::string& path) {
  if (clipped > 0) {
    std::fprintf(stderr, "warning: %zu samples outside [-1, 1] clipped while writing '%s'\n",
                 clipped, path.c_str());
  }
}

}  // namespace

void write_wav(const std::string& path, std::span<const float> samples, int sample_rate,
               WavSubtype subtype) {
  SndfileHandle file(open_for_writing(path, sample_rate, subtype));
  if (subtype != WavSubtype::kFloat32) warn_clipped(count_clipped(samples), path);
  write_all(file.get(), samples, path);
}

WavWriter::WavWriter(const std::string& path, int sample_rate, WavSubtype subtype)
    : path_(path), partial_(path + ".partial"), clip_(subtype != WavSubtype::kFloat32) {
  file_ = open_for_writing(partial_, sample_rate, subtype);
}

WavWriter::~WavWriter() {
  if (file_) {
    sf_close(static_cast<SNDFILE*>(file_));
    std::remove(partial_.c_str());
  }
}

void WavWriter::write(std::span<const float> samples) {
  if (!file_) fail(ErrorCode::kInternal, "'{}' was already committed", path_);
  if (clip_) clipped_ += static_cast<int64_t>(count_clipped(samples));
  write_all(static_cast<SNDFILE*>(file_), samples, partial_);
  written_ += static_cast<int64_t>(samples.size());
}

void WavWriter::commit() {
  if (!file_) return;
  const int closed = sf_close(static_cast<SNDFILE*>(file_));
  file_ = nullptr;
  if (closed != 0 || std::rename(partial_.c_str(), path_.c_str()) != 0) {
    std::remove(partial_.c_str());
    fail(ErrorCode::kIo, "could not finish writing '{}'", path_);
  }
  warn_clipped(static_cast<size_t>(clipped_), path_);
}

std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0) {
    fail(ErrorCode::kInvalidArgument, "resample: rates must be positive, got {} -> {} Hz",
         from_rate, to_rate);
  }
  if (from_rate == to_rate) return {samples.begin(), samples.end()};
  const double ratio = static_cast<double>(to_rate) / from_rate;
  std::vector<float> out(
      static_cast<size_t>(std::llround(static_cast<double>(samples.size()) * ratio)));
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t written = 0;
  soxr_error_t error = soxr_oneshot(from_rate, to_rate, 1, samples.data(), samples.size(), nullptr,
                                    out.data(), out.size(), &written, &io, &quality, nullptr);
  if (error) {
    fail(ErrorCode::kInternal, "soxr resampling {} -> {} Hz failed: {}", from_rate, to_rate, error);
  }
  out.resize(written);
  return out;
}

}  // namespace amphora::audio
