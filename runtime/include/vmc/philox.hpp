// Philox-4x32-10 counter-based random numbers (Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011; the Random123 library's philox4x32_R(10, ...)).
//
// Every noise value is a pure function of (seed, step, site, row, element): no generator state,
// so a minibatch split across any number of threads draws exactly the same noise, and a resumed
// run (which only needs the step counter) continues bit-for-bit.
//
// Counter layout (one Philox call = one 128-bit block of output):
//   key     = { seed low 32 bits, seed high 32 bits }
//   ctr[0]  = block index within the row (element j lives in block j / 4 for f32, j / 2 for f64)
//   ctr[1]  = row, low 32 bits
//   ctr[2]  = step, low 32 bits
//   ctr[3]  = site (bits 0..15) | stream tag (bits 16..17: normal/uniform × f32/f64)
//             | step bits 32..37 (bits 18..23) | row bits 32..39 (bits 24..31)
// so distinct (step, site, row, element, stream) never share a counter within the limits below;
// the fill functions throw std::out_of_range outside them.
//   step < 2^38, site < 2^16, row < 2^40, row_length < 2^32.
//
// Values: f32 uniforms are (u32 >> 9 + 0.5) · 2^-23 and f64 uniforms (u52 + 0.5) · 2^-52, both
// exact in their type, so they lie strictly inside (0, 1) and are symmetric about 1/2 (a 24-bit
// f32 / 53-bit f64 variant would round the top value to exactly 1). An f32 block gives 4
// uniforms, an f64 block 2. Normals are Box–Muller on consecutive pairs (u_a, u_b) with both
// outputs used: z_a = r·cos(2π u_b), z_b = r·sin(2π u_b), r = sqrt(−2 log u_a). log, sin and
// cos are glibc's libmvec AVX-512 routines in a runtime built for an AVX-512 machine, libm's
// otherwise: the same bits for the same counter within a build; across the two, within a few
// ulp.
//
// Output layout: out[(r − first_row) · row_length + j] for r in [first_row, first_row + rows),
// j in [0, row_length), row-major like the kernels' buffers (abi.h).
#ifndef VMC_PHILOX_HPP
#define VMC_PHILOX_HPP

#include <array>
#include <cstdint>

namespace vmc {

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;

// The limits of the counter layout (exclusive).
inline constexpr uint64_t kNoiseMaxStep = uint64_t{1} << 38;
inline constexpr uint32_t kNoiseMaxSite = uint32_t{1} << 16;
inline constexpr uint64_t kNoiseMaxRow = uint64_t{1} << 40;
inline constexpr int64_t kNoiseMaxRowLength = int64_t{1} << 32;

// One Philox4x32-10 block.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// Standard normals / open-interval uniforms for rows [first_row, first_row + rows), each of
// row_length elements; element (r, j) depends only on (seed, step, site, r, j).
void fill_normal(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                 int64_t row_length, float* out);
void fill_normal(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                 int64_t row_length, double* out);
void fill_uniform(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                  int64_t row_length, float* out);
void fill_uniform(uint64_t seed, uint64_t step, uint32_t site, uint64_t first_row, int64_t rows,
                  int64_t row_length, double* out);

// The same, bound to one (seed, step, site): the noise one kernel input draws in one step.
struct NoiseStream {
  uint64_t seed = 0;
  uint64_t step = 0;
  uint32_t site = 0;

  template <typename T>
  void normal(uint64_t first_row, int64_t rows, int64_t row_length, T* out) const {
    fill_normal(seed, step, site, first_row, rows, row_length, out);
  }
  template <typename T>
  void uniform(uint64_t first_row, int64_t rows, int64_t row_length, T* out) const {
    fill_uniform(seed, step, site, first_row, rows, row_length, out);
  }
};

}  // namespace vmc

#endif  // VMC_PHILOX_HPP
