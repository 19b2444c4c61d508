// Long 1-D convs with few channels, run one time tile at a time.
//
// The layers at the end of a vocoder (32..256 channels over 10^4..10^5 samples) are where oneDNN's
// direct kernel is fastest per core (~95 % of peak on this machine's 32-channel k7 conv) and
// where its layout costs most: it wants channel-blocked activations, and a whole-tensor
// plain -> blocked reorder of X, of the residual and blocked -> plain of Y each cross main
// memory, together another 40 % on top of the conv. Tiled, each thread packs one window of X
// (and the residual) into a blocked buffer that stays in its L2, runs a single-threaded primitive
// on it and unpacks the tile's output: every tensor crosses memory once, the input activation
// rides along the packing, and the threads work on different tiles, so both cores are busy with
// no barrier between the steps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/conv/conv_attrs.hpp"

namespace amphora {

// A conv as tiles of `tile` output samples, or `valid == false`. Output samples [t0, t0 + tile)
// read input samples [t0 - pad_begin, t0 - pad_begin + window): zeros outside the row stand in
// for the padding, so every tile is the same unpadded conv (`per_tile`).
struct TileSplit {
  bool valid = false;
  int64_t block = 8;   // channels per block of the packed layout (nCw8c or nCw16c)
  int64_t tile = 0;    // output samples per tile, a multiple of 16
  int64_t tiles = 0;   // ceil(T_out / tile): the last tile computes past the end, unpacked short
  int64_t window = 0;  // input samples per tile: tile + (k - 1) * d
  ConvGeometry per_tile;
};

// Valid for batch-1, group-1, stride-1 1-D Conv (not ConvTranspose) with 3..kMaxTiledChannels
// input and output channels and at least `min_tiles` tiles of output, each at least `min_tile`
// long. A streamed chunk (a few hundred samples) passes min_tile 16 and min_tiles 1: one tile per
// thread then replaces the primitive's own threading and its whole-tensor reorders.
// Up to 256 channels (HiFi-GAN V1 at 512 frames: 1.57 s with 128, 1.54 s with 256, 1.59 s with
// 512 on this machine, 1.78-1.9 s untiled); wider weights no longer fit in L2 next to the tile.
inline constexpr int64_t kMaxTiledChannels = 256;
inline constexpr int64_t kMinTile = 256;
TileSplit split_into_tiles(const ConvGeometry& g, int64_t block, int64_t min_tile = kMinTile,
                           int64_t min_tiles = 2);

// What a window reads where it reaches past either end of the row: zeros (a conv's own padding),
// or the row mirrored about its end samples (ONNX Pad mode "reflect", x[-i] = x[i] and
// x[T-1+i] = x[T-1-i]; samples beyond the mirror image read zeros).
enum class TimePadding { kZeros, kReflect };

// x [C, length] (plain) -> packed [ceil(C/block)][width][block] for the window of samples
// [begin, begin + width), begin possibly negative: `outside` decides the samples past the row,
// channels that do not exist are zeros. `negative_slope` scales negative inputs on the way (a
// fused Relu/LeakyRelu); 1 copies. block is 8 or 16. Single-threaded: the caller runs one window
// per thread.
void pack_window(const float* x, int64_t channels, int64_t length, int64_t begin, int64_t width,
                 int64_t block, float* packed, float negative_slope = 1.0f,
                 TimePadding outside = TimePadding::kZeros);
// One stretch of a [C, *] time series that continues the stretch before it: samples
// [start, start + length) of every row of `rows` ([C, row_length] plain), or zeros where `rows`
// is null (a conv's padding). A streamed conv's window and residual are a few of these (history
// and new chunk), which the packing reads where they are instead of joining them first.
struct TimePiece {
  const float* rows = nullptr;
  int64_t row_length = 0;
  int64_t start = 0;
  int64_t length = 0;
};
// Walks the window of steps [begin, begin + width) over the row that `pieces` make one after
// another, in order: span(lo, hi, piece, at) for window columns [lo, hi) lying in `piece`, whose
// first step is row step `at`, and span(lo, hi, nullptr, at) for columns outside every piece.
// Every column of the window is in exactly one span.
template <typename Span>
void for_each_window_span(const std::vector<TimePiece>& pieces, int64_t begin, int64_t width,
                          Span span) {
  int64_t at = 0;    // row step where the current piece starts
  int64_t done = 0;  // window columns [0, done) are walked
  for (const TimePiece& piece : pieces) {
    const int64_t lo = std::clamp<int64_t>(at - begin, done, width);
    const int64_t hi = std::clamp<int64_t>(at + piece.length - begin, lo, width);
    if (lo > done) span(done, lo, nullptr, at);
    if (hi > lo) span(lo, hi, &piece, at);
    done = std::max(done, hi);
    at += piece.length;
  }
  if (done < width) span(done, width, nullptr, at);
}
// pack_window over the row that `pieces` make one after another (zeros outside them): the same
// packed window as pack_window of their join, bit for bit.
void pack_window_pieces(const std::vector<TimePiece>& pieces, int64_t channels, int64_t begin,
                        int64_t width, int64_t block, float* packed, float negative_slope = 1.0f);
// The inverse for the output: writes y[c][begin + n] for the n < width inside the row.
void unpack_window(const float* packed, int64_t channels, int64_t length, int64_t begin,
                   int64_t width, int64_t block, float* y);
// The two above are AVX2 (8x8 in-register transposes); these are their scalar references, with
// the same contract and bit-identical results, kept for the tests.
void pack_window_reference(const float* x, int64_t channels, int64_t length, int64_t begin,
                           int64_t width, int64_t block, float* packed, float negative_slope = 1.0f,
                           TimePadding outside = TimePadding::kZeros);
void unpack_window_reference(const float* packed, int64_t channels, int64_t length, int64_t begin,
                             int64_t width, int64_t block, float* y);

}  // namespace amphora
