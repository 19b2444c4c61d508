// The server's counters and histograms, rendered in the Prometheus text exposition format
// (version 0.0.4) for GET /metrics. Labels are bounded: a route is one of the served paths or
// "other", so a scanner probing random paths cannot grow the series without end.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace amphora::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // `name`_bucket{...,le="..."}, `name`_sum, `name`_count lines; `labels` like route="/v1/tts".
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; one more for +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// What the server reads at the moment /metrics is asked for.
struct Gauges {
  int active_streams = 0;
  int queued_requests = 0;
  bool draining = false;
};

class Metrics {
 public:
  void count_request(const std::string& route, int status, double seconds);
  // A stream that delivered audio: its first audio's latency (from the request being read)
  // and its real-time factor (compute time / audio time).
  void observe_stream(const std::string& route, double first_audio_seconds, double rtf,
                      double audio_seconds);
  // A stream that ended early: "client_gone", "timeout" or "error".
  void count_aborted(const std::string& route, const std::string& reason);

  std::string render(const Gauges& gauges) const;

 private:
  struct RouteSeries {
    std::map<int, uint64_t> requests;  // by status
    Histogram duration{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}};
    Histogram first_audio{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
    Histogram rtf{{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}};
    double audio_seconds = 0.0;
    std::map<std::string, uint64_t> aborted;  // by reason
  };
  mutable std::mutex mutex_;
  std::map<std::string, RouteSeries> routes_;
};

// The process's resident set size now, in bytes (/proc/self/statm); 0 when unreadable.
double resident_memory_bytes();

}  // namespace amphora::serve
