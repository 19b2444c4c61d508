// The mel filterbank of librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) with its defaults
// (htk=False: Slaney's mel scale, norm="slaney": each triangle scaled to unit area per Hz),
// the filterbank Amphion's extract_mel_features multiplies the magnitude spectrum with.
#pragma once

#include <vector>

namespace amphora::audio {

// Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
double hz_to_mel_slaney(double hz);
double mel_to_hz_slaney(double mel);

// [n_mels, n_fft/2 + 1] row-major. librosa returns float32 weights; they are rounded to
// float32 here too (then widened) so the product matches Amphion's to the last bit that matters.
// Fails with kInvalidArgument when 0 <= fmin < fmax <= sample_rate/2 does not hold.
std::vector<double> mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin,
                                   double fmax);

}  // namespace amphora::audio
