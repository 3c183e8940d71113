// Philox-4x32-10 (runtime/include/vmc/philox.hpp): the Random123 known-answer vectors, and the
// noise fills' promises — a pure function of (seed, step, site, row, element), so any split of
// the rows gives the same bits; uniforms strictly inside (0, 1); normals with the right moments.
#include "vmc/philox.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace {

template <typename T>
std::vector<T> normals(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row,
                       int64_t rows, int64_t len) {
  std::vector<T> v(static_cast<size_t>(rows * len));
  vmc::fill_normal(seed, step, site, first_row, rows, len, v.data());
  return v;
}

template <typename T>
std::vector<T> uniforms(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row,
                        int64_t rows, int64_t len) {
  std::vector<T> v(static_cast<size_t>(rows * len));
  vmc::fill_uniform(seed, step, site, first_row, rows, len, v.data());
  return v;
}

template <typename T>
bool bit_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <typename T>
void check_moments(const std::vector<T>& z) {
  const double n = static_cast<double>(z.size());
  double s = 0, s2 = 0, s4 = 0, beyond = 0;
  for (T v : z) {
    const double x = v;
    s += x;
    s2 += x * x;
    s4 += x * x * x * x;
    if (std::abs(x) > 1.959963984540054) beyond += 1;
  }
  const double mean = s / n;
  const double var = s2 / n - mean * mean;
  // se of the mean is 1/sqrt(n); of the variance sqrt(2/n) for a normal.
  CHECK(std::abs(mean) < 4 / std::sqrt(n));
  CHECK(std::abs(var - 1) < 4 * std::sqrt(2 / n));
  // Fourth moment 3 (se sqrt(96/n)), and the two-sided 5 % tail.
  CHECK(std::abs(s4 / n - 3) < 4 * std::sqrt(96 / n));
  const double p = beyond / n;
  CHECK(std::abs(p - 0.05) < 4 * std::sqrt(0.05 * 0.95 / n));
}

}  // namespace

TEST_CASE("philox: Random123 known-answer vectors for philox4x32-10") {
  using A4 = std::array<uint32_t, 4>;
  using A2 = std::array<uint32_t, 2>;
  CHECK(vmc::philox4x32(A4{0, 0, 0, 0}, A2{0, 0}) ==
        A4{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(vmc::philox4x32(A4{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                        A2{0xffffffffu, 0xffffffffu}) ==
        A4{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(vmc::philox4x32(A4{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                        A2{0xa4093822u, 0x299f31d0u}) ==
        A4{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE_TEMPLATE("philox: fills are deterministic", T, float, double) {
  CHECK(bit_equal(normals<T>(42, 7, 3, 0, 50, 37), normals<T>(42, 7, 3, 0, 50, 37)));
  CHECK(bit_equal(uniforms<T>(42, 7, 3, 0, 50, 37), uniforms<T>(42, 7, 3, 0, 50, 37)));
}

TEST_CASE_TEMPLATE("philox: any split of the rows gives the same bits", T, float, double) {
  for (int64_t len : {1, 3, 4, 16, 17, 37, 100}) {
    CAPTURE(len);
    const int64_t m = 23;
    const auto all = normals<T>(9, 11, 2, 0, m, len);
    const auto all_u = uniforms<T>(9, 11, 2, 0, m, len);
    for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{22}, m}) {
      CAPTURE(k);
      auto a = normals<T>(9, 11, 2, 0, k, len);
      const auto b = normals<T>(9, 11, 2, static_cast<uint64_t>(k), m - k, len);
      a.insert(a.end(), b.begin(), b.end());
      CHECK(bit_equal(a, all));
      auto au = uniforms<T>(9, 11, 2, 0, k, len);
      const auto bu = uniforms<T>(9, 11, 2, static_cast<uint64_t>(k), m - k, len);
      au.insert(au.end(), bu.begin(), bu.end());
      CHECK(bit_equal(au, all_u));
    }
    // Row r alone, asked for by itself, equals row r of the big request.
    for (int64_t r : {int64_t{0}, int64_t{6}, m - 1}) {
      const auto one = normals<T>(9, 11, 2, static_cast<uint64_t>(r), 1, len);
      CHECK(std::memcmp(one.data(), all.data() + r * len, static_cast<size_t>(len) * sizeof(T)) ==
            0);
    }
  }
  // Element j of a row does not depend on the row length asked for (its prefix property).
  const auto long_row = normals<T>(9, 11, 2, 4, 1, 100);
  const auto short_row = normals<T>(9, 11, 2, 4, 1, 37);
  CHECK(std::memcmp(long_row.data(), short_row.data(), 37 * sizeof(T)) == 0);
}

TEST_CASE_TEMPLATE("philox: seed, step, site and row select different streams", T, float,
                   double) {
  const auto base = normals<T>(1, 1, 1, 0, 4, 32);
  const auto differ = [&](const std::vector<T>& other) {
    int same = 0;
    for (size_t i = 0; i < base.size(); ++i) same += base[i] == other[i];
    return same == 0;
  };
  CHECK(differ(normals<T>(2, 1, 1, 0, 4, 32)));
  CHECK(differ(normals<T>(uint64_t{1} | (uint64_t{1} << 32), 1, 1, 0, 4, 32)));  // seed high word
  CHECK(differ(normals<T>(1, 2, 1, 0, 4, 32)));
  CHECK(differ(normals<T>(1, 1 + (uint64_t{1} << 32), 1, 0, 4, 32)));  // step high bits
  CHECK(differ(normals<T>(1, 1, 2, 0, 4, 32)));
  CHECK(differ(normals<T>(1, 1, 1, 4, 4, 32)));
  CHECK(differ(normals<T>(1, 1, 1, uint64_t{1} << 32, 4, 32)));  // row high bits
  // Uniforms are their own stream, not the normals' inputs.
  const auto u = uniforms<T>(1, 1, 1, 0, 4, 32);
  const auto u2 = uniforms<T>(1, 1, 1, 0, 4, 32);
  CHECK(bit_equal(u, u2));
  CHECK_FALSE(bit_equal(u, uniforms<T>(1, 2, 1, 0, 4, 32)));
}

TEST_CASE_TEMPLATE("philox: uniforms lie strictly inside (0, 1) and are uniform", T, float,
                   double) {
  const auto u = uniforms<T>(123, 0, 0, 0, 1000, 1000);
  double s = 0, lo = 1, hi = 0;
  int64_t bins[10] = {};
  int64_t outside = 0;
  for (T v : u) {
    outside += !(v > T(0) && v < T(1));
    s += v;
    lo = std::min<double>(lo, v);
    hi = std::max<double>(hi, v);
    ++bins[static_cast<int>(v * 10)];
  }
  REQUIRE(outside == 0);
  const double n = static_cast<double>(u.size());
  CHECK(std::abs(s / n - 0.5) < 4 * std::sqrt(1.0 / 12 / n));
  for (int64_t b : bins) CHECK(std::abs(static_cast<double>(b) / n - 0.1) < 4 * std::sqrt(0.09 / n));
  CHECK(lo < 1e-5);
  CHECK(hi > 1 - 1e-5);
}

TEST_CASE("philox: uniforms are exact odd multiples of 2^-24 (f32) and 2^-53 (f64)") {
  // (k + 1/2) · 2^-23 and (k + 1/2) · 2^-52 with no rounding: hence never 0 or 1, and symmetric.
  int bad = 0;
  for (float v : uniforms<float>(5, 5, 5, 0, 10, 100)) {
    const double scaled = static_cast<double>(v) * 0x1p24;
    bad += !(scaled == std::floor(scaled) && std::fmod(scaled, 2.0) == 1.0);
  }
  for (double v : uniforms<double>(5, 5, 5, 0, 10, 100)) {
    const long double scaled = static_cast<long double>(v) * 0x1p53L;
    bad += !(scaled == std::floor(scaled) && std::fmod(scaled, 2.0L) == 1.0L);
  }
  CHECK(bad == 0);
}

TEST_CASE_TEMPLATE("philox: normal moments over 1e6 draws", T, float, double) {
  check_moments(normals<T>(2024, 3, 1, 0, 1000, 1000));
  // Short rows (one normal per datapoint) use the same per-element definition.
  check_moments(normals<T>(77, 0, 5, 0, 1000000, 1));
}

TEST_CASE_TEMPLATE("philox: both Box-Muller outputs are used and uncorrelated", T, float, double) {
  const auto z = normals<T>(31, 4, 0, 0, 1000, 1000);
  double c = 0;
  for (size_t i = 0; i + 1 < z.size(); i += 2) c += static_cast<double>(z[i]) * z[i + 1];
  const double n = static_cast<double>(z.size() / 2);
  CHECK(std::abs(c / n) < 4 / std::sqrt(n));
}

TEST_CASE("philox: sizes outside the counter layout are refused") {
  std::vector<float> v(8);
  CHECK_THROWS_AS(vmc::fill_normal(0, 0, vmc::kNoiseMaxSite, 0, 1, 8, v.data()), std::out_of_range);
  CHECK_THROWS_AS(vmc::fill_normal(0, vmc::kNoiseMaxStep, 0, 0, 1, 8, v.data()), std::out_of_range);
  CHECK_THROWS_AS(vmc::fill_normal(0, 0, 0, vmc::kNoiseMaxRow - 1, 2, 4, v.data()),
                  std::out_of_range);
  CHECK_THROWS_AS(vmc::fill_uniform(0, 0, 0, 0, -1, 8, v.data()), std::invalid_argument);
  CHECK_NOTHROW(vmc::fill_normal(0, vmc::kNoiseMaxStep - 1, vmc::kNoiseMaxSite - 1,
                                 vmc::kNoiseMaxRow - 1, 1, 8, v.data()));
  CHECK_NOTHROW(vmc::fill_normal(0, 0, 0, 0, 0, 8, static_cast<float*>(nullptr)));
}
