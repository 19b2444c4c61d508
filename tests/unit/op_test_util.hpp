// Helpers shared by the unit tests (mostly the operator tests, tests/unit/test_ops_*.cpp): test
// nodes, running one kernel, small tensors, and checking the errors (code and message) ops throw.
// Not named test_*.cpp, so CMake does not build it as a test of its own.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_tiled.hpp"
#include "ops/kernel.hpp"

namespace amphora::testing {

// `count` value names "<prefix>0", "<prefix>1", ...
inline std::vector<std::string> numbered_names(const std::string& prefix, size_t count) {
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) names.push_back(prefix + std::to_string(i));
  return names;
}

// A node named "test_<op>" reading `inputs` and writing `outputs` values "out0", "out1", ...
inline Node make_node(const std::string& op, std::vector<std::string> inputs,
                      std::map<std::string, Attribute> attributes = {}, size_t outputs = 1) {
  Node node;
  node.name = "test_" + op;
  node.op_type = op;
  node.inputs = std::move(inputs);
  node.outputs = numbered_names("out", outputs);
  node.attributes = std::move(attributes);
  return node;
}

// The same with `inputs` inputs named "in0", "in1", ...
inline Node make_node(const std::string& op, size_t inputs,
                      std::map<std::string, Attribute> attributes = {}, size_t outputs = 1) {
  return make_node(op, numbered_names("in", inputs), std::move(attributes), outputs);
}

// Creates the node's kernel at `opset` through the registry and runs it: all its outputs.
inline std::vector<Tensor> run_op(const Node& node, const std::vector<const Tensor*>& inputs,
                                  int64_t opset = 17, KernelOptions options = {}) {
  return OpRegistry::instance().create(node, opset, options)->run(inputs);
}

// run_op for a node with one output: expects exactly one and returns it.
inline Tensor run1(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset = 17,
                   KernelOptions options = {}) {
  std::vector<Tensor> out = run_op(node, inputs, opset, options);
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

// run1 at opset 17 on the plain reference path (`reference`) or the fast (oneDNN) path.
inline Tensor run_path(const Node& node, const std::vector<const Tensor*>& inputs, bool reference) {
  KernelOptions options;
  options.reference = reference;
  return run1(node, inputs, 17, options);
}

// 1-D int64 / float32 tensors holding `values`.
inline Tensor ints(std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}
inline Tensor floats(std::vector<float> values) {
  return Tensor::from_vector<float>({static_cast<int64_t>(values.size())}, values);
}

// A float32 tensor of `shape` holding first, first + 1, ... in row-major order.
inline Tensor iota_float(const Shape& shape, float first = 0.0f) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), first);
  return Tensor::from_vector<float>(shape, v);
}

// A float32 tensor of `shape` filled uniformly from [-spread, spread) by `rng`.
inline Tensor random_tensor(const Shape& shape, std::mt19937& rng, float spread = 1.0f) {
  std::uniform_real_distribution<float> dist(-spread, spread);
  Tensor t(DType::kFloat32, shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

// Max-abs difference relative to the reference's magnitude (at least 1).
inline double relative_error(const Tensor& fast, const Tensor& reference) {
  std::vector<float> a = fast.to_float_vector(), b = reference.to_float_vector();
  double diff = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

// Runs the node on both paths and checks each gives `shape` and `expected` (within 1e-5).
inline void expect_both_paths(const Node& node, const std::vector<const Tensor*>& inputs,
                              const Shape& shape, const std::vector<float>& expected) {
  for (bool reference : {true, false}) {
    SCOPED_TRACE(reference ? "reference" : "oneDNN");
    Tensor y = run_path(node, inputs, reference);
    EXPECT_EQ(y.shape(), shape);
    std::vector<float> got = y.to_float_vector();
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5) << "at " << i;
  }
}

// Runs the node on both paths and checks the fast one agrees with the reference (1e-4 relative).
inline void expect_paths_agree(const Node& node, const std::vector<const Tensor*>& inputs) {
  Tensor reference = run_path(node, inputs, true);
  Tensor fast = run_path(node, inputs, false);
  ASSERT_EQ(fast.shape(), reference.shape());
  EXPECT_LT(relative_error(fast, reference), 1e-4);
}

// Runs the node on the fast path expecting an error whose message contains `must_mention`;
// returns its code (kInternal, after a failure, when nothing was thrown).
inline ErrorCode error_of(const Node& node, const std::vector<const Tensor*>& inputs,
                          const std::string& must_mention) {
  try {
    run_path(node, inputs, false);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(must_mention), std::string::npos) << e.what();
    return e.code();
  }
  ADD_FAILURE() << "expected an error mentioning " << must_mention;
  return ErrorCode::kInternal;
}

// Runs `fn`, expects an amphora::Error with `code` whose message contains every fragment.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::vector<std::string>& fragments) {
  try {
    fn();
    std::string wanted;
    for (const auto& f : fragments) wanted += (wanted.empty() ? "'" : ", '") + f + "'";
    ADD_FAILURE() << "expected an error mentioning " << wanted;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& f : fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}
// The same for a braced list of fragments ({"a", "b"}) or a single one.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, std::initializer_list<std::string> fragments) {
  expect_error(fn, code, std::vector<std::string>(fragments));
}
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::string& fragment) {
  expect_error(fn, code, std::vector<std::string>{fragment});
}

// A batch-1, group-1, stride-1 1-D Conv over `length` samples: kernel k, dilation d, the pads,
// and the output length they give.
inline ConvGeometry conv1d_geometry(int64_t in_channels, int64_t out_channels, int64_t length,
                                    int64_t k, int64_t d, int64_t pad_begin, int64_t pad_end) {
  ConvGeometry g;
  g.batch = 1;
  g.in_channels = in_channels;
  g.out_channels = out_channels;
  g.spatial_rank = 1;
  g.in = {length};
  g.kernel = {k};
  g.out = {length + pad_begin + pad_end - (k - 1) * d};
  g.strides = {1};
  g.dilations = {d};
  g.pad_begin = {pad_begin};
  g.pad_end = {pad_end};
  return g;
}

// The directory "<tag><pid>" under the system temp dir (created if missing) for test files.
inline std::filesystem::path temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() / (tag + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

// `joined` ([channels, length] rows) cut at random steps into pieces of 1..`longest` steps, as
// the streamer keeps a conv's history and new chunks: each piece in a buffer of its own (kept in
// `buffers`) at an offset inside a longer row of NaN, so that reading past a piece shows. Some
// pieces are padding, without rows (`joined` is zeroed there, so the pieces still make it), and
// with `empty_pieces` some have no steps at all.
inline std::vector<TimePiece> cut_into_pieces(float* joined, int64_t channels, int64_t length,
                                              int64_t longest, bool empty_pieces, std::mt19937& rng,
                                              std::vector<std::vector<float>>& buffers) {
  std::vector<TimePiece> pieces;
  std::uniform_int_distribution<int64_t> size(1, longest), margin(0, 19), die(0, 11);
  for (int64_t at = 0; at < length;) {
    const int64_t n = empty_pieces && die(rng) < 3 ? 0 : std::min(size(rng), length - at);
    if (die(rng) < 2) {
      for (int64_t c = 0; c < channels; ++c) std::fill_n(joined + c * length + at, n, 0.0f);
      pieces.push_back({nullptr, 0, 0, n});
    } else {
      const int64_t start = margin(rng), row_length = start + n + margin(rng);
      std::vector<float>& buffer = buffers.emplace_back(channels * row_length, NAN);
      for (int64_t c = 0; c < channels; ++c)
        std::copy_n(joined + c * length + at, n, buffer.data() + c * row_length + start);
      pieces.push_back({buffer.data(), row_length, start, n});
    }
    at += n;
  }
  return pieces;
}

}  // namespace amphora::testing
