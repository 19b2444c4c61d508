// Streaming (src/stream, VocoderStream, chunked mode, IstftStream): concatenated stream output
// equals the offline output for random push sizes, including pushes of one frame and inputs
// shorter than the receptive field; misuse and non-streamable graphs fail with the reason.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "amphora/vocoder.hpp"
#include "audio/istft_stream.hpp"
#include "graph/onnx_import.hpp"
#include "runtime/execution.hpp"
#include "runtime/session.hpp"
#include "stream/graph_streamer.hpp"
#include "stream/measured_field.hpp"
#include "stream/time_slices.hpp"
#include "test_graph_builder.hpp"

namespace amphora {
namespace {

using testing::OnnxModelBuilder;
constexpr int kFloat = onnx::TensorProto::FLOAT;

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(static_cast<size_t>(shape_numel(shape)));
  for (float& v : values) v = normal(rng);
  return Tensor::from_vector<float>(shape, values);
}

void ints(onnx::NodeProto& node, const std::string& name, std::vector<int64_t> values) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}
void text(onnx::NodeProto& node, const std::string& name, const std::string& value) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}
Tensor int64s(std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}

// mel [1, 4, frames] -> reflect Pad -> Conv k3 (dilation 2) -> LeakyRelu -> ConvTranspose x4
// (k8, pads 2, bias) -> Slice [1:-1] -> edge Pad 1 each side -> Tanh -> audio [1, 1, 4*frames]:
// every stateful role a waveform vocoder uses.
// With `qdq`, the mel is first quantized to int8 with one scale per band and dequantized, as a
// QDQ model's inputs are.
std::string toy_vocoder(bool reduce_over_time = false, bool qdq = false) {
  OnnxModelBuilder b(17);
  b.input("mel", kFloat, {"1", "4", "frames"});
  b.initializer("pads", int64s({0, 0, 2, 0, 0, 3}));
  b.initializer("w", random_tensor({6, 4, 3}, 1, 0.4f));
  b.initializer("b", random_tensor({6}, 2));
  b.initializer("wt", random_tensor({6, 1, 8}, 3, 0.4f));
  b.initializer("bt", random_tensor({1}, 4));
  b.initializer("starts", int64s({1}));
  b.initializer("ends", int64s({-1}));
  b.initializer("axes", int64s({2}));
  b.initializer("edge_pads", int64s({0, 0, 1, 0, 0, 1}));
  std::string x = "mel";
  if (qdq) {
    b.initializer("q_scale", Tensor::from_vector<float>({4}, {0.01f, 0.02f, 0.015f, 0.03f}));
    b.initializer("q_zero", Tensor::from_vector<int8_t>({4}, {0, 2, -3, 1}));
    b.add("QuantizeLinear", {"mel", "q_scale", "q_zero"}, {"mel_q"});
    b.add("DequantizeLinear", {"mel_q", "q_scale", "q_zero"}, {"mel_dq"});
    x = "mel_dq";
  }
  if (reduce_over_time) {
    auto& mean = b.node("ReduceMean", {"mel"}, {"mean"});
    ints(mean, "axes", {2});
    b.add("Sub", {"mel", "mean"}, {"centred"});
    x = "centred";
  }
  text(b.node("Pad", {x, "pads"}, {"padded"}), "mode", "reflect");
  auto& conv = b.node("Conv", {"padded", "w", "b"}, {"c"});
  ints(conv, "dilations", {2});
  ints(conv, "pads", {1, 0});
  b.add("LeakyRelu", {"c"}, {"a"});
  auto& up = b.node("ConvTranspose", {"a", "wt", "bt"}, {"u"});
  ints(up, "strides", {4});
  ints(up, "pads", {2, 2});
  b.add("Slice", {"u", "starts", "ends", "axes"}, {"s"});
  text(b.node("Pad", {"s", "edge_pads"}, {"e"}), "mode", "edge");
  b.add("Tanh", {"e"}, {"audio"});
  b.output("audio", kFloat, {"1", "1", "?"});
  return b.bytes();
}

std::string save(const std::string& bytes, const std::string& name) {
  auto path =
      std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()) + ".onnx");
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

// Pushes `mel` in pieces of random sizes from `sizes` and joins the output.
std::vector<float> stream_in_pieces(const Vocoder& vocoder, const Tensor& mel,
                                    std::vector<int64_t> sizes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  VocoderStream stream = vocoder.stream();
  std::vector<float> out;
  for (int64_t at = 0; at < mel.dim(-1);) {
    const int64_t n = std::min(sizes[rng() % sizes.size()], mel.dim(-1) - at);
    auto got = stream.push(stream::slice_axis(mel, 2, at, n));
    out.insert(out.end(), got.begin(), got.end());
    at += n;
  }
  auto rest = stream.finish();
  out.insert(out.end(), rest.begin(), rest.end());
  EXPECT_EQ(static_cast<int64_t>(out.size()), stream.samples_returned());
  return out;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  return worst;
}

TEST(Stream, ToyVocoderStreamsExactlyForAnyPushSizes) {
  const Vocoder vocoder = Vocoder::load(save(toy_vocoder(), "toy_vocoder"));
  const StreamInfo& info = vocoder.stream_info();
  ASSERT_TRUE(info.streamable) << info.not_streamable_because;
  EXPECT_TRUE(info.bounded_history);
  EXPECT_GE(info.lookahead_frames, 1);
  for (int64_t frames : {4, 9, 23, 57}) {  // 4: shorter than the receptive field
    const Tensor mel = random_tensor({1, 4, frames}, 10 + frames);
    const std::vector<float> offline = vocoder.vocode(mel);
    ASSERT_EQ(static_cast<int64_t>(offline.size()), 4 * frames);
    for (uint64_t seed = 0; seed < 4; ++seed) {
      EXPECT_LE(max_abs_diff(stream_in_pieces(vocoder, mel, {1, 2, 3, 5, 8, 30}, seed), offline),
                1e-5)
          << frames << " frames, seed " << seed;
    }
    EXPECT_LE(max_abs_diff(stream_in_pieces(vocoder, mel, {1}, 0), offline), 1e-5);
    for (int64_t chunk : {1, 3, 16}) {
      EXPECT_LE(max_abs_diff(vocoder.vocode_chunked(mel, nullptr, chunk), offline), 1e-5)
          << frames << " frames, chunk " << chunk;
    }
  }
}

TEST(Stream, EmptyPushesAreFine) {
  const Vocoder vocoder = Vocoder::load(save(toy_vocoder(), "toy_vocoder_empty"));
  const Tensor mel = random_tensor({1, 4, 12}, 5);
  VocoderStream stream = vocoder.stream();
  std::vector<float> out = stream.push(Tensor(DType::kFloat32, {1, 4, 0}));
  EXPECT_TRUE(out.empty());
  auto got = stream.push(mel);
  out.insert(out.end(), got.begin(), got.end());
  got = stream.push(Tensor(DType::kFloat32, {4, 0}));
  out.insert(out.end(), got.begin(), got.end());
  got = stream.finish();
  out.insert(out.end(), got.begin(), got.end());
  EXPECT_LE(max_abs_diff(out, vocoder.vocode(mel)), 1e-5);
}

TEST(Stream, MisuseFailsClearly) {
  const Vocoder vocoder = Vocoder::load(save(toy_vocoder(), "toy_vocoder_misuse"));
  VocoderStream stream = vocoder.stream();
  EXPECT_THROW(
      {
        try {
          stream.push(random_tensor({1, 5, 3}, 1));
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("bins"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  VocoderStream empty = vocoder.stream();
  EXPECT_THROW(empty.finish(), Error);  // no frames at all
  stream.push(random_tensor({1, 4, 6}, 2));
  stream.finish();
  try {
    stream.finish();
    FAIL() << "finish() twice must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
  }
  try {
    stream.push(random_tensor({1, 4, 2}, 3));
    FAIL() << "push() after finish() must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("after finish"), std::string::npos) << e.what();
  }
  EXPECT_THROW(vocoder.vocode_chunked(random_tensor({1, 4, 6}, 4), nullptr, 0), Error);
}

TEST(Stream, QuantizeAndDequantizeStreamExactly) {
  const Vocoder vocoder = Vocoder::load(save(toy_vocoder(false, true), "toy_vocoder_qdq"));
  ASSERT_TRUE(vocoder.stream_info().streamable) << vocoder.stream_info().not_streamable_because;
  const Tensor mel = random_tensor({1, 4, 37}, 5);
  const std::vector<float> offline = vocoder.vocode(mel);
  for (uint64_t seed = 0; seed < 3; ++seed) {
    EXPECT_LE(max_abs_diff(stream_in_pieces(vocoder, mel, {1, 2, 5, 9}, seed), offline), 1e-5);
  }
}

// A vocoder whose convs are all quantized as `amphora quantize --int8` writes them (QDQ on X,
// int8 weights with per-channel scales behind a DequantizeLinear): conv k3 -> LeakyRelu ->
// ConvTranspose x4 -> LeakyRelu -> conv k7 d3 + residual -> conv k7 -> Tanh.
std::string int8_vocoder() {
  OnnxModelBuilder b(17);
  b.input("mel", kFloat, {"1", "4", "frames"});
  std::mt19937 rng(9);
  const auto qdq = [&](const std::string& x, const std::string& y, float scale) {
    b.initializer(y + "_s", Tensor::scalar<float>(scale));
    b.initializer(y + "_z", Tensor::scalar<int8_t>(0));
    b.add("QuantizeLinear", {x, y + "_s", y + "_z"}, {y + "_q"});
    b.add("DequantizeLinear", {y + "_q", y + "_s", y + "_z"}, {y});
  };
  const auto weights = [&](const std::string& name, const Shape& shape, int64_t axis) {
    Tensor q(DType::kInt8, shape);
    std::uniform_int_distribution<int> value(-127, 127);
    for (int64_t i = 0; i < q.numel(); ++i) q.data<int8_t>()[i] = static_cast<int8_t>(value(rng));
    const float fan_in = static_cast<float>(q.numel() / shape[axis]);
    std::vector<float> scales(shape[axis]);
    for (float& s : scales)
      s = (0.5f + static_cast<float>(rng() % 100) / 100) / (127 * std::sqrt(fan_in));
    b.initializer(name + "_q", q);
    b.initializer(name + "_s", Tensor::from_vector<float>({shape[axis]}, scales));
    b.initializer(name + "_z", Tensor(DType::kInt8, {shape[axis]}));
    auto& dq = b.node("DequantizeLinear", {name + "_q", name + "_s", name + "_z"}, {name});
    auto* attribute = dq.add_attribute();
    attribute->set_name("axis");
    attribute->set_type(onnx::AttributeProto::INT);
    attribute->set_i(axis);
    return name;
  };
  b.initializer("b1", random_tensor({16}, 1, 0.1f));
  b.initializer("bt", random_tensor({8}, 2, 0.1f));
  qdq("mel", "mel_dq", 0.02f);
  ints(b.node("Conv", {"mel_dq", weights("w1", {16, 4, 3}, 0), "b1"}, {"c1"}), "pads", {1, 1});
  b.add("LeakyRelu", {"c1"}, {"a1"});
  qdq("a1", "a1_dq", 0.02f);
  auto& up = b.node("ConvTranspose", {"a1_dq", weights("wt", {16, 8, 8}, 1), "bt"}, {"u"});
  ints(up, "strides", {4});
  ints(up, "pads", {2, 2});
  b.add("LeakyRelu", {"u"}, {"r"});
  qdq("r", "r_dq", 0.03f);
  auto& dilated = b.node("Conv", {"r_dq", weights("w2", {8, 8, 7}, 0)}, {"c2"});
  ints(dilated, "dilations", {3});
  ints(dilated, "pads", {9, 9});
  b.add("Add", {"c2", "r"}, {"r2"});
  qdq("r2", "r2_dq", 0.03f);
  ints(b.node("Conv", {"r2_dq", weights("w3", {1, 8, 7}, 0)}, {"c3"}), "pads", {3, 3});
  b.add("Tanh", {"c3"}, {"audio"});
  b.output("audio", kFloat, {"1", "1", "?"});
  return b.bytes();
}

TEST(Stream, Int8ConvsStreamExactlyAsTheyRunOffline) {
  const std::string bytes = int8_vocoder();
  // The streamer's graph runs the int8 kernels, not QuantizeLinear/DequantizeLinear.
  const Graph streamed = prepare_graph(load_onnx_from_bytes(bytes), GraphUse::kStreaming, true);
  size_t int8_nodes = 0, qdq_nodes = 0;
  for (const Node& node : streamed.nodes) {
    int8_nodes += node.has("x_scale");
    qdq_nodes += node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear";
  }
  EXPECT_EQ(int8_nodes, 4u);
  EXPECT_EQ(qdq_nodes, 0u);

  const Vocoder vocoder = Vocoder::load(save(bytes, "int8_vocoder"));
  ASSERT_TRUE(vocoder.stream_info().streamable) << vocoder.stream_info().not_streamable_because;
  for (int64_t frames : {5, 37}) {
    const Tensor mel = random_tensor({1, 4, frames}, 6 + frames);
    const std::vector<float> offline = vocoder.vocode(mel);
    ASSERT_EQ(static_cast<int64_t>(offline.size()), 4 * frames);
    // A conv's int32 sums and their scaling are the same on any window, so streamed convs
    // match offline ones bit for bit; the ConvTranspose's overlapping sums are added in float
    // by the streamer (~1e-7), which the next QuantizeLinear almost never rounds differently.
    for (uint64_t seed = 0; seed < 3; ++seed) {
      EXPECT_LE(max_abs_diff(stream_in_pieces(vocoder, mel, {1, 2, 5, 9}, seed), offline), 1e-5)
          << frames << " frames, seed " << seed;
    }
    EXPECT_LE(max_abs_diff(vocoder.vocode_chunked(mel, nullptr, 3), offline), 1e-5);
  }
}

TEST(Stream, ReductionOverTimeIsRefusedWithTheNode) {
  const Vocoder vocoder = Vocoder::load(save(toy_vocoder(true), "toy_vocoder_mean"));
  const StreamInfo& info = vocoder.stream_info();
  EXPECT_FALSE(info.streamable);
  EXPECT_NE(info.not_streamable_because.find("ReduceMean"), std::string::npos)
      << info.not_streamable_because;
  try {
    vocoder.stream();
    FAIL() << "a non-streamable model must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("not streamable"), std::string::npos) << e.what();
  }
  EXPECT_THROW(vocoder.vocode_chunked(random_tensor({1, 4, 20}, 1), nullptr, 4), Error);
}

// CumSum carries its running sum, a Gather of step 0 becomes a head value, and a Concat of a
// fixed piece before the stream shifts it: NSF's phase accumulation in miniature.
TEST(Stream, RunningSumAndHeadValuesMatchTheWholeInputRun) {
  OnnxModelBuilder b(17);
  b.input("x", kFloat, {"1", "3", "frames"});
  b.initializer("axis", Tensor::scalar<int64_t>(2));
  b.initializer("zero", Tensor::scalar<int64_t>(0));
  b.initializer("lead", random_tensor({1, 3, 2}, 7));
  b.add("CumSum", {"x", "axis"}, {"sums"});
  auto& first = b.node("Gather", {"x", "zero"}, {"first"});
  auto* a = first.add_attribute();
  a->set_name("axis");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(2);
  b.add("Unsqueeze", {"first", "axis"}, {"first3"});
  b.add("Add", {"sums", "first3"}, {"shifted"});
  auto& cat = b.node("Concat", {"lead", "shifted"}, {"y"});
  auto* c = cat.add_attribute();
  c->set_name("axis");
  c->set_type(onnx::AttributeProto::INT);
  c->set_i(2);
  b.output("y", kFloat, {"1", "3", "?"});
  auto graph = std::make_shared<Graph>(load_onnx_from_bytes(b.bytes()));
  auto plan = std::make_shared<stream::StreamPlan>(
      stream::plan_stream(*graph, {{"x", {-1, 1}}}, KernelOptions{}));
  ASSERT_TRUE(plan->problem.empty()) << plan->problem;
  EXPECT_FALSE(plan->field.bounded);

  const Tensor x = random_tensor({1, 3, 40}, 9);
  stream::GraphStreamer pieces(graph, plan, KernelOptions{});
  std::vector<Tensor> got;
  for (int64_t at = 0, n = 1; at < 40; at += n, n = n % 6 + 1) {
    const int64_t len = std::min<int64_t>(n, 40 - at);
    Tensor part = pieces.push({{"x", stream::slice_axis(x, 2, at, len)}}).at("y");
    if (!part.empty()) got.push_back(part);
  }
  Tensor rest = pieces.finish().at("y");
  if (!rest.empty()) got.push_back(rest);
  const Tensor joined = stream::concat_axis(got, 2);
  ASSERT_EQ(joined.shape(), (Shape{1, 3, 42}));
  // Expected straight from the definition, as the offline run computes it.
  const float* xs = x.data<float>();
  const float* lead = graph->initializers.at("lead").data<float>();
  const float* ys = joined.data<float>();
  for (int64_t ch = 0; ch < 3; ++ch) {
    float sum = 0;
    for (int64_t t = 0; t < 42; ++t) {
      float want;
      if (t < 2) {
        want = lead[ch * 2 + t];
      } else {
        sum += xs[ch * 40 + t - 2];
        want = sum + xs[ch * 40];
      }
      EXPECT_EQ(ys[ch * 42 + t], want) << "channel " << ch << " step " << t;
    }
  }
}

TEST(Stream, KernelsGoBackToThePoolAndServeTheNextStream) {
  OnnxModelBuilder b(17);
  b.input("x", kFloat, {"1", "4", "frames"});
  b.initializer("w", random_tensor({4, 4, 3}, 3));
  auto& conv = b.node("Conv", {"x", "w"}, {"y"});
  ints(conv, "pads", {1, 1});
  b.output("y", kFloat, {"1", "4", "frames"});
  auto graph = std::make_shared<Graph>(load_onnx_from_bytes(b.bytes()));
  auto plan = std::make_shared<stream::StreamPlan>(
      stream::plan_stream(*graph, {{"x", {-1, 1}}}, KernelOptions{}));
  ASSERT_TRUE(plan->problem.empty()) << plan->problem;
  auto pool = std::make_shared<stream::KernelPool>();
  const Tensor x = random_tensor({1, 4, 30}, 5);
  auto run_stream = [&] {
    stream::GraphStreamer streamer(graph, plan, KernelOptions{}, pool);
    std::vector<Tensor> got;
    for (int64_t at = 0; at < 30; at += 7) {
      Tensor part =
          streamer.push({{"x", stream::slice_axis(x, 2, at, std::min<int64_t>(7, 30 - at))}})
              .at("y");
      if (!part.empty()) got.push_back(part);
    }
    got.push_back(streamer.finish().at("y"));
    return stream::concat_axis(got, 2).to_float_vector();
  };
  const std::vector<float> first = run_stream();
  stream::KernelPool::Kernels idle = pool->take();  // the first stream's kernels came back
  ASSERT_EQ(idle.size(), graph->nodes.size());
  EXPECT_NE(idle[0], nullptr);
  const Kernel* conv_kernel = idle[0].get();
  pool->give_back(std::move(idle));
  {
    stream::GraphStreamer second(graph, plan, KernelOptions{}, pool);
    EXPECT_TRUE(pool->take().empty());  // the only set is in use
  }
  EXPECT_EQ(pool->take().at(0).get(), conv_kernel);  // reused, not made anew
  EXPECT_EQ(run_stream(), first);
  EXPECT_EQ(first.size(), 4u * 30u);
}

TEST(Stream, NearestResizeOfTimeStreamsAndLinearIsRefusedWithTheNode) {
  for (const char* mode : {"nearest", "linear"}) {
    OnnxModelBuilder b(17);
    b.input("x", kFloat, {"1", "3", "frames"});
    b.initializer("scales", Tensor::from_vector<float>({3}, {1.0f, 1.0f, 3.0f}));
    b.initializer("w", random_tensor({3, 3, 3}, 11));
    auto& resize = b.node("Resize", {"x", "", "scales"}, {"up"});
    text(resize, "mode", mode);
    auto& conv = b.node("Conv", {"up", "w"}, {"y"});
    ints(conv, "pads", {1, 1});
    b.output("y", kFloat, {"1", "3", "?"});
    auto graph = std::make_shared<Graph>(load_onnx_from_bytes(b.bytes()));
    auto plan = std::make_shared<stream::StreamPlan>(
        stream::plan_stream(*graph, {{"x", {-1, 1}}}, KernelOptions{}));
    if (std::string(mode) == "linear") {
      EXPECT_NE(plan->problem.find("Resize"), std::string::npos) << plan->problem;
      EXPECT_NE(plan->problem.find("'linear'"), std::string::npos) << plan->problem;
      continue;
    }
    ASSERT_TRUE(plan->problem.empty()) << plan->problem;
    const Tensor x = random_tensor({1, 3, 23}, 12);
    Session whole(*graph);
    const std::vector<float> want = whole.run({{"x", x}}).at("y").to_float_vector();
    stream::GraphStreamer pieces(graph, plan, KernelOptions{});
    std::vector<Tensor> got;
    for (int64_t at = 0, n = 1; at < 23; at += n, n = n % 5 + 1) {
      const int64_t len = std::min<int64_t>(n, 23 - at);
      Tensor part = pieces.push({{"x", stream::slice_axis(x, 2, at, len)}}).at("y");
      if (!part.empty() && part.dim(2) > 0) got.push_back(part);
    }
    got.push_back(pieces.finish().at("y"));
    const std::vector<float> have = stream::concat_axis(got, 2).to_float_vector();
    ASSERT_EQ(have.size(), want.size());
    EXPECT_LE(max_abs_diff(have, want), 1e-5f);
  }
}

TEST(Stream, IstftStreamEqualsTheWholeInverse) {
  // (kNone cannot invert a Hann window's first sample, offline or streamed.)
  for (auto padding : {audio::StftPadding::kCenter, audio::StftPadding::kSame}) {
    audio::StftConfig config{64, 16, 64, padding};
    const int64_t bins = 33, frames = 29;
    const Tensor real = random_tensor({bins, frames}, 1), imag = random_tensor({bins, frames}, 2);
    const audio::Spectrum whole = audio::spectrum_from_tensors(real, imag);
    const std::vector<float> expected = audio::Stft(config).inverse(whole, frames * 16);
    audio::IstftStream stream(config);
    std::vector<float> got;
    for (int64_t at = 0, n = 1; at < frames; at += n, n = n % 4 + 1) {
      const int64_t len = std::min(n, frames - at);
      auto part = stream.push(audio::spectrum_from_tensors(stream::slice_axis(real, 1, at, len),
                                                           stream::slice_axis(imag, 1, at, len)));
      got.insert(got.end(), part.begin(), part.end());
    }
    auto rest = stream.finish();
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "sample " << i;
  }
}

// A model seen only from outside: output frame t (hop samples) is the sum of the first mel
// bin over frames [t - history, t + lookahead], or of every frame so far (unbounded).
stream::VocodeFn window_sum_model(int64_t history, int64_t lookahead, int64_t hop,
                                  bool cumulative = false) {
  return [=](const Tensor& mel) {
    const int64_t frames = mel.dim(2);
    const float* bin0 = mel.data<float>();
    std::vector<float> samples;
    for (int64_t t = 0; t < frames; ++t) {
      float sum = 0;
      const int64_t from = cumulative ? 0 : std::max<int64_t>(0, t - history);
      for (int64_t f = from; f <= std::min(frames - 1, t + lookahead); ++f) sum += bin0[f];
      samples.insert(samples.end(), static_cast<size_t>(hop), sum);
    }
    return samples;
  };
}

TEST(TimeSlices, JoinAxisGathersSpansAndZerosInOnePass) {
  // [2, 3, 2] int64 with distinct values, joined along the middle axis.
  std::vector<int64_t> values(12);
  for (size_t k = 0; k < values.size(); ++k) values[k] = static_cast<int64_t>(k) + 1;
  const Tensor a = Tensor::from_vector<int64_t>({2, 3, 2}, values);
  const Tensor joined =
      stream::join_axis({{nullptr, 0, 1}, {&a, 2, 1}, {&a, 0, 2}, {nullptr, 0, 2}}, a, 1);
  ASSERT_EQ(joined.shape(), (Shape{2, 6, 2}));
  const std::vector<int64_t> expected = {0, 0, 5,  6,  1, 2, 3, 4,  0, 0, 0, 0,
                                         0, 0, 11, 12, 7, 8, 9, 10, 0, 0, 0, 0};
  const int64_t* got = joined.data<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(got, got + joined.numel()), expected);
  // slice_axis and concat_axis are the one- and whole-span cases.
  EXPECT_EQ(stream::slice_axis(a, 1, 2, 1).shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(stream::concat_axis({a, a}, 2).dim(2), 4);
  EXPECT_THROW(stream::join_axis({{&a, 2, 2}}, a, 1), Error);  // past the end of axis 1
}

TEST(MeasuredField, FindsHistoryAndLookaheadOfAModelRunFromOutside) {
  for (auto [history, lookahead] : {std::pair<int64_t, int64_t>{0, 0}, {3, 1}, {40, 7}, {90, 0}}) {
    const stream::ReceptiveField field =
        stream::measure_receptive_field(window_sum_model(history, lookahead, 4), 3, 4);
    EXPECT_TRUE(field.bounded) << history;
    EXPECT_EQ(field.history_frames, history);
    EXPECT_EQ(field.lookahead_frames, lookahead);
  }
}

TEST(MeasuredField, StateOverTheWholeInputIsUnbounded) {
  const stream::ReceptiveField field =
      stream::measure_receptive_field(window_sum_model(0, 0, 2, /*cumulative=*/true), 2, 2);
  EXPECT_FALSE(field.bounded);
  EXPECT_NE(field.unbounded_because.find("whole"), std::string::npos);
}

TEST(MeasuredField, AModelThatIgnoresItsInputIsReported) {
  auto silent = [](const Tensor& mel) { return std::vector<float>(mel.dim(2) * 2, 0.0f); };
  EXPECT_THROW(stream::measure_receptive_field(silent, 2, 2), Error);
}

}  // namespace
}  // namespace amphora
