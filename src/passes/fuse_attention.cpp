// A transformer's attention as torch.onnx.export writes `softmax(q @ k.transpose(-2, -1) / c) @ v`
// over heads split by view + transpose -> one com.amphora Attention (ops/attention/attention.hpp):
//   q, k, v -> Reshape to [B, T, H, D] -> Transpose (0 2 1 3; k: 0 2 3 1) -> MatMul(q, k)
//   -> Div by a constant scalar (or Mul by one, or neither) [-> Add of a mask, BERT's padding]
//   -> Softmax over the last axis
//   -> MatMul(., v) -> Transpose (0 2 1 3) -> Reshape.
// Twelve nodes and four copies of the activations become one pass over them; the Reshape targets
// (often computed from the input's shape at run time) become the fused node's inputs, so every
// length still works. Safe because each absorbed value has exactly one reader and is not a graph
// output; the fused node takes the last Reshape's place, where all its inputs exist.
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

struct Match {
  std::set<size_t> nodes;
  std::vector<std::string> inputs;  // Q, K, V, their Reshape targets and the output's, [mask]
  float scale = 1.0f;
};

class AttentionMatcher {
 public:
  AttentionMatcher(const Graph& graph, const GraphUses& uses, const std::set<size_t>& removed)
      : graph_(graph), uses_(uses), removed_(removed) {}

  // The node of type `op` (default domain, `inputs` inputs) that writes `value`, which nothing
  // else reads; null otherwise.
  const Node* only_producer(const std::string& value, const char* op, size_t inputs) const {
    const int64_t i = uses_.producer(value);
    if (i < 0 || removed_.count(static_cast<size_t>(i)) || !uses_.has_single_reader(value)) {
      return nullptr;
    }
    const Node& node = graph_.nodes[static_cast<size_t>(i)];
    return is_op(node, op, inputs) ? &node : nullptr;
  }

  const Node* only_reader(const std::string& value, const char* op) const {
    const Node* node = sole_reader(graph_, uses_, removed_, value);
    return node && is_op(*node, op, node->inputs.size()) ? node : nullptr;
  }

  // `value` = Transpose(perm) of Reshape(x, target): adds both nodes and returns x and target.
  bool head_split(const std::string& value, const std::vector<int64_t>& perm, Match& m,
                  std::string& x, std::string& target) const {
    const Node* transpose = only_producer(value, "Transpose", 1);
    if (!transpose || transpose->get_ints("perm") != perm) return false;
    const Node* reshape = only_producer(transpose->inputs[0], "Reshape", 2);
    if (!reshape || reshape->get_int("allowzero", 0) != 0) return false;
    m.nodes.insert({transpose->index, reshape->index});
    x = reshape->inputs[0];
    target = reshape->inputs[1];
    return true;
  }

  // The constant scalar float operand of a two-input node, or null.
  const Tensor* scalar_operand(const Node& node, const std::string& value) const {
    const std::string other = other_operand(node, value);
    const Tensor* t = other.empty() ? nullptr : constant_value(graph_, uses_, other);
    return t && t->dtype() == DType::kFloat32 && t->numel() == 1 ? t : nullptr;
  }

  bool match(const Node& softmax, Match& m, const Node*& last) const {
    const int64_t axis = softmax.get_int("axis", graph_.opset() >= 13 ? -1 : 1);
    if (axis != -1 && axis != 3) return false;
    m.nodes = {softmax.index};
    std::string scores = softmax.inputs[0], mask;
    // An additive mask: Add(scores, mask) or Add(mask, scores), the scores from the chain below.
    if (const Node* add = only_producer(scores, "Add", 2)) {
      // A MatMul, or a Div or Mul reading one (a mask may itself be a Mul of the padding).
      const auto from_chain = [&](const std::string& value) {
        if (only_producer(value, "MatMul", 2)) return true;
        const Node* scaling = only_producer(value, "Div", 2);
        if (!scaling) scaling = only_producer(value, "Mul", 2);
        return scaling && (only_producer(scaling->inputs[0], "MatMul", 2) ||
                           only_producer(scaling->inputs[1], "MatMul", 2));
      };
      const int scores_at = from_chain(add->inputs[0]) ? 0 : from_chain(add->inputs[1]) ? 1 : -1;
      if (scores_at < 0 || add->inputs[0] == add->inputs[1]) return false;
      scores = add->inputs[scores_at];
      mask = add->inputs[1 - scores_at];
      m.nodes.insert(add->index);
    }
    // The scores: MatMul(q, k), scaled by Div(s, c), Mul(s, c) or Mul(c, s), or not at all.
    const Node* scale_node = only_producer(scores, "Div", 2);
    if (scale_node) {
      const Tensor* c = scalar_operand(*scale_node, scale_node->inputs[0]);  // the divisor
      if (!c) return false;
      m.scale = 1.0f / c->data<float>()[0];
      scores = scale_node->inputs[0];
    } else if ((scale_node = only_producer(scores, "Mul", 2))) {
      const Node* product = nullptr;
      for (const std::string& operand : scale_node->inputs) {
        if (const Node* p = only_producer(operand, "MatMul", 2)) product = p;
      }
      const Tensor* c = product ? scalar_operand(*scale_node, product->outputs[0]) : nullptr;
      if (!c) return false;
      m.scale = c->data<float>()[0];
      scores = product->outputs[0];
    }
    if (scale_node) m.nodes.insert(scale_node->index);
    const Node* qk = only_producer(scores, "MatMul", 2);
    std::string q, k, v, q_target, k_target, v_target;
    if (!qk || !head_split(qk->inputs[0], {0, 2, 1, 3}, m, q, q_target) ||
        !head_split(qk->inputs[1], {0, 2, 3, 1}, m, k, k_target)) {
      return false;
    }
    m.nodes.insert(qk->index);
    // The weighted values, back to [B, T, H, D], joined.
    const Node* pv = only_reader(softmax.outputs[0], "MatMul");
    if (!pv || pv->inputs[0] != softmax.outputs[0] ||
        !head_split(pv->inputs[1], {0, 2, 1, 3}, m, v, v_target)) {
      return false;
    }
    const Node* back = only_reader(pv->outputs[0], "Transpose");
    if (!back || back->get_ints("perm") != std::vector<int64_t>{0, 2, 1, 3}) return false;
    const Node* join = only_reader(back->outputs[0], "Reshape");
    if (!join || join->inputs[0] != back->outputs[0] || join->get_int("allowzero", 0) != 0) {
      return false;
    }
    m.nodes.insert({pv->index, back->index, join->index});
    m.inputs = {q, k, v, q_target, k_target, v_target, join->inputs[1]};
    if (!mask.empty()) m.inputs.push_back(mask);
    last = join;
    // Eleven distinct nodes, one more for each of the scale and the mask (none can be two of them:
    // each reads the one before).
    return m.nodes.size() == 11u + (scale_node ? 1u : 0u) + (mask.empty() ? 0u : 1u);
  }

 private:
  const Graph& graph_;
  const GraphUses& uses_;
  const std::set<size_t>& removed_;
};

}  // namespace

bool fuse_attention(Graph& graph) {
  if (graph.opset() < 5) return false;  // Reshape's target as an input
  const GraphUses uses(graph);
  std::set<size_t> removed;
  std::map<size_t, Node> placed;
  const AttentionMatcher matcher(graph, uses, removed);
  for (const Node& softmax : graph.nodes) {
    if (!is_op(softmax, "Softmax", 1) || removed.count(softmax.index)) continue;
    Match m;
    const Node* last = nullptr;
    if (!matcher.match(softmax, m, last)) continue;
    Node fused;
    fused.name = softmax.name;
    fused.domain = kAmphoraDomain;
    fused.op_type = "Attention";
    fused.inputs = m.inputs;
    fused.outputs = last->outputs;
    fused.attributes["scale"] = m.scale;
    removed.insert(m.nodes.begin(), m.nodes.end());
    placed[last->index] = std::move(fused);
  }
  if (removed.empty()) return false;
  replace_fused_nodes(graph, removed, placed);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

}  // namespace amphora
