#include "ops/onednn.hpp"

#include <array>
#include <cstdlib>

namespace amphora {

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& onednn_stream() {
  thread_local dnnl::stream stream(onednn_engine());
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

bool onednn_has_avx512() {
  onednn_engine();  // the ISA is fixed once oneDNN is initialised
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto avx512 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
  return (isa & avx512) == avx512;
}

bool onednn_has_vnni() {
  onednn_engine();
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto has = [isa](dnnl::cpu_isa wanted) {
    return (isa & static_cast<unsigned>(wanted)) == static_cast<unsigned>(wanted);
  };
  return has(dnnl::cpu_isa::avx512_core_vnni) || has(dnnl::cpu_isa::avx2_vnni);
}

}  // namespace amphora
