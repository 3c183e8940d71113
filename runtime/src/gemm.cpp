// vmc_gemm_f32 / vmc_gemm_f64: every dense product the generated code needs goes through here,
// so the backend (Eigen today) and the threading strategy change in one place. Single-threaded:
// the runtime parallelises by splitting the minibatch (ARCHITECTURE.md, "Threads").
#include "vmc/abi.h"

#include <Eigen/Core>

#ifdef VMC_GEMM_OPENBLAS
#include <cblas.h>
#endif

#include "gemm_log.hpp"

namespace vmc::runtime::detail {
thread_local std::vector<GemmCall>* t_gemm_log = nullptr;
}

namespace {

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstView = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using View = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// C = alpha·op(A)·op(B) + beta·C for op(A), op(B) already formed as (transposed) views.
template <typename T, typename A, typename B>
void multiply(const A& a, const B& b, T alpha, T beta, View<T>& c) {
  if (beta == T(0)) {
    c.noalias() = alpha * a * b;  // C may hold garbage or NaN: never read it
  } else {
    if (beta != T(1)) c *= beta;
    c.noalias() += alpha * a * b;
  }
}

template <typename T>
void gemm(int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (auto* log = vmc::runtime::detail::t_gemm_log) log->push_back({transpose_a, transpose_b, m, n, k, lda, ldb, ldc, static_cast<double>(beta), a, b, c});
  if (m <= 0 || n <= 0) return;
#ifdef VMC_GEMM_OPENBLAS
  if (k > 0 && alpha != T(0)) {
    const auto ta = transpose_a ? CblasTrans : CblasNoTrans, tb = transpose_b ? CblasTrans : CblasNoTrans;
    // As in BLAS, beta = 0 never reads C.
    if constexpr (sizeof(T) == 4) {
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    return;
  }
#endif
  View<T> cv(c, m, n, Eigen::OuterStride<>(ldc));
  if (k <= 0 || alpha == T(0)) {  // no product to add; as in BLAS, A and B are not read
    if (beta == T(0)) {
      cv.setZero();
    } else if (beta != T(1)) {
      cv *= beta;
    }
    return;
  }
  // As stored, A is m×k (k×m when transposed) and B is k×n (n×k when transposed).
  ConstView<T> av(a, transpose_a ? k : m, transpose_a ? m : k, Eigen::OuterStride<>(lda));
  ConstView<T> bv(b, transpose_b ? n : k, transpose_b ? k : n, Eigen::OuterStride<>(ldb));
  if (transpose_a) {
    if (transpose_b) {
      multiply(av.transpose(), bv.transpose(), alpha, beta, cv);
    } else {
      multiply(av.transpose(), bv, alpha, beta, cv);
    }
  } else if (transpose_b) {
    multiply(av, bv.transpose(), alpha, beta, cv);
  } else {
    multiply(av, bv, alpha, beta, cv);
  }
}

}  // namespace

extern "C" {

void vmc_gemm_f32(int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float beta, float* c, int64_t ldc) {
  gemm<float>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void vmc_gemm_f64(int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k,
                  double alpha, const double* a, int64_t lda, const double* b, int64_t ldb,
                  double beta, double* c, int64_t ldc) {
  gemm<double>(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // extern "C"
