// Shape and data-movement ops. The kernels live in shape_view.cpp (metadata-only views),
// shape_index.cpp (Transpose, Gather, Slice), shape_join.cpp (Concat, Split, Tile, Expand) and
// shape_constant.cpp (Constant, ConstantOfShape, Range); this file only registers them.
#include "ops/shape/shape_common.hpp"

namespace amphora {

void register_shape_ops(OpRegistry& registry) {
  register_shape_view_ops(registry);
  register_shape_index_ops(registry);
  register_shape_join_ops(registry);
  register_shape_constant_ops(registry);
  register_shape_stream_rules(registry);
}

}  // namespace amphora
