#include "serve/metrics.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace amphora::serve {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t at = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[at];  // le is inclusive: a value equal to a bound falls in that bound's bucket
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  out +=
      fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum_, name, labels, count_);
}

void Metrics::count_request(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  RouteSeries& series = routes_[route];
  ++series.requests[status];
  series.duration.observe(seconds);
}

void Metrics::observe_stream(const std::string& route, double first_audio_seconds, double rtf,
                             double audio_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  RouteSeries& series = routes_[route];
  series.first_audio.observe(first_audio_seconds);
  series.rtf.observe(rtf);
  series.audio_seconds += audio_seconds;
}

void Metrics::count_aborted(const std::string& route, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++routes_[route].aborted[reason];
}

std::string Metrics::render(const Gauges& gauges) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  // One HELP/TYPE block per metric family, then its series for every route.
  auto family = [&](const char* name, const char* type, const char* help, auto&& series) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& [route, s] : routes_) series(fmt::format("route=\"{}\"", route), s);
  };
  family("amphora_requests_total", "counter", "HTTP requests answered, by route and status.",
         [&](const std::string& labels, const RouteSeries& s) {
           for (const auto& [status, n] : s.requests) {
             out +=
                 fmt::format("amphora_requests_total{{{},status=\"{}\"}} {}\n", labels, status, n);
           }
         });
  family("amphora_request_duration_seconds", "histogram",
         "From the request read to the response written (streams: the last byte).",
         [&](const std::string& labels, const RouteSeries& s) {
           if (!s.requests.empty())
             s.duration.render(out, "amphora_request_duration_seconds", labels);
         });
  family("amphora_first_audio_seconds", "histogram",
         "From the request read to the first audio samples sent.",
         [&](const std::string& labels, const RouteSeries& s) {
           if (s.first_audio.count() > 0) {
             s.first_audio.render(out, "amphora_first_audio_seconds", labels);
           }
         });
  family("amphora_real_time_factor", "histogram",
         "Compute time over audio time of each completed stream (< 1: faster than real time).",
         [&](const std::string& labels, const RouteSeries& s) {
           if (s.rtf.count() > 0) s.rtf.render(out, "amphora_real_time_factor", labels);
         });
  family("amphora_audio_seconds_total", "counter", "Seconds of audio streamed.",
         [&](const std::string& labels, const RouteSeries& s) {
           if (s.audio_seconds > 0) {
             out += fmt::format("amphora_audio_seconds_total{{{}}} {}\n", labels, s.audio_seconds);
           }
         });
  family("amphora_streams_aborted_total", "counter",
         "Streams ended before their audio was complete, by reason (client_gone, timeout, error).",
         [&](const std::string& labels, const RouteSeries& s) {
           for (const auto& [reason, n] : s.aborted) {
             out += fmt::format("amphora_streams_aborted_total{{{},reason=\"{}\"}} {}\n", labels,
                                reason, n);
           }
         });
  out += fmt::format(
      "# HELP amphora_active_streams Streams computing now.\n"
      "# TYPE amphora_active_streams gauge\namphora_active_streams {}\n"
      "# HELP amphora_queue_depth Requests waiting for a stream slot.\n"
      "# TYPE amphora_queue_depth gauge\namphora_queue_depth {}\n"
      "# HELP amphora_draining 1 after SIGTERM, while in-flight streams finish.\n"
      "# TYPE amphora_draining gauge\namphora_draining {}\n"
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}\n",
      gauges.active_streams, gauges.queued_requests, gauges.draining ? 1 : 0,
      resident_memory_bytes());
  return out;
}

double resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  double total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0.0;
  return resident_pages * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace amphora::serve
