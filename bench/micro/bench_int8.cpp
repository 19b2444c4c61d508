// Google Benchmark: the float FusedConv / FusedConvTranspose / FusedMatMul against their int8
// forms (ops/int8: X quantized in the kernel, oneDNN s8 x s8 -> s32) on HiFi-GAN V1 and Vocos
// layer shapes, created through the op registry exactly as a session creates them. Both include
// everything the kernel does per run (the int8 one: quantizing X, the nwc <-> ncw reorders).
// Run with OMP_NUM_THREADS=1 for the per-core comparison. Build: build.sh.
#include <benchmark/benchmark.h>

#include <random>

#include "ops/amphora_domain.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

Tensor random_tensor(const Shape& shape, DType type = DType::kFloat32) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t(type, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (type == DType::kInt8) {
      t.data<int8_t>()[i] = static_cast<int8_t>(dist(rng) * 127);
    } else {
      t.data<float>()[i] = dist(rng);
    }
  }
  return t;
}

// args: channels in, out, kernel, dilation (Conv) or stride (ConvTranspose), length, and 0 for
// float, 1 for int8 (static x_scale), 2 for int8 with dynamic quantization of X.
void run_conv(benchmark::State& state, bool transpose) {
  register_amphora_domain_ops_once();
  const int64_t cin = state.range(0), cout = state.range(1), k = state.range(2);
  const int64_t step = state.range(3), length = state.range(4);
  const bool int8 = state.range(5) != 0, dynamic = state.range(5) == 2;
  Node node;
  node.domain = kAmphoraDomain;
  node.op_type = transpose ? "FusedConvTranspose" : "FusedConv";
  node.attributes["input_activation"] = std::string("LeakyRelu");
  node.attributes["input_alpha"] = 0.1f;
  if (transpose) {
    node.attributes["strides"] = std::vector<int64_t>{step};
    node.attributes["pads"] = std::vector<int64_t>{(k - step) / 2, (k - step) / 2};
  } else {
    node.attributes["dilations"] = std::vector<int64_t>{step};
    node.attributes["pads"] = std::vector<int64_t>{(k - 1) * step / 2, (k - 1) * step / 2};
  }
  if (dynamic) {
    node.attributes["x_dynamic"] = int64_t{1};
  } else if (int8) {
    node.attributes["x_scale"] = 0.01f;
  }
  if (int8) node.attributes["w_scale"] = std::vector<float>(cout, 0.001f);
  const Shape w_shape = transpose ? Shape{cin, cout, k} : Shape{cout, cin, k};
  Tensor x = random_tensor({1, cin, length});
  Tensor w = random_tensor(w_shape, int8 ? DType::kInt8 : DType::kFloat32);
  Tensor b = random_tensor({cout});
  auto kernel = OpRegistry::instance().create(node, 1, KernelOptions{});
  kernel->run({&x, &w, &b});  // creates the primitive and packs the weights
  for (auto _ : state) benchmark::DoNotOptimize(kernel->run({&x, &w, &b}));
  const double macs = static_cast<double>(cin) * cout * k * length;
  state.counters["GMAC/s"] = benchmark::Counter(macs, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void BM_Conv(benchmark::State& state) { run_conv(state, false); }
void BM_ConvTranspose(benchmark::State& state) { run_conv(state, true); }

// HiFi-GAN-like resblock convs at 512 channels and the first upsampler's output length.
BENCHMARK(BM_Conv)
    ->ArgsProduct({{512}, {512}, {7}, {1}, {4096}, {0, 1, 2}})
    ->ArgsProduct({{512}, {512}, {3}, {1, 3, 5}, {4096}, {0, 1}})
    ->ArgsProduct({{256}, {256}, {3}, {5}, {4096}, {0, 1}})
    ->ArgsProduct({{128}, {128}, {7}, {3}, {32768}, {0, 1}})
    ->ArgsProduct({{32}, {32}, {3}, {1}, {131072}, {0, 1}})
    ->ArgsProduct({{32}, {1}, {7}, {1}, {131072}, {0, 1}})  // conv_post
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_ConvTranspose)
    ->ArgsProduct({{512}, {256}, {16}, {8}, {512}, {0, 1}})
    ->ArgsProduct({{256}, {128}, {16}, {8}, {4096}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// FusedMatMul [1, frames, in] x [in, out] (Vocos' pointwise layers); args: frames, in, out, int8.
void BM_MatMul(benchmark::State& state) {
  register_amphora_domain_ops_once();
  const int64_t frames = state.range(0), in = state.range(1), out = state.range(2);
  const bool int8 = state.range(3) != 0;
  Node node;
  node.domain = kAmphoraDomain;
  node.op_type = "FusedMatMul";
  if (int8) {
    node.attributes["x_scale"] = 0.01f;
    node.attributes["w_scale"] = std::vector<float>(out, 0.001f);
  }
  Tensor a = random_tensor({1, frames, in});
  Tensor b = random_tensor({in, out}, int8 ? DType::kInt8 : DType::kFloat32);
  Tensor bias = random_tensor({out});
  auto kernel = OpRegistry::instance().create(node, 1, KernelOptions{});
  kernel->run({&a, &b, &bias});
  for (auto _ : state) benchmark::DoNotOptimize(kernel->run({&a, &b, &bias}));
  state.counters["GMAC/s"] =
      benchmark::Counter(1.0 * frames * in * out, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}
BENCHMARK(BM_MatMul)
    ->ArgsProduct({{1024}, {512}, {1536}, {0, 1}})
    ->ArgsProduct({{1024}, {1536}, {512}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace amphora

BENCHMARK_MAIN();
