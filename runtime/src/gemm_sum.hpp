// One product whose k is split into pieces that live apart: C = alpha·Σ_s op(A_s)·op(B_s) +
// beta·C, every A_s and B_s with its own k_s rows (of op(B); columns of op(A)) and strides. A
// split step's weight gradient is one: Xᵀ·δ over the minibatch, each thread's rows in its own
// buffers. Computed as one product (C written once, the k pieces one after the other inside
// each block of C), not as a product per piece added up.
#pragma once

#include <cstdint>

namespace vmc::runtime::detail {

template <typename T>
struct GemmTerm {
  const T* a;
  std::int64_t lda;
  const T* b;
  std::int64_t ldb;
  std::int64_t k;
};

// Row-major, as vmc_gemm_*; beta = 0 never reads C. Recorded for `vmc bench` as one product of
// k = Σ k_s at the first term's operands.
void gemm_sum(bool ta, bool tb, std::int64_t m, std::int64_t n, const GemmTerm<float>* terms, int n_terms, float alpha,
              float beta, float* c, std::int64_t ldc);
void gemm_sum(bool ta, bool tb, std::int64_t m, std::int64_t n, const GemmTerm<double>* terms, int n_terms,
              double alpha, double beta, double* c, std::int64_t ldc);

}  // namespace vmc::runtime::detail
