// `amphora bench MODEL --stream`: streaming latency and throughput of a vocoder against its
// offline run, in one process so both see the same machine state.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace amphora::cli {

struct StreamBenchArgs {
  bool stream = false;
  std::string chunk_frames = "16";
  bool skip_offline = false;
};

// The median of timings in any order (the upper one of an even count); 0 for none.
double median(std::vector<double> values);

void add_stream_bench_options(CLI::App& cmd, const std::shared_ptr<StreamBenchArgs>& args);

// frames/threads/warmup/runs/json as given to `amphora bench`.
int run_stream_bench(const std::string& model, const StreamBenchArgs& args, int64_t frames,
                     int threads, int warmup, int runs, bool json);

}  // namespace amphora::cli
