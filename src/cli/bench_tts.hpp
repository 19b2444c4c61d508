// `amphora bench VOICE --text "..." --vocoder PKG`: text-to-speech speed, offline and streamed,
// in one process: real-time factor and the first audio's latency.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace amphora::cli {

struct TtsBenchArgs {
  std::string text;
  std::string vocoder;
  int64_t speaker = 0;
};

void add_tts_bench_options(CLI::App& cmd, const std::shared_ptr<TtsBenchArgs>& args);

// threads/warmup/runs/json as given to `amphora bench`.
int run_tts_bench(const std::string& voice, const TtsBenchArgs& args, int threads, int warmup,
                  int runs, bool json);

}  // namespace amphora::cli
