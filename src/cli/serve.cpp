// `amphora serve`: vocoders and voices behind an HTTP API with streamed audio (src/serve/).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "serve/catalog.hpp"
#include "serve/http_server.hpp"

namespace amphora::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> models;
  std::vector<std::string> voices;
  serve::ServeOptions options;
  int threads = 0;
};

constexpr const char* kFooter = R"(Endpoints (GET /openapi.json describes them all):
  POST /v1/vocode?model=NAME   body: a mel .npy ([n_mels, frames] or [1, n_mels, frames],
                               float32) or audio (wav, flac, ...: copy synthesis with the
                               package's mel settings; another sample rate is resampled)
  POST /v1/tts                 body: {"text": "...", "voice": NAME, "speaker": 0, "speed": 1.0}
  GET  /v1/models  /healthz  /metrics (Prometheus)  /openapi.json  / (a page to try it)
Audio is streamed (chunked transfer encoding) as it is made: a WAV whose sizes are 0xFFFFFFFF
(unknown length), or raw big-endian 16-bit samples with "Accept: audio/L16"; ?subtype=float
gives float32 WAV samples, the vocoder's exact output. A model or voice not named in the
request is the first one given. Over --max-streams + --queue requests: 503 with Retry-After.
SIGTERM or SIGINT: stop accepting connections, finish the streams in flight, exit 0.
Example:
  amphora serve --model pkg/hifigan --voice pkg/voice --port 8080
  curl -o out.wav --data-binary @mel.npy -H 'Content-Type: application/octet-stream' \
      'http://127.0.0.1:8080/v1/vocode?model=hifigan'
(curl's -d/--data-binary default type, a form body, is capped at 8 KiB by the HTTP library.))";

int run_serve(ServeArgs& args) {
  if (args.models.empty() && args.voices.empty()) {
    fail(ErrorCode::kInvalidArgument, "give at least one --model or --voice");
  }
  serve::block_stop_signals();  // before loading starts threads
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (args.options.max_streams <= 0) args.options.max_streams = cores;
  Options model_options;
  // Streams run side by side: by default each gets its share of the cores.
  model_options.threads =
      args.threads > 0 ? args.threads : std::max(1, cores / args.options.max_streams);
  const serve::Catalog catalog = serve::Catalog::load(args.models, args.voices, model_options);
  // Kept in a variable: a range-for over a member of a temporary would read freed memory.
  const auto description = catalog.describe();
  for (const auto& model : description["models"]) {
    std::printf(
        "amphora serve: model %s (%s, %d Hz)%s\n", model["name"].get<std::string>().c_str(),
        model["family"].get<std::string>().c_str(), model["sample_rate"].get<int>(),
        model["streaming"]["streamable"].get<bool>() ? "" : " runs offline: it does not stream");
  }
  for (const auto& voice : description["voices"]) {
    const std::string vocoder =
        voice["vocoder"].is_null() ? "its own waveform" : voice["vocoder"].get<std::string>();
    std::printf("amphora serve: voice %s (%s, %lld speakers) through %s\n",
                voice["name"].get<std::string>().c_str(),
                voice["family"].get<std::string>().c_str(),
                static_cast<long long>(voice["speakers"].get<int64_t>()), vocoder.c_str());
  }
  return serve::serve(catalog, args.options);
}

}  // namespace

Run add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve vocoders and voices over HTTP, streaming the audio as it is made");
  cmd->add_option("--model", args->models,
                  "[NAME=]PKG: a vocoder package for POST /v1/vocode (repeatable); NAME defaults "
                  "to the directory's name");
  cmd->add_option("--voice", args->voices,
                  "[NAME=]PKG[@MODEL]: a voice package for POST /v1/tts (repeatable); it speaks "
                  "through the --model named MODEL, by default the first whose mel settings "
                  "match (a VITS voice needs none)");
  cmd->add_option("--host", args->options.host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", args->options.port, "Port (default 8080; 0: any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--max-streams", args->options.max_streams,
                  "Streams computing at once (default: the number of cores)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--queue", args->options.queue,
                  "Requests that may wait for a stream beyond those (default 16); more get 503")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-body-bytes", args->options.max_body_bytes,
                  "Largest request body (default 64 MiB); larger ones get 413")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--timeout", args->options.timeout_seconds,
                  "Seconds a request may take, waiting for a stream included (default 300); a "
                  "stream past it is cut off")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunk-frames", args->options.chunk_frames,
                  "Mel frames per vocoder push (default 16): smaller starts audio sooner")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args->threads,
                  "Threads per stream (default: cores / --max-streams, at least 1)");
  cmd->footer(kFooter);
  return [args] { return run_serve(*args); };
}

}  // namespace amphora::cli
