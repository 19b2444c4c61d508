// Reading and writing audio files (libsndfile: wav, flac, ...) and resampling (libsoxr).
// Samples are float32 in [-1, 1); multichannel files are downmixed to mono because every
// model amphora runs is mono.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace amphora::audio {

struct AudioBuffer {
  std::vector<float> samples;  // mono
  int sample_rate = 0;
  int channels_in_file = 1;  // > 1 when the file was downmixed
};

// Reads a mono or multichannel file (wav/flac/...; 16/24/32-bit int or float); multichannel
// audio is averaged to mono with a warning on stderr. Fails with kIo naming the file when it
// is missing, unreadable or holds no samples.
AudioBuffer read_audio(const std::string& path);

// The same for a file already in memory (an upload, a fuzzer's input); `name` stands for the
// file in messages.
AudioBuffer read_audio_from_memory(std::string_view bytes, const std::string& name);

enum class WavSubtype { kPcm16, kPcm24, kFloat32 };

// "pcm16", "pcm24", "float32" -> WavSubtype; kInvalidArgument otherwise.
WavSubtype wav_subtype_from_string(const std::string& name);

// Writes mono samples as a RIFF wav. Integer subtypes clip samples outside [-1, 1] (with a
// warning on stderr) instead of letting them wrap around. Fails with kIo naming the file.
void write_wav(const std::string& path, std::span<const float> samples, int sample_rate,
               WavSubtype subtype = WavSubtype::kPcm16);

// A wav written as its samples arrive (speech from a long text, a stream). It goes to
// "<path>.partial" and is renamed to `path` by commit(), so a run that fails or is interrupted
// leaves no file that looks complete; without commit() the partial file is removed.
class WavWriter {
 public:
  WavWriter(const std::string& path, int sample_rate, WavSubtype subtype = WavSubtype::kPcm16);
  ~WavWriter();
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  void write(std::span<const float> samples);  // integer subtypes clip, counting the clipped
  void commit();
  int64_t samples_written() const { return written_; }

 private:
  std::string path_;
  std::string partial_;
  void* file_ = nullptr;  // SNDFILE*
  int64_t written_ = 0;
  int64_t clipped_ = 0;
  bool clip_ = false;
};

// Resamples with libsoxr's high-quality (SOXR_HQ) filter. Output length is
// round(samples.size() * to_rate / from_rate). Identity when the rates are equal.
std::vector<float> resample(std::span<const float> samples, int from_rate, int to_rate);

}  // namespace amphora::audio
