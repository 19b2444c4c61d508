// How convolutions stream along time: a Conv keeps the input tail its next outputs need, a
// ConvTranspose overlap-adds its outputs (bias added once per final step). The kernel then runs
// on unpadded windows; the streamer supplies the padding and the history.
#include "ops/amphora_domain.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_fused.hpp"

namespace amphora {

namespace {

std::string plan_conv(const Node& node, const StreamQuery& query, StreamNodePlan& plan,
                      bool transpose) {
  const Tensor* weight = node.inputs.size() > 1 ? query.constant(node.inputs[1]) : nullptr;
  if (query.rank(node.inputs[0]) != 3 || plan.axis != 2 || !weight || weight->rank() != 3) {
    return "the streamer handles 1-D convolutions over time with constant weights only";
  }
  ConvAttrs attrs = ConvAttrs::parse(node, transpose);
  if (attrs.auto_pad != AutoPad::kNotSet && attrs.auto_pad != AutoPad::kValid) {
    return "auto_pad SAME is not supported by the streamer";
  }
  if (!attrs.output_shape.empty()) return "output_shape is not supported";
  plan.role = transpose ? StreamRole::kConvTranspose : StreamRole::kConv;
  plan.kernel = weight->dim(2);
  if (!attrs.strides.empty()) plan.stride = attrs.strides[0];
  if (!attrs.dilations.empty()) plan.dilation = attrs.dilations[0];
  if (attrs.auto_pad == AutoPad::kNotSet && attrs.pads.size() == 2) {
    plan.pad_begin = attrs.pads[0];
    plan.pad_end = attrs.pads[1];
  }
  if (!attrs.output_padding.empty()) plan.output_padding = attrs.output_padding[0];
  plan.kernel_node.attributes.erase("auto_pad");
  plan.kernel_node.attributes.erase("output_padding");
  plan.kernel_node.attributes["pads"] = std::vector<int64_t>{0, 0};
  if (transpose && node.inputs.size() > 2) {
    plan.bias = node.inputs[2];
    plan.kernel_node.inputs.resize(2);
  }
  return "";
}

StreamRule conv_rule(bool transpose) {
  return [transpose](const Node& node, const std::vector<size_t>&, const StreamQuery& query,
                     StreamNodePlan& plan) { return plan_conv(node, query, plan, transpose); };
}

// com.amphora's FusedConv/FusedConvTranspose: a conv with its activations and residual.
StreamRule fused_conv_rule(bool transpose) {
  return [transpose](const Node& node, const std::vector<size_t>&, const StreamQuery& query,
                     StreamNodePlan& plan) -> std::string {
    if (node.has("x_dynamic")) {
      return "it quantizes X with the range of the whole input (DynamicQuantizeLinear)";
    }
    if (node.get_string("pad_mode", "constant") != "constant") {
      return "its reflect padding is fused in (an offline rewrite); the streamer needs the Pad "
             "node";
    }
    const bool has_sum = node.inputs.size() > 3 && !node.inputs[3].empty();
    if (has_sum &&
        (!query.is_stream(node.inputs[3]) || query.time_axis(node.inputs[3]) != 2 ||
         query.probe_shape(node.inputs[3], 0) != query.probe_shape(node.outputs[0], 0))) {
      return "its fused residual is not a time series shaped like its output";
    }
    if (std::string why = plan_conv(node, query, plan, transpose); !why.empty()) return why;
    if (transpose) {
      // The overlap-add completes an output step only when later inputs have arrived, so the
      // streamer applies the fused activation and residual itself, after the bias.
      plan.post = parse_conv_post_ops(node);
      if (has_sum) plan.sum = node.inputs[3];
      plan.kernel_node.attributes.erase("activation");
      plan.kernel_node.attributes.erase("alpha");
    }
    return "";
  };
}

// com.amphora's DwConvLayerNorm: a conv along axis 1 of [N, T, C] (the LayerNorm is over the
// channels of each output step).
std::string dw_conv_norm_rule(const Node& node, const std::vector<size_t>& streams,
                              const StreamQuery& query, StreamNodePlan& plan) {
  const Tensor* weight = node.inputs.size() > 1 ? query.constant(node.inputs[1]) : nullptr;
  if (streams.size() != 1 || streams[0] != 0 || query.rank(node.inputs[0]) != 3 || plan.axis != 1 ||
      !weight || weight->rank() != 3) {
    return "the streamer handles DwConvLayerNorm over time on axis 1 of X with constant weights "
           "only";
  }
  const std::vector<int64_t> pads = node.get_ints("pads");
  const std::vector<int64_t> dilations = node.get_ints("dilations");
  plan.role = StreamRole::kConv;
  plan.kernel = weight->dim(2);
  if (!dilations.empty()) plan.dilation = dilations[0];
  if (pads.size() == 2) {
    plan.pad_begin = pads[0];
    plan.pad_end = pads[1];
  }
  plan.kernel_node.attributes["pads"] = std::vector<int64_t>{0, 0};
  return "";
}

}  // namespace

void register_conv_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule("", "Conv", conv_rule(false));
  registry.set_stream_rule("", "ConvTranspose", conv_rule(true));
  registry.set_stream_rule(kAmphoraDomain, "FusedConv", fused_conv_rule(false));
  registry.set_stream_rule(kAmphoraDomain, "FusedConvTranspose", fused_conv_rule(true));
  registry.set_stream_rule(kAmphoraDomain, "DwConvLayerNorm", dw_conv_norm_rule);
}

}  // namespace amphora
