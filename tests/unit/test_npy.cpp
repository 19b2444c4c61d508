#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/npy.hpp"
#include "op_test_util.hpp"

namespace amphora {
namespace {

using testing::expect_error;

std::string temp_path(const std::string& name) {
  return (testing::temp_dir("amphora_test_npy_") / name).string();
}

// Exactly what numpy 1.24 np.save writes for np.arange(6,
// dtype=np.float32).reshape(2, 3).
std::string numpy_float32_2x3() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header += std::string(118 - header.size() - 1, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + std::string("\x76\x00", 2) + header;
  for (int i = 0; i < 6; ++i) {
    float v = static_cast<float>(i);
    bytes.append(reinterpret_cast<const char*>(&v), 4);
  }
  return bytes;
}

TEST(Npy, ReadsNumpyOutput) {
  Tensor t = parse_npy(numpy_float32_2x3(), "mem");
  EXPECT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_float_vector(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(Npy, EncodesLikeNumpy) {
  Tensor t = Tensor::from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  std::string bytes = encode_npy(t);
  EXPECT_EQ(bytes.size() % 64, 24u % 64);  // 128-byte header + 24 data bytes
  EXPECT_EQ(bytes.substr(0, 10 + 60), numpy_float32_2x3().substr(0, 70));
  EXPECT_EQ(bytes.substr(128), numpy_float32_2x3().substr(128));
}

TEST(Npy, RoundTripsEveryDTypeAndRank) {
  std::vector<Tensor> tensors = {
      Tensor::from_vector<float>({2, 1, 3}, {1.5f, -2, 3, 4, 5, 6}),
      Tensor::from_vector<double>({2}, {1e300, -0.5}),
      Tensor::from_vector<int64_t>({3}, {-1, int64_t{1} << 40, 7}),
      Tensor::from_vector<int32_t>({1, 2}, {-7, 9}),
      Tensor::from_vector<int8_t>({2}, {-128, 127}),
      Tensor::from_vector<uint8_t>({2}, {0, 255}),
      Tensor::from_vector<bool>({3}, {true, false, true}),
      Tensor::scalar<float>(3.25f),
      Tensor(DType::kFloat32, {0, 4}),
  };
  std::string path = temp_path("roundtrip.npy");
  for (const Tensor& t : tensors) {
    write_npy(path, t);
    Tensor back = read_npy(path);
    EXPECT_EQ(back.dtype(), t.dtype());
    EXPECT_EQ(back.shape(), t.shape());
    ASSERT_EQ(back.nbytes(), t.nbytes());
    EXPECT_EQ(std::memcmp(back.raw(), t.raw(), t.nbytes()), 0) << dtype_name(t.dtype());
  }
}

TEST(Npy, LargeHeaderUsesVersion2) {
  Shape shape(25000, 1);  // a rank-25000 header does not fit v1's 16-bit length
  Tensor t(DType::kUint8, shape);
  std::string bytes = encode_npy(t);
  EXPECT_EQ(bytes[6], 2);
  EXPECT_EQ(parse_npy(bytes, "mem").shape(), shape);
}

TEST(Npy, BoolBytesAreNormalised) {
  std::string bytes = encode_npy(Tensor::from_vector<uint8_t>({2}, {0, 1}));
  bytes.replace(bytes.find("|u1"), 3, "|b1");
  bytes.back() = 7;  // numpy treats any nonzero byte as True
  Tensor t = parse_npy(bytes, "mem");
  EXPECT_EQ(static_cast<const uint8_t*>(t.raw())[1], 1);
}

TEST(Npy, MissingFileIsAnIoErrorNamingIt) {
  expect_error([] { read_npy("/nonexistent/x.npy"); }, ErrorCode::kIo, "/nonexistent/x.npy");
  expect_error([] { read_npy(std::filesystem::temp_directory_path().string()); }, ErrorCode::kIo,
               "directory");
}

TEST(Npy, TruncatedFilesAreRefused) {
  std::string good = numpy_float32_2x3();
  std::string path = temp_path("truncated.npy");
  for (size_t size : {size_t{3}, size_t{9}, size_t{40}, good.size() - 1}) {
    std::ofstream(path, std::ios::binary) << good.substr(0, size);
    expect_error([&] { read_npy(path); }, ErrorCode::kIo, path);
    expect_error([&] { read_npy(path); }, ErrorCode::kIo, "truncated");
  }
}

TEST(Npy, BadMagicAndMalformedHeaders) {
  expect_error([] { parse_npy("PK\x03\x04 this is a zip file", "x.npz"); },
               ErrorCode::kInvalidArgument, "x.npz: not a .npy file");
  std::string good = numpy_float32_2x3();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string bytes = good;
    bytes.replace(bytes.find(from), from.size(), to);
    return bytes;
  };
  expect_error([&] { parse_npy(with("'shape'", "'shap' "), "m"); }, ErrorCode::kInvalidArgument,
               "unknown key");
  expect_error([&] { parse_npy(with("(2, 3)", "(2, x)"), "m"); }, ErrorCode::kInvalidArgument,
               "malformed");
  expect_error([&] { parse_npy(with("(2, 3)", "(2, 2)"), "m"); }, ErrorCode::kInvalidArgument,
               "size mismatch");
  expect_error([&] { parse_npy(with("False", "Nope "), "m"); }, ErrorCode::kInvalidArgument,
               "True or False");
}

TEST(Npy, UnsupportedLayoutsAndDTypesNameTheProblem) {
  std::string good = numpy_float32_2x3();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string bytes = good;
    bytes.replace(bytes.find(from), from.size(), to);
    return bytes;
  };
  expect_error([&] { parse_npy(with("False", "True "), "f.npy"); }, ErrorCode::kUnsupported,
               "Fortran");
  expect_error([&] { parse_npy(with("<f4", ">f4"), "f.npy"); }, ErrorCode::kUnsupported,
               "big-endian");
  expect_error([&] { parse_npy(with("<f4", "<f2"), "f.npy"); }, ErrorCode::kUnsupported, "'<f2'");
  expect_error([&] { parse_npy(with("<f4", "<U1"), "f.npy"); }, ErrorCode::kUnsupported, "f.npy");
}

TEST(Npy, AbsurdShapeIsRefusedBeforeAllocating) {
  std::string good = numpy_float32_2x3();
  good.replace(good.find("(2, 3)"), 6, "(100000, 100000)");
  expect_error([&] { parse_npy(good, "huge.npy"); }, ErrorCode::kOutOfRange, "huge.npy");
}

}  // namespace
}  // namespace amphora

namespace amphora {
namespace {

// A deterministic miniature of tests/fuzz/fuzz_npy: every truncation and many byte flips of a
// valid file either parse or fail with amphora::Error (anything else would escape the test).
TEST(Npy, EveryTruncationAndByteFlipFailsCleanly) {
  std::string good = encode_npy(Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4}));
  int errors = 0;
  for (size_t size = 0; size < good.size(); ++size) {
    try {
      parse_npy(good.substr(0, size), "cut.npy");
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_EQ(errors, static_cast<int>(good.size()));  // every proper prefix is invalid
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char flip : {0x01, 0x20, 0x80, 0xff}) {
      std::string bytes = good;
      bytes[i] = static_cast<char>(bytes[i] ^ flip);
      try {
        Tensor t = parse_npy(bytes, "flip.npy");
        // What parses must be backed by the bytes given and survive a round trip.
        EXPECT_LE(t.nbytes(), bytes.size());
        EXPECT_EQ(parse_npy(encode_npy(t), "again.npy").shape(), t.shape());
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace amphora
