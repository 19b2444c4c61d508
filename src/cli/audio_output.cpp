#include "cli/audio_output.hpp"

#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/arguments.hpp"
#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::cli {

void check_audio_output(const std::string& path, bool force) {
  audio::check_output_path(path, force);
  if (!ends_with(path, ".wav") && !ends_with(path, ".npy")) {
    fail(ErrorCode::kInvalidArgument, "output '{}' must end in .wav or .npy", path);
  }
}

void write_audio(const std::string& path, const std::vector<float>& samples, int rate,
                 const std::string& subtype) {
  if (ends_with(path, ".npy")) {
    write_npy(path, Tensor::from_vector<float>({static_cast<int64_t>(samples.size())}, samples));
  } else {
    audio::write_wav(path, samples, rate, audio::wav_subtype_from_string(subtype));
  }
}

}  // namespace amphora::cli
