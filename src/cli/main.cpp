// `amphora`: the command-line front end. Thin: parse flags, call the library, print.
#include <cstdio>
#include <map>

#include "cli/commands.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"amphora: run exported audio-generation models (ONNX) fast, from C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "amphora 0.1.0");

  std::vector<amphora::cli::Run> runs = {
      amphora::cli::add_inspect_command(app),
      amphora::cli::add_run_command(app),
      amphora::cli::add_mel_command(app),
      amphora::cli::add_compare_command(app),
      amphora::cli::add_vocode_command(app),
      amphora::cli::add_synth_command(app),
      amphora::cli::add_svc_command(app),
      amphora::cli::add_phonemize_command(app),
      amphora::cli::add_g2p_command(app),
      amphora::cli::add_tts_command(app),
      amphora::cli::add_bench_command(app),
      amphora::cli::add_serve_command(app),
      amphora::cli::add_optimize_command(app),
      amphora::cli::add_quantize_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // A usage error is reported like any other error: one line on stderr, exit status 1.
    std::fprintf(stderr, "amphora: usage error: %s (see amphora --help)\n", e.what());
    return 1;
  }
  const auto& chosen = app.get_subcommands();
  const auto& all = app.get_subcommands({});
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] != chosen.front()) continue;
    try {
      return runs[i]();
    } catch (const amphora::Error& e) {
      std::fprintf(stderr, "amphora %s: error (%s): %s\n", chosen.front()->get_name().c_str(),
                   amphora::to_string(e.code()), e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "amphora %s: error: %s\n", chosen.front()->get_name().c_str(), e.what());
      return 1;
    }
  }
  return 2;
}
