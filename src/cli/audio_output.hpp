// The audio file a generating subcommand (synth, svc, vocode) writes: a .wav, or a .npy of the
// float samples.
#pragma once

#include <string>
#include <vector>

namespace amphora::cli {

// Checked before any work, so that a refused output costs nothing: fails when `path` exists and
// `force` is false, when its directory is missing, or when it ends in neither .wav nor .npy.
void check_audio_output(const std::string& path, bool force);

// `samples` to a .npy ([N] float32) or a wav at `rate` in `subtype` (pcm16, pcm24, float).
void write_audio(const std::string& path, const std::vector<float>& samples, int rate,
                 const std::string& subtype);

}  // namespace amphora::cli
