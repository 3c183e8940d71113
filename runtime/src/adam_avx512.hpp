// Adam's arithmetic on 16 float32 lanes, shared by the update's loop (engine_step.cpp) and the
// weight gradients' GEMM epilogue (sgemm_avx512.cpp), so that a param moved by either ends up
// bit for bit the same. PyTorch's form: step lr / bc1, denominator sqrt(v) / sqrt(bc2) + eps,
// the division by sqrt(bc2) a product by its inverse.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vmc::runtime::detail {

// One step's constants: scale multiplies the gradient (1 / datapoints, or clipped), step_size
// is lr / bc1, inv_root_bc2 is 1 / sqrt(bc2).
struct AdamConstants {
  float scale, beta1, beta2, eps, step_size, inv_root_bc2;
};

#if defined(__AVX512F__)

class AdamLanes {
 public:
  explicit AdamLanes(const AdamConstants& c)
      : s_(_mm512_set1_ps(c.scale)),
        b1_(_mm512_set1_ps(c.beta1)),
        c1_(_mm512_set1_ps(1 - c.beta1)),
        b2_(_mm512_set1_ps(c.beta2)),
        c2_(_mm512_set1_ps(1 - c.beta2)),
        step_(_mm512_set1_ps(c.step_size)),
        inv_(_mm512_set1_ps(c.inv_root_bc2)),
        eps_(_mm512_set1_ps(c.eps)) {}
  // The param after the step from old_p with gradient g; the moments' new values in first and
  // second.
  __m512 operator()(__m512 g, __m512 old1, __m512 old2, __m512 old_p, __m512& first, __m512& second) const {
    g = _mm512_mul_ps(s_, g);
    first = _mm512_fmadd_ps(b1_, old1, _mm512_mul_ps(c1_, g));
    second = _mm512_fmadd_ps(b2_, old2, _mm512_mul_ps(c2_, _mm512_mul_ps(g, g)));
    const __m512 den = _mm512_fmadd_ps(_mm512_sqrt_ps(second), inv_, eps_);
    return _mm512_add_ps(old_p, _mm512_div_ps(_mm512_mul_ps(step_, first), den));
  }

 private:
  __m512 s_, b1_, c1_, b2_, c2_, step_, inv_, eps_;
};

#endif

}  // namespace vmc::runtime::detail
