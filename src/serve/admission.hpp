// Bounded concurrency for the endpoints that compute audio: at most `max_active` streams compute
// at once, at most `max_waiting` more wait for a slot (first come, first served); beyond both a
// request is refused at once (the server answers 503 with Retry-After) rather than piling up
// latency for everyone. On shutdown the gate drains: newcomers are refused, those already
// waiting still get their turn.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

namespace amphora::serve {

class Admission {
 public:
  Admission(int max_active, int max_waiting);

  enum class Outcome { kAdmitted, kFull, kDraining, kTimedOut };
  // The slot is held until the returned pointer (and its copies) are destroyed; null unless
  // the outcome is kAdmitted. Waits at most until `deadline` for a slot.
  struct Entry {
    Outcome outcome;
    std::shared_ptr<void> slot;
  };
  Entry enter(std::chrono::steady_clock::time_point deadline);

  // Refuse newcomers from now on (kDraining).
  void drain();
  int active() const;
  int waiting() const;

 private:
  void leave();

  const int max_active_;
  const int max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int active_ = 0;
  std::deque<uint64_t> queue_;  // waiting requests' numbers, first come first
  uint64_t next_number_ = 0;
  bool draining_ = false;
};

}  // namespace amphora::serve
