#include "serve/http_service.hpp"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include "audio/mel.hpp"
#include "audio/wav_io.hpp"
#include "serve/assets.hpp"
#include "serve/request.hpp"
#include "serve/routes.hpp"

namespace amphora::serve {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Why a stream ends early; thrown from inside the producer (the vocoder loop, the synthesizer's
// sink) so that it stops computing.
struct ClientGone {};
struct TimedOut {};

// When the request being handled on this thread was read: set before routing, read by the
// request log. httplib handles a connection's requests one after another on one thread.
thread_local std::optional<Clock::time_point> request_read_at;

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  const nlohmann::json body = {{"error", {{"status", status}, {"message", message}}}};
  res.set_content(body.dump(), "application/json");
  // 503: the gate is full; a second later is a reasonable first retry for a client.
  if (status == 503) res.set_header("Retry-After", "1");
}

// Library errors about the request's content are the client's (400); the rest are ours (500).
int status_of(const Error& e) {
  return e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kIo ? 400 : 500;
}

// Frames [at, at + n) of a mel [n_mels, T].
Tensor frames_of(const Tensor& mel, int64_t at, int64_t n) {
  const int64_t bins = mel.dim(0), frames = mel.dim(1);
  Tensor out(DType::kFloat32, {bins, n});
  for (int64_t b = 0; b < bins; ++b) {
    std::copy_n(mel.data<float>() + b * frames + at, n, out.data<float>() + b * n);
  }
  return out;
}

// Copy synthesis: the body is audio (wav, flac, ...); its mel is computed with the package's
// own settings. Audio at another sample rate is resampled to the package's (soxr, as
// `amphora vocode --wav` does), and the response says so in X-Amphora-Resampled-From.
audio::AudioBuffer audio_from_body(const Catalog::ServedVocoder& served, const std::string& body,
                                   httplib::Response& res) {
  const auto& mel_config = served.vocoder.mel_config();
  if (!mel_config) {
    refuse(400, "model '{}' carries no mel settings (a bare ONNX file): send a mel .npy",
           served.name);
  }
  audio::AudioBuffer input;
  try {
    input = audio::read_audio_from_memory(body, "the request body");
  } catch (const Error& e) {
    refuse(400, "{} (send a mel .npy, or audio such as a wav for copy synthesis)", e.what());
  }
  if (input.sample_rate != mel_config->sample_rate) {
    res.set_header("X-Amphora-Resampled-From", std::to_string(input.sample_rate));
    input.samples = audio::resample(input.samples, input.sample_rate, mel_config->sample_rate);
    input.sample_rate = mel_config->sample_rate;
  }
  if (static_cast<int64_t>(input.samples.size()) < mel_config->hop_length) {
    refuse(400, "the audio has {} samples, fewer than one mel frame ({} at {} Hz)",
           input.samples.size(), mel_config->hop_length, mel_config->sample_rate);
  }
  return input;
}

}  // namespace

Service::Service(const Catalog& catalog, const ServeOptions& options)
    : catalog_(catalog), options_(options), admission_(options.max_streams, options.queue) {}

void Service::begin_draining() {
  draining_ = true;
  admission_.drain();
}

Service::Clock::time_point Service::deadline_of(Clock::time_point received) const {
  return received + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(options_.timeout_seconds));
}

std::shared_ptr<void> Service::admit(Clock::time_point received) {
  Admission::Entry entry = admission_.enter(deadline_of(received));
  switch (entry.outcome) {
    case Admission::Outcome::kAdmitted:
      return entry.slot;
    case Admission::Outcome::kFull:
      refuse(503, "busy: {} streams computing and {} requests waiting (--max-streams, --queue)",
             options_.max_streams, options_.queue);
    case Admission::Outcome::kDraining:
      refuse(503, "the server is shutting down");
    case Admission::Outcome::kTimedOut:
      break;
  }
  refuse(504, "no stream slot within the request time limit ({} s, --timeout)",
         options_.timeout_seconds);
}

void Service::stream(httplib::Response& res, const std::string& route,
                     const AudioEncoding& encoding, int sample_rate, Clock::time_point received,
                     std::shared_ptr<void> slot, Produce produce) {
  const auto deadline = deadline_of(received);
  // The provider runs once, after the status line and headers have gone out, and writes the
  // whole body itself: each sink.write is one HTTP chunk on the wire, sent as soon as the
  // vocoder returns it. Returning false ends the connection without the closing chunk, so a
  // client cannot take a cut-off stream for a complete one. The slot goes with the provider.
  res.set_chunked_content_provider(
      encoding.content_type(sample_rate),
      [this, route, encoding, sample_rate, received, deadline, slot = std::move(slot),
       produce = std::move(produce)](size_t, httplib::DataSink& sink) {
        const auto started = Clock::now();
        int64_t samples = 0;
        double first_audio = 0.0;
        auto write = [&](const std::string& bytes) {
          if (!bytes.empty() && !sink.write(bytes.data(), bytes.size())) throw ClientGone{};
        };
        const char* aborted = "error";
        try {
          write(encoding.header(sample_rate));
          produce([&](std::span<const float> piece) {
            if (piece.empty()) return;
            if (samples == 0) first_audio = seconds_since(received);
            samples += static_cast<int64_t>(piece.size());
            write(encoding.encode(piece));
            if (Clock::now() > deadline) throw TimedOut{};
          });
          sink.done();
          const double audio_seconds = static_cast<double>(samples) / sample_rate;
          metrics_.observe_stream(route, first_audio,
                                  audio_seconds > 0 ? seconds_since(started) / audio_seconds : 0.0,
                                  audio_seconds);
          return true;
        } catch (const ClientGone&) {
          aborted = "client_gone";
        } catch (const TimedOut&) {
          aborted = "timeout";
          std::fprintf(stderr,
                       "amphora serve: %s: stream cut at the time limit (%g s, --timeout)\n",
                       route.c_str(), options_.timeout_seconds);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "amphora serve: %s: stream failed: %s\n", route.c_str(), e.what());
        }
        metrics_.count_aborted(route, aborted);
        return false;
      });
}

void Service::vocode(const httplib::Request& req, httplib::Response& res) {
  const auto received = Clock::now();
  auto query = parse_query(query_of(req.target), {"model", "subtype"});
  const Catalog::ServedVocoder& served = catalog_.vocoder(query["model"]);
  const AudioEncoding encoding =
      negotiate_encoding(req.get_header_value("Accept"), query["subtype"]);
  if (req.body.empty()) {
    refuse(400, "empty body: send a mel .npy ([n_mels, frames]) or audio (copy synthesis)");
  }
  std::optional<Tensor> mel;
  std::optional<audio::AudioBuffer> input;
  if (is_npy(req.body)) {
    mel = mel_from_npy(req.body, served.vocoder.info().n_mels);
  } else {
    input = audio_from_body(served, req.body, res);
  }
  std::shared_ptr<void> slot = admit(received);
  // The mel of an upload is computed inside the slot: it is work like the vocoding.
  if (input) mel = audio::mel_spectrogram(input->samples, *served.vocoder.mel_config());
  res.set_header("X-Amphora-Model", served.name);
  res.set_header("X-Amphora-Frames", std::to_string(mel->dim(1)));
  const Vocoder& vocoder = served.vocoder;
  const int64_t chunk = options_.chunk_frames;
  stream(res, "/v1/vocode", encoding, vocoder.info().sample_rate, received, std::move(slot),
         [&vocoder, mel = std::move(*mel), chunk](const Emit& emit) {
           // A model whose graph does not stream (e.g. a ReduceMean over time) runs offline;
           // its audio still goes out chunked, only later.
           if (!vocoder.stream_info().streamable) {
             emit(vocoder.vocode(mel));
             return;
           }
           VocoderStream vocoder_stream = vocoder.stream();
           const int64_t frames = mel.dim(1);
           for (int64_t at = 0; at < frames; at += chunk) {
             emit(vocoder_stream.push(frames_of(mel, at, std::min(chunk, frames - at))));
           }
           emit(vocoder_stream.finish());
         });
}

bool Service::has_words(const std::string& text) const {
  std::lock_guard<std::mutex> lock(front_end_mutex_);
  for (const std::string& sentence : front_end_.split(text)) {
    if (!front_end_.phonemize(sentence).words.empty()) return true;
  }
  return false;
}

void Service::tts(const httplib::Request& req, httplib::Response& res) {
  const auto received = Clock::now();
  auto query = parse_query(query_of(req.target), {"subtype"});
  const AudioEncoding encoding =
      negotiate_encoding(req.get_header_value("Accept"), query["subtype"]);
  const SpeechRequest speech = parse_speech_request(req.body);
  const Catalog::ServedVoice& voice = catalog_.voice(speech.voice);
  const int64_t speakers = voice.synthesizer.voice_info().speaker_count;
  if (speech.speaker < 0 || speech.speaker >= speakers) {
    refuse(400, "speaker {} is out of range: voice '{}' has {} (0 to {})", speech.speaker,
           voice.name, speakers, speakers - 1);
  }
  // Checked before the 200 goes out; past it, an error can only cut the stream.
  if (!has_words(speech.text)) refuse(400, "body: \"text\" has nothing to speak");
  std::shared_ptr<void> slot = admit(received);
  res.set_header("X-Amphora-Voice", voice.name);
  SpeechOptions options;
  options.speaker = speech.speaker;
  options.speed = speech.speed;
  options.stream = true;
  options.chunk_frames = options_.chunk_frames;
  const Synthesizer& synthesizer = voice.synthesizer;
  stream(res, "/v1/tts", encoding, synthesizer.sample_rate(), received, std::move(slot),
         [&synthesizer, text = speech.text, options](const Emit& emit) {
           synthesizer.speak(text, options, emit);
         });
}

void Service::install(httplib::Server& server) {
  // Every handler's RequestError becomes its JSON error; a library error about the input 400.
  auto guarded = [this](void (Service::*handler)(const httplib::Request&, httplib::Response&)) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      try {
        (this->*handler)(req, res);
      } catch (const RequestError& e) {
        send_error(res, e.status(), e.what());
      } catch (const Error& e) {
        send_error(res, status_of(e), e.what());
      } catch (const std::exception& e) {
        send_error(res, 500, e.what());
      }
    };
  };
  server.Post("/v1/vocode", guarded(&Service::vocode));
  server.Post("/v1/tts", guarded(&Service::tts));
  server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(catalog_.describe().dump(2), "application/json");
  });
  server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const nlohmann::json body = {{"status", draining_ ? "draining" : "ok"},
                                 {"active_streams", admission_.active()},
                                 {"queued_requests", admission_.waiting()}};
    res.status = draining_ ? 503 : 200;
    res.set_content(body.dump(), "application/json");
  });
  server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const Gauges gauges{admission_.active(), admission_.waiting(), draining_};
    res.set_content(metrics_.render(gauges), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(assets::openapi_json()), "application/json");
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(assets::index_html()), "text/html; charset=utf-8");
  });

  // httplib's own refusals (no route, body too large, a malformed request) get JSON bodies too;
  // a served path asked with another method is 405 with the methods it takes.
  using HandlerResponse = httplib::Server::HandlerResponse;
  server.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
    if (!res.body.empty()) return HandlerResponse::Unhandled;
    std::string allowed;
    for (const Route& route : kRoutes) {
      if (route.path == req.path && route.method != req.method) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(route.method);
      }
    }
    if (res.status == 404 && !allowed.empty()) {
      res.set_header("Allow", allowed);
      send_error(res, 405,
                 fmt::format("{} {}: method not allowed (use {})", req.method, req.path, allowed));
    } else if (res.status == 404) {
      send_error(res, 404, fmt::format("no route {} {} (see /openapi.json)", req.method, req.path));
    } else if (res.status == 413 &&
               req.get_header_value("Content-Type") == "application/x-www-form-urlencoded") {
      // httplib caps form bodies (curl's default type for --data) at a few kilobytes.
      send_error(res, 413,
                 "the request body is too large for a form body "
                 "(application/x-www-form-urlencoded): send the file as "
                 "application/octet-stream or audio/wav");
    } else if (res.status == 413) {
      send_error(res, 413,
                 fmt::format("the request body exceeds {} bytes (--max-body-bytes)",
                             options_.max_body_bytes));
    } else {
      send_error(
          res, res.status,
          res.status == 400 ? "malformed HTTP request" : fmt::format("HTTP error {}", res.status));
    }
    return HandlerResponse::Handled;
  }));
  server.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_read_at = Clock::now();
    return HandlerResponse::Unhandled;
  });
  server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double seconds = request_read_at ? seconds_since(*request_read_at) : 0.0;
    request_read_at.reset();
    metrics_.count_request(std::string(route_label(req.path)), res.status, seconds);
  });
}

}  // namespace amphora::serve
