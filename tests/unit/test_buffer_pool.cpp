#include <gtest/gtest.h>

#include "core/buffer_pool.hpp"
#include "core/tensor.hpp"

namespace amphora {

namespace {
constexpr int64_t kBig = BufferPool::kMinBytes / 4;  // float32 elements of one pooled buffer
}

TEST(BufferPool, AFreedBufferIsHandedOutAgain) {
  auto pool = std::make_shared<BufferPool>();
  auto first = pool->take(1 << 20);
  std::byte* address = first.get();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(address) % 64, 0u);
  first.reset();
  EXPECT_EQ(pool->idle_bytes(), size_t{1} << 20);
  EXPECT_EQ(pool->take(1 << 20).get(), address);
  // Best fit within 1/8 of the buffer: a slightly smaller request reuses it, a much smaller
  // one does not.
  EXPECT_EQ(pool->take((1 << 20) - 4096).get(), address);
  auto small = pool->take(1 << 19);
  EXPECT_NE(small.get(), address);
}

TEST(BufferPool, BuffersIdleThroughAWholeRunAreReleased) {
  auto pool = std::make_shared<BufferPool>();
  pool->take(1 << 20).reset();  // given back in run 0
  pool->end_run();              // used in run 0: kept
  EXPECT_EQ(pool->idle_bytes(), size_t{1} << 20);
  pool->end_run();  // nobody took it in run 1: released
  EXPECT_EQ(pool->idle_bytes(), 0u);
}

TEST(BufferPool, BuffersOutliveThePoolsOwner) {
  auto pool = std::make_shared<BufferPool>();
  auto buffer = pool->take(1 << 20);
  std::weak_ptr<BufferPool> watch = pool;
  pool.reset();
  EXPECT_FALSE(watch.expired());  // the buffer keeps its pool alive...
  buffer.reset();
  EXPECT_TRUE(watch.expired());  // ...and frees it with itself
}

TEST(BufferPool, TensorsInAScopeDrawFromItsPool) {
  auto pool = std::make_shared<BufferPool>();
  const void* address = nullptr;
  {
    BufferPool::Scope scope(pool);
    EXPECT_EQ(BufferPool::active(), pool.get());
    address = Tensor::uninitialized(DType::kFloat32, {kBig}).raw();
    EXPECT_EQ(Tensor::uninitialized(DType::kFloat32, {kBig}).raw(), address);
    Tensor zeroed(DType::kFloat32, {kBig});  // recycled memory is still zero-filled on request
    EXPECT_EQ(zeroed.raw(), address);
    for (float v : zeroed.to_float_vector()) ASSERT_EQ(v, 0.0f);
    EXPECT_EQ(pool->idle_bytes(), 0u);
    Tensor small(DType::kFloat32, {16});  // below kMinBytes: malloc's
  }
  EXPECT_EQ(BufferPool::active(), nullptr);
  EXPECT_EQ(pool->idle_bytes(), BufferPool::kMinBytes);
  Tensor outside = Tensor::uninitialized(DType::kFloat32, {kBig});
  EXPECT_NE(outside.raw(), address);
}

}  // namespace amphora
