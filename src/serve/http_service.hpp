// The handlers behind every route of kRoutes, and the state they share: the catalog, the
// admission gate, the metrics. Socket-side; the parsing they call is in request.hpp and
// audio_encoding.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "amphora/text.hpp"
#include "serve/admission.hpp"
#include "serve/audio_encoding.hpp"
#include "serve/catalog.hpp"
#include "serve/http_server.hpp"
#include "serve/metrics.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace amphora::serve {

class Service {
 public:
  Service(const Catalog& catalog, const ServeOptions& options);

  // Registers the routes, the JSON error pages and the request log on `server`.
  void install(httplib::Server& server);

  // SIGTERM: refuse new work (503), let the streams in flight and those queued finish.
  void begin_draining();
  bool draining() const { return draining_; }
  int active_streams() const { return admission_.active(); }
  int queued_requests() const { return admission_.waiting(); }

 private:
  using Clock = std::chrono::steady_clock;
  // Hands samples to the response as they are made; `produce` calls it for each piece.
  using Emit = std::function<void(std::span<const float>)>;
  using Produce = std::function<void(const Emit&)>;

  void vocode(const httplib::Request& req, httplib::Response& res);
  void tts(const httplib::Request& req, httplib::Response& res);
  // When a request read at `received` runs out of time (--timeout).
  Clock::time_point deadline_of(Clock::time_point received) const;
  // A stream slot for a request read at `received`, or a RequestError (503, or 504 when the
  // wait outlasted the request's time limit).
  std::shared_ptr<void> admit(Clock::time_point received);
  // Sets a chunked response: the encoding's header, then what `produce` emits, encoded.
  void stream(httplib::Response& res, const std::string& route, const AudioEncoding& encoding,
              int sample_rate, Clock::time_point received, std::shared_ptr<void> slot,
              Produce produce);
  bool has_words(const std::string& text) const;

  const Catalog& catalog_;
  const ServeOptions options_;
  Admission admission_;
  Metrics metrics_;
  std::atomic<bool> draining_{false};
  text::EnglishFrontEnd front_end_;  // to refuse a text with nothing to say before streaming
  mutable std::mutex front_end_mutex_;
};

}  // namespace amphora::serve
