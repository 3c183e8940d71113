// One product whose k is split into pieces that live apart: C = alpha·Σ_s op(A_s)·op(B_s) +
// beta·C, every A_s and B_s with its own k_s rows (of op(B); columns of op(A)) and strides. A
// split step's weight gradient is one: Xᵀ·δ over the minibatch, each thread's rows in its own
// buffers. Computed as one product (C written once, the k pieces one after the other inside
// each block of C), not as a product per piece added up.
#pragma once

#include <cstdint>
#include <type_traits>

#include "adam_avx512.hpp"
#include "vmc/abi.h"

namespace vmc::runtime::detail {

template <typename T>
struct GemmTerm {
  const T* a;
  std::int64_t lda;
  const T* b;
  std::int64_t ldb;
  std::int64_t k;
};

// Row-major, as vmc_gemm_*; beta = 0 never reads C. Reported to the context's observer (vmc
// bench) as one product of k = Σ k_s at the first term's operands.
void gemm_sum(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
              const GemmTerm<float>* terms, int n_terms, float alpha, float beta, float* c, std::int64_t ldc);
void gemm_sum(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
              const GemmTerm<double>* terms, int n_terms, double alpha, double beta, double* c, std::int64_t ldc);

// A float32 product's Adam epilogue: C is not written; each micro-tile of it, once complete, is
// the gradient of the params at the same positions (p, m1 and m2 laid out as C, at C's (0, 0))
// and moves them and Adam's moments from registers, by the update loop's arithmetic
// (adam_avx512.hpp): a param ends up bit for bit as if C had been written and then updated.
struct AdamTarget {
  float* p;
  float* m1;
  float* m2;
  AdamConstants constants;
  bool stream;  // p's whole, aligned lines stored past the cache (TrainerOptions::param_stores)
};
// gemm_sum with beta = 0 and that epilogue, when this build's float32 products can do it (vmc's
// own AVX-512 GEMM, and a product it takes: k > 0); otherwise false, with nothing computed.
bool gemm_sum_adam(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
                   const GemmTerm<float>* terms, int n_terms, float alpha, float* c, std::int64_t ldc,
                   const AdamTarget& adam);
// Whether this build's float32 products can take that epilogue at all.
bool gemm_fuses_adam();

// vmc_gemm_f32 or vmc_gemm_f64 by the element type, for the runtime's own products (the
// deferred ones, the GEMM bound's replay); alpha and beta as doubles.
template <typename T>
void gemm_as(vmc_context* context, std::int32_t ta, std::int32_t tb, std::int64_t m, std::int64_t n, std::int64_t k,
             double alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, double beta, T* c,
             std::int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    vmc_gemm_f32(context, ta, tb, m, n, k, static_cast<float>(alpha), a, lda, b, ldb, static_cast<float>(beta), c, ldc);
  } else {
    vmc_gemm_f64(context, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace vmc::runtime::detail
