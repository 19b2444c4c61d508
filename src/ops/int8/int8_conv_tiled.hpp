// Int8 1-D convs with few channels (HiFi-GAN V3's, and V1's last stages), run one time tile at a
// time with AVX-512 VNNI (vpdpbusd: u8 x s8 -> s32).
//
// oneDNN's int8 conv wants X quantized whole into nwc and gives its float result in nwc; with 32
// to 256 channels the conv itself is short, so the two whole-tensor passes (quantize + transpose
// in, nwc -> ncw reorder out) cost as much as it (bench/micro/README.md, int8). Here each thread
// quantizes one window of X into a small buffer that stays in its L2 -- 4 channels interleaved
// per step, [C/4][t][4] bytes, so that one 64-byte load is 16 consecutive steps of 4 channels,
// what vpdpbusd multiplies with one broadcast weight dword per output channel -- and each
// accumulator is 16 consecutive outputs of one channel, which is already ONNX's ncw: the scale,
// bias, activation and residual are applied on the way out and stored straight into Y, no
// reorder. The int32 sums are exact, so the result does not depend on the tiling (streaming
// stays exact against offline).
//
// vpdpbusd wants unsigned activations: a static (int8) X is stored as q + 128 and the 128 * sum
// of the channel's weights is taken out by starting the sums there; a dynamic (uint8, zero
// point z) X is stored as is and z * sum is taken out. The padding is the quantized zero.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_post_ops.hpp"
#include "ops/conv/conv_tiled.hpp"
#include "ops/conv/deconv_subpixel.hpp"
#include "ops/int8/int8.hpp"
#include "ops/int8/int8_quantize.hpp"

namespace amphora {

// Up to this many input and output channels: the packed weights (<= 256 * 256 * k bytes) stay in
// L2 next to the tile; wider layers do well on oneDNN's own kernels.
inline constexpr int64_t kInt8TiledMaxChannels = 256;

// Whether this CPU has AVX-512 VNNI and oneDNN is not held below it (ONEDNN_MAX_CPU_ISA): the
// tiled kernels run only where oneDNN's int8 kernels would, so one setting picks every int8 path.
bool int8_tiled_available();

// Whether the problem is one the tiled kernel runs: a 1-D Conv with group 1, stride 1 and
// 3..kInt8TiledMaxChannels channels in and out, or a ConvTranspose whose sub-pixel stack
// (deconv_subpixel.hpp: batch 1, no dilation) is such a conv with up to kInt8TiledMaxChannels
// outputs per phase -- its results are scattered into y's rows on write-out; no Tanh (the float
// paths' polynomial is not worth repeating here), int32 sums that cannot overflow. Independent
// of the length, so a stream and the offline run of a model take the same path.
bool int8_tiled_applies(const ConvGeometry& g, const ConvPostOps& post);

class Int8TiledConv {
 public:
  // As OnednnInt8Conv::run (int8_conv_onednn.hpp): y (g.output_shape()) from float x and int8 w;
  // `residual` is y's shape exactly when post.sum. Returns false, having written nothing, where
  // !int8_tiled_available() or !int8_tiled_applies(). Not safe to call concurrently on one object.
  bool run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Int8Scales& scales,
           const Quantizer& quant, const Tensor* bias, const ConvPostOps& post,
           const Tensor* residual, Tensor& y);
  // The same for a streamed conv (batch 1, zero padding, no ConvTranspose) whose X and residual
  // are the pieces along time they are kept in (TimePiece, conv_tiled.hpp): each tile packs its
  // window and reads its residual from them, instead of the streamer joining them first.
  bool run_pieces(const ConvGeometry& g, const std::vector<TimePiece>& x, const Tensor& w,
                  const Int8Scales& scales, const Quantizer& quant, const Tensor* bias,
                  const ConvPostOps& post, const std::vector<TimePiece>* residual, Tensor& y);

 private:
  struct Source;
  bool run_tiles(const ConvGeometry& g, const Source& source, const Tensor& w,
                 const Int8Scales& scales, const Quantizer& quant, const Tensor* bias,
                 const ConvPostOps& post, Tensor& y);
  struct Packed {
    Tensor source;                 // the int8 W this came from (its address identifies it)
    std::vector<int32_t> weights;  // [OC/8][IC/4][k][8] dwords of 4 input channels (of the stack)
    std::vector<int32_t> sums;     // per output channel: the sum of its weights
  };
  const Packed& packed(const ConvGeometry& g, const SubpixelSplit& split, const Tensor& w);
  std::unique_ptr<Packed> packed_;
};

// x [channels, length] float -> out [ceil(channels/4)][width][4] bytes: the window of steps
// [begin, begin + width) (begin may be negative), each value quantized by `quant` (input
// activation first) and stored as an unsigned byte (int8 + 128); steps outside the row per
// `padding` (the quantized zero, or the row mirrored, zero beyond the mirror), channels past the
// last the quantized zero. Single-threaded. AVX-512; the reference gives identical bytes.
void pack_quantized_window(const float* x, int64_t channels, int64_t length, int64_t begin,
                           int64_t width, Int8Padding padding, const Quantizer& quant,
                           uint8_t* out);
void pack_quantized_window_reference(const float* x, int64_t channels, int64_t length,
                                     int64_t begin, int64_t width, Int8Padding padding,
                                     const Quantizer& quant, uint8_t* out);

}  // namespace amphora
