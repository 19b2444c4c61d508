// `amphora bench MODEL`: what onnxruntime_perf_test reports, for amphora's engine — session
// creation, first run, latency percentiles, real-time factor, peak RSS.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"
#include "cli/arguments.hpp"
#include "cli/bench_profile.hpp"
#include "cli/bench_stream.hpp"
#include "cli/bench_tts.hpp"
#include "cli/commands.hpp"
#include "cli/peak_rss.hpp"
#include "core/error.hpp"

namespace amphora::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::vector<std::string> shapes;
  std::vector<std::string> input_files;  // NAME=FILE.npy
  int64_t frames = 512;
  int threads = 0;
  std::string backend = "native";
  int warmup = 2;
  int runs = 10;
  bool json = false;
  bool profile = false;
};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// "mel=1x80x512" -> {"mel", [1, 80, 512]}
std::pair<std::string, Shape> parse_shape(const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) {
    fail(ErrorCode::kInvalidArgument, "--shape '{}': expected NAME=D1xD2x...", spec);
  }
  Shape shape;
  std::string dims = spec.substr(eq + 1);
  size_t pos = 0;
  while (pos <= dims.size()) {
    size_t x = dims.find('x', pos);
    std::string part = dims.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    try {
      size_t used = 0;
      int64_t d = std::stoll(part, &used);
      if (used != part.size() || d < 0) throw std::invalid_argument(part);
      shape.push_back(d);
    } catch (const std::exception&) {
      fail(ErrorCode::kInvalidArgument, "--shape '{}': '{}' is not a dimension", spec, part);
    }
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  return {spec.substr(0, eq), shape};
}

// A shape for every input: --shape wins; otherwise fixed dims as declared, a symbolic batch
// (axis 0) of 1, and every other symbolic dim = --frames (times the hop for sample axes).
Shape default_shape(const TensorInfo& input, int64_t frames, int64_t hop) {
  Shape shape;
  for (size_t axis = 0; axis < input.dims.size(); ++axis) {
    const DimInfo& d = input.dims[axis];
    if (d.size >= 0) {
      shape.push_back(d.size);
    } else if (axis == 0) {
      shape.push_back(1);
    } else {
      bool samples = d.symbol.find("sample") != std::string::npos;
      shape.push_back(samples && hop > 0 ? frames * hop : frames);
    }
  }
  return shape;
}

Tensor random_tensor(DType dtype, const Shape& shape, std::mt19937& rng) {
  Tensor t(dtype, shape);
  if (dtype == DType::kFloat32) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(rng);
  } else if (dtype == DType::kBool) {
    bool* p = t.data<bool>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = true;
  }  // integer inputs (ids, masks) stay 0: valid for any embedding table
  return t;
}

double percentile(std::vector<double> sorted, double q) {
  size_t index = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

int run_bench(const BenchArgs& args) {
  if (args.runs < 1 || args.warmup < 0) {
    fail(ErrorCode::kInvalidArgument, "--runs must be >= 1 and --warmup >= 0");
  }
  auto load_start = std::chrono::steady_clock::now();
  Options options;
  options.threads = args.threads;
  options.backend = parse_backend(args.backend);
  options.profile = args.profile;
  Model model = Model::load(args.model, options);
  const double load_ms = ms_since(load_start);

  int64_t hop = 0, sample_rate = 0;
  if (auto it = model.metadata().find("amphora"); it != model.metadata().end()) {
    auto manifest = nlohmann::json::parse(it->second, nullptr, false);
    if (manifest.is_object()) {
      hop = manifest.value("hop_length", 0);
      sample_rate = manifest.value("sample_rate", 0);
    }
  }
  std::map<std::string, Shape> shapes;
  for (const auto& spec : args.shapes) shapes.insert(parse_shape(spec));
  std::map<std::string, Tensor> given = read_named_inputs(args.input_files, model);
  std::mt19937 rng(0);
  std::map<std::string, Tensor> inputs;
  nlohmann::json shape_json = nlohmann::json::object();
  for (const TensorInfo& input : model.inputs()) {
    if (auto file = given.find(input.name); file != given.end()) {
      inputs[input.name] = file->second;
      shape_json[input.name] = file->second.shape();
      given.erase(file);
      continue;
    }
    auto it = shapes.find(input.name);
    Shape shape = it != shapes.end() ? it->second : default_shape(input, args.frames, hop);
    inputs[input.name] = random_tensor(input.dtype, shape, rng);
    shape_json[input.name] = shape;
    shapes.erase(input.name);
  }
  if (!shapes.empty() || !given.empty()) {
    fail(ErrorCode::kInvalidArgument, "{} names '{}', which is not a model input",
         shapes.empty() ? "--input" : "--shape",
         shapes.empty() ? given.begin()->first : shapes.begin()->first);
  }

  auto first_start = std::chrono::steady_clock::now();
  model.run(inputs);
  const double first_ms = ms_since(first_start);
  for (int i = 0; i < args.warmup; ++i) model.run(inputs);
  std::vector<double> times;
  BenchProfile profile;
  for (int i = 0; i < args.runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    model.run(inputs);
    times.push_back(ms_since(start));
    if (args.profile) profile.add_run(model.last_profile());
  }
  std::sort(times.begin(), times.end());
  double mean = 0;
  for (double t : times) mean += t / static_cast<double>(times.size());

  nlohmann::json result = {{"model", args.model},
                           {"backend", backend_name(model.backend())},
                           {"threads", args.threads},
                           {"runs", args.runs},
                           {"warmup", args.warmup},
                           {"shapes", shape_json},
                           {"load_ms", load_ms},
                           {"first_run_ms", first_ms},
                           {"min_ms", times.front()},
                           {"median_ms", percentile(times, 0.5)},
                           {"mean_ms", mean},
                           {"p90_ms", percentile(times, 0.9)},
                           {"p99_ms", percentile(times, 0.99)},
                           {"max_ms", times.back()},
                           {"peak_rss_mb", peak_rss_mb()},
                           {"rtf", nullptr}};
  // Real-time factor: median wall time over the audio duration of the mel input.
  if (hop > 0 && sample_rate > 0 && inputs.count("mel")) {
    double audio_s =
        static_cast<double>(inputs["mel"].dim(-1) * hop) / static_cast<double>(sample_rate);
    result["rtf"] = percentile(times, 0.5) / 1000.0 / audio_s;
  }
  if (!profile.empty()) result["profile"] = profile.to_json();
  if (args.json) {
    std::printf("%s\n", result.dump().c_str());
    return 0;
  }
  std::printf("model       %s\n", args.model.c_str());
  std::printf("backend     %s\n", backend_name(model.backend()));
  std::printf("inputs      %s\n", shape_json.dump().c_str());
  std::printf("threads     %d\n", args.threads);
  std::printf("session     %.1f ms\n", load_ms);
  std::printf("first run   %.2f ms\n", first_ms);
  std::printf("latency     min %.2f  median %.2f  p90 %.2f  p99 %.2f  max %.2f ms (%d runs)\n",
              times.front(), percentile(times, 0.5), percentile(times, 0.9),
              percentile(times, 0.99), times.back(), args.runs);
  if (!result["rtf"].is_null()) std::printf("rtf         %.4f\n", result["rtf"].get<double>());
  std::printf("peak RSS    %.1f MB\n", peak_rss_mb());
  if (!profile.empty()) std::printf("%s", profile.to_text().c_str());
  return 0;
}

}  // namespace

Run add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure session creation, first run and latency percentiles on random inputs");
  cmd->add_option("model", args->model, "ONNX file or package directory")->required();
  cmd->add_option("--shape", args->shapes,
                  "Input shape NAME=D1xD2x... (repeatable); default: declared dims, batch 1, "
                  "other symbolic dims = --frames");
  cmd->add_option("--input", args->input_files,
                  "Input from a file NAME=FILE.npy (repeatable; e.g. real phone ids, which random "
                  "values are not); wins over --shape");
  cmd->add_option("--frames", args->frames, "Length of symbolic time axes (default 512)");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--backend", args->backend,
                  "native (model.onnx, default) or torchscript (model.ts through LibTorch)")
      ->check(CLI::IsMember({"native", "torchscript"}));
  cmd->add_option("--warmup", args->warmup, "Untimed runs after the first (default 2)");
  cmd->add_option("--runs", args->runs, "Timed runs (default 10)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("--profile", args->profile,
                "Time every node: time per op type and the 20 slowest nodes (with --json: "
                "a \"profile\" object)");
  auto stream = std::make_shared<StreamBenchArgs>();
  add_stream_bench_options(*cmd, stream);
  auto tts = std::make_shared<TtsBenchArgs>();
  add_tts_bench_options(*cmd, tts);
  return [args, stream, tts] {
    if (!tts->text.empty()) {
      return run_tts_bench(args->model, *tts, args->threads, args->warmup, args->runs, args->json);
    }
    if (stream->stream) {
      return run_stream_bench(args->model, *stream, args->frames, args->threads, args->warmup,
                              args->runs, args->json);
    }
    return run_bench(*args);
  };
}

}  // namespace amphora::cli
