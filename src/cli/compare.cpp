// `amphora compare A B`: how close two signals are (wav or .npy samples): max-abs, SNR, log-mel
// L1 and multi-resolution STFT distance over their common prefix. B is compared against A.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "audio/metrics.hpp"
#include "audio/signal_file.hpp"
#include "audio/wav_io.hpp"
#include "cli/commands.hpp"

namespace amphora::cli {
namespace {

// Used only when neither file, flag nor package gives a rate (two .npy files).
constexpr int kAssumedSampleRate = 22050;

struct CompareArgs {
  std::string a;
  std::string b;
  std::string model;
  bool json = false;
  audio::MelOptions mel;
};

void add_mel_flags(CLI::App& cmd, audio::MelOptions& mel, CLI::Option* model) {
  auto flag = [&](CLI::Option* option) { option->excludes(model); };
  flag(cmd.add_option("--sample-rate", mel.sample_rate,
                      "Rate in Hz of .npy inputs and of the comparison (wavs are resampled)"));
  flag(cmd.add_option("--n-fft", mel.n_fft, "Log-mel FFT size (default 1024)"));
  flag(cmd.add_option("--win-length", mel.win_length, "Log-mel window (default n_fft)"));
  flag(cmd.add_option("--hop-length", mel.hop_length, "Log-mel hop (default 256)"));
  flag(cmd.add_option("--n-mels", mel.n_mels, "Log-mel bands (default 80)"));
  flag(cmd.add_option("--fmin", mel.fmin, "Log-mel lowest frequency (default 0)"));
  flag(cmd.add_option("--fmax", mel.fmax, "Log-mel highest frequency (default sr/2)"));
}

// The rate both signals are compared at: the package's, the flag's, else the first wav's.
int comparison_rate(const CompareArgs& args, const audio::AudioBuffer& a,
                    const audio::AudioBuffer& b, const std::optional<audio::MelConfig>& pkg) {
  if (pkg) return pkg->sample_rate;
  if (args.mel.sample_rate) return *args.mel.sample_rate;
  if (a.sample_rate > 0) return a.sample_rate;
  if (b.sample_rate > 0) return b.sample_rate;
  std::fprintf(stderr, "note: both inputs are .npy; assuming %d Hz (pass --sample-rate)\n",
               kAssumedSampleRate);
  return kAssumedSampleRate;
}

nlohmann::json finite_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

void print_json(const CompareArgs& args, const audio::SignalComparison& result,
                const audio::MelConfig& mel) {
  nlohmann::json out;
  out["a"] = {{"path", args.a}, {"samples", result.length_a}};
  out["b"] = {{"path", args.b}, {"samples", result.length_b}};
  out["sample_rate"] = mel.sample_rate;
  out["compared_samples"] = result.compared;
  out["max_abs"] = finite_or_null(result.max_abs);
  // JSON has no infinity: identical signals give "snr_db": null and "identical": true.
  out["snr_db"] = finite_or_null(result.snr_db);
  out["identical"] = result.max_abs == 0.0;
  out["log_mel_l1"] = result.log_mel_l1 ? nlohmann::json(*result.log_mel_l1) : nullptr;
  out["mel"] = mel.describe();
  if (result.mr_stft) {
    out["mr_stft"] = {{"distance", result.mr_stft->distance},
                      {"spectral_convergence", result.mr_stft->spectral_convergence},
                      {"log_magnitude_l1", result.mr_stft->log_magnitude_l1},
                      {"resolutions", result.mr_stft->resolutions}};
  } else {
    out["mr_stft"] = nullptr;
  }
  std::printf("%s\n", out.dump(2).c_str());
}

void print_text(const CompareArgs& args, const audio::SignalComparison& result,
                const audio::MelConfig& mel) {
  std::printf("A: %s (%lld samples)\nB: %s (%lld samples)\n", args.a.c_str(),
              static_cast<long long>(result.length_a), args.b.c_str(),
              static_cast<long long>(result.length_b));
  if (result.length_a != result.length_b) {
    std::printf("lengths differ: comparing the first %lld samples\n",
                static_cast<long long>(result.compared));
  }
  std::printf("max-abs      %.6g\n", result.max_abs);
  std::printf("SNR          %.2f dB\n", result.snr_db);
  if (result.log_mel_l1) {
    std::printf("log-mel L1   %.6g  (natural log; %s)\n", *result.log_mel_l1,
                mel.describe().c_str());
  } else {
    std::printf("log-mel L1   n/a (shorter than one mel frame)\n");
  }
  if (result.mr_stft) {
    std::printf(
        "MR-STFT      %.6g  (spectral convergence %.6g + log-magnitude L1 %.6g, %d of 3 "
        "resolutions)\n",
        result.mr_stft->distance, result.mr_stft->spectral_convergence,
        result.mr_stft->log_magnitude_l1, result.mr_stft->resolutions);
  } else {
    std::printf("MR-STFT      n/a (shorter than 257 samples)\n");
  }
}

int run_compare(const CompareArgs& args) {
  audio::AudioBuffer a = audio::read_signal(args.a);
  audio::AudioBuffer b = audio::read_signal(args.b);
  std::optional<audio::MelConfig> package_mel;
  if (!args.model.empty()) package_mel = audio::mel_config_from_package(args.model);
  const int rate = comparison_rate(args, a, b, package_mel);
  audio::resample_to(a, args.a, rate);
  audio::resample_to(b, args.b, rate);
  const audio::MelConfig mel = package_mel ? *package_mel : args.mel.resolve(rate);
  const audio::SignalComparison result = audio::compare_signals(a.samples, b.samples, mel);
  if (args.json) {
    print_json(args, result, mel);
  } else {
    print_text(args, result, mel);
  }
  return 0;
}

}  // namespace

Run add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare two signals (wav or .npy): max-abs, SNR, log-mel L1, MR-STFT distance");
  cmd->add_option("A", args->a, "Reference signal (wav/flac or .npy samples)")->required();
  cmd->add_option("B", args->b, "Signal compared with A")->required();
  cmd->add_flag("--json", args->json, "Print the results as JSON");
  CLI::Option* model = cmd->add_option("--model", args->model,
                                       "Model package: its sample rate and mel settings are used");
  add_mel_flags(*cmd, args->mel, model);
  return [args] { return run_compare(*args); };
}

}  // namespace amphora::cli
