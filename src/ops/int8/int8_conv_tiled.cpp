// Int8TiledConv: int8 1-D convs over time tiles with AVX-512 VNNI (int8_conv_tiled.hpp).
#include "ops/int8/int8_conv_tiled.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "ops/conv/deconv_subpixel.hpp"
#include "ops/onednn.hpp"

// The library is built for Haswell; these functions run only where int8_tiled_available() said
// the CPU has AVX-512 VNNI.
#define AMPHORA_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
// GCC 12's AVX-512 intrinsics start their results from _mm512_undefined_*(), a self-initialised
// variable that -Wmaybe-uninitialized reports wherever they are inlined.
#if defined(__GNUC__) && !defined(__clang__)  // clang has no such warning (and errors on it)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace amphora {
namespace {

constexpr int64_t kOutBlock = 8;           // output channels per register block
constexpr int64_t kVectors = 3;            // 16-step vectors per register block: 8 x 3 accumulators
constexpr int64_t kChunk = 16 * kVectors;  // output steps per register block
// Bytes of the packed window each thread aims at: it stays in L2 while every block of output
// channels reads it.
constexpr int64_t kWindowBytes = 96 * 1024;
constexpr int64_t kMaxTile = 64 * kChunk;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// What a static X's bytes are offset by to make them unsigned.
int stored_offset(const Quantizer& q) { return q.is_unsigned ? 0 : 128; }

uint8_t stored_byte(const Quantizer& q, float v) {
  return static_cast<uint8_t>(q.byte(q.quantize(v)) + stored_offset(q));
}

// The stored byte of the quantized zero (the padding).
uint8_t stored_zero(const Quantizer& q) {
  return static_cast<uint8_t>(q.byte(q.zero_point) + stored_offset(q));
}

// Source step of window step t (outside [0, length) per the padding), or -1 for the zero.
int64_t source_step(int64_t t, int64_t length, Int8Padding padding) {
  if (t >= 0 && t < length) return t;
  if (padding == Int8Padding::kZeros) return -1;
  const int64_t mirrored = t < 0 ? -t : 2 * (length - 1) - t;
  return mirrored >= 0 && mirrored < length ? mirrored : -1;
}

// The rows of a [C, *] float series: step t of row c at data[c * stride + t], t in [0, length).
struct Rows {
  const float* data;
  int64_t stride, length;
};

// Window steps [n0, n1) of the 4-channel group `group`, one value at a time.
void pack_steps_scalar(const Rows& x, int64_t channels, int64_t begin, int64_t width,
                       Int8Padding padding, const Quantizer& quant, int64_t group, int64_t n0,
                       int64_t n1, uint8_t* out) {
  const uint8_t zero = stored_zero(quant);
  uint8_t* rows = out + group * width * 4;
  for (int64_t n = n0; n < n1; ++n) {
    const int64_t t = source_step(begin + n, x.length, padding);
    for (int64_t i = 0; i < 4; ++i) {
      const int64_t c = group * 4 + i;
      rows[n * 4 + i] =
          c < channels && t >= 0 ? stored_byte(quant, x.data[c * x.stride + t]) : zero;
    }
  }
}

// Quantizer::quantize and the stored byte on 16 lanes: the same operations in the same order,
// rounding half to even as the scalar's magic-number addition does, so the bytes are identical.
struct QuantLanes {
  __m512 slope, scale, zero_point, low, high;
  __m512i offset;
};

AMPHORA_VNNI QuantLanes quant_lanes(const Quantizer& q) {
  return {_mm512_set1_ps(q.slope), _mm512_set1_ps(q.scale),  _mm512_set1_ps(q.zero_point),
          _mm512_set1_ps(q.low()), _mm512_set1_ps(q.high()), _mm512_set1_epi32(stored_offset(q))};
}

AMPHORA_VNNI inline __m128i stored_bytes16(__m512 v, const QuantLanes& q) {
  const __mmask16 keep = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GE_OQ);
  v = _mm512_mask_blend_ps(keep, _mm512_mul_ps(v, q.slope), v);
  v = _mm512_div_ps(v, q.scale);
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-512.0f)), _mm512_set1_ps(512.0f));
  v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, q.zero_point), q.low), q.high);
  const __m512i bytes = _mm512_add_epi32(_mm512_cvtps_epi32(v), q.offset);  // 0..255
  return _mm512_cvtepi32_epi8(bytes);
}

// Columns [n0, n1) of the packed window of steps [begin, begin + width) of x.
AMPHORA_VNNI void pack_columns(const Rows& x, int64_t channels, int64_t begin, int64_t width,
                               int64_t n0, int64_t n1, Int8Padding padding, const Quantizer& quant,
                               uint8_t* out) {
  const QuantLanes lanes = quant_lanes(quant);
  const int64_t inside_begin = std::clamp<int64_t>(-begin, n0, n1);
  const int64_t inside_end = std::clamp<int64_t>(x.length - begin, inside_begin, n1);
  for (int64_t group = 0; group < ceil_div(channels, 4); ++group) {
    if (group * 4 + 4 > channels) {  // the last, partial group
      pack_steps_scalar(x, channels, begin, width, padding, quant, group, n0, n1, out);
      continue;
    }
    pack_steps_scalar(x, channels, begin, width, padding, quant, group, n0, inside_begin, out);
    uint8_t* to = out + group * width * 4;
    // 16 steps at a time, the last few masked (a stream's pieces end anywhere).
    for (int64_t n = inside_begin; n < inside_end; n += 16) {
      const int64_t count = std::min<int64_t>(16, inside_end - n);
      const auto mask = static_cast<__mmask16>((1u << count) - 1);
      const float* steps = x.data + group * 4 * x.stride + begin + n;  // of the group's first row
      __m128i b[4];
      for (int64_t i = 0; i < 4; ++i)
        b[i] = stored_bytes16(_mm512_maskz_loadu_ps(mask, steps + i * x.stride), lanes);
      // 4 rows of 16 steps -> 16 steps of 4 channels: bytes, then byte pairs, interleaved.
      const __m128i lo01 = _mm_unpacklo_epi8(b[0], b[1]), hi01 = _mm_unpackhi_epi8(b[0], b[1]);
      const __m128i lo23 = _mm_unpacklo_epi8(b[2], b[3]), hi23 = _mm_unpackhi_epi8(b[2], b[3]);
      const __m512i interleaved = _mm512_inserti64x4(
          _mm512_castsi256_si512(
              _mm256_set_m128i(_mm_unpackhi_epi16(lo01, lo23), _mm_unpacklo_epi16(lo01, lo23))),
          _mm256_set_m128i(_mm_unpackhi_epi16(hi01, hi23), _mm_unpacklo_epi16(hi01, hi23)), 1);
      _mm512_mask_storeu_epi32(to + n * 4, mask, interleaved);  // one dword per step
    }
    pack_steps_scalar(x, channels, begin, width, padding, quant, group, inside_end, n1, out);
  }
}

AMPHORA_VNNI void pack_window_avx512(const float* x, int64_t channels, int64_t length,
                                     int64_t begin, int64_t width, Int8Padding padding,
                                     const Quantizer& quant, uint8_t* out) {
  pack_columns({x, length, length}, channels, begin, width, 0, width, padding, quant, out);
}

// The same window over the row that `pieces` make one after another (the quantized zero outside
// them and in pieces without rows): identical bytes to packing their join.
AMPHORA_VNNI void pack_quantized_pieces(const std::vector<TimePiece>& pieces, int64_t channels,
                                        int64_t begin, int64_t width, const Quantizer& quant,
                                        uint8_t* out) {
  for_each_window_span(
      pieces, begin, width, [&](int64_t lo, int64_t hi, const TimePiece* piece, int64_t at) {
        const Rows rows = piece && piece->rows
                              ? Rows{piece->rows + piece->start, piece->row_length, piece->length}
                              : Rows{nullptr, 0, 0};  // all outside: the quantized zero
        pack_columns(rows, channels, begin - at, width, lo, hi, Int8Padding::kZeros, quant, out);
      });
}

// Steps [first, first + count) of the [channels, *] row that `pieces` make one after another,
// joined into out [channels][count] (zeros outside them and in pieces without rows).
void join_steps(const std::vector<TimePiece>& pieces, int64_t channels, int64_t first,
                int64_t count, float* out) {
  for_each_window_span(
      pieces, first, count, [&](int64_t lo, int64_t hi, const TimePiece* piece, int64_t at) {
        for (int64_t c = 0; c < channels; ++c) {
          float* to = out + c * count + lo;
          if (piece && piece->rows) {
            std::copy_n(piece->rows + c * piece->row_length + piece->start + (first + lo - at),
                        hi - lo, to);
          } else {
            std::fill_n(to, hi - lo, 0.0f);
          }
        }
      });
}

// Where one register block's results go: rows of y (ncw), with the per-channel scale and bias,
// the activation (LeakyRelu's slope; Relu is slope 0) and the residual. A sub-pixel stack's
// channel c is phase c % phases of y's row c / phases: its step n lands at
// origin + n * phases + c % phases (cropped to the row), scattered.
struct WriteOut {
  float* y;
  const float* residual;  // or nullptr; laid out as y unless residual_length says otherwise
  int64_t length;         // of y's rows
  int64_t channels;       // computed (stacked) channels
  const float* scale;     // per computed channel: x_scale * w_scale
  const float* bias;      // per computed channel
  bool activate;
  float slope;
  int64_t phases = 1, origin = 0;
  // Without phases, the residual may hold only y's steps [residual_first, residual_first +
  // residual_length) of each row (a tile's, joined from the streamer's pieces).
  int64_t residual_length = length, residual_first = 0;
};

// Stores f, the results of channel c at steps [t, t + n) (n <= 16), plus the residual.
AMPHORA_VNNI inline void store16(const WriteOut& out, int64_t c, int64_t t, int64_t n, __m512 f) {
  auto mask = static_cast<__mmask16>((1u << n) - 1);
  if (out.phases == 1) {
    const int64_t at = c * out.length + t;
    if (out.residual) {
      const float* r = out.residual + c * out.residual_length + t - out.residual_first;
      f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, r));
    }
    _mm512_mask_storeu_ps(out.y + at, mask, f);
    return;
  }
  const int64_t row = c / out.phases * out.length;
  const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const int64_t first = out.origin + t * out.phases + c % out.phases;
  const __m512i at = _mm512_add_epi32(
      _mm512_set1_epi32(static_cast<int32_t>(first)),
      _mm512_mullo_epi32(lanes, _mm512_set1_epi32(static_cast<int32_t>(out.phases))));
  mask &= _mm512_cmpge_epi32_mask(at, _mm512_setzero_si512()) &
          _mm512_cmplt_epi32_mask(at, _mm512_set1_epi32(static_cast<int32_t>(out.length)));
  if (out.residual) {
    f = _mm512_add_ps(
        f, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, at, out.residual + row, 4));
  }
  _mm512_mask_i32scatter_ps(out.y + row, mask, at, f, 4);
}

// The perfect shuffle of a and b: lo = a0 b0 a1 b1 .. a7 b7, hi = a8 b8 .. a15 b15.
AMPHORA_VNNI inline void zip(__m512 a, __m512 b, __m512& lo, __m512& hi) {
  const __m512i low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i high =
      _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  lo = _mm512_permutex2var_ps(a, low, b);
  hi = _mm512_permutex2var_ps(a, high, b);
}

// A sub-pixel stack whose phase count divides the block: the block holds whole rows of y, and
// each row's phase vectors (phase p at steps n) interleave in registers into contiguous samples
// (n * phases + p) -- zipping phase p with p + phases/2, then again, log2(phases) times -- which
// are stored cropped to the row, with the residual, instead of scattered.
AMPHORA_VNNI void store_rows(const WriteOut& out, const __m512 (&results)[kOutBlock][kVectors],
                             int64_t first_channel, int64_t t, int64_t valid) {
  const int64_t phases = out.phases;
  const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  for (int64_t row = 0; row < kOutBlock / phases; ++row) {
    const int64_t c = first_channel + row * phases;
    if (c >= out.channels) break;
    float* y = out.y + c / phases * out.length;
    const float* residual = out.residual ? out.residual + c / phases * out.length : nullptr;
    for (int64_t v = 0; v < kVectors; ++v) {
      const int64_t n = std::clamp<int64_t>(valid - 16 * v, 0, 16);
      if (n == 0) break;
      __m512 seq[kOutBlock][kOutBlock];  // [sequence][vector]: `count` sequences of `length`
      for (int64_t p = 0; p < phases; ++p) seq[p][0] = results[row * phases + p][v];
      for (int64_t count = phases, length = 1; count > 1; count /= 2, length *= 2) {
        for (int64_t p = 0; p < count / 2; ++p) {
          __m512 zipped[kOutBlock];
          for (int64_t i = 0; i < length; ++i) {
            zip(seq[p][i], seq[p + count / 2][i], zipped[2 * i], zipped[2 * i + 1]);
          }
          for (int64_t i = 0; i < 2 * length; ++i) seq[p][i] = zipped[i];
        }
      }
      // Sample i of the interleaved run goes to origin + (t + 16v) * phases + i, i < n * phases.
      const int64_t first = out.origin + (t + 16 * v) * phases;
      for (int64_t i = 0; i < phases; ++i) {
        const int64_t at = first + 16 * i;
        const __m512i position =
            _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(at)), lanes);
        const __mmask16 mask =
            _mm512_cmplt_epi32_mask(
                _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(16 * i)), lanes),
                _mm512_set1_epi32(static_cast<int32_t>(n * phases))) &
            _mm512_cmpge_epi32_mask(position, _mm512_setzero_si512()) &
            _mm512_cmplt_epi32_mask(position, _mm512_set1_epi32(static_cast<int32_t>(out.length)));
        __m512 f = seq[0][i];
        if (residual) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(mask, residual + at));
        _mm512_mask_storeu_ps(y + at, mask, f);
      }
    }
  }
}

// kOutBlock channels x 16 * V steps (V <= kVectors): sums start at `init` (the zero point's
// correction), then for each group of 4 input channels and tap one 64-byte load of X per 16
// steps and one broadcast weight dword per channel feed kOutBlock x V vpdpbusd. `valid` outputs
// from step t are stored. V < kVectors for a tile's last few steps, which would otherwise be
// computed as a whole kChunk.
template <int64_t V>
AMPHORA_VNNI void conv_block(const uint8_t* x, int64_t row_bytes, const int32_t* w, int64_t groups,
                             int64_t taps, int64_t tap_bytes, const int32_t* init,
                             const WriteOut& out, int64_t first_channel, int64_t t, int64_t valid) {
  __m512i acc[kOutBlock][V];
#pragma GCC unroll 8
  for (int64_t o = 0; o < kOutBlock; ++o) {
#pragma GCC unroll 3
    for (int64_t v = 0; v < V; ++v) acc[o][v] = _mm512_set1_epi32(init[o]);
  }
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* xg = x + g * row_bytes;
    const int32_t* wg = w + g * taps * kOutBlock;
    for (int64_t j = 0; j < taps; ++j) {
      __m512i xv[V];
#pragma GCC unroll 3
      for (int64_t v = 0; v < V; ++v) xv[v] = _mm512_loadu_si512(xg + j * tap_bytes + 64 * v);
#pragma GCC unroll 8
      for (int64_t o = 0; o < kOutBlock; ++o) {
        const __m512i wv = _mm512_set1_epi32(wg[j * kOutBlock + o]);
#pragma GCC unroll 3
        for (int64_t v = 0; v < V; ++v) acc[o][v] = _mm512_dpbusd_epi32(acc[o][v], xv[v], wv);
      }
    }
  }
  const __m512 slope = _mm512_set1_ps(out.slope);
  const bool whole_rows = out.phases > 1 && kOutBlock % out.phases == 0;
  __m512 results[kOutBlock][kVectors];  // for store_rows
#pragma GCC unroll 8
  for (int64_t o = 0; o < kOutBlock; ++o) {
    const int64_t c = first_channel + o;
    if (c >= out.channels) break;
    const __m512 scale = _mm512_set1_ps(out.scale[c]);
    const __m512 bias = _mm512_set1_ps(out.bias[c]);
#pragma GCC unroll 3
    for (int64_t v = 0; v < V; ++v) {
      const int64_t n = std::clamp<int64_t>(valid - 16 * v, 0, 16);
      if (n == 0) break;
      __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[o][v]), scale, bias);
      if (out.activate) {
        const __mmask16 keep = _mm512_cmp_ps_mask(f, _mm512_setzero_ps(), _CMP_GE_OQ);
        f = _mm512_mask_blend_ps(keep, _mm512_mul_ps(f, slope), f);
      }
      if (whole_rows) {
        results[o][v] = f;
      } else {
        store16(out, c, t + 16 * v, n, f);
      }
    }
  }
  if (whole_rows) store_rows(out, results, first_channel, t, valid);
}

// conv_block for `valid` (1..kChunk) outputs, on as many 16-step vectors as they need.
AMPHORA_VNNI void conv_steps(const uint8_t* x, int64_t row_bytes, const int32_t* w, int64_t groups,
                             int64_t taps, int64_t tap_bytes, const int32_t* init,
                             const WriteOut& out, int64_t first_channel, int64_t t, int64_t valid) {
  static_assert(kVectors == 3);
  const auto block = valid > 32 ? conv_block<3> : valid > 16 ? conv_block<2> : conv_block<1>;
  block(x, row_bytes, w, groups, taps, tap_bytes, init, out, first_channel, t, valid);
}

// The conv the tiled kernel computes for g: g itself, or a ConvTranspose's stacked sub-pixel
// conv (deconv_subpixel.hpp; `split.valid`).
struct TiledProblem {
  bool valid = false;
  ConvGeometry conv;
  SubpixelSplit split;
};

TiledProblem tiled_problem(const ConvGeometry& g, const ConvPostOps& post) {
  TiledProblem p;
  int64_t phases = 1;
  if (g.transpose) {
    p.split = split_subpixel(g);
    if (!p.split.valid || post.reflect_pad) return p;
    p.conv = p.split.stacked;
    phases = p.split.stride;
  } else {
    p.conv = g;
  }
  const ConvGeometry& c = p.conv;
  // vpdpbusd adds modulo 2^32, so the unsigned offset and its correction cancel exactly as long
  // as the true sum fits: |q * w| <= 128 * 128, 2^16 products stay below 2^30.
  p.valid = c.spatial_rank == 1 && c.group == 1 && c.strides[0] == 1 && c.in_channels >= 3 &&
            c.in_channels <= kInt8TiledMaxChannels && c.out_channels >= 3 &&
            c.out_channels <= kInt8TiledMaxChannels * phases &&
            c.in_channels * c.kernel[0] <= 65536 && c.pad_begin[0] >= 0 &&
            post.activation != ConvPostOps::Activation::kTanh;
  return p;
}

}  // namespace

bool int8_tiled_available() {
  static const bool available = int8_kernels_exact() && onednn_has_avx512() &&
                                __builtin_cpu_supports("avx512vnni") &&
                                __builtin_cpu_supports("avx512bw");
  return available;
}

bool int8_tiled_applies(const ConvGeometry& g, const ConvPostOps& post) {
  return tiled_problem(g, post).valid;
}

void pack_quantized_window(const float* x, int64_t channels, int64_t length, int64_t begin,
                           int64_t width, Int8Padding padding, const Quantizer& quant,
                           uint8_t* out) {
  pack_window_avx512(x, channels, length, begin, width, padding, quant, out);
}

void pack_quantized_window_reference(const float* x, int64_t channels, int64_t length,
                                     int64_t begin, int64_t width, Int8Padding padding,
                                     const Quantizer& quant, uint8_t* out) {
  for (int64_t group = 0; group < ceil_div(channels, 4); ++group) {
    pack_steps_scalar({x, length, length}, channels, begin, width, padding, quant, group, 0, width,
                      out);
  }
}

const Int8TiledConv::Packed& Int8TiledConv::packed(const ConvGeometry& g,
                                                   const SubpixelSplit& split, const Tensor& w) {
  if (packed_ && packed_->source.raw() == w.raw()) return *packed_;
  auto p = std::make_unique<Packed>();
  p->source = w;
  const ConvGeometry& conv = split.valid ? split.stacked : g;
  const int64_t oc = conv.out_channels, ic = conv.in_channels, k = conv.kernel[0];
  std::vector<int8_t> stacked;
  const int8_t* src = w.data<int8_t>();  // [OC, IC, k]
  if (split.valid) {
    stacked.resize(static_cast<size_t>(oc * ic * k));
    stack_subpixel_weights(g, split, w.data<int8_t>(), stacked.data());
    src = stacked.data();
  }
  const int64_t groups = ceil_div(ic, 4), blocks = ceil_div(oc, kOutBlock);
  p->weights.assign(static_cast<size_t>(blocks * groups * k * kOutBlock), 0);
  p->sums.assign(static_cast<size_t>(blocks * kOutBlock), 0);
  for (int64_t o = 0; o < oc; ++o) {
    const int64_t block = o / kOutBlock, lane = o % kOutBlock;
    for (int64_t c = 0; c < ic; ++c) {
      for (int64_t j = 0; j < k; ++j) {
        const int8_t v = src[(o * ic + c) * k + j];
        p->sums[o] += v;
        const int64_t at = ((block * groups + c / 4) * k + j) * kOutBlock + lane;
        auto* bytes = reinterpret_cast<int8_t*>(&p->weights[at]);
        bytes[c % 4] = v;
      }
    }
  }
  packed_ = std::move(p);
  return *packed_;
}

// Where the tiles read X and the residual: whole tensors (run) or the streamer's pieces.
struct Int8TiledConv::Source {
  const Tensor* x = nullptr;
  const Tensor* residual = nullptr;
  const std::vector<TimePiece>* x_pieces = nullptr;
  const std::vector<TimePiece>* residual_pieces = nullptr;
};

bool Int8TiledConv::run(const ConvGeometry& g, const Tensor& x, const Tensor& w,
                        const Int8Scales& scales, const Quantizer& quant, const Tensor* bias,
                        const ConvPostOps& post, const Tensor* residual, Tensor& y) {
  Source source;
  source.x = &x;
  source.residual = residual;
  return run_tiles(g, source, w, scales, quant, bias, post, y);
}

bool Int8TiledConv::run_pieces(const ConvGeometry& g, const std::vector<TimePiece>& x,
                               const Tensor& w, const Int8Scales& scales, const Quantizer& quant,
                               const Tensor* bias, const ConvPostOps& post,
                               const std::vector<TimePiece>* residual, Tensor& y) {
  if (g.batch != 1 || g.transpose || post.reflect_pad) return false;
  Source source;
  source.x_pieces = &x;
  source.residual_pieces = residual;
  return run_tiles(g, source, w, scales, quant, bias, post, y);
}

bool Int8TiledConv::run_tiles(const ConvGeometry& g, const Source& source, const Tensor& w,
                              const Int8Scales& scales, const Quantizer& quant, const Tensor* bias,
                              const ConvPostOps& post, Tensor& y) {
  if (!int8_tiled_available() || quant.scale == 0.0f) return false;
  const TiledProblem problem = tiled_problem(g, post);
  if (!problem.valid) return false;
  const ConvGeometry& conv = problem.conv;
  const Packed& pw = packed(g, problem.split, w);
  const int64_t ic = conv.in_channels, oc = conv.out_channels, k = conv.kernel[0];
  const int64_t d = conv.dilations[0], in_len = conv.in[0], out_len = conv.out[0];
  const int64_t span = (k - 1) * d + 1, groups = ceil_div(ic, 4), blocks = ceil_div(oc, kOutBlock);
  const int64_t phases = problem.split.valid ? problem.split.stride : 1;
  // Per run: a dynamic X's scale and zero point change. A stack's channel c is y's c / phases.
  std::vector<float> scale(oc), stacked_bias(oc, 0.0f);
  for (int64_t c = 0; c < oc; ++c) {
    scale[c] = quant.scale * scales.w(c / phases);
    if (bias) stacked_bias[c] = bias->data<float>()[c / phases];
  }
  const int64_t zero = quant.is_unsigned ? static_cast<int64_t>(quant.zero_point) : 128;
  std::vector<int32_t> init(pw.sums.size());
  for (size_t c = 0; c < init.size(); ++c) init[c] = static_cast<int32_t>(-zero * pw.sums[c]);
  // Tiles of whole register blocks whose windows fill kWindowBytes, but enough for every thread:
  // a short row is split evenly in 16-step vectors (a stream's convs are a few hundred steps).
  const int64_t threads = std::max(1, omp_get_max_threads());
  int64_t tile =
      std::clamp<int64_t>(kWindowBytes / (groups * 4) / kChunk * kChunk, kChunk, kMaxTile);
  tile = std::min(tile, ceil_div(ceil_div(out_len, threads), 16) * 16);
  const int64_t tiles = ceil_div(out_len, tile);
  const Int8Padding padding = post.reflect_pad ? Int8Padding::kReflect : Int8Padding::kZeros;
  const float slope = post.activation == ConvPostOps::Activation::kRelu ? 0.0f : post.alpha;
  const bool activate = post.activation == ConvPostOps::Activation::kRelu ||
                        post.activation == ConvPostOps::Activation::kLeakyRelu;
  const int64_t y_channels = g.out_channels, y_len = g.out[0];
#pragma omp parallel for collapse(2) schedule(static) if (tiles * conv.batch > 1)
  for (int64_t n = 0; n < conv.batch; ++n) {
    for (int64_t ti = 0; ti < tiles; ++ti) {
      const int64_t t0 = ti * tile, count = std::min(tile, out_len - t0);
      const int64_t chunks = ceil_div(count, kChunk);
      const int64_t width = ceil_div(count, 16) * 16 + span - 1;
      thread_local std::vector<uint8_t> window;
      window.resize(static_cast<size_t>(groups * width * 4));
      if (source.x_pieces) {
        pack_quantized_pieces(*source.x_pieces, ic, t0 - conv.pad_begin[0], width, quant,
                              window.data());
      } else {
        pack_window_avx512(source.x->data<float>() + n * ic * in_len, ic, in_len,
                           t0 - conv.pad_begin[0], width, padding, quant, window.data());
      }
      WriteOut out{
          y.data<float>() + n * y_channels * y_len,
          source.residual ? source.residual->data<float>() + n * y_channels * y_len : nullptr,
          y_len,
          oc,
          scale.data(),
          stacked_bias.data(),
          activate,
          slope};
      if (source.residual_pieces) {  // this tile's steps of it, joined (no sub-pixel stack here)
        thread_local std::vector<float> residual;
        residual.resize(static_cast<size_t>(y_channels * count));
        join_steps(*source.residual_pieces, y_channels, t0, count, residual.data());
        out.residual = residual.data();
        out.residual_length = count;
        out.residual_first = t0;
      }
      if (problem.split.valid) {
        out.phases = phases;
        out.origin = problem.split.first_step * phases - g.pad_begin[0];
      }
      for (int64_t b = 0; b < blocks; ++b) {
        const int32_t* wb = pw.weights.data() + b * groups * k * kOutBlock;
        for (int64_t ch = 0; ch < chunks; ++ch) {
          conv_steps(window.data() + ch * kChunk * 4, width * 4, wb, groups, k, d * 4,
                     init.data() + b * kOutBlock, out, b * kOutBlock, t0 + ch * kChunk,
                     std::min(kChunk, count - ch * kChunk));
        }
      }
    }
  }
  return true;
}

}  // namespace amphora
