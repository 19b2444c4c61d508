// How element-wise ops stream: output step t from input step t, whatever their attributes
// (Snake, com.amphora's, is set point-wise where it registers).
#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {

void register_elementwise_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule({"Abs",         "Acos",    "Add",        "And",       "Asin",
                            "Atan",        "Cast",    "Ceil",       "Clip",      "Cos",
                            "Cosh",        "Div",     "Elu",        "Equal",     "Erf",
                            "Exp",         "Floor",   "Gelu",       "Greater",   "GreaterOrEqual",
                            "HardSigmoid", "IsInf",   "IsNaN",      "LeakyRelu", "Less",
                            "LessOrEqual", "Log",     "Max",        "Mean",      "Min",
                            "Mod",         "Mul",     "Neg",        "Not",       "Or",
                            "Pow",         "PRelu",   "Reciprocal", "Relu",      "Round",
                            "Selu",        "Sigmoid", "Sign",       "Sin",       "Sinh",
                            "Softplus",    "Sqrt",    "Sub",        "Sum",       "Tan",
                            "Tanh",        "Where",   "Xor"},
                           stream_pointwise);
}

}  // namespace amphora
