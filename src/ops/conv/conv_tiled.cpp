#include "ops/conv/conv_tiled.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "ops/avx2_lanes.hpp"

namespace amphora {

namespace {

constexpr int64_t kLanes = 8;  // AVX2 floats: one 8x8 transpose covers 8 channels x 8 samples
// The packed window and tile of one thread (input + output floats) aim at this size, so that
// both stay in the core's L2 next to the weights.
constexpr int64_t kTileFloats = 96 * 1024;
constexpr int64_t kMaxTile = 4096;

float activate(float v, float slope) { return v >= 0.0f ? v : v * slope; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How pack_window and unpack_window walk a window: in groups of 8 channel rows (one 8x8
// transpose high), and with the samples n in [inside_begin, inside_end) inside the row.
struct WindowWalk {
  int64_t groups, inside_begin, inside_end;
  WindowWalk(int64_t channels, int64_t length, int64_t begin, int64_t width, int64_t block)
      : groups((channels + block - 1) / block * (block / kLanes)),
        inside_begin(std::clamp<int64_t>(-begin, 0, width)),
        inside_end(std::clamp<int64_t>(length - begin, inside_begin, width)) {}
  int64_t rows_valid(int64_t group, int64_t channels) const {
    return std::clamp<int64_t>(channels - group * kLanes, 0, kLanes);
  }
};

// The row sample that sample t (possibly outside [0, length)) reads, or -1 for a zero.
int64_t source_sample(int64_t t, int64_t length, TimePadding outside) {
  if (t >= 0 && t < length) return t;
  if (outside == TimePadding::kZeros) return -1;
  const int64_t mirrored = t < 0 ? -t : 2 * (length - 1) - t;
  return mirrored >= 0 && mirrored < length ? mirrored : -1;
}

}  // namespace

TileSplit split_into_tiles(const ConvGeometry& g, int64_t block, int64_t min_tile,
                           int64_t min_tiles) {
  TileSplit s;
  if (g.transpose || g.spatial_rank != 1 || g.batch != 1 || g.group != 1 || g.strides[0] != 1) {
    return s;
  }
  const int64_t channels = g.in_channels + g.out_channels;
  if (g.in_channels < 3 || g.out_channels < 3 || g.in_channels > kMaxTiledChannels ||
      g.out_channels > kMaxTiledChannels) {
    return s;
  }
  s.block = block;
  // As many tiles for every thread (a streamed chunk may be only a few tiles long: 3 tiles on 2
  // threads would leave one idle a third of the time), each as long as fits next to the weights
  // and no shorter than min_tile; the last one computes past the end by less than 16 samples.
  const int64_t out_len = g.out[0], threads = std::max(1, omp_get_max_threads());
  const int64_t longest = std::clamp<int64_t>(kTileFloats / channels / 64 * 64, kMinTile, kMaxTile);
  s.tiles = ceil_div(ceil_div(out_len, longest), threads) * threads;
  if (ceil_div(out_len, s.tiles) < min_tile) {
    // Fewer, longer tiles, still in whole rounds for the threads where there are enough (a
    // 776-sample layer of VITS's decoder ran as three 256-sample tiles on two threads).
    s.tiles = out_len / min_tile;
    if (s.tiles > threads) s.tiles = s.tiles / threads * threads;
  }
  if (s.tiles < std::max<int64_t>(min_tiles, 1)) return s;
  s.tile = ceil_div(ceil_div(out_len, s.tiles), 16) * 16;
  s.tiles = ceil_div(out_len, s.tile);
  const int64_t span = (g.kernel[0] - 1) * g.dilations[0] + 1;
  s.window = s.tile + span - 1;
  s.per_tile = g;
  s.per_tile.in = {s.window};
  s.per_tile.out = {s.tile};
  s.per_tile.pad_begin = {0};
  s.per_tile.pad_end = {0};
  s.valid = true;
  return s;
}

void pack_window_reference(const float* x, int64_t channels, int64_t length, int64_t begin,
                           int64_t width, int64_t block, float* packed, float negative_slope,
                           TimePadding outside) {
  const int64_t blocks = (channels + block - 1) / block;
  for (int64_t cb = 0; cb < blocks; ++cb) {
    for (int64_t n = 0; n < width; ++n) {
      const int64_t t = source_sample(begin + n, length, outside);
      for (int64_t c = 0; c < block; ++c) {
        const int64_t channel = cb * block + c;
        const bool exists = channel < channels && t >= 0;
        packed[(cb * width + n) * block + c] =
            exists ? activate(x[channel * length + t], negative_slope) : 0.0f;
      }
    }
  }
}

void unpack_window_reference(const float* packed, int64_t channels, int64_t length, int64_t begin,
                             int64_t width, int64_t block, float* y) {
  const int64_t blocks = (channels + block - 1) / block;
  for (int64_t cb = 0; cb < blocks; ++cb) {
    for (int64_t n = 0; n < width; ++n) {
      const int64_t t = begin + n;
      for (int64_t c = 0; c < block && cb * block + c < channels; ++c) {
        if (t >= 0 && t < length)
          y[(cb * block + c) * length + t] = packed[(cb * width + n) * block + c];
      }
    }
  }
}

namespace {

// pack_window's loop over `width` samples, written into a packed window `pitch` samples wide
// (packed points at the first of them): a window is packed whole, or a piece at a time.
// Both directions walk one group of 8 channel rows (rows_valid of which exist) at a time and
// take the samples inside the row eight at a time through an 8x8 transpose; the window's samples
// outside the row (zeros or mirrored), and the row's last < 8, go through the checked scalar loop.
void pack_stretch(const float* x, int64_t channels, int64_t length, int64_t begin, int64_t width,
                  int64_t pitch, int64_t block, float* packed, float slope, TimePadding outside) {
  const __m256 zero = _mm256_setzero_ps(), vslope = _mm256_set1_ps(slope);
  const WindowWalk walk(channels, length, begin, width, block);
  const int64_t inside_begin = walk.inside_begin, inside_end = walk.inside_end;
  for (int64_t group = 0; group < walk.groups; ++group) {
    const int64_t first_channel = group * kLanes;
    const int64_t rows_valid = walk.rows_valid(group, channels);
    // Channel c of sample n sits at out[n * block + c].
    float* out = packed + (first_channel / block) * pitch * block + first_channel % block;
    if (rows_valid == 0) {  // padding channels of the last block
      for (int64_t n = 0; n < width; ++n) std::fill_n(out + n * block, kLanes, 0.0f);
      continue;
    }
    const float* rows =
        x + first_channel * length;  // sample n of row c: rows[c * length + begin + n]
    const auto checked = [&](int64_t n) {
      const int64_t t = source_sample(begin + n, length, outside);
      for (int64_t c = 0; c < kLanes; ++c) {
        out[n * block + c] =
            c < rows_valid && t >= 0 ? activate(rows[c * length + t], slope) : 0.0f;
      }
    };
    int64_t n = 0;
    for (; n < inside_begin; ++n) checked(n);
    for (; n + kLanes <= inside_end; n += kLanes) {
      __m256 v[kLanes];
      for (int64_t c = 0; c < kLanes; ++c) {
        v[c] = c < rows_valid ? _mm256_loadu_ps(rows + c * length + begin + n) : zero;
      }
      if (slope != 1.0f) {
        for (auto& lane : v) lane = leaky_relu8(lane, vslope);
      }
      transpose8x8(v);
      for (int64_t j = 0; j < kLanes; ++j) _mm256_storeu_ps(out + (n + j) * block, v[j]);
    }
    for (; n < width; ++n) checked(n);
  }
}

// Zeros for samples [from, to) of every channel block of a packed window `pitch` samples wide.
void zero_stretch(int64_t channels, int64_t from, int64_t to, int64_t pitch, int64_t block,
                  float* packed) {
  const int64_t blocks = (channels + block - 1) / block;
  for (int64_t cb = 0; cb < blocks; ++cb) {
    std::fill(packed + (cb * pitch + from) * block, packed + (cb * pitch + to) * block, 0.0f);
  }
}

}  // namespace

void pack_window(const float* x, int64_t channels, int64_t length, int64_t begin, int64_t width,
                 int64_t block, float* packed, float negative_slope, TimePadding outside) {
  pack_stretch(x, channels, length, begin, width, width, block, packed, negative_slope, outside);
}

void pack_window_pieces(const std::vector<TimePiece>& pieces, int64_t channels, int64_t begin,
                        int64_t width, int64_t block, float* packed, float negative_slope) {
  for_each_window_span(pieces, begin, width,
                       [&](int64_t lo, int64_t hi, const TimePiece* piece, int64_t at) {
                         if (piece && piece->rows) {
                           pack_stretch(piece->rows, channels, piece->row_length,
                                        piece->start + begin + lo - at, hi - lo, width, block,
                                        packed + lo * block, negative_slope, TimePadding::kZeros);
                         } else {
                           zero_stretch(channels, lo, hi, width, block, packed);
                         }
                       });
}

void unpack_window(const float* packed, int64_t channels, int64_t length, int64_t begin,
                   int64_t width, int64_t block, float* y) {
  const WindowWalk walk(channels, length, begin, width, block);
  for (int64_t group = 0; group < walk.groups; ++group) {
    const int64_t first_channel = group * kLanes;
    const int64_t rows_valid = walk.rows_valid(group, channels);
    if (rows_valid == 0) break;
    float* rows = y + first_channel * length;  // sample n of row c: rows[c * length + begin + n]
    const float* in = packed + (first_channel / block) * width * block + first_channel % block;
    int64_t n = walk.inside_begin;
    for (; n + kLanes <= walk.inside_end; n += kLanes) {
      __m256 v[kLanes];
      for (int64_t j = 0; j < kLanes; ++j) v[j] = _mm256_loadu_ps(in + (n + j) * block);
      transpose8x8(v);
      for (int64_t c = 0; c < rows_valid; ++c)
        _mm256_storeu_ps(rows + c * length + begin + n, v[c]);
    }
    for (; n < walk.inside_end; ++n) {
      for (int64_t c = 0; c < rows_valid; ++c) rows[c * length + begin + n] = in[n * block + c];
    }
  }
}

}  // namespace amphora
