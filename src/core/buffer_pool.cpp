#include "core/buffer_pool.hpp"

#include <cstdlib>

namespace amphora {

namespace {
thread_local BufferPool* active_pool = nullptr;
// A buffer is reused for a request up to this much smaller than itself (1/8 of it wasted at most).
constexpr size_t kSlackDivisor = 8;
}  // namespace

BufferPool::Scope::Scope(std::shared_ptr<BufferPool> pool)
    : pool_(std::move(pool)), previous_(active_pool) {
  active_pool = pool_.get();
}

BufferPool::Scope::~Scope() {
  active_pool = previous_;
  if (pool_) pool_->end_run();
}

BufferPool* BufferPool::active() { return active_pool; }

BufferPool::~BufferPool() {
  for (auto& [capacity, idle] : idle_) std::free(idle.data);
}

std::shared_ptr<std::byte[]> BufferPool::take(size_t bytes) {
  std::byte* data = nullptr;
  size_t capacity = (bytes + 63) / 64 * 64;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = idle_.lower_bound(capacity);
    if (it != idle_.end() && it->first - capacity <= it->first / kSlackDivisor) {
      capacity = it->first;
      data = it->second.data;
      idle_.erase(it);
    }
  }
  if (!data) data = static_cast<std::byte*>(std::aligned_alloc(64, capacity));
  if (!data) return nullptr;
  return std::shared_ptr<std::byte[]>(
      data, [pool = shared_from_this(), capacity](std::byte* p) { pool->give_back(p, capacity); });
}

void BufferPool::give_back(std::byte* data, size_t capacity) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.emplace(capacity, Idle{data, run_});
}

void BufferPool::end_run() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->second.run < run_) {
      std::free(it->second.data);
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  ++run_;
}

size_t BufferPool::idle_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t total = 0;
  for (const auto& [capacity, idle] : idle_) total += capacity;
  return total;
}

}  // namespace amphora
