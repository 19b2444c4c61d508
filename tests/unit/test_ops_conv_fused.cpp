// The conv fast paths -- post-ops (activation, residual sum), dilated convs run over time
// phases, long convs run tile by tile, narrow convs, reflect padding -- against the plain
// reference kernels, on random shapes.
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <random>

#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"
#include "ops/conv/conv_fast_path.hpp"
#include "ops/conv/conv_phases.hpp"
#include "ops/conv/conv_reference.hpp"
#include "ops/conv/conv_tiled.hpp"

namespace amphora {
namespace {

Tensor random_tensor(const Shape& shape, std::mt19937& rng) {
  Tensor t(DType::kFloat32, shape);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(rng);
  return t;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    worst = std::max(worst, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  }
  return worst;
}

Node fused_node(int64_t k, int64_t dilation, int64_t pad_l, int64_t pad_r,
                const std::string& activation, bool sum, const std::string& input_activation = "") {
  Node node;
  node.name = "fused";
  node.domain = kAmphoraDomain;
  node.op_type = "FusedConv";
  node.inputs = {"x", "w", "b"};
  if (sum) node.inputs.push_back("r");
  node.outputs = {"y"};
  node.attributes["kernel_shape"] = std::vector<int64_t>{k};
  node.attributes["dilations"] = std::vector<int64_t>{dilation};
  node.attributes["pads"] = std::vector<int64_t>{pad_l, pad_r};
  if (!activation.empty()) node.attributes["activation"] = activation;
  if (activation == "LeakyRelu") node.attributes["alpha"] = 0.1f;
  if (!input_activation.empty()) node.attributes["input_activation"] = input_activation;
  if (input_activation == "LeakyRelu") node.attributes["input_alpha"] = 0.2f;
  return node;
}

std::unique_ptr<Kernel> make_kernel(const Node& node, bool reference) {
  register_amphora_domain_ops_once();
  KernelOptions options;
  options.reference = reference;
  return OpRegistry::instance().create(node, 1, options);
}

TEST(PhaseSplit, AppliesOnlyToStrideOneDilatedConvsWithAlignedPadding) {
  ConvGeometry g = testing::conv1d_geometry(8, 8, 100, 7, 3, 9, 9);
  PhaseSplit split = split_into_phases(g);
  ASSERT_TRUE(split.valid);
  EXPECT_EQ(split.phases, 3);
  EXPECT_EQ(split.in_len, 34);
  EXPECT_EQ(split.out_len, 34);
  EXPECT_EQ(split.pad_l, 3);
  EXPECT_EQ(split.pad_r, 3);
  EXPECT_EQ(split.batched.batch, 3);
  ConvGeometry odd_pad = g;
  odd_pad.pad_begin = {8};
  EXPECT_FALSE(split_into_phases(odd_pad).valid);
  ConvGeometry strided = g;
  strided.strides = {2};
  EXPECT_FALSE(split_into_phases(strided).valid);
  ConvGeometry undilated = g;
  undilated.dilations = {1};
  EXPECT_FALSE(split_into_phases(undilated).valid);
}

TEST(PhaseSplit, PackAndUnpackAreInverse) {
  std::mt19937 rng(3);
  for (int64_t channels : {1, 8, 13}) {
    for (int64_t length : {1, 9, 100, 4099}) {
      for (int64_t phases : {2, 3, 5}) {
        Tensor x = random_tensor({channels, length}, rng);
        const int64_t phase_len = (length + phases - 1) / phases;
        std::vector<float> packed(phases * ((channels + 7) / 8) * phase_len * 8, -1.0f);
        pack_phases(x.data<float>(), channels, length, phases, phase_len, packed.data());
        // Channel padding and the time tail are zeros (the conv reads them as padding).
        if (channels == 13) {
          EXPECT_EQ(packed[(1 * phase_len) * 8 + 7], 0.0f);  // channel 15 of 13
        }
        if (length % phases != 0) {
          EXPECT_EQ(packed.back(), 0.0f);  // last phase, past the end of the row
        }
        Tensor back(DType::kFloat32, {channels, length});
        unpack_phases(packed.data(), channels, length, phases, phase_len, back.data<float>());
        EXPECT_EQ(max_abs_diff(x, back), 0.0f) << channels << " " << length << " " << phases;
      }
    }
  }
}

TEST(FusedConv, OnednnMatchesReferenceOnRandomShapesActivationsAndResiduals) {
  std::mt19937 rng(11);
  const std::vector<std::string> activations = {"", "Relu", "LeakyRelu", "Tanh"};
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t in_ch = std::vector<int64_t>{1, 4, 8, 13, 32}[rng() % 5];
    const int64_t out_ch = std::vector<int64_t>{1, 8, 12, 32}[rng() % 4];
    const int64_t k = std::vector<int64_t>{1, 3, 5, 7, 11}[rng() % 5];
    const int64_t dilation = std::vector<int64_t>{1, 2, 3, 5}[rng() % 4];
    const int64_t frames = 1 + static_cast<int64_t>(rng() % 700);
    // "same" padding (aligned with the dilation: the phase path), or valid / odd padding.
    const int64_t same = (k - 1) * dilation / 2;
    const int64_t pad_l = trial % 3 == 2 ? static_cast<int64_t>(rng() % 4) : same;
    const int64_t pad_r = trial % 3 == 2 ? static_cast<int64_t>(rng() % 4) : same;
    if (frames + pad_l + pad_r < (k - 1) * dilation + 1) continue;
    const std::string activation = activations[rng() % activations.size()];
    const bool sum = rng() % 2 == 0;
    const std::string input_activation =
        std::vector<std::string>{"", "Relu", "LeakyRelu"}[rng() % 3];
    const Node node = fused_node(k, dilation, pad_l, pad_r, activation, sum, input_activation);
    SCOPED_TRACE(::testing::Message()
                 << in_ch << "->" << out_ch << " k" << k << " d" << dilation << " T" << frames
                 << " pads " << pad_l << "," << pad_r << " act '" << activation << "' sum " << sum
                 << " input act '" << input_activation << "'");
    Tensor x = random_tensor({1, in_ch, frames}, rng);
    Tensor w = random_tensor({out_ch, in_ch, k}, rng);
    Tensor b = random_tensor({out_ch}, rng);
    const int64_t out_frames = frames + pad_l + pad_r - (k - 1) * dilation;
    Tensor r = random_tensor({1, out_ch, out_frames}, rng);
    std::vector<const Tensor*> inputs = {&x, &w, &b};
    if (sum) inputs.push_back(&r);
    Tensor want = make_kernel(node, true)->run(inputs)[0];
    auto fast = make_kernel(node, false);
    Tensor got = fast->run(inputs)[0];
    EXPECT_LE(max_abs_diff(got, want), 2e-4f * std::sqrt(static_cast<float>(in_ch * k)));
    // Second run: cached primitive and packed weights must give the same result.
    EXPECT_EQ(max_abs_diff(fast->run(inputs)[0], got), 0.0f);
  }
}

// A vocoder's conv_post (one or two output channels) over several of narrow_conv's time tiles,
// with its input LeakyReLU applied per tile window: edges, dilation and uneven padding.
TEST(FusedConv, NarrowConvWithInputActivationAcrossTimeTiles) {
  std::mt19937 rng(12);
  for (const auto& [out_ch, k, dilation, pad_l, pad_r] :
       std::vector<std::array<int64_t, 5>>{{1, 7, 1, 3, 3}, {2, 5, 3, 6, 6}, {1, 3, 1, 0, 2}}) {
    const Node node = fused_node(k, dilation, pad_l, pad_r, "Tanh", false, "LeakyRelu");
    Tensor x = random_tensor({1, 32, 5000}, rng);
    Tensor w = random_tensor({out_ch, 32, k}, rng);
    Tensor b = random_tensor({out_ch}, rng);
    const std::vector<const Tensor*> inputs = {&x, &w, &b};
    Tensor want = make_kernel(node, true)->run(inputs)[0];
    Tensor got = make_kernel(node, false)->run(inputs)[0];
    EXPECT_LE(max_abs_diff(got, want), 2e-4f * std::sqrt(32.0f * k)) << out_ch << " k" << k;
  }
}

// Long convs with 3..256 channels run as time tiles (conv_tiled.hpp): every tile's window reads
// across the tile edges, the first and last read padding, the last tile is ragged, and the
// channel counts leave partial blocks. Each case is checked to be one the tiled path takes.
TEST(FusedConv, TiledConvMatchesReferenceAcrossTileEdges) {
  std::mt19937 rng(13);
  struct Case {
    int64_t in_ch, out_ch, k, dilation, pad_l, pad_r, frames;
    const char *activation, *input_activation;
    bool sum;
  };
  const std::vector<Case> cases = {
      {32, 32, 7, 1, 3, 3, 5000, "", "LeakyRelu", true},   // HiFi-GAN V3's late resblocks
      {32, 32, 3, 9, 9, 9, 4100, "LeakyRelu", "", false},  // dilated, MelGAN-like
      {64, 64, 5, 3, 6, 6, 3001, "", "Relu", true},
      {24, 40, 3, 1, 0, 2, 9000, "Tanh", "", false},      // uneven pads, partial blocks
      {16, 5, 7, 2, 0, 0, 20000, "", "LeakyRelu", true},  // few outputs, no padding
      {128, 100, 3, 1, 1, 1, 1000, "", "", true},
      {256, 200, 5, 2, 4, 4, 810, "", "LeakyRelu", true},  // the widest tiled
      {40, 48, 1, 1, 0, 0, 2100, "LeakyRelu", "LeakyRelu", false},
  };
  for (const Case& c : cases) {
    const Node node =
        fused_node(c.k, c.dilation, c.pad_l, c.pad_r, c.activation, c.sum, c.input_activation);
    SCOPED_TRACE(::testing::Message()
                 << c.in_ch << "->" << c.out_ch << " k" << c.k << " d" << c.dilation << " T"
                 << c.frames << " act '" << c.activation << "' input act '" << c.input_activation
                 << "' sum " << c.sum);
    const ConvGeometry g =
        testing::conv1d_geometry(c.in_ch, c.out_ch, c.frames, c.k, c.dilation, c.pad_l, c.pad_r);
    const int64_t out_frames = g.out[0];
    for (int64_t block : {8, 16}) {
      const TileSplit split = split_into_tiles(g, block);
      ASSERT_TRUE(split.valid) << "block " << block;
      EXPECT_GE(split.tiles, 2);
      EXPECT_NE(out_frames % split.tile, 0) << "the last tile should be ragged";
    }
    Tensor x = random_tensor({1, c.in_ch, c.frames}, rng);
    Tensor w = random_tensor({c.out_ch, c.in_ch, c.k}, rng);
    Tensor b = random_tensor({c.out_ch}, rng);
    Tensor r = random_tensor({1, c.out_ch, out_frames}, rng);
    std::vector<const Tensor*> inputs = {&x, &w, &b};
    if (c.sum) inputs.push_back(&r);
    Tensor want = make_kernel(node, true)->run(inputs)[0];
    auto fast = make_kernel(node, false);
    Tensor got = fast->run(inputs)[0];
    EXPECT_LE(max_abs_diff(got, want), 2e-4f * std::sqrt(static_cast<float>(c.in_ch * c.k)));
    EXPECT_EQ(max_abs_diff(fast->run(inputs)[0], got), 0.0f);
  }
}

// The streamer's entry point (PiecewiseConv): X as history + new chunk + end padding and the
// residual as several chunks, each a part of a larger buffer, on chunks as short as one
// 16-frame push of HiFi-GAN's first stage (128 samples: one tile per thread) or its conv_pre
// (16), and on the narrow conv_post, at 1 and 2 threads; the result is the reference kernel's
// on the joined tensors.
TEST(FusedConv, PiecewiseConvMatchesReferenceOnJoinedPieces) {
  std::mt19937 rng(16);
  struct Case {
    int64_t channels, out_channels, k, dilation, out_len;
    bool sum;
    const char* activation;
  };
  // Views of a random [1, C, length + 2 * margin] buffer: the middle `length` samples.
  struct Chunk {
    Tensor data;
    TimePiece piece;
  };
  const auto chunk = [&rng](int64_t channels, int64_t length) {
    const int64_t margin = 5;
    Chunk c{random_tensor({1, channels, length + 2 * margin}, rng), {}};
    c.piece = {c.data.data<float>(), length + 2 * margin, margin, length};
    return c;
  };
  const auto join = [](const std::vector<Chunk>& chunks, int64_t channels) {
    int64_t length = 0;
    for (const Chunk& c : chunks) length += c.piece.length;
    Tensor out(DType::kFloat32, {1, channels, length});
    int64_t at = 0;
    for (const Chunk& c : chunks) {
      for (int64_t ch = 0; ch < channels; ++ch) {
        for (int64_t t = 0; t < c.piece.length; ++t) {
          out.data<float>()[ch * length + at + t] =
              c.piece.rows ? c.piece.rows[ch * c.piece.row_length + c.piece.start + t] : 0.0f;
        }
      }
      at += c.piece.length;
    }
    return out;
  };
  for (const Case& c : std::vector<Case>{{128, 128, 3, 1, 128, true, ""},
                                         {128, 128, 7, 12, 128, true, ""},
                                         {64, 64, 5, 6, 1024, true, ""},
                                         {32, 32, 7, 3, 4096, false, ""},
                                         {100, 100, 3, 2, 40, true, ""},
                                         {80, 256, 7, 1, 16, false, ""},       // conv_pre: 1 tile
                                         {32, 1, 7, 1, 4096, false, "Tanh"}})  // narrow_conv
  {
    const Node node = fused_node(c.k, c.dilation, 0, 0, c.activation, c.sum, "LeakyRelu");
    const int64_t history = (c.k - 1) * c.dilation, fresh = c.out_len - 3;
    // X: history, the new chunk, three steps of end padding (zeros).
    std::vector<Chunk> x = {
        chunk(c.channels, history), chunk(c.channels, fresh), {Tensor(), {nullptr, 0, 0, 3}}};
    std::vector<Chunk> r = {chunk(c.out_channels, c.out_len / 3),
                            chunk(c.out_channels, c.out_len - c.out_len / 3)};
    Tensor w = random_tensor({c.out_channels, c.channels, c.k}, rng);
    Tensor b = random_tensor({c.out_channels}, rng);
    const Tensor x_joined = join(x, c.channels), r_joined = join(r, c.out_channels);
    std::vector<const Tensor*> inputs = {&x_joined, &w, &b};
    if (c.sum) inputs.push_back(&r_joined);
    const Tensor want = make_kernel(node, true)->run(inputs)[0];
    std::vector<TimePiece> x_pieces, r_pieces;
    for (const Chunk& p : x) x_pieces.push_back(p.piece);
    for (const Chunk& p : r) r_pieces.push_back(p.piece);
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message()
                   << c.channels << "->" << c.out_channels << " k" << c.k << " d" << c.dilation
                   << " T" << c.out_len << " threads " << threads);
      omp_set_num_threads(threads);
      auto kernel = make_kernel(node, false);
      auto* piecewise = dynamic_cast<PiecewiseConv*>(kernel.get());
      ASSERT_NE(piecewise, nullptr);
      const Tensor got =
          piecewise->run_pieces(x_joined.shape(), x_pieces, w, &b, c.sum ? &r_pieces : nullptr);
      ASSERT_FALSE(got.empty()) << "the tiled path should take it";
      EXPECT_LE(max_abs_diff(got, want), 2e-4f * std::sqrt(static_cast<float>(c.channels * c.k)));
    }
  }
  omp_set_num_threads(omp_get_num_procs());
}

// pad_mode "reflect": the tiled path mirrors X while packing, the others (wide, narrow, short)
// read a reflect-padded copy; one kernel object sees several lengths, including one equal to
// another's padded length (its plans must not mix up the two geometries).
TEST(FusedConv, ReflectPaddedConvMatchesReferenceOnEveryPath) {
  std::mt19937 rng(14);
  struct Case {
    int64_t in_ch, out_ch, k, dilation;
  };
  for (const Case& c : std::vector<Case>{
           {32, 32, 3, 1}, {32, 32, 3, 9}, {300, 16, 3, 1}, {32, 1, 7, 1}, {64, 48, 7, 1}}) {
    const int64_t pad = (c.k - 1) * c.dilation / 2;
    Node node = fused_node(c.k, c.dilation, pad, pad, "", true, "LeakyRelu");
    node.attributes["pad_mode"] = std::string("reflect");
    auto fast = make_kernel(node, false);
    auto reference = make_kernel(node, true);
    Tensor w = random_tensor({c.out_ch, c.in_ch, c.k}, rng);
    Tensor b = random_tensor({c.out_ch}, rng);
    for (int64_t frames : {int64_t{30}, 30 + 2 * pad, int64_t{5000}, int64_t{5001}}) {
      SCOPED_TRACE(::testing::Message() << c.in_ch << "->" << c.out_ch << " k" << c.k << " d"
                                        << c.dilation << " T" << frames);
      Tensor x = random_tensor({1, c.in_ch, frames}, rng);
      Tensor r = random_tensor({1, c.out_ch, frames}, rng);
      const std::vector<const Tensor*> inputs = {&x, &w, &b, &r};
      Tensor want = reference->run(inputs)[0];
      ASSERT_EQ(want.shape(), (Shape{1, c.out_ch, frames}));
      EXPECT_LE(max_abs_diff(fast->run(inputs)[0], want),
                2e-4f * std::sqrt(static_cast<float>(c.in_ch * c.k)));
    }
  }
}

TEST(FusedConv, ReflectPadsAsLongAsTheInputAreRefusedNamingTheNode) {
  std::mt19937 rng(15);
  Node node = fused_node(3, 1, 4, 4, "", false);
  node.attributes["pad_mode"] = std::string("reflect");
  Tensor x = random_tensor({1, 2, 4}, rng), w = random_tensor({2, 2, 3}, rng);
  Tensor b = random_tensor({2}, rng);
  for (bool reference : {false, true}) {
    try {
      make_kernel(node, reference)->run({&x, &w, &b});
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("fused"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("smaller than the input's length 4"), std::string::npos)
          << e.what();
    }
  }
  node.attributes["pad_mode"] = std::string("wrap");
  EXPECT_THROW(make_kernel(node, false), Error);
}

TEST(TileSplit, LeavesShortWideStridedGroupedAndTransposedConvsWhole) {
  const ConvGeometry g = testing::conv1d_geometry(32, 32, 10000, 3, 1, 1, 1);
  ASSERT_TRUE(split_into_tiles(g, 16).valid);
  ConvGeometry short_one = g;
  short_one.in = short_one.out = {500};
  EXPECT_FALSE(split_into_tiles(short_one, 16).valid);
  ConvGeometry wide = g;
  wide.in_channels = kMaxTiledChannels + 1;
  EXPECT_FALSE(split_into_tiles(wide, 16).valid);
  ConvGeometry narrow = g;
  narrow.out_channels = 2;  // narrow_conv's
  EXPECT_FALSE(split_into_tiles(narrow, 16).valid);
  ConvGeometry strided = g;
  strided.strides = {2};
  EXPECT_FALSE(split_into_tiles(strided, 16).valid);
  ConvGeometry grouped = g;
  grouped.group = 2;
  EXPECT_FALSE(split_into_tiles(grouped, 16).valid);
  ConvGeometry transposed = g;
  transposed.transpose = true;
  EXPECT_FALSE(split_into_tiles(transposed, 16).valid);
}

// A layer too short for a full round of the preferred tile length is cut into whole rounds for
// the threads (256 channels over 776 samples: 3 tiles of the minimum length would keep one of
// two threads idle a third of the time), every tile still at least the minimum.
TEST(TileSplit, ShortLayersComeInWholeRoundsForTheThreads) {
  const ConvGeometry g = testing::conv1d_geometry(256, 256, 776, 11, 1, 5, 5);
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    const TileSplit s = split_into_tiles(g, 16);
    ASSERT_TRUE(s.valid) << threads;
    EXPECT_GE(s.tile, kMinTile) << threads;
    EXPECT_GE(s.tile * s.tiles, 776) << threads;
    if (threads > 1) {
      EXPECT_EQ(s.tiles % threads, 0) << threads << " threads, " << s.tiles;
    }
  }
  omp_set_num_threads(omp_get_num_procs());
}

TEST(FusedConv, ReferencePathEqualsConvThenActivationThenSum) {
  std::mt19937 rng(12);
  const Node node = fused_node(3, 2, 2, 2, "LeakyRelu", true);
  Tensor x = random_tensor({1, 3, 20}, rng), w = random_tensor({4, 3, 3}, rng);
  Tensor b = random_tensor({4}, rng), r = random_tensor({1, 4, 20}, rng);
  Tensor got = make_kernel(node, true)->run({&x, &w, &b, &r})[0];
  const ConvGeometry g = testing::conv1d_geometry(3, 4, 20, 3, 2, 2, 2);
  Tensor want(DType::kFloat32, {1, 4, 20});
  conv_reference(g, x.data<float>(), w.data<float>(), b.data<float>(), want.data<float>());
  for (int64_t i = 0; i < want.numel(); ++i) {
    float& v = want.data<float>()[i];
    v = (v >= 0 ? v : 0.1f * v) + r.data<float>()[i];
  }
  EXPECT_LE(max_abs_diff(got, want), 1e-6f);
}

}  // namespace
}  // namespace amphora
