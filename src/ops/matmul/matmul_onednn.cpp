#include "ops/matmul/matmul_onednn.hpp"

#include <memory>
#include <mutex>
#include <unordered_map>

#include "ops/onednn.hpp"

namespace amphora {

using dnnl::memory;

struct OnednnMatmul::Plan {
  bool supported = false;
  dnnl::primitive primitive;
  memory::desc a, b, out, bias;
  // Constant B: the primitive reads it in `b_packed` (its own layout); `b` is B's plain layout.
  bool pack_b = false;
  memory::desc b_packed;
};

struct OnednnMatmul::PackedB {
  Tensor source;  // held, so that its buffer is not reused while the packing is kept
  memory::desc desc;
  memory packed;
};

OnednnMatmul::OnednnMatmul() = default;
OnednnMatmul::~OnednnMatmul() = default;

namespace {

// Logical [batch..., rows, cols] over a row-major buffer that stores [batch..., cols, rows]
// when transposed: the transpose is only a swap of the last two strides.
memory::desc operand_desc(const Shape& batch, int64_t rows, int64_t cols, bool transposed) {
  Shape stored = batch;
  stored.push_back(transposed ? cols : rows);
  stored.push_back(transposed ? rows : cols);
  memory::dims strides(stored.size(), 1);
  for (size_t i = stored.size(); i-- > 1;) strides[i - 1] = strides[i] * stored[i];
  if (transposed) std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  Shape dims = batch;
  dims.push_back(rows);
  dims.push_back(cols);
  return memory::desc(onednn_dims(dims), memory::data_type::f32, strides);
}

}  // namespace

dnnl::memory OnednnMatmul::packed_b(const Plan& plan, const Tensor& b) {
  for (const auto& entry : packed_) {
    if (entry->source.raw() == b.raw() && entry->desc == plan.b_packed) return entry->packed;
  }
  // Not packed for this kernel yet: share a packing another kernel made of the same buffer
  // (the kernels of several streams of one model), or make it. The process-wide list holds
  // weak references: a packing lives as long as some kernel uses it.
  static std::mutex mutex;
  static std::vector<std::weak_ptr<PackedB>> shared;
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<PackedB> found;
  for (const auto& weak : shared) {
    std::shared_ptr<PackedB> entry = weak.lock();
    if (entry && entry->source.raw() == b.raw() && entry->desc == plan.b_packed) {
      found = std::move(entry);
      break;
    }
  }
  if (!found) {
    std::erase_if(shared, [](const auto& weak) { return weak.expired(); });
    found = std::make_shared<PackedB>();
    found->source = b;
    found->desc = plan.b_packed;
    found->packed = memory(plan.b_packed, onednn_engine());
    memory plain = onednn_wrap(plan.b, b);
    dnnl::reorder(plain, found->packed)
        .execute(onednn_stream(), {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, found->packed}});
    onednn_stream().wait();
    shared.push_back(found);
  }
  // Forget this kernel's packings of buffers that are gone from the model.
  std::erase_if(packed_, [&](const auto& entry) { return entry->source.raw() != b.raw(); });
  packed_.push_back(found);
  return found->packed;
}

bool OnednnMatmul::run(const MatmulProblem& p, const Tensor& a, const Tensor& b, Tensor& out,
                       const Tensor* bias, bool gelu, bool constant_b) {
  // Packing pays off when B is reused over many rows; a few rows (a streamed chunk) read it once.
  constant_b = constant_b && p.b.size() >= 2 && shape_numel(p.b) == p.k * p.n && !p.trans_b;
  std::vector<int64_t> key = p.a;
  key.insert(key.end(), p.b.begin(), p.b.end());
  key.push_back(p.accumulate ? 1 : 0);
  key.push_back((bias ? 2 : 0) + (gelu ? 1 : 0) + (constant_b ? 4 : 0));
  if (!plans_.count(key) && plans_.size() >= kMaxPlans) plans_.clear();  // bound the cache
  auto& slot = plans_[key];
  if (!slot) {
    slot = std::make_unique<Plan>();
    const size_t batch_rank = p.out.size() - 2;
    Shape a_batch(p.a.begin(), p.a.begin() + static_cast<std::ptrdiff_t>(batch_rank));
    Shape b_batch(p.b.begin(), p.b.begin() + static_cast<std::ptrdiff_t>(batch_rank));
    Shape out_batch(p.out.begin(), p.out.begin() + static_cast<std::ptrdiff_t>(batch_rank));
    const bool b_shared = shape_numel(b_batch) == 1;
    int64_t m = p.m;
    if (b_shared && !p.trans_a) {
      // One B for every batch (a linear layer): fold A's batch axes into its rows, giving one
      // large 2-D product instead of many small ones.
      m *= shape_numel(a_batch);
      a_batch = b_batch = out_batch = {};
    } else if (a_batch == b_batch && batch_rank > 1) {
      a_batch = b_batch = out_batch = {shape_numel(out_batch)};
    }
    slot->a = operand_desc(a_batch, m, p.k, p.trans_a);
    slot->b = operand_desc(b_batch, p.k, p.n, p.trans_b);
    const bool pack_b = constant_b && b_batch.empty();
    const memory::desc b_any(onednn_dims({p.k, p.n}), memory::data_type::f32,
                             memory::format_tag::any);
    slot->out = operand_desc(out_batch, m, p.n, false);
    if (bias) {  // [1, ..., 1, N]: broadcast over every row
      memory::dims dims(slot->out.dims().size(), 1);
      dims.back() = p.n;
      slot->bias = onednn_plain_desc(Shape(dims.begin(), dims.end()));
    }
    dnnl::primitive_attr attr;
    if (p.alpha != 1.0f) attr.set_output_scales(0, {p.alpha});
    dnnl::post_ops ops;
    if (p.accumulate) ops.append_sum(1.0f);
    if (gelu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
    attr.set_post_ops(ops);
    try {
      const memory::desc& b_desc = pack_b ? b_any : slot->b;
      dnnl::matmul::desc desc = bias ? dnnl::matmul::desc(slot->a, b_desc, slot->bias, slot->out)
                                     : dnnl::matmul::desc(slot->a, b_desc, slot->out);
      const dnnl::matmul::primitive_desc pd(desc, attr, onednn_engine());
      slot->primitive = dnnl::matmul(pd);
      slot->pack_b = pack_b && pd.weights_desc() != slot->b;
      slot->b_packed = pd.weights_desc();
      slot->supported = true;
    } catch (const dnnl::error&) {
      // No implementation (e.g. an unusual broadcast); stays on the reference kernel.
    }
  }
  const Plan& plan = *slot;
  if (!plan.supported) return false;
  dnnl::stream& stream = onednn_stream();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, onednn_wrap(plan.a, a)},
                                          {DNNL_ARG_WEIGHTS, plan.pack_b ? packed_b(plan, b)
                                                                         : onednn_wrap(plan.b, b)},
                                          {DNNL_ARG_DST, onednn_wrap(plan.out, out)}};
  if (bias) args[DNNL_ARG_BIAS] = onednn_wrap(plan.bias, *bias);
  plan.primitive.execute(stream, args);
  stream.wait();
  return true;
}

}  // namespace amphora
