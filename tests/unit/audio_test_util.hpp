// Test signals shared by the audio unit tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace amphora::audio::testing {

// Seeded Gaussian noise of standard deviation `scale`.
inline std::vector<float> noise(int64_t length, unsigned seed, float scale = 0.3f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> out(static_cast<size_t>(length));
  for (float& x : out) x = dist(rng);
  return out;
}

}  // namespace amphora::audio::testing
