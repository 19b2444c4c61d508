// Each `amphora` subcommand lives in its own file and adds itself to the app here.
// The callback a command sets runs after parsing; it returns the process exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace amphora::cli {

using Run = std::function<int()>;

// Each adds a subcommand to `app` and returns the function that runs it.
Run add_inspect_command(CLI::App& app);    // inspect.cpp
Run add_run_command(CLI::App& app);        // run.cpp
Run add_mel_command(CLI::App& app);        // mel.cpp
Run add_compare_command(CLI::App& app);    // compare.cpp
Run add_vocode_command(CLI::App& app);     // vocode.cpp
Run add_synth_command(CLI::App& app);      // synth.cpp
Run add_svc_command(CLI::App& app);        // svc.cpp
Run add_phonemize_command(CLI::App& app);  // phonemize.cpp
Run add_g2p_command(CLI::App& app);        // g2p.cpp
Run add_tts_command(CLI::App& app);        // tts.cpp
Run add_bench_command(CLI::App& app);      // bench.cpp
Run add_serve_command(CLI::App& app);      // serve.cpp
Run add_optimize_command(CLI::App& app);   // rewrite.cpp
Run add_quantize_command(CLI::App& app);   // rewrite.cpp

}  // namespace amphora::cli
