// The one oneDNN CPU engine and stream every fast kernel shares, and small conversions between
// amphora shapes and oneDNN descriptors. Only src/ops/*_onednn.cpp include this header, so the
// rest of the engine does not depend on oneDNN.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.hpp"

namespace amphora {

dnnl::engine& onednn_engine();
// Executions are synchronous on CPU; the calling thread's stream is shared by every kernel,
// because creating one per kernel buys nothing and costs an allocation. Per thread, so that the
// threads of a tiled conv (conv_tiled.hpp) can each run a primitive.
dnnl::stream& onednn_stream();

dnnl::memory::dims onednn_dims(const Shape& shape);
// Dense row-major (C order) descriptor: what amphora Tensors hold.
dnnl::memory::desc onednn_plain_desc(const Shape& shape);
// Wraps a float32 tensor's buffer without copying. oneDNN takes a non-const pointer even for
// inputs it only reads; the primitives below never write to source memories.
dnnl::memory onednn_wrap(const dnnl::memory::desc& desc, const Tensor& tensor);

// Scratch space for activations in a primitive's own (blocked) layout. Kernels run one after
// another on a thread, so every kernel on the calling thread shares the same few buffers instead
// of each node keeping activation-sized copies alive; `slot` distinguishes buffers needed at the
// same time (e.g. 0 for the source, 1 for the destination). The pointer stays valid until the
// next call with the same slot on this thread.
void* onednn_scratch(size_t slot, size_t bytes);

// Whether oneDNN may use AVX-512 (avx512_core) on this machine and under ONEDNN_MAX_CPU_ISA.
bool onednn_has_avx512();
// Whether oneDNN may use VNNI (avx512_core_vnni or avx2_vnni) here: without it, its int8 kernels
// multiply with vpmaddubsw, whose int16 pair sums saturate, so int8 results are not exact.
bool onednn_has_vnni();

}  // namespace amphora
