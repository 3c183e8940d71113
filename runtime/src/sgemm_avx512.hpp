// vmc's own float32 GEMM for AVX-512 (sgemm_avx512.cpp): row-major C = alpha·op(A)·op(B) +
// beta·C, as vmc_gemm_f32 (beta = 0 never reads C). Available when the runtime is compiled for
// AVX-512 (VMC_HAVE_SGEMM_AVX512).
#pragma once

#include <cstdint>

#include "gemm_sum.hpp"

#if defined(__AVX512F__)
#define VMC_HAVE_SGEMM_AVX512 1
namespace vmc::runtime::detail {
// The products it takes: past the sizes where a matrix-vector product or Eigen's small-product
// path is the better tool (k > 0 follows).
inline bool sgemm_avx512_takes(int64_t m, int64_t n, int64_t k) { return m > 1 && n > 1 && m * n * k >= 4096; }
void sgemm_avx512(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// gemm_sum.hpp's product of several k pieces, each micro-tile of C accumulating all of them.
// With `adam` (gemm_sum.hpp), C's last block of k is not written but moves the params.
void sgemm_avx512_sum(bool ta, bool tb, int64_t m, int64_t n, const GemmTerm<float>* terms, int n_terms, float alpha,
                      float beta, float* c, int64_t ldc, const AdamTarget* adam = nullptr);
}
#endif
