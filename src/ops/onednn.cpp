#include "ops/onednn.hpp"

#include <array>
#include <cstdlib>

namespace amphora {

namespace {

// Caps oneDNN at AVX2 unless the user chose (ONEDNN_MAX_CPU_ISA). On AVX-512 machines oneDNN 2.6
// picks its brgemm convolutions, whose primitive creation grows with the time axis: HiFi-GAN V1
// at 512 frames spent 12 s creating primitives on its first run (15 s vs 3 s) for no gain after
// (2.54 s vs 2.57 s per run, 2 threads, bench in the same session). Must run before oneDNN's
// first primitive.
dnnl::engine make_engine() {
  if (std::getenv("ONEDNN_MAX_CPU_ISA") == nullptr) {
    try {
      dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2);
    } catch (const dnnl::error&) {
      // oneDNN was already used in this process (the cap is settable once); keep its choice.
    }
  }
  return dnnl::engine(dnnl::engine::kind::cpu, 0);
}

}  // namespace

dnnl::engine& onednn_engine() {
  static dnnl::engine engine = make_engine();
  return engine;
}

dnnl::stream& onednn_stream() {
  static dnnl::stream stream(onednn_engine());
  return stream;
}

dnnl::memory::dims onednn_dims(const Shape& shape) {
  return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::desc onednn_plain_desc(const Shape& shape) {
  dnnl::memory::dims strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return dnnl::memory::desc(onednn_dims(shape), dnnl::memory::data_type::f32, strides);
}

dnnl::memory onednn_wrap(const dnnl::memory::desc& desc, const Tensor& tensor) {
  return dnnl::memory(desc, onednn_engine(), const_cast<void*>(tensor.raw()));
}

void* onednn_scratch(size_t slot, size_t bytes) {
  struct Buffer {
    std::unique_ptr<std::byte, decltype(&std::free)> data{nullptr, &std::free};
    size_t capacity = 0;
  };
  thread_local std::array<Buffer, 4> buffers;
  if (slot >= buffers.size())
    fail(ErrorCode::kInternal, "oneDNN scratch slot {} out of range", slot);
  Buffer& buffer = buffers[slot];
  if (bytes > buffer.capacity) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    buffer.data.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded)));
    if (!buffer.data) fail(ErrorCode::kOutOfRange, "cannot allocate {} bytes of scratch", bytes);
    buffer.capacity = rounded;
  }
  return buffer.data.get();
}

}  // namespace amphora
