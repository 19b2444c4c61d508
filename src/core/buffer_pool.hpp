// BufferPool: recycles the large activation buffers of one session across its nodes and runs.
//
// Why: a vocoder's activations are megabytes each, allocated and freed hundreds of times per run.
// glibc serves them from fresh mmaps until its dynamic threshold rises, then from the heap,
// where interleaved sizes fragment and freed memory stays mapped: HiFi-GAN V3 at 512 frames
// peaked 45 % above its live bytes. Fresh mmaps every time (a fixed threshold) keep RSS down
// but pay a page fault per 4 KiB on every run (20 % slower). The pool keeps freed buffers and
// hands them out again by best fit, so the memory a run touches is memory it touched before.
// Buffers that sat unused through a whole run are released when it ends, so inputs of varying
// length cannot grow the pool without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace amphora {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // Smaller requests go to malloc, which recycles them well without help.
  static constexpr size_t kMinBytes = size_t{256} << 10;

  // Makes `pool` the pool that Tensor allocations on this thread draw from, until destroyed;
  // then ends the pool's run (see end_run). Scopes nest.
  class Scope {
   public:
    explicit Scope(std::shared_ptr<BufferPool> pool);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    std::shared_ptr<BufferPool> pool_;
    BufferPool* previous_;
  };
  static BufferPool* active();  // this thread's pool, or null

  ~BufferPool();
  // A 64-byte aligned, uninitialised buffer of at least `bytes`; it returns to this pool when
  // the last owner lets go (the pool outlives it: the owner keeps the pool alive). Null when
  // the allocation fails.
  std::shared_ptr<std::byte[]> take(size_t bytes);
  // Frees the buffers nobody took since the previous end_run.
  void end_run();
  size_t idle_bytes() const;  // held for reuse, not in use

 private:
  void give_back(std::byte* data, size_t capacity);

  struct Idle {
    std::byte* data;
    uint64_t run;  // the run in which it was given back
  };
  mutable std::mutex mutex_;
  std::multimap<size_t, Idle> idle_;  // by capacity
  uint64_t run_ = 0;
};

}  // namespace amphora
