// Google Benchmark micro-benchmarks of the Conv / ConvTranspose kernels on the 1-D shapes of
// HiFi-GAN V1 (22.05 kHz, 512 mel frames). GFLOP/s is per CPU-second of the whole process (all
// threads), i.e. per-core efficiency, so that it stays meaningful on a loaded machine; run with
// OMP_WAIT_POLICY=passive so that spinning threads do not count as work. Build: build.sh.
#include <benchmark/benchmark.h>

#include <random>

#include "ops/kernel.hpp"

namespace amphora {
namespace {

Tensor random_tensor(const Shape& shape) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// args: in channels, out channels, kernel, dilation (Conv) or stride (ConvTranspose), length,
// and optionally the group count.
void run_conv(benchmark::State& state, bool transpose) {
  const int64_t cin = state.range(0), cout = state.range(1), k = state.range(2);
  const int64_t step = state.range(3), length = state.range(4);
  const int64_t group = state.range(5);
  Node node;
  node.op_type = transpose ? "ConvTranspose" : "Conv";
  node.attributes["group"] = group;
  if (transpose) {
    node.attributes["strides"] = std::vector<int64_t>{step};
    node.attributes["pads"] = std::vector<int64_t>{(k - step) / 2, (k - step) / 2};
  } else {
    node.attributes["dilations"] = std::vector<int64_t>{step};
    node.attributes["pads"] = std::vector<int64_t>{(k - 1) * step / 2, (k - 1) * step / 2};
  }
  Tensor x = random_tensor({1, cin, length});
  Tensor w = random_tensor(transpose ? Shape{cin, cout / group, k} : Shape{cout, cin / group, k});
  Tensor b = random_tensor({cout});
  auto kernel = OpRegistry::instance().create(node, 17, KernelOptions{});
  kernel->run({&x, &w, &b});  // creates the primitive and packs the weights
  for (auto _ : state) benchmark::DoNotOptimize(kernel->run({&x, &w, &b}));
  // Multiply-adds: one per (weight, input sample) for ConvTranspose and per (weight, output
  // sample) for Conv, whose "same" padding keeps the length.
  const double macs = static_cast<double>(cin) * cout / group * k * length;
  state.counters["GFLOP/s"] = benchmark::Counter(
      2 * macs, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void BM_Conv(benchmark::State& state) { run_conv(state, false); }
void BM_ConvTranspose(benchmark::State& state) { run_conv(state, true); }

// HiFi-GAN V1: conv_pre, resblocks at each rate (k 3/7/11, dilation 1/3/5), conv_post.
BENCHMARK(BM_Conv)
    ->Args({80, 512, 7, 1, 512, 1})
    ->Args({256, 256, 3, 5, 4096, 1})
    ->Args({128, 128, 7, 3, 32768, 1})
    ->Args({64, 64, 11, 5, 65536, 1})
    ->Args({32, 32, 3, 1, 131072, 1})
    ->Args({32, 32, 11, 5, 131072, 1})
    ->Args({32, 1, 7, 1, 131072, 1})
    // Vocos ConvNeXt depthwise conv (512 channels, k 7) at 1024 frames.
    ->Args({512, 512, 7, 1, 1024, 512})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();
// Upsamplers 8, 8, 2, 2 with kernel 16, 16, 4, 4.
BENCHMARK(BM_ConvTranspose)
    ->Args({512, 256, 16, 8, 512, 1})
    ->Args({256, 128, 16, 8, 4096, 1})
    ->Args({128, 64, 4, 2, 32768, 1})
    ->Args({64, 32, 4, 2, 65536, 1})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

// MatMul [1, frames, in] x [in, out]: the pointwise (Linear) layers of Vocos' ConvNeXt blocks.
void BM_MatMul(benchmark::State& state) {
  const int64_t frames = state.range(0), in = state.range(1), out = state.range(2);
  Node node;
  node.op_type = "MatMul";
  Tensor a = random_tensor({1, frames, in}), b = random_tensor({in, out});
  auto kernel = OpRegistry::instance().create(node, 17, KernelOptions{});
  kernel->run({&a, &b});
  for (auto _ : state) benchmark::DoNotOptimize(kernel->run({&a, &b}));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * frames * in * out, benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}
BENCHMARK(BM_MatMul)
    ->Args({1024, 512, 1536})
    ->Args({1024, 1536, 512})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

}  // namespace
}  // namespace amphora

BENCHMARK_MAIN();
