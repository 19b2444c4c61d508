// `amphora serve`: the HTTP server (cpp-httplib) in front of a Catalog of models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "serve/catalog.hpp"

namespace amphora::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (printed when listening)
  int max_streams = 1;                // streams computing at once
  int queue = 16;                     // requests waiting for a stream slot beyond those
  size_t max_body_bytes = 64u << 20;  // larger request bodies get 413
  double timeout_seconds = 300.0;     // per request: waiting for a slot, then streaming
  int64_t chunk_frames = 16;          // mel frames per vocoder push
};

// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it starts from then
// on; serve() then takes them from a thread of its own. Call it before anything starts threads
// (loading a model starts OpenMP's): a thread that does not block them would be killed by them.
void block_stop_signals();

// Serves until SIGTERM or SIGINT, then stops accepting connections, lets the streams in flight
// (and the requests already queued for a slot) finish, and returns 0. Prints one line when it
// listens ("listening on http://HOST:PORT/") and one when it stops. Fails when it cannot listen.
int serve(const Catalog& catalog, const ServeOptions& options);

}  // namespace amphora::serve
