#include "serve/http_server.hpp"

#include <httplib.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/error.hpp"
#include "serve/http_service.hpp"

namespace amphora::serve {

namespace {

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

}  // namespace

// Blocked in every thread, the signals wait until the waiter in serve() takes them with
// sigtimedwait: the shutdown then runs as ordinary code, not in a signal handler.
void block_stop_signals() {
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int serve(const Catalog& catalog, const ServeOptions& options) {
  block_stop_signals();  // in case the caller did not; the threads below inherit it
  const sigset_t signals = stop_signals();

  // Memory under load: glibc gives busy threads arenas of their own (up to 8 per core) and
  // raises its mmap threshold each time a large block is freed, so with a thread per
  // connection, request bodies and audio buffers of every size end up spread over many
  // arenas that fragment as streams come and go. One arena per core and a fixed threshold
  // (larger blocks are mapped and given back when freed) keep the resident size from creeping
  // up for as long as the server runs (bench/load_serve.py measures it).
  mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  Service service(catalog, options);
  httplib::Server server;
  // The listening socket, kept to shut it down on SIGTERM: accept() then fails, httplib's
  // accept loop ends and it joins its worker threads once their connections are done. Its
  // stop() would instead also make the streams in flight give up after their current chunk.
  std::atomic<int> listening{-1};
  server.set_socket_options([&listening](socket_t sock) {
    httplib::default_socket_options(sock);
    listening = sock;
  });
  // One thread per connection: enough for every stream and queued request, and spare ones for
  // health checks, metrics and for refusing (503) what does not fit. Further connections wait
  // in httplib's queue for a thread.
  const size_t threads = static_cast<size_t>(options.max_streams + options.queue + 16);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(options.max_body_bytes);
  server.set_tcp_nodelay(true);  // a chunk leaves when written, not when the next one comes
  service.install(server);

  int port = options.port;
  const bool bound = port == 0 ? (port = server.bind_to_any_port(options.host)) > 0
                               : server.bind_to_port(options.host, port);
  if (!bound) {
    fail(ErrorCode::kIo, "cannot listen on {}:{} ({})", options.host, options.port,
         std::strerror(errno));
  }
  // httplib listens with a backlog of 5 (compiled into Debian's library): a burst of clients
  // overflows it and some get their connection reset. Listening again only sets the backlog.
  constexpr int kBacklog = 1024;
  ::listen(listening, kBacklog);
  std::printf("amphora serve: listening on http://%s:%d/ (up to %d streams at once, %d waiting)\n",
              options.host.c_str(), port, options.max_streams, options.queue);
  std::fflush(stdout);

  std::atomic<bool> stopped{false};
  std::thread waiter([&] {
    const timespec tick{0, 200'000'000};
    while (!stopped) {
      const int sig = sigtimedwait(&signals, nullptr, &tick);
      if (sig < 0) continue;
      std::fprintf(stderr,
                   "amphora serve: %s: no new connections; finishing %d streams and %d queued "
                   "requests\n",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT", service.active_streams(),
                   service.queued_requests());
      service.begin_draining();
      ::shutdown(listening, SHUT_RDWR);
      return;
    }
  });
  server.listen_after_bind();  // returns once the listening socket is shut and threads joined
  stopped = true;
  waiter.join();
  if (!service.draining()) {
    fail(ErrorCode::kIo, "the server stopped accepting connections on its own ({})",
         std::strerror(errno));
  }
  std::printf("amphora serve: stopped\n");
  return 0;
}

}  // namespace amphora::serve
