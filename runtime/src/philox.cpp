// Philox-4x32-10 and the noise fills built on it (include/vmc/philox.hpp has the counter layout
// and the value definitions).
//
// Each row is produced in fixed chunks of kChunk elements: the Philox blocks of a chunk, their
// conversion to uniforms and the Box–Muller transform are plain loops of constant trip count
// over small arrays, with no per-element branches, so the compiler vectorises them (the 32×32→64
// multiplies, the bit-pattern uniform conversion, sqrt; log/sin/cos where a vector math library
// is enabled). A chunk is always computed whole, and element j always sits at lane j mod kChunk
// of chunk j / kChunk, so an element's arithmetic is the same whichever rows a call asks for:
// splitting a minibatch across threads cannot change a single bit.
#include "vmc/philox.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numbers>
#include <stdexcept>
#include <string>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vmc {
namespace {

constexpr int kChunk = 16;  // elements per chunk (a multiple of 4)

// Stream tags (ctr[3] bits 16..17): normals and uniforms, per precision, are separate streams.
enum : uint32_t { kTagNormalF32 = 0, kTagUniformF32 = 1, kTagNormalF64 = 2, kTagUniformF64 = 3 };

// N Philox4x32-10 blocks at once: lane i has counter (first_block + i, c1, c2, c3).
template <int N>
void philox_lanes(uint32_t first_block, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                  uint32_t k1, uint32_t (&x0)[N], uint32_t (&x1)[N], uint32_t (&x2)[N],
                  uint32_t (&x3)[N]) {
  for (int i = 0; i < N; ++i) {
    x0[i] = first_block + static_cast<uint32_t>(i);
    x1[i] = c1;
    x2[i] = c2;
    x3[i] = c3;
  }
  for (int round = 0; round < kPhiloxRounds; ++round) {
    for (int i = 0; i < N; ++i) {
      const uint64_t p0 = uint64_t{kPhiloxM0} * x0[i];
      const uint64_t p1 = uint64_t{kPhiloxM1} * x2[i];
      const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
      const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
      const uint32_t y0 = hi1 ^ x1[i] ^ k0;
      const uint32_t y2 = hi0 ^ x3[i] ^ k1;
      x0[i] = y0;
      x1[i] = lo1;
      x2[i] = y2;
      x3[i] = lo0;
    }
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
}

// (k + 1/2) · 2^-23 for the top 23 bits k of x: exact, in [2^-24, 1 − 2^-24].
inline float u01_f32(uint32_t x) {
  return std::bit_cast<float>(0x3F800000u | (x >> 9)) - (1.0f - 0x1p-24f);
}

// (k + 1/2) · 2^-52 for the 52 bits k taken from hi:lo: exact, in [2^-53, 1 − 2^-53].
inline double u01_f64(uint32_t hi, uint32_t lo) {
  const uint64_t k = (uint64_t{hi} << 20) | (lo >> 12);
  return std::bit_cast<double>(0x3FF0000000000000ull | k) - (1.0 - 0x1p-53);
}

struct Ctr {
  uint32_t k0, k1, c1, c2, c3;
};

Ctr make_ctr(uint64_t seed, uint64_t step, uint32_t site, uint64_t row, uint32_t tag) {
  return Ctr{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
             static_cast<uint32_t>(row), static_cast<uint32_t>(step),
             site | (tag << 16) | (static_cast<uint32_t>(step >> 32) << 18) |
                 (static_cast<uint32_t>(row >> 32) << 24)};
}

// The kChunk uniforms of chunk `chunk` of one row, in element order.
template <typename T>
void chunk_uniforms(const Ctr& c, int64_t chunk, T (&u)[kChunk]) {
  if constexpr (sizeof(T) == 4) {
    constexpr int nb = kChunk / 4;
    uint32_t x0[nb], x1[nb], x2[nb], x3[nb];
    philox_lanes<nb>(static_cast<uint32_t>(chunk * nb), c.c1, c.c2, c.c3, c.k0, c.k1, x0, x1, x2,
                     x3);
    for (int b = 0; b < nb; ++b) {
      u[4 * b + 0] = u01_f32(x0[b]);
      u[4 * b + 1] = u01_f32(x1[b]);
      u[4 * b + 2] = u01_f32(x2[b]);
      u[4 * b + 3] = u01_f32(x3[b]);
    }
  } else {
    constexpr int nb = kChunk / 2;
    uint32_t x0[nb], x1[nb], x2[nb], x3[nb];
    philox_lanes<nb>(static_cast<uint32_t>(chunk * nb), c.c1, c.c2, c.c3, c.k0, c.k1, x0, x1, x2,
                     x3);
    for (int b = 0; b < nb; ++b) {
      u[2 * b + 0] = u01_f64(x0[b], x1[b]);
      u[2 * b + 1] = u01_f64(x2[b], x3[b]);
    }
  }
}

#if defined(__AVX512F__)
// Box–Muller on 16 lanes with libmvec's AVX-512 log, sin and cos: the scalar libm calls were
// 24 per chunk, 13.6 us for the 50 × 20 normals of a VAE's minibatch half (vmc bench: a step's
// "data rows and noise" phase), now 3 vector calls. Every lane computes log, sin and cos of its
// own uniform; the pairs take r from the even lane and the angle from the odd one.
}  // namespace
extern "C" {
__m512 _ZGVeN16v_logf(__m512);
__m512 _ZGVeN16v_sinf(__m512);
__m512 _ZGVeN16v_cosf(__m512);
__m512d _ZGVeN8v_log(__m512d);
__m512d _ZGVeN8v_sin(__m512d);
__m512d _ZGVeN8v_cos(__m512d);
}
namespace {
inline void box_muller_16(const float* u, float* z) {
  const __m512 v = _mm512_load_ps(u);
  const __m512 r = _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), _ZGVeN16v_logf(v)));
  const __m512 theta = _mm512_mul_ps(_mm512_set1_ps(static_cast<float>(2 * std::numbers::pi)), v);
  const __m512 c = _ZGVeN16v_cosf(theta), s = _ZGVeN16v_sinf(theta);
  // z[2i] = r[2i]·cos(θ[2i+1]), z[2i+1] = r[2i]·sin(θ[2i+1]).
  const __m512 angle = _mm512_mask_blend_ps(0xAAAA, _mm512_movehdup_ps(c), _mm512_movehdup_ps(s));
  _mm512_store_ps(z, _mm512_mul_ps(_mm512_moveldup_ps(r), angle));
}
inline void box_muller_8(const double* u, double* z) {
  const __m512d v = _mm512_load_pd(u);
  const __m512d r = _mm512_sqrt_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), _ZGVeN8v_log(v)));
  const __m512d theta = _mm512_mul_pd(_mm512_set1_pd(2 * std::numbers::pi), v);
  const __m512d c = _ZGVeN8v_cos(theta), s = _ZGVeN8v_sin(theta);
  const __m512d odd_c = _mm512_permute_pd(c, 0xFF), odd_s = _mm512_permute_pd(s, 0xFF);
  _mm512_store_pd(z, _mm512_mul_pd(_mm512_movedup_pd(r), _mm512_mask_blend_pd(0xAA, odd_c, odd_s)));
}
#endif

// Box–Muller on the pairs (u[2i], u[2i+1]), both outputs used.
template <typename T>
void box_muller(const T (&u)[kChunk], T (&z)[kChunk]) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    box_muller_16(u, z);
  } else {
    box_muller_8(u, z);
    box_muller_8(u + 8, z + 8);
  }
  return;
#endif
  constexpr T two_pi = static_cast<T>(2 * std::numbers::pi);
  T r[kChunk / 2], theta[kChunk / 2];
  for (int i = 0; i < kChunk / 2; ++i) {
    r[i] = std::sqrt(T(-2) * std::log(u[2 * i]));
    theta[i] = two_pi * u[2 * i + 1];
  }
  for (int i = 0; i < kChunk / 2; ++i) {
    z[2 * i] = r[i] * std::cos(theta[i]);
    z[2 * i + 1] = r[i] * std::sin(theta[i]);
  }
}

void check_args(uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                int64_t row_length, const void* out) {
  if (rows < 0 || row_length < 0) throw std::invalid_argument("noise: negative size");
  if (rows > 0 && row_length > 0 && out == nullptr)
    throw std::invalid_argument("noise: null output buffer");
  if (step >= kNoiseMaxStep)
    throw std::out_of_range("noise: step " + std::to_string(step) + " is past 2^38");
  if (site >= kNoiseMaxSite)
    throw std::out_of_range("noise: site " + std::to_string(site) + " is past 2^16");
  if (first_row >= kNoiseMaxRow || static_cast<uint64_t>(rows) > kNoiseMaxRow - first_row)
    throw std::out_of_range("noise: rows past 2^40");
  if (row_length >= kNoiseMaxRowLength) throw std::out_of_range("noise: row length past 2^32");
}

template <typename T, bool Normal>
void fill(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
          int64_t row_length, T* out) {
  check_args(step, site, first_row, rows, row_length, out);
  constexpr uint32_t tag = sizeof(T) == 4 ? (Normal ? kTagNormalF32 : kTagUniformF32)
                                          : (Normal ? kTagNormalF64 : kTagUniformF64);
  alignas(64) T u[kChunk];
  alignas(64) T z[kChunk];
  for (int64_t r = 0; r < rows; ++r) {
    const Ctr c = make_ctr(seed, step, site, first_row + static_cast<uint64_t>(r), tag);
    T* row_out = out + r * row_length;
    for (int64_t j0 = 0, chunk = 0; j0 < row_length; j0 += kChunk, ++chunk) {
      chunk_uniforms<T>(c, chunk, u);
      const int64_t n = std::min<int64_t>(kChunk, row_length - j0);
      if constexpr (Normal) {
        box_muller<T>(u, z);
        std::memcpy(row_out + j0, z, static_cast<size_t>(n) * sizeof(T));
      } else {
        std::memcpy(row_out + j0, u, static_cast<size_t>(n) * sizeof(T));
      }
    }
  }
}

}  // namespace

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  uint32_t x0[1], x1[1], x2[1], x3[1];
  // philox_lanes fills lane 0 with (first_block, c1, c2, c3).
  philox_lanes<1>(counter[0], counter[1], counter[2], counter[3], key[0], key[1], x0, x1, x2, x3);
  return {x0[0], x1[0], x2[0], x3[0]};
}

void fill_normal(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                 int64_t row_length, float* out) {
  fill<float, true>(seed, step, site, first_row, rows, row_length, out);
}
void fill_normal(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                 int64_t row_length, double* out) {
  fill<double, true>(seed, step, site, first_row, rows, row_length, out);
}
void fill_uniform(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                  int64_t row_length, float* out) {
  fill<float, false>(seed, step, site, first_row, rows, row_length, out);
}
void fill_uniform(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                  int64_t row_length, double* out) {
  fill<double, false>(seed, step, site, first_row, rows, row_length, out);
}

}  // namespace vmc
