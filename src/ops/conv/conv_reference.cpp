#include "ops/conv/conv_reference.hpp"

#include <array>

namespace amphora {
namespace {

// 1-D and 2-D problems are run as 3-D ones with leading spatial axes of size 1, so one loop
// nest covers every rank.
struct Box {
  std::array<int64_t, 3> in{}, kernel{}, out{}, stride{}, dilation{}, pad{};
};

Box to_box(const ConvGeometry& g) {
  Box b;
  const size_t lead = 3 - g.spatial_rank;
  for (size_t i = 0; i < 3; ++i) {
    const bool real = i >= lead;
    const size_t s = real ? i - lead : 0;
    b.in[i] = real ? g.in[s] : 1;
    b.kernel[i] = real ? g.kernel[s] : 1;
    b.out[i] = real ? g.out[s] : 1;
    b.stride[i] = real ? g.strides[s] : 1;
    b.dilation[i] = real ? g.dilations[s] : 1;
    b.pad[i] = real ? g.pad_begin[s] : 0;
  }
  return b;
}

int64_t volume(const std::array<int64_t, 3>& a) { return a[0] * a[1] * a[2]; }

}  // namespace

void conv_reference(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                    float* y) {
  const Box b = to_box(g);
  const int64_t cin_g = g.in_channels_per_group(), cout_g = g.out_channels_per_group();
  const int64_t in_size = volume(b.in), out_size = volume(b.out), k_size = volume(b.kernel);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < g.out_channels; ++m) {
      const int64_t grp = m / cout_g;
      float* y_plane = y + (n * g.out_channels + m) * out_size;
      for (int64_t od = 0; od < b.out[0]; ++od) {
        for (int64_t oh = 0; oh < b.out[1]; ++oh) {
          for (int64_t ow = 0; ow < b.out[2]; ++ow) {
            double acc = bias ? bias[m] : 0.0;
            for (int64_t c = 0; c < cin_g; ++c) {
              const float* x_plane = x + (n * g.in_channels + grp * cin_g + c) * in_size;
              const float* w_kernel = w + (m * cin_g + c) * k_size;
              for (int64_t kd = 0; kd < b.kernel[0]; ++kd) {
                const int64_t id = od * b.stride[0] - b.pad[0] + kd * b.dilation[0];
                if (id < 0 || id >= b.in[0]) continue;
                for (int64_t kh = 0; kh < b.kernel[1]; ++kh) {
                  const int64_t ih = oh * b.stride[1] - b.pad[1] + kh * b.dilation[1];
                  if (ih < 0 || ih >= b.in[1]) continue;
                  for (int64_t kw = 0; kw < b.kernel[2]; ++kw) {
                    const int64_t iw = ow * b.stride[2] - b.pad[2] + kw * b.dilation[2];
                    if (iw < 0 || iw >= b.in[2]) continue;
                    acc += static_cast<double>(x_plane[(id * b.in[1] + ih) * b.in[2] + iw]) *
                           w_kernel[(kd * b.kernel[1] + kh) * b.kernel[2] + kw];
                  }
                }
              }
            }
            y_plane[(od * b.out[1] + oh) * b.out[2] + ow] = static_cast<float>(acc);
          }
        }
      }
    }
  }
}

// Scatter form: every input element adds its weighted kernel into the output positions
// i * stride - pad + k * dilation, which is the definition of a transposed convolution.
void conv_transpose_reference(const ConvGeometry& g, const float* x, const float* w,
                              const float* bias, float* y) {
  const Box b = to_box(g);
  const int64_t cin_g = g.in_channels_per_group(), cout_g = g.out_channels_per_group();
  const int64_t in_size = volume(b.in), out_size = volume(b.out), k_size = volume(b.kernel);
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < g.out_channels; ++m) {
      float* y_plane = y + (n * g.out_channels + m) * out_size;
      for (int64_t i = 0; i < out_size; ++i) y_plane[i] = bias ? bias[m] : 0.0f;
    }
    for (int64_t c = 0; c < g.in_channels; ++c) {
      const int64_t grp = c / cin_g;
      const float* x_plane = x + (n * g.in_channels + c) * in_size;
      for (int64_t mg = 0; mg < cout_g; ++mg) {
        const int64_t m = grp * cout_g + mg;
        const float* w_kernel = w + (c * cout_g + mg) * k_size;
        float* y_plane = y + (n * g.out_channels + m) * out_size;
        for (int64_t id = 0; id < b.in[0]; ++id) {
          for (int64_t ih = 0; ih < b.in[1]; ++ih) {
            for (int64_t iw = 0; iw < b.in[2]; ++iw) {
              const float v = x_plane[(id * b.in[1] + ih) * b.in[2] + iw];
              for (int64_t kd = 0; kd < b.kernel[0]; ++kd) {
                const int64_t od = id * b.stride[0] - b.pad[0] + kd * b.dilation[0];
                if (od < 0 || od >= b.out[0]) continue;
                for (int64_t kh = 0; kh < b.kernel[1]; ++kh) {
                  const int64_t oh = ih * b.stride[1] - b.pad[1] + kh * b.dilation[1];
                  if (oh < 0 || oh >= b.out[1]) continue;
                  for (int64_t kw = 0; kw < b.kernel[2]; ++kw) {
                    const int64_t ow = iw * b.stride[2] - b.pad[2] + kw * b.dilation[2];
                    if (ow < 0 || ow >= b.out[2]) continue;
                    y_plane[(od * b.out[1] + oh) * b.out[2] + ow] +=
                        v * w_kernel[(kd * b.kernel[1] + kh) * b.kernel[2] + kw];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace amphora
