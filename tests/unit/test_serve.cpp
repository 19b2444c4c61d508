// `amphora serve` without sockets: request parsing, audio encoding, the admission gate, the
// metrics text, model specs, and the OpenAPI document against the routes served.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/npy.hpp"
#include "serve/admission.hpp"
#include "serve/assets.hpp"
#include "serve/audio_encoding.hpp"
#include "serve/catalog.hpp"
#include "serve/metrics.hpp"
#include "serve/request.hpp"
#include "serve/routes.hpp"

namespace amphora::serve {
namespace {

// Runs `f`, expecting a RequestError with `status` whose message contains `needle`.
template <typename F>
void expect_refused(F&& f, int status, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "not refused; expected " << status << " with '" << needle << "'";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.status(), status) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ServeQuery, SplitsAndDecodes) {
  EXPECT_EQ(query_of("/v1/vocode?model=a%20b&subtype=float"), "model=a%20b&subtype=float");
  EXPECT_EQ(query_of("/v1/vocode"), "");
  EXPECT_EQ(query_of("/x?a=1#frag"), "a=1");
  const auto params = parse_query("model=a%20b+c&&subtype=", {"model", "subtype"});
  EXPECT_EQ(params.at("model"), "a b c");
  EXPECT_EQ(params.at("subtype"), "");
}

TEST(ServeQuery, RefusesUnknownRepeatedAndMalformed) {
  expect_refused([] { parse_query("mdoel=x", {"model"}); }, 400, "unknown parameter 'mdoel'");
  expect_refused([] { parse_query("model=a&model=b", {"model"}); }, 400, "'model' given twice");
  expect_refused([] { parse_query("model=%zz", {"model"}); }, 400, "malformed percent escape");
  expect_refused([] { parse_query("model=%4", {"model"}); }, 400, "malformed percent escape");
}

TEST(ServeEncoding, NegotiatesContainerAndSample) {
  AudioEncoding e = negotiate_encoding("", "");
  EXPECT_EQ(e.container, AudioEncoding::Container::kWav);
  EXPECT_EQ(e.sample, AudioEncoding::Sample::kPcm16);
  EXPECT_EQ(negotiate_encoding("audio/L16", "").container, AudioEncoding::Container::kL16);
  EXPECT_EQ(negotiate_encoding("audio/l16; rate=22050", "pcm16").content_type(22050),
            "audio/L16;rate=22050;channels=1");
  // The highest q wins; order breaks ties; q=0 is "not this".
  EXPECT_EQ(negotiate_encoding("audio/wav;q=0.5, audio/L16;q=0.9", "").container,
            AudioEncoding::Container::kL16);
  EXPECT_EQ(negotiate_encoding("text/html, audio/L16;q=0, */*;q=0.1", "").container,
            AudioEncoding::Container::kWav);
  EXPECT_EQ(negotiate_encoding("audio/*", "float").sample, AudioEncoding::Sample::kFloat32);
}

TEST(ServeEncoding, RefusesWhatItCannotSend) {
  expect_refused([] { negotiate_encoding("text/html, image/png", ""); }, 406,
                 "none of 'text/html, image/png'");
  expect_refused([] { negotiate_encoding("audio/L16", "float"); }, 400, "audio/L16 is 16-bit");
  expect_refused([] { negotiate_encoding("", "pcm24"); }, 400, "subtype 'pcm24'");
  expect_refused([] { negotiate_encoding("audio/wav;q=abc", ""); }, 400, "q value 'abc'");
}

uint32_t le32(const std::string& s, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

TEST(ServeEncoding, StreamingWavHeaderHasUnknownLengths) {
  AudioEncoding e = negotiate_encoding("", "float");
  const std::string h = e.header(22050);
  ASSERT_EQ(h.size(), 44u);
  EXPECT_EQ(h.substr(0, 4), "RIFF");
  EXPECT_EQ(le32(h, 4), 0xFFFFFFFFu);
  EXPECT_EQ(h.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(h[20], 3);  // IEEE float
  EXPECT_EQ(le32(h, 24), 22050u);
  EXPECT_EQ(le32(h, 28), 22050u * 4);
  EXPECT_EQ(h.substr(36, 4), "data");
  EXPECT_EQ(le32(h, 40), 0xFFFFFFFFu);
  EXPECT_EQ(negotiate_encoding("", "").header(16000)[20], 1);  // PCM
  EXPECT_TRUE(negotiate_encoding("audio/L16", "").header(16000).empty());
}

TEST(ServeEncoding, EncodesSamples) {
  const std::vector<float> samples = {0.0f, 0.5f, -1.0f, 2.0f, NAN};
  const std::string wav = negotiate_encoding("", "").encode(samples);
  ASSERT_EQ(wav.size(), 10u);
  auto le16 = [&](size_t i) {
    return static_cast<int16_t>(static_cast<uint8_t>(wav[2 * i]) |
                                (static_cast<uint8_t>(wav[2 * i + 1]) << 8));
  };
  EXPECT_EQ(le16(0), 0);
  EXPECT_EQ(le16(1), 16384);  // lrint(0.5 * 32767) rounds half to even
  EXPECT_EQ(le16(2), -32767);
  EXPECT_EQ(le16(3), 32767);  // clipped
  EXPECT_EQ(le16(4), 0);      // NaN is silence, not noise
  const std::string l16 = negotiate_encoding("audio/L16", "").encode(samples);
  EXPECT_EQ(static_cast<uint8_t>(l16[2]), 0x40);  // big-endian 16384 = 0x4000
  EXPECT_EQ(static_cast<uint8_t>(l16[3]), 0x00);
  const std::string f32 = negotiate_encoding("", "float").encode(samples);
  float back = 0;
  std::memcpy(&back, f32.data() + 4, 4);
  EXPECT_EQ(back, 0.5f);
}

TEST(ServeMel, AcceptsTheVocodersShapes) {
  const Tensor mel = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(mel_from_npy(encode_npy(mel), 3).shape(), (Shape{3, 2}));
  const Tensor batched = Tensor::from_vector<double>({1, 3, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor converted = mel_from_npy(encode_npy(batched), 3);
  EXPECT_EQ(converted.shape(), (Shape{3, 2}));
  EXPECT_EQ(converted.dtype(), DType::kFloat32);
  EXPECT_EQ(converted.data<float>()[5], 6.0f);
  EXPECT_TRUE(is_npy(encode_npy(mel)));
  EXPECT_FALSE(is_npy("RIFF...."));
}

TEST(ServeMel, RefusesNamingTheShape) {
  const Tensor mel = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  expect_refused([&] { mel_from_npy(encode_npy(mel), 80); }, 400,
                 "shape [3, 2] is not [80, frames]");
  const Tensor batch2 = Tensor::from_vector<float>({2, 3, 1}, {1, 2, 3, 4, 5, 6});
  expect_refused([&] { mel_from_npy(encode_npy(batch2), 3); }, 400, "shape [2, 3, 1]");
  const Tensor ints = Tensor::from_vector<int64_t>({3, 2}, {1, 2, 3, 4, 5, 6});
  expect_refused([&] { mel_from_npy(encode_npy(ints), 3); }, 400, "dtype int64");
  const Tensor empty(DType::kFloat32, {3, 0});
  expect_refused([&] { mel_from_npy(encode_npy(empty), 3); }, 400, "has no frames");
  const Tensor nan = Tensor::from_vector<float>({3, 2}, {1, 2, 3, NAN, 5, 6});
  expect_refused([&] { mel_from_npy(encode_npy(nan), 3); }, 400, "bin 1, frame 1 is not finite");
  expect_refused([] { mel_from_npy(std::string("\x93NUMPY\x01\x00", 8), 3); }, 400, ".npy");
}

TEST(ServeSpeech, ParsesTheJsonBody) {
  const SpeechRequest r =
      parse_speech_request(R"({"text": "Hi there.", "voice": "v", "speaker": 2, "speed": 1.5})");
  EXPECT_EQ(r.text, "Hi there.");
  EXPECT_EQ(r.voice, "v");
  EXPECT_EQ(r.speaker, 2);
  EXPECT_EQ(r.speed, 1.5f);
  EXPECT_EQ(parse_speech_request(R"({"text": "x"})").speed, 1.0f);
}

TEST(ServeSpeech, RefusesNamingTheField) {
  expect_refused([] { parse_speech_request("{"); }, 400, "not valid JSON");
  expect_refused([] { parse_speech_request("[1]"); }, 400, "a JSON object is expected");
  expect_refused([] { parse_speech_request(R"({"voice": "v"})"); }, 400, "\"text\" is missing");
  expect_refused([] { parse_speech_request(R"({"text": 3})"); }, 400, "\"text\" must be a string");
  expect_refused([] { parse_speech_request(R"({"text": "  "})"); }, 400, "\"text\" is empty");
  expect_refused([] { parse_speech_request(R"({"text": "a", "speaker": 1.5})"); }, 400,
                 "\"speaker\" must be an integer");
  expect_refused([] { parse_speech_request(R"({"text": "a", "speed": 0})"); }, 400,
                 "\"speed\" 0 is not in (0.1, 10]");
  expect_refused([] { parse_speech_request(R"({"text": "a", "pitch": 1})"); }, 400,
                 "unknown field \"pitch\"");
}

TEST(ServeAdmission, AdmitsQueuesAndRefuses) {
  using namespace std::chrono_literals;
  Admission gate(1, 1);
  const auto later = std::chrono::steady_clock::now() + 10s;
  Admission::Entry first = gate.enter(later);
  ASSERT_EQ(first.outcome, Admission::Outcome::kAdmitted);
  EXPECT_EQ(gate.active(), 1);
  // The second waits for the first's slot; a third finds the queue full.
  auto second = std::async(std::launch::async, [&] { return gate.enter(later); });
  while (gate.waiting() == 0) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(gate.enter(later).outcome, Admission::Outcome::kFull);
  first.slot.reset();
  EXPECT_EQ(second.get().outcome, Admission::Outcome::kAdmitted);  // its slot ends here
  EXPECT_EQ(gate.active(), 0);
  // A wait past the deadline gives up; after drain() nobody new gets in.
  Admission::Entry held = gate.enter(later);
  EXPECT_EQ(gate.enter(std::chrono::steady_clock::now() + 20ms).outcome,
            Admission::Outcome::kTimedOut);
  EXPECT_EQ(gate.waiting(), 0);
  gate.drain();
  EXPECT_EQ(gate.enter(later).outcome, Admission::Outcome::kDraining);
}

TEST(ServeMetrics, RendersPrometheusText) {
  Metrics metrics;
  metrics.count_request("/v1/vocode", 200, 0.3);
  metrics.count_request("/v1/vocode", 503, 0.001);
  metrics.observe_stream("/v1/vocode", 0.02, 0.25, 2.0);
  metrics.count_aborted("/v1/vocode", "client_gone");
  const std::string text = metrics.render({3, 2, false});
  EXPECT_NE(text.find("amphora_requests_total{route=\"/v1/vocode\",status=\"503\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("amphora_first_audio_seconds_bucket{route=\"/v1/vocode\",le=\"0.025\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("amphora_first_audio_seconds_bucket{route=\"/v1/vocode\",le=\"0.01\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("amphora_real_time_factor_count{route=\"/v1/vocode\"} 1\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("amphora_streams_aborted_total{route=\"/v1/vocode\",reason=\"client_gone\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("amphora_active_streams 3\n"), std::string::npos);
  EXPECT_NE(text.find("amphora_queue_depth 2\n"), std::string::npos);
  // Every line is a comment or `name{labels} value`, with a TYPE before each family's samples.
  std::istringstream lines(text);
  std::set<std::string> typed;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) typed.insert(line.substr(7, line.find(' ', 7) - 7));
    if (line.empty() || line[0] == '#') continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    bool known = false;
    for (const std::string& family : typed) known = known || name.rfind(family, 0) == 0;
    EXPECT_TRUE(known) << line;
    EXPECT_NO_THROW(std::stod(line.substr(line.rfind(' ') + 1))) << line;
  }
  EXPECT_GT(resident_memory_bytes(), 1e6);
}

TEST(ServeCatalog, ParsesModelSpecs) {
  ModelSpec a = parse_model_spec("fast=pkg/hifigan", false);
  EXPECT_EQ(a.name, "fast");
  EXPECT_EQ(a.path, "pkg/hifigan");
  EXPECT_EQ(parse_model_spec("pkg/hifigan/", false).name, "hifigan");
  ModelSpec v = parse_model_spec("pkg/voice@fast", true);
  EXPECT_EQ(v.name, "voice");
  EXPECT_EQ(v.path, "pkg/voice");
  EXPECT_EQ(v.vocoder, "fast");
  EXPECT_EQ(parse_model_spec("x=pkg/a@b", false).path, "pkg/a@b");  // "@" only for voices
  EXPECT_THROW(parse_model_spec("=pkg", false), Error);
  EXPECT_THROW(parse_model_spec("a b=pkg", false), Error);
  EXPECT_THROW(parse_model_spec("v=pkg@", true), Error);
}

// The OpenAPI document describes exactly the routes the server registers.
TEST(ServeOpenApi, DescribesEveryRouteServed) {
  const auto doc = nlohmann::json::parse(assets::openapi_json());
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  std::set<std::string> documented, served;
  for (const auto& [path, methods] : doc["paths"].items()) {
    for (const auto& [method, operation] : methods.items()) {
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(c));
      documented.insert(upper + " " + path);
      EXPECT_TRUE(operation.contains("responses")) << method << " " << path;
    }
  }
  for (const Route& route : kRoutes) {
    served.insert(std::string(route.method) + " " + std::string(route.path));
  }
  EXPECT_EQ(documented, served);
  EXPECT_NE(assets::index_html().find("<html"), std::string_view::npos);
}

}  // namespace
}  // namespace amphora::serve
