#include "pipeline/quantize_int8.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "amphora/vocoder.hpp"
#include "audio/mel.hpp"
#include "core/error.hpp"
#include "graph/onnx_export.hpp"
#include "pipeline/calibration.hpp"
#include "pipeline/qdq_graph.hpp"
#include "runtime/model_path.hpp"

namespace amphora {
namespace {

namespace fs = std::filesystem;

// A mel cut longer than this is measured in pieces no longer than it.
constexpr int64_t kFramesPerFile = 256;

// Vocodes a graph as the model at `model_path` would (its manifest: mel settings, spectral
// head), by writing it beside a copy of that manifest in a scratch directory.
class TrialVocoder {
 public:
  TrialVocoder(const std::string& model_path, int threads) : threads_(threads) {
    std::error_code ec;
    std::random_device seed;
    dir_ = fs::temp_directory_path() / ("amphora-quantize-" + std::to_string(seed()));
    fs::create_directories(dir_, ec);
    if (ec)
      fail(ErrorCode::kIo, "{}: cannot create a scratch directory: {}", dir_.string(),
           ec.message());
    if (fs::is_directory(model_path, ec)) {
      const fs::path manifest = fs::path(model_path) / "amphora.json";
      if (fs::exists(manifest, ec)) fs::copy_file(manifest, dir_ / "amphora.json", ec);
      model_file_ = dir_ / fs::path(resolve_onnx_path(model_path)).filename();
      load_path_ = dir_;
    } else {
      model_file_ = dir_ / fs::path(model_path).filename();
      load_path_ = model_file_;
    }
  }
  ~TrialVocoder() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TrialVocoder(const TrialVocoder&) = delete;
  TrialVocoder& operator=(const TrialVocoder&) = delete;

  Vocoder load(const Graph& graph) const {
    save_onnx(graph, model_file_.string());
    VocoderOptions options;
    options.threads = threads_;
    return Vocoder::load(load_path_.string(), options);
  }

  std::vector<std::vector<float>> vocode(const Graph& graph,
                                         const std::vector<Tensor>& mels) const {
    const Vocoder vocoder = load(graph);
    std::vector<std::vector<float>> audio;
    for (const Tensor& mel : mels) audio.push_back(vocoder.vocode(mel));
    return audio;
  }

 private:
  int threads_;
  fs::path dir_, model_file_, load_path_;
};

// Mean log-mel L1 of each vocoded signal against the mel it was made from: copy synthesis
// distance, the measure a quantized model must not raise by more than the budget.
double copy_synthesis_l1(const std::vector<std::vector<float>>& audio,
                         const std::vector<Tensor>& mels, const audio::MelConfig& cfg) {
  double sum = 0;
  for (size_t i = 0; i < audio.size(); ++i) {
    const Tensor heard = audio::mel_spectrogram(audio[i], cfg);
    const Tensor& given = mels[i];
    const int64_t bins = given.dim(0), frames = std::min(given.dim(1), heard.dim(1));
    double total = 0;
    for (int64_t b = 0; b < bins; ++b) {
      const float* h = heard.data<float>() + b * heard.dim(1);
      const float* g = given.data<float>() + b * given.dim(1);
      for (int64_t t = 0; t < frames; ++t) total += std::fabs(h[t] - g[t]);
    }
    sum += total / static_cast<double>(bins * frames);
  }
  return audio.empty() ? 0.0 : sum / static_cast<double>(audio.size());
}

std::string layer_name(const Node& node) {
  return node.name.empty() ? fmt::format("#{}", node.index) : node.name;
}

void report(const Int8Options& options, const std::string& line) {
  if (options.progress) options.progress(line);
}

}  // namespace

Int8Result quantize_graph_int8(const Graph& graph, const std::string& model_path,
                               const Int8Options& options) {
  const std::vector<size_t> candidates = quantizable_nodes(graph);
  if (candidates.empty()) {
    fail(ErrorCode::kInvalidArgument,
         "nothing to quantize: the model has no Conv, ConvTranspose or MatMul with a float32 "
         "weight (grouped convs stay float)");
  }
  Int8Result result;
  std::set<std::string> unknown(options.keep_float.begin(), options.keep_float.end());
  std::set<size_t> chosen;
  for (size_t i : candidates) {
    LayerCost layer{layer_name(graph.nodes[i]), graph.nodes[i].op_type, std::nullopt, false, ""};
    if (unknown.erase(layer.node)) {
      layer.kept_float = true;
      layer.why = "--keep-float";
    } else {
      chosen.insert(i);
    }
    result.layers.push_back(layer);
  }
  if (!unknown.empty()) {
    std::set<std::string> all_names;
    for (const Node& node : graph.nodes) all_names.insert(layer_name(node));
    const std::string& name = *unknown.begin();
    if (!all_names.count(name)) {
      fail(ErrorCode::kInvalidArgument, "--keep-float {}: the model has no node of that name",
           name);
    }
    fail(ErrorCode::kInvalidArgument,
         "--keep-float {}: that node is not one amphora quantizes (a Conv, ConvTranspose or "
         "MatMul with a constant weight)",
         name);
  }
  if (chosen.empty()) {
    fail(ErrorCode::kInvalidArgument, "nothing to quantize: --keep-float names every layer");
  }
  const QdqBuilder builder(graph);
  auto layer_of = [&](size_t node) -> LayerCost& {
    return result
        .layers[std::find(candidates.begin(), candidates.end(), node) - candidates.begin()];
  };

  if (options.calibration.empty()) {  // dynamic: no data to measure with
    result.graph = builder.build(chosen, nullptr);
    result.quantized = chosen.size();
    return result;
  }

  const TrialVocoder trials(model_path, options.threads);
  const Vocoder float_model = trials.load(graph);
  const CalibrationSet calibration =
      read_calibration(options.calibration, float_model.info().n_mels, float_model.mel_config(),
                       options.calibration_frames, kFramesPerFile);
  result.calibration_files = calibration.files;
  result.calibration_frames = calibration.frames;
  result.static_activations = true;
  report(options, fmt::format("calibrating on {} mel frames from {} file(s)", calibration.frames,
                              calibration.files.size()));
  const std::map<std::string, float> ranges =
      activation_ranges(graph, std::vector<size_t>(chosen.begin(), chosen.end()), calibration,
                        options.percentile, options.threads);
  if (!float_model.mel_config()) {  // no mel settings: the cost cannot be measured
    result.graph = builder.build(chosen, &ranges);
    result.quantized = chosen.size();
    return result;
  }
  const audio::MelConfig& mel = *float_model.mel_config();
  std::vector<std::vector<float>> float_audio;
  for (const Tensor& m : calibration.mels) float_audio.push_back(float_model.vocode(m));
  const double float_l1 = copy_synthesis_l1(float_audio, calibration.mels, mel);
  auto cost = [&](const std::set<size_t>& quantized) {
    return copy_synthesis_l1(trials.vocode(builder.build(quantized, &ranges), calibration.mels),
                             calibration.mels, mel) -
           float_l1;
  };

  // The whole model first: when it meets the budget, no layer needs measuring alone.
  double whole = cost(chosen);
  report(options, fmt::format("all {} layers quantized: log-mel L1 {:+.4f} (budget {:.4f})",
                              chosen.size(), whole, options.mel_l1_budget));
  if (whole > options.mel_l1_budget) {
    size_t done = 0;
    for (size_t i : chosen) {
      LayerCost& layer = layer_of(i);
      layer.mel_l1 = cost({i});
      report(options, fmt::format("layer {}/{} {} ({}): log-mel L1 {:+.4f} quantized alone", ++done,
                                  chosen.size(), layer.node, layer.op_type, *layer.mel_l1));
    }
    // A layer over the budget on its own cannot be in any model within it (such as the STFT of
    // --mel-magnitude, whose output the magnitude's division amplifies): float from the start,
    // before the per-weight order below weighs it against layers that fit.
    std::set<size_t> within, over;
    for (size_t i : chosen) {
      (*layer_of(i).mel_l1 <= options.mel_l1_budget ? within : over).insert(i);
    }
    if (!within.empty() && !over.empty()) {
      for (size_t i : over) {
        LayerCost& layer = layer_of(i);
        layer.kept_float = true;
        layer.why = fmt::format("over the budget alone ({:+.4f} > {:.4f})", *layer.mel_l1,
                                options.mel_l1_budget);
      }
      chosen = within;
      whole = cost(chosen);
      report(options, fmt::format("{} layer(s) over the budget alone stay float: {} layers "
                                  "quantized, log-mel L1 {:+.4f}",
                                  over.size(), chosen.size(), whole));
    }
  }
  while (whole > options.mel_l1_budget && chosen.size() > 1) {
    // Cost per weight: a small layer near the waveform that costs much goes back to float
    // before a large one that costs a little, which keeps most of the int8 bytes and work.
    auto per_weight = [&](size_t node) {
      return *layer_of(node).mel_l1 /
             static_cast<double>(graph.initializers.at(graph.nodes[node].inputs[1]).numel());
    };
    const size_t worst = *std::max_element(chosen.begin(), chosen.end(), [&](size_t a, size_t b) {
      return per_weight(a) < per_weight(b);
    });
    LayerCost& layer = layer_of(worst);
    layer.kept_float = true;
    layer.why = fmt::format(
        "costliest per weight left ({:+.4f} alone) while the model was at {:+.4f} > {:.4f}",
        *layer.mel_l1, whole, options.mel_l1_budget);
    chosen.erase(worst);
    whole = cost(chosen);
    report(options, fmt::format("{} stays float: {} layers quantized, log-mel L1 {:+.4f}",
                                layer.node, chosen.size(), whole));
  }
  if (whole > options.mel_l1_budget) {
    fail(ErrorCode::kInvalidArgument,
         "no layer can be quantized within the log-mel L1 budget {:.4f} (the least costly alone "
         "gives {:.4f}); raise --mel-l1-budget",
         options.mel_l1_budget, whole);
  }
  result.graph = builder.build(chosen, &ranges);
  result.quantized = chosen.size();
  result.mel_l1 = whole;
  return result;
}

}  // namespace amphora
