#include "ops/conv/conv_phases.hpp"

#include <immintrin.h>

#include <algorithm>

#include "ops/avx2_lanes.hpp"

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
// checked one. Kept as the scalar reference the vectorised versions are tested against.
void pack_phases_reference(const float* x, int64_t channels, int64_t length, int64_t phases,
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

void unpack_phases_reference(const float* packed, int64_t channels, int64_t length, int64_t phases,
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

namespace {

// Walks the phase streams in time order: sample t of a row is sample n = t / d of phase
// r = t % d, so consecutive t visit the d streams round robin, each advancing by one sample.
// Keeping (r, n) as counters avoids a division per column.
struct PhaseCursor {
  int64_t phases, r, n;
  int64_t offset(int64_t phase_stride) const { return r * phase_stride + n * kBlock; }
  void advance() {
    if (++r == phases) {
      r = 0;
      ++n;
    }
  }
};

// The time range [t_begin, t_end) of one block of `rows_valid` (1..8) channel rows, t_begin a
// multiple of the phase count, t_end <= the row length: eight samples at a time, 8 rows are
// loaded, activated, transposed into 8 channel vectors (one per sample) and each stored to its
// phase stream. Missing channel rows read as zeros (act(0) = +0, as the checked path writes).
// Returns the first sample left for the checked path.
int64_t pack_block_avx2(const float* rows, int64_t length, int64_t rows_valid, int64_t phases,
                        int64_t t_begin, int64_t t_end, float* block_out, int64_t phase_stride,
                        float slope) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 vslope = _mm256_set1_ps(slope);
  PhaseCursor cursor{phases, 0, t_begin / phases};
  int64_t t = t_begin;
  for (; t + kBlock <= t_end; t += kBlock) {
    __m256 v[kBlock];
    for (int64_t c = 0; c < kBlock; ++c) {
      v[c] = c < rows_valid ? _mm256_loadu_ps(rows + c * length + t) : zero;
    }
    if (slope != 1.0f) {
      for (auto& lane : v) lane = leaky_relu8(lane, vslope);
    }
    transpose8x8(v);
    if (phases == 1) {
      for (int64_t j = 0; j < kBlock; ++j) _mm256_storeu_ps(block_out + (t + j) * kBlock, v[j]);
    } else {
      for (const auto& column : v) {
        _mm256_storeu_ps(block_out + cursor.offset(phase_stride), column);
        cursor.advance();
      }
    }
  }
  return t;
}

// The inverse: per eight samples, the 8 channel vectors are loaded from their phase streams,
// transposed into 8 row pieces and the existing rows stored.
int64_t unpack_block_avx2(const float* block_in, int64_t phase_stride, int64_t phases,
                          int64_t t_begin, int64_t t_end, float* rows, int64_t length,
                          int64_t rows_valid) {
  PhaseCursor cursor{phases, 0, t_begin / phases};
  int64_t t = t_begin;
  for (; t + kBlock <= t_end; t += kBlock) {
    __m256 v[kBlock];
    if (phases == 1) {
      for (int64_t j = 0; j < kBlock; ++j) v[j] = _mm256_loadu_ps(block_in + (t + j) * kBlock);
    } else {
      for (auto& column : v) {
        column = _mm256_loadu_ps(block_in + cursor.offset(phase_stride));
        cursor.advance();
      }
    }
    transpose8x8(v);
    for (int64_t c = 0; c < rows_valid; ++c) _mm256_storeu_ps(rows + c * length + t, v[c]);
  }
  return t;
}

}  // namespace

// Per work item (a block of 8 channels x a tile of phase samples n in [n_begin, n_end)), the
// item covers row samples t in [n_begin * d, n_end * d): t = n * d + r is a bijection onto the
// item's (r, n). The vector path takes the samples inside the row eight at a time; the rest
// (the row's last < 8 samples and everything past its end) goes through the checked scalar
// loop, which writes the zero tail.
void pack_phases(const float* x, int64_t channels, int64_t length, int64_t phases,
                 int64_t phase_len, float* packed, float negative_slope) {
  const float slope = negative_slope;
  const auto act = [slope](float v) { return v >= 0.0f ? v : v * slope; };
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
  const int64_t tiles = (phase_len + kTimeTile - 1) / kTimeTile;
  const int64_t phase_stride = blocks * phase_len * kBlock;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t n_begin = tile * kTimeTile;
      const int64_t n_end = std::min(phase_len, n_begin + kTimeTile);
      const int64_t rows_valid = std::min(kBlock, channels - cb * kBlock);
      const float* rows = x + cb * kBlock * length;
      float* block_out = packed + cb * phase_len * kBlock;
      const int64_t t_end = n_end * phases;
      int64_t t = n_begin * phases;
      t = pack_block_avx2(rows, length, rows_valid, phases, t, std::min(t_end, length), block_out,
                          phase_stride, slope);
      for (; t < t_end; ++t) {
        float* out = block_out + (t % phases) * phase_stride + (t / phases) * kBlock;
        for (int64_t c8 = 0; c8 < kBlock; ++c8) {
          const bool inside = c8 < rows_valid && t < length;
          out[c8] = inside ? act(rows[c8 * length + t]) : 0.0f;
        }
      }
    }
  }
}

void unpack_phases(const float* packed, int64_t channels, int64_t length, int64_t phases,
                   int64_t phase_len, float* y) {
  const int64_t blocks = (channels + kBlock - 1) / kBlock;
  const int64_t tiles = (phase_len + kTimeTile - 1) / kTimeTile;
  const int64_t phase_stride = blocks * phase_len * kBlock;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t n_begin = tile * kTimeTile;
      const int64_t n_end = std::min(phase_len, n_begin + kTimeTile);
      const int64_t rows_valid = std::min(kBlock, channels - cb * kBlock);
      float* rows = y + cb * kBlock * length;
      const float* block_in = packed + cb * phase_len * kBlock;
      const int64_t t_end = std::min(n_end * phases, length);
      int64_t t = unpack_block_avx2(block_in, phase_stride, phases, n_begin * phases, t_end, rows,
                                    length, rows_valid);
      for (; t < t_end; ++t) {
        const float* in = block_in + (t % phases) * phase_stride + (t / phases) * kBlock;
        for (int64_t c8 = 0; c8 < rows_valid; ++c8) rows[c8 * length + t] = in[c8];
      }
    }
  }
}

}  // namespace amphora
