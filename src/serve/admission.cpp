#include "serve/admission.hpp"

#include <algorithm>

namespace amphora::serve {

Admission::Admission(int max_active, int max_waiting)
    : max_active_(std::max(1, max_active)), max_waiting_(std::max(0, max_waiting)) {}

Admission::Entry Admission::enter(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (draining_) return {Outcome::kDraining, nullptr};
  const bool free_slot = active_ < max_active_ && queue_.empty();
  if (!free_slot) {
    if (static_cast<int>(queue_.size()) >= max_waiting_) return {Outcome::kFull, nullptr};
    const uint64_t number = next_number_++;
    queue_.push_back(number);
    const bool turn = changed_.wait_until(
        lock, deadline, [&] { return active_ < max_active_ && queue_.front() == number; });
    queue_.erase(std::find(queue_.begin(), queue_.end(), number));
    changed_.notify_all();  // the next in line may be at the front now
    if (!turn) return {Outcome::kTimedOut, nullptr};
  }
  ++active_;
  return {Outcome::kAdmitted, std::shared_ptr<void>(this, [](Admission* self) { self->leave(); })};
}

void Admission::leave() {
  std::lock_guard<std::mutex> lock(mutex_);
  --active_;
  changed_.notify_all();
}

void Admission::drain() {
  std::lock_guard<std::mutex> lock(mutex_);
  draining_ = true;
}

int Admission::active() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_;
}

int Admission::waiting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(queue_.size());
}

}  // namespace amphora::serve
