// The AVX2 pack_phases / unpack_phases (plain [C, T] <-> nCw8c over d time phases) and
// pack_window / unpack_window (a time window of [C, T] <-> nCw8c or nCw16c) against their scalar
// references: bit-identical on random shapes with ragged channel blocks and time ends, every
// output element written, and pack followed by unpack giving the (activated) input back.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "ops/conv/conv_phases.hpp"
#include "ops/conv/conv_reflect_pad.hpp"
#include "ops/conv/conv_tiled.hpp"

namespace amphora {
namespace {

// A NaN with a payload neither implementation produces: any element still holding it was
// never written.
constexpr uint32_t kSentinelBits = 0x7fc0dead;

float sentinel() {
  float f;
  std::memcpy(&f, &kSentinelBits, sizeof f);
  return f;
}

int64_t count_sentinels(const std::vector<float>& v) {
  int64_t count = 0;
  for (float f : v) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    count += bits == kSentinelBits;
  }
  return count;
}

// Normal values with some exact +0 and -0 mixed in (the activation must keep their signs the
// way `v >= 0 ? v : v * slope` does).
std::vector<float> random_values(int64_t count, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& f : v) {
    const uint32_t pick = rng() % 32;
    f = pick == 0 ? 0.0f : pick == 1 ? -0.0f : normal(rng);
  }
  return v;
}

// Index of the first element whose bits differ, or -1.
int64_t first_bit_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return static_cast<int64_t>(i);
  }
  return -1;
}

struct Case {
  int64_t channels, length, phases, phase_len;
  float slope;
  std::string describe() const {
    return "C=" + std::to_string(channels) + " T=" + std::to_string(length) +
           " d=" + std::to_string(phases) + " phase_len=" + std::to_string(phase_len) +
           " slope=" + std::to_string(slope);
  }
  int64_t packed_size() const { return phases * ((channels + 7) / 8) * phase_len * 8; }
};

void expect_pack_matches_reference(const Case& c, std::mt19937& rng) {
  const std::vector<float> x = random_values(c.channels * c.length, rng);
  std::vector<float> fast(c.packed_size(), sentinel()), reference(c.packed_size(), sentinel());
  pack_phases(x.data(), c.channels, c.length, c.phases, c.phase_len, fast.data(), c.slope);
  pack_phases_reference(x.data(), c.channels, c.length, c.phases, c.phase_len, reference.data(),
                        c.slope);
  EXPECT_EQ(count_sentinels(fast), 0) << c.describe();
  EXPECT_EQ(first_bit_difference(fast, reference), -1) << c.describe();
}

void expect_unpack_matches_reference(const Case& c, std::mt19937& rng) {
  const std::vector<float> packed = random_values(c.packed_size(), rng);
  const int64_t size = c.channels * c.length;
  std::vector<float> fast(size, sentinel()), reference(size, sentinel());
  unpack_phases(packed.data(), c.channels, c.length, c.phases, c.phase_len, fast.data());
  unpack_phases_reference(packed.data(), c.channels, c.length, c.phases, c.phase_len,
                          reference.data());
  EXPECT_EQ(count_sentinels(fast), 0) << c.describe();
  EXPECT_EQ(first_bit_difference(fast, reference), -1) << c.describe();
}

// pack then unpack is the identity for slope 1 and the activation otherwise.
void expect_round_trip(const Case& c, std::mt19937& rng) {
  const std::vector<float> x = random_values(c.channels * c.length, rng);
  std::vector<float> packed(c.packed_size(), sentinel());
  pack_phases(x.data(), c.channels, c.length, c.phases, c.phase_len, packed.data(), c.slope);
  std::vector<float> back(x.size(), sentinel());
  unpack_phases(packed.data(), c.channels, c.length, c.phases, c.phase_len, back.data());
  std::vector<float> expected = x;
  for (auto& v : expected) v = v >= 0.0f ? v : v * c.slope;
  EXPECT_EQ(first_bit_difference(back, expected), -1) << c.describe();
}

Case random_case(std::mt19937& rng) {
  const std::vector<float> slopes = {1.0f, 0.1f, 0.0f};
  Case c;
  c.channels = 1 + rng() % 70;
  c.length = 1 + rng() % 5000;
  c.phases = 1 + rng() % 11;
  // Mostly the exact ceil(T / d) the conv uses; sometimes longer, for a zero tail past the row.
  c.phase_len = (c.length + c.phases - 1) / c.phases + (rng() % 4 == 0 ? rng() % 20 : 0);
  c.slope = slopes[rng() % slopes.size()];
  return c;
}

// Shapes at the edges: single samples and channels, lengths around multiples of 8 and of d,
// and rows long enough to span several time tiles (2048 phase samples each).
std::vector<Case> edge_cases() {
  std::vector<Case> cases;
  for (int64_t channels : {1, 7, 8, 9, 16, 32, 70}) {
    for (int64_t length : {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 2047, 2048, 2049, 4096 + 24}) {
      for (int64_t phases : {1, 2, 3, 5, 8, 11}) {
        cases.push_back({channels, length, phases, (length + phases - 1) / phases, 0.1f});
      }
    }
  }
  for (int64_t phases : {1, 3, 5}) cases.push_back({40, 20000 + 5, phases, 0, 1.0f});
  for (auto& c : cases) {
    if (c.phase_len == 0) c.phase_len = (c.length + c.phases - 1) / c.phases;
  }
  return cases;
}

TEST(ConvPhases, PackMatchesScalarReferenceBitForBit) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) expect_pack_matches_reference(random_case(rng), rng);
  for (const Case& c : edge_cases()) expect_pack_matches_reference(c, rng);
}

TEST(ConvPhases, UnpackMatchesScalarReferenceBitForBit) {
  std::mt19937 rng(8);
  for (int trial = 0; trial < 400; ++trial) {
    expect_unpack_matches_reference(random_case(rng), rng);
  }
  for (const Case& c : edge_cases()) expect_unpack_matches_reference(c, rng);
}

TEST(ConvPhases, PackThenUnpackGivesTheActivatedInput) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 200; ++trial) expect_round_trip(random_case(rng), rng);
  for (const Case& c : edge_cases()) expect_round_trip(c, rng);
}

// The layout itself, independent of either implementation: packed[r][cb][n][c8] is
// act(x[cb*8 + c8][n*d + r]), zero for channels and samples that do not exist.
TEST(ConvPhases, PackWritesTheDocumentedLayout) {
  const int64_t channels = 11, length = 37, phases = 3, phase_len = 13 + 2, blocks = 2;
  std::vector<float> x(channels * length);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t t = 0; t < length; ++t) x[c * length + t] = (t % 2 ? -1.0f : 1.0f) * (c * 100 + t);
  }
  std::vector<float> packed(phases * blocks * phase_len * 8, sentinel());
  pack_phases(x.data(), channels, length, phases, phase_len, packed.data(), 0.5f);
  for (int64_t r = 0; r < phases; ++r) {
    for (int64_t cb = 0; cb < blocks; ++cb) {
      for (int64_t n = 0; n < phase_len; ++n) {
        for (int64_t c8 = 0; c8 < 8; ++c8) {
          const int64_t c = cb * 8 + c8, t = n * phases + r;
          float expected = 0.0f;
          if (c < channels && t < length) {
            const float v = x[c * length + t];
            expected = v >= 0.0f ? v : v * 0.5f;
          }
          EXPECT_EQ(packed[((r * blocks + cb) * phase_len + n) * 8 + c8], expected)
              << "r=" << r << " cb=" << cb << " n=" << n << " c8=" << c8;
        }
      }
    }
  }
}

// A window of [begin, begin + width) over a row of `length` samples: windows that start before
// the row, end after it, lie wholly outside it, or are longer than it.
struct WindowCase {
  int64_t channels, length, begin, width, block;
  float slope;
  TimePadding outside = TimePadding::kZeros;
  std::string describe() const {
    return fmt::format("C={} T={} window [{}, {}) block {} slope {} {}", channels, length, begin,
                       begin + width, block, slope,
                       outside == TimePadding::kReflect ? "reflect" : "zeros");
  }
  int64_t packed_size() const { return (channels + block - 1) / block * block * width; }
};

WindowCase random_window(std::mt19937& rng) {
  WindowCase c;
  c.channels = 1 + rng() % 70;
  c.length = 1 + rng() % 3000;
  c.width = 1 + rng() % 2500;
  c.begin = static_cast<int64_t>(rng() % (c.length + 40)) - 20 - (rng() % 8 == 0 ? c.width : 0);
  c.block = rng() % 2 ? 16 : 8;
  c.slope = std::vector<float>{1.0f, 0.1f, 0.0f}[rng() % 3];
  c.outside = rng() % 2 ? TimePadding::kReflect : TimePadding::kZeros;
  return c;
}

std::vector<WindowCase> window_edge_cases() {
  std::vector<WindowCase> cases;
  for (int64_t block : {8, 16}) {
    for (int64_t channels : {1, 7, 8, 9, 16, 17, 32}) {
      for (int64_t begin : {-9, -8, -1, 0, 1, 7, 60}) {
        for (int64_t width : {1, 8, 9, 64, 71})
          cases.push_back({channels, 64, begin, width, block, 0.2f});
      }
    }
  }
  return cases;
}

TEST(TimeWindow, PackMatchesScalarReferenceBitForBit) {
  std::mt19937 rng(21);
  std::vector<WindowCase> cases = window_edge_cases();
  for (int trial = 0; trial < 300; ++trial) cases.push_back(random_window(rng));
  for (const WindowCase& c : cases) {
    const std::vector<float> x = random_values(c.channels * c.length, rng);
    std::vector<float> fast(c.packed_size(), sentinel()), reference(c.packed_size(), sentinel());
    pack_window(x.data(), c.channels, c.length, c.begin, c.width, c.block, fast.data(), c.slope,
                c.outside);
    pack_window_reference(x.data(), c.channels, c.length, c.begin, c.width, c.block,
                          reference.data(), c.slope, c.outside);
    EXPECT_EQ(count_sentinels(fast), 0) << c.describe();
    EXPECT_EQ(first_bit_difference(fast, reference), -1) << c.describe();
  }
}

// A streamed conv's window as pieces (history, new chunks, zero padding) of separate buffers,
// each a part of its own longer row: packed where they lie, the window equals the reference
// packing of the joined row bit for bit, whatever the cut points (empty pieces included).
TEST(TimeWindow, PackFromPiecesMatchesPackingTheJoinedRow) {
  std::mt19937 rng(23);
  for (int trial = 0; trial < 300; ++trial) {
    WindowCase c = random_window(rng);
    c.outside = TimePadding::kZeros;
    std::vector<float> joined = random_values(c.channels * c.length, rng);
    std::vector<std::vector<float>> buffers;
    const std::vector<TimePiece> pieces =
        testing::cut_into_pieces(joined.data(), c.channels, c.length, 300, true, rng, buffers);
    std::vector<float> fast(c.packed_size(), sentinel()), reference(c.packed_size(), sentinel());
    pack_window_pieces(pieces, c.channels, c.begin, c.width, c.block, fast.data(), c.slope);
    pack_window_reference(joined.data(), c.channels, c.length, c.begin, c.width, c.block,
                          reference.data(), c.slope);
    EXPECT_EQ(count_sentinels(fast), 0) << c.describe() << ", " << pieces.size() << " pieces";
    EXPECT_EQ(first_bit_difference(fast, reference), -1)
        << c.describe() << ", " << pieces.size() << " pieces";
  }
}

TEST(TimeWindow, UnpackMatchesScalarReferenceAndWritesOnlyTheWindow) {
  std::mt19937 rng(22);
  std::vector<WindowCase> cases = window_edge_cases();
  for (int trial = 0; trial < 300; ++trial) cases.push_back(random_window(rng));
  for (const WindowCase& c : cases) {
    const std::vector<float> packed = random_values(c.packed_size(), rng);
    const int64_t size = c.channels * c.length;
    std::vector<float> fast(size, sentinel()), reference(size, sentinel());
    unpack_window(packed.data(), c.channels, c.length, c.begin, c.width, c.block, fast.data());
    unpack_window_reference(packed.data(), c.channels, c.length, c.begin, c.width, c.block,
                            reference.data());
    EXPECT_EQ(first_bit_difference(fast, reference), -1) << c.describe();
    // Exactly the samples of the window inside the row are written.
    const int64_t inside =
        std::max<int64_t>(0, std::min(c.length, c.begin + c.width) - std::max<int64_t>(0, c.begin));
    EXPECT_EQ(count_sentinels(fast), size - c.channels * inside) << c.describe();
  }
}

// The layout itself: packed[cb][n][c] is act(x[cb*block + c][begin + n]), zero outside the row
// and for channels that do not exist; unpacking it gives the activated window back.
TEST(TimeWindow, PackWritesTheDocumentedLayoutAndUnpackInvertsIt) {
  const int64_t channels = 19, length = 45, begin = -5, width = 60;
  for (int64_t block : {8, 16}) {
    std::vector<float> x(channels * length);
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t t = 0; t < length; ++t)
        x[c * length + t] = (t % 2 ? -1.0f : 1.0f) * (c * 100 + t);
    }
    const int64_t blocks = (channels + block - 1) / block;
    std::vector<float> packed(blocks * width * block, sentinel());
    pack_window(x.data(), channels, length, begin, width, block, packed.data(), 0.5f);
    for (int64_t cb = 0; cb < blocks; ++cb) {
      for (int64_t n = 0; n < width; ++n) {
        for (int64_t c = 0; c < block; ++c) {
          const int64_t channel = cb * block + c, t = begin + n;
          float expected = 0.0f;
          if (channel < channels && t >= 0 && t < length) {
            const float v = x[channel * length + t];
            expected = v >= 0.0f ? v : v * 0.5f;
          }
          ASSERT_EQ(packed[(cb * width + n) * block + c], expected)
              << "block " << block << " cb=" << cb << " n=" << n << " c=" << c;
        }
      }
    }
    std::vector<float> back(x.size(), sentinel());
    unpack_window(packed.data(), channels, length, begin, width, block, back.data());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(back[i], x[i] >= 0.0f ? x[i] : x[i] * 0.5f) << "block " << block << " at " << i;
    }
  }
}

// Reflect padding as ONNX Pad defines it: x[-i] = x[i], x[T-1+i] = x[T-1-i]; what lies beyond
// the mirror image (only ever read for outputs past the end) is zero. reflect_padded is the same
// padding as a tensor, with the conv's geometry unpadded to match.
TEST(TimeWindow, ReflectMirrorsTheRowAboutItsEndSamples) {
  const int64_t length = 10;
  std::vector<float> x(length);
  for (int64_t t = 0; t < length; ++t) x[t] = static_cast<float>(t + 1);
  const int64_t begin = -12, width = 36;  // samples -12 .. 23
  std::vector<float> packed(width * 8, sentinel());
  pack_window(x.data(), 1, length, begin, width, 8, packed.data(), 1.0f, TimePadding::kReflect);
  for (int64_t n = 0; n < width; ++n) {
    const int64_t t = begin + n;
    const int64_t source = t < 0 ? -t : t >= length ? 2 * (length - 1) - t : t;
    const float expected = source >= 0 && source < length ? x[source] : 0.0f;
    EXPECT_EQ(packed[n * 8], expected) << "t=" << t;
    EXPECT_EQ(packed[n * 8 + 1], 0.0f) << "t=" << t;  // channel 1 of 1
  }
  const ConvGeometry g = testing::conv1d_geometry(1, 1, length, 13, 1, 3, 9);
  const ReflectPadded padded = reflect_padded(g, Tensor::from_vector<float>({1, 1, length}, x));
  ASSERT_EQ(padded.x.shape(), (Shape{1, 1, length + 12}));
  EXPECT_EQ(padded.geometry.in, (std::vector<int64_t>{length + 12}));
  EXPECT_EQ(padded.geometry.pad_begin, (std::vector<int64_t>{0}));
  EXPECT_EQ(padded.geometry.pad_end, (std::vector<int64_t>{0}));
  EXPECT_EQ(padded.geometry.out, g.out);
  for (int64_t i = 0; i < length + 12; ++i) {
    const int64_t t = i - 3;
    const int64_t source = t < 0 ? -t : t >= length ? 2 * (length - 1) - t : t;
    EXPECT_EQ(padded.x.data<float>()[i], x[source]) << "i=" << i;
  }
}

}  // namespace
}  // namespace amphora
