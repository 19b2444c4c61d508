#include "ops/matmul/matmul_onednn.hpp"

#include <unordered_map>

#include "ops/onednn.hpp"

namespace amphora {

using dnnl::memory;

struct OnednnMatmul::Plan {
  bool supported = false;
  dnnl::primitive primitive;
  memory::desc a, b, out, bias;
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

bool OnednnMatmul::run(const MatmulProblem& p, const Tensor& a, const Tensor& b, Tensor& out,
                       const Tensor* bias, bool gelu) {
  std::vector<int64_t> key = p.a;
  key.insert(key.end(), p.b.begin(), p.b.end());
  key.push_back(p.accumulate ? 1 : 0);
  key.push_back((bias ? 2 : 0) + (gelu ? 1 : 0));
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
      dnnl::matmul::desc desc = bias ? dnnl::matmul::desc(slot->a, slot->b, slot->bias, slot->out)
                                     : dnnl::matmul::desc(slot->a, slot->b, slot->out);
      slot->primitive = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, onednn_engine()));
      slot->supported = true;
    } catch (const dnnl::error&) {
      // No implementation (e.g. an unusual broadcast); stays on the reference kernel.
    }
  }
  const Plan& plan = *slot;
  if (!plan.supported) return false;
  dnnl::stream& stream = onednn_stream();
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, onednn_wrap(plan.a, a)},
                                          {DNNL_ARG_WEIGHTS, onednn_wrap(plan.b, b)},
                                          {DNNL_ARG_DST, onednn_wrap(plan.out, out)}};
  if (bias) args[DNNL_ARG_BIAS] = onednn_wrap(plan.bias, *bias);
  plan.primitive.execute(stream, args);
  stream.wait();
  return true;
}

}  // namespace amphora
