#include "ops/onednn.hpp"

namespace amphora {

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
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

}  // namespace amphora
