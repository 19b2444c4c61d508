#include "ops/conv/deconv_subpixel.hpp"

#include <algorithm>

namespace amphora {

namespace {

constexpr int64_t kBlock = 8;        // nCw8c channel block
constexpr int64_t kStepTile = 1024;  // steps per parallel work item of the interleave

// floor(a / b) for b > 0 (C++ division truncates toward zero).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

SubpixelSplit split_subpixel(const ConvGeometry& g) {
  SubpixelSplit split;
  if (!g.transpose || g.spatial_rank != 1 || g.batch != 1 || g.group != 1 || g.dilations[0] != 1 ||
      g.strides[0] < 2 || g.pad_begin[0] < 0 || g.out[0] < 1 || g.in[0] < 1) {
    return split;
  }
  const int64_t s = g.strides[0], k = g.kernel[0], pad = g.pad_begin[0];
  split.stride = s;
  split.taps = (k + s - 1) / s;
  split.first_step = floor_div(pad, s);
  split.steps = floor_div(g.out[0] - 1 + pad, s) - split.first_step + 1;
  // Stacked output step j (n = n0 + j) reads x[n - M + 1 + q], q = 0..M-1: a conv with left
  // padding M - 1 - n0, and right padding whatever makes its output N long (may be negative:
  // input samples that reach no kept output).
  const int64_t pad_l = split.taps - 1 - split.first_step;
  if (pad_l < 0) return split;
  ConvGeometry& c = split.stacked;
  c.transpose = false;
  c.batch = 1;
  c.in_channels = g.in_channels;
  c.out_channels = g.out_channels * s;
  c.group = 1;
  c.spatial_rank = 1;
  c.in = {g.in[0]};
  c.kernel = {split.taps};
  c.out = {split.steps};
  c.strides = {1};
  c.dilations = {1};
  c.pad_begin = {pad_l};
  c.pad_end = {split.steps - g.in[0] - pad_l + split.taps - 1};
  split.valid = true;
  return split;
}

namespace {

template <typename T>
void stack_weights(const ConvGeometry& g, const SubpixelSplit& split, const T* w, T* stacked) {
  const int64_t s = split.stride, taps = split.taps, k = g.kernel[0];
  const int64_t in_ch = g.in_channels, out_ch = g.out_channels;
  for (int64_t o = 0; o < out_ch; ++o) {
    for (int64_t p = 0; p < s; ++p) {
      for (int64_t c = 0; c < in_ch; ++c) {
        T* row = stacked + ((o * s + p) * in_ch + c) * taps;
        const T* taps_in = w + (c * out_ch + o) * k;
        // Tap q of the conv meets x[n - (M-1-q)], i.e. deconv tap p + (M-1-q)*s: reversed.
        for (int64_t q = 0; q < taps; ++q) {
          const int64_t j = p + (taps - 1 - q) * s;
          row[q] = j < k ? taps_in[j] : T{0};
        }
      }
    }
  }
}

}  // namespace

void stack_subpixel_weights(const ConvGeometry& g, const SubpixelSplit& split, const float* w,
                            float* stacked) {
  stack_weights(g, split, w, stacked);
}

void stack_subpixel_weights(const ConvGeometry& g, const SubpixelSplit& split, const int8_t* w,
                            int8_t* stacked) {
  stack_weights(g, split, w, stacked);
}

void stack_subpixel_bias(const ConvGeometry& g, const SubpixelSplit& split, const float* bias,
                         float* stacked) {
  for (int64_t o = 0; o < g.out_channels; ++o) {
    std::fill_n(stacked + o * split.stride, split.stride, bias[o]);
  }
}

namespace {

// Stacked channels o*s + p, p = p0 .. p0+len-1, lie in lanes lane .. lane+len-1 of one nCw8c
// block: copies them, for steps [n_begin, n_end), to row[t0(n) + p0 ...]. The fixed lengths let
// the compiler turn the copy into vector moves; the run layout is the same for every step.
template <int64_t kLen, bool kSum>
void copy_run(const float* block, const float* res, float* row, int64_t n_begin, int64_t n_end,
              int64_t s, int64_t origin, int64_t len) {
  const int64_t count = kLen > 0 ? kLen : len;
  for (int64_t n = n_begin; n < n_end; ++n) {
    const float* from = block + n * kBlock;
    const int64_t t = origin + n * s;
    for (int64_t i = 0; i < count; ++i) row[t + i] = kSum ? from[i] + res[t + i] : from[i];
  }
}

template <bool kSum>
void copy_run_any(int64_t len, const float* block, const float* res, float* row, int64_t n_begin,
                  int64_t n_end, int64_t s, int64_t origin) {
  switch (len) {
    case 8:
      return copy_run<8, kSum>(block, res, row, n_begin, n_end, s, origin, len);
    case 4:
      return copy_run<4, kSum>(block, res, row, n_begin, n_end, s, origin, len);
    case 2:
      return copy_run<2, kSum>(block, res, row, n_begin, n_end, s, origin, len);
    default:
      return copy_run<0, kSum>(block, res, row, n_begin, n_end, s, origin, len);
  }
}

}  // namespace

void interleave_subpixel(const ConvGeometry& g, const SubpixelSplit& split, const float* blocked,
                         const float* residual, float* y) {
  const int64_t s = split.stride, steps = split.steps, length = g.out[0];
  const int64_t origin = split.first_step * s - g.pad_begin[0];  // t of step 0, phase 0 (<= 0)
  const int64_t tiles = (steps + kStepTile - 1) / kStepTile;
  const int64_t block_stride = steps * kBlock;
  // Steps whose s phases all land inside y; the few others (the edges) go sample by sample.
  const int64_t inner_begin = std::min(steps, (-origin + s - 1) / s);
  const int64_t inner_end = std::max(inner_begin, std::min(steps, floor_div(length - origin, s)));
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < g.out_channels; ++o) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      float* row = y + o * length;
      const float* res = residual ? residual + o * length : nullptr;
      const int64_t n_begin = tile * kStepTile;
      const int64_t n_end = std::min(steps, n_begin + kStepTile);
      const int64_t copy_begin = std::clamp(inner_begin, n_begin, n_end);
      const int64_t copy_end = std::clamp(inner_end, copy_begin, n_end);
      // Phases p of step n sit in stacked channels o*s + p: runs of consecutive block lanes.
      for (int64_t p = 0; p < s;) {
        const int64_t ch = o * s + p, lane = ch % kBlock;
        const int64_t len = std::min(s - p, kBlock - lane);
        const float* block = blocked + (ch / kBlock) * block_stride + lane;
        if (res) {
          copy_run_any<true>(len, block, res + p, row + p, copy_begin, copy_end, s, origin);
        } else {
          copy_run_any<false>(len, block, nullptr, row + p, copy_begin, copy_end, s, origin);
        }
        p += len;
      }
      for (int64_t n = n_begin; n < n_end; ++n) {
        if (n == copy_begin) n = copy_end;
        if (n >= n_end) break;
        const int64_t t0 = origin + n * s;
        const int64_t p_begin = std::max<int64_t>(0, -t0);
        const int64_t p_end = std::min(s, length - t0);
        for (int64_t p = p_begin; p < p_end; ++p) {
          const int64_t ch = o * s + p;
          float v = blocked[(ch / kBlock) * block_stride + n * kBlock + ch % kBlock];
          if (res) v += res[t0 + p];
          row[t0 + p] = v;
        }
      }
    }
  }
}

}  // namespace amphora
