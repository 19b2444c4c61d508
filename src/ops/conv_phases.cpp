#include "ops/conv_phases.hpp"

#include <algorithm>

namespace amphora {

namespace {
constexpr int64_t kBlock = 8;        // channels per nCw8c block (AVX2 floats)
constexpr int64_t kTimeTile = 2048;  // phase samples per parallel work item
}  // namespace

PhaseSplit split_into_phases(const ConvGeometry& g) {
  PhaseSplit s;
  if (g.transpose || g.spatial_rank != 1 || g.batch != 1 || g.group != 1) return s;
  const int64_t d = g.dilations[0];
  if (d <= 1 || g.strides[0] != 1 || g.pad_begin[0] < 0 || g.pad_begin[0] % d != 0) return s;
  s.phases = d;
  s.in_len = (g.in[0] + d - 1) / d;
  s.out_len = (g.out[0] + d - 1) / d;
  s.pad_l = g.pad_begin[0] / d;
  // Output position n of a phase reads phase positions n - pad_l .. n - pad_l + k - 1; the
  // right padding makes the conv produce exactly out_len positions.
  s.pad_r = s.out_len - 1 - s.pad_l + g.kernel[0] - 1 - (s.in_len - 1);
  if (s.pad_r < 0 || s.in_len < 1 || s.out_len < 1) return s;
  s.batched = g;
  s.batched.batch = d;
  s.batched.in = {s.in_len};
  s.batched.out = {s.out_len};
  s.batched.dilations = {1};
  s.batched.pad_begin = {s.pad_l};
  s.batched.pad_end = {s.pad_r};
  s.valid = true;
  return s;
}

// Both directions walk one block of 8 channels and one tile of phase samples at a time: the
// tile's source rows (8 x kTimeTile x d floats) stay in L2 while each of the d phases is
// gathered from them, and every phase stream is written (or read) contiguously, 8 floats per
// sample. Interior samples take a branch-free path; the ragged end and padded channels the
// checked one.
void pack_phases(const float* x, int64_t channels, int64_t length, int64_t phases,
                 int64_t phase_len, float* packed, float negative_slope) {
  const float slope = negative_slope;
  const auto act = [slope](float v) { return v >= 0.0f ? v : v * slope; };
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
  const int64_t tiles = (phase_len + kTimeTile - 1) / kTimeTile;
  const int64_t full_n = length / phases;  // samples n with every phase r inside the row
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t n_begin = tile * kTimeTile;
      const int64_t n_end = std::min(phase_len, n_begin + kTimeTile);
      const bool full_block = (cb + 1) * kBlock <= channels;
      const float* rows = x + cb * kBlock * length;
      for (int64_t r = 0; r < phases; ++r) {
        float* out = packed + ((r * blocks + cb) * phase_len) * kBlock;
        int64_t n = n_begin;
        if (full_block) {
          for (; n < std::min(n_end, full_n); ++n) {
            const float* column = rows + n * phases + r;
            for (int64_t c8 = 0; c8 < kBlock; ++c8) {
              out[n * kBlock + c8] = act(column[c8 * length]);
            }
          }
        }
        for (; n < n_end; ++n) {
          const int64_t t = n * phases + r;
          for (int64_t c8 = 0; c8 < kBlock; ++c8) {
            const bool inside = cb * kBlock + c8 < channels && t < length;
            out[n * kBlock + c8] = inside ? act(rows[c8 * length + t]) : 0.0f;
          }
        }
      }
    }
  }
}

void unpack_phases(const float* packed, int64_t channels, int64_t length, int64_t phases,
                   int64_t phase_len, float* y) {
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
  const int64_t tiles = (phase_len + kTimeTile - 1) / kTimeTile;
  const int64_t full_n = length / phases;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t n_begin = tile * kTimeTile;
      const int64_t n_end = std::min(phase_len, n_begin + kTimeTile);
      const bool full_block = (cb + 1) * kBlock <= channels;
      float* rows = y + cb * kBlock * length;
      for (int64_t r = 0; r < phases; ++r) {
        const float* in = packed + ((r * blocks + cb) * phase_len) * kBlock;
        int64_t n = n_begin;
        if (full_block) {
          for (; n < std::min(n_end, full_n); ++n) {
            float* column = rows + n * phases + r;
            for (int64_t c8 = 0; c8 < kBlock; ++c8) column[c8 * length] = in[n * kBlock + c8];
          }
        }
        for (; n < n_end; ++n) {
          const int64_t t = n * phases + r;
          if (t >= length) continue;
          for (int64_t c8 = 0; c8 < kBlock && cb * kBlock + c8 < channels; ++c8) {
            rows[c8 * length + t] = in[n * kBlock + c8];
          }
        }
      }
    }
  }
}

}  // namespace amphora
