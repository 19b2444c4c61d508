#include <gtest/gtest.h>

#include "core/tensor.hpp"

namespace amphora {

TEST(Tensor, AllocatesZeroedAndReportsShape) {
  Tensor t(DType::kFloat32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.dim(-1), 3);
  for (float v : t.to_float_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(Tensor, WrongTypedAccessIsAnError) {
  Tensor t(DType::kInt64, {4});
  EXPECT_THROW(t.data<float>(), Error);
}

TEST(Tensor, AbsurdShapeIsRefusedBeforeAllocating) {
  try {
    Tensor t(DType::kFloat32, {1, 80, 1000000000});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
    EXPECT_NE(std::string(e.what()).find("[1, 80, 1000000000]"), std::string::npos);
  }
}

TEST(Tensor, ReshapeSharesBufferAndChecksCount) {
  Tensor t = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor r = t.reshaped({4});
  r.data<float>()[0] = 9;
  EXPECT_EQ(t.data<float>()[0], 9);
  EXPECT_THROW(t.reshaped({3}), Error);
  Tensor c = t.clone();
  c.data<float>()[1] = 7;
  EXPECT_EQ(t.data<float>()[1], 2);
}

}  // namespace amphora
