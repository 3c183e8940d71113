// vmc_gemm_f32 / vmc_gemm_f64: every dense product the generated code needs goes through here,
// so the backend (Eigen today) and the threading strategy change in one place. Single-threaded:
// the runtime parallelises by splitting the minibatch (ARCHITECTURE.md, "Threads").
#include "vmc/abi.h"

#include <Eigen/Core>

#include <vector>

#ifdef VMC_GEMM_OPENBLAS
#include <cblas.h>
#endif
#ifdef VMC_GEMM_DNNL
#include <dnnl.h>
#include <omp.h>
#endif

#include <chrono>

#include "context.hpp"
#include "gemm_sum.hpp"
#include "sgemm_avx512.hpp"

namespace vmc::runtime {

const char* gemm_backend() {
#if defined(VMC_GEMM_OPENBLAS)
  return "openblas";
#elif defined(VMC_GEMM_DNNL)
  return "dnnl";
#elif defined(VMC_HAVE_SGEMM_AVX512)
  return "avx512+eigen";  // f32 products past the small sizes: sgemm_avx512.cpp; the rest Eigen
#else
  return "eigen";
#endif
}

bool gemm_backend_allocates() {
#ifdef VMC_GEMM_DNNL
  return true;
#else
  return false;
#endif
}

}  // namespace vmc::runtime

namespace {

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstView = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using View = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// Eigen's packed blocks of A and B, in buffers each thread keeps and only grows: Eigen's own
// product allocates them per call once they pass EIGEN_STACK_ALLOCATION_LIMIT (128 KB), five
// times a step for the VAE; this way a warm step allocates nothing (tests/unit/test_step_alloc).
template <typename T>
class ReusedBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  ReusedBlocking(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) {
    this->m_mc = rows;
    this->m_nc = cols;
    this->m_kc = depth;
    Eigen::internal::computeProductBlockingSizes<T, T, 1, Eigen::Index>(this->m_kc, this->m_mc, this->m_nc, 1);
    thread_local std::vector<T> a, b;
    // Eigen's packing may read a packet past the block's end: a little slack.
    std::size_t size_a = static_cast<std::size_t>(this->m_kc * this->m_mc) + 64;
    std::size_t size_b = static_cast<std::size_t>(this->m_kc * this->m_nc) + 64;
    if (a.size() < size_a) a.resize(size_a);
    if (b.size() < size_b) b.resize(size_b);
    this->m_blockA = aligned(a);
    this->m_blockB = aligned(b);
  }

 private:
  static T* aligned(std::vector<T>& v) {
    // std::vector<float> is 16-byte aligned; Eigen's packets want the vector width.
    if (v.capacity() < v.size() + 16) v.reserve(v.size() + 16);
    auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<T*>((p + 63) / 64 * 64);
  }
};

// C += alpha·op(A)·op(B) through Eigen's blocked GEMM with ReusedBlocking. C (m×n, row-major)
// is computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ; a stored operand read as its transpose
// flips its storage order.
template <typename T, int LhsOrder, int RhsOrder>
void blocked(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
             int64_t ldc) {
  ReusedBlocking<T> blocking(n, m, k);
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, T, LhsOrder, false, T, RhsOrder, false, Eigen::ColMajor,
                                                 1>::run(n, m, k, b, ldb, a, lda, c, 1, ldc, alpha, blocking, nullptr);
}

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

// A product reported to the context's observer (vmc bench: its shape and operands, and how long
// it took), from construction to destruction. The products made inside it are part of it: they
// are given no context.
class Recorded {
 public:
  Recorded(const vmc_context* context, const vmc::runtime::GemmCall& call)
      : observer_(context ? context->observer : nullptr),
        thread_(context ? context->thread : 0),
        in_kernel_(context && context->in_kernel),
        call_(call) {
    if (observer_) start_ = std::chrono::steady_clock::now();
  }
  ~Recorded() {
    if (observer_) {
      observer_->product(thread_, call_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(),
                         in_kernel_);
    }
  }
  Recorded(const Recorded&) = delete;
  Recorded& operator=(const Recorded&) = delete;

 private:
  vmc::runtime::detail::StepObserver* observer_;
  int thread_;
  bool in_kernel_;
  vmc::runtime::GemmCall call_;
  std::chrono::steady_clock::time_point start_;
};

template <typename T>
void gemm(const vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k,
          T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  Recorded recorded(context, {transpose_a, transpose_b, m, n, k, lda, ldb, ldc, static_cast<double>(beta), a, b, c});
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
#ifdef VMC_GEMM_DNNL
  if constexpr (sizeof(T) == 4) {
    if (k > 0 && alpha != T(0)) {
      // oneDNN's JIT sgemm, row-major like ours; one OpenMP thread per caller (the runtime
      // threads by splitting the minibatch). As in BLAS, beta = 0 never reads C.
      thread_local bool single = (omp_set_num_threads(1), true);
      (void)single;
      dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
#endif
#if defined(VMC_HAVE_SGEMM_AVX512) && !defined(VMC_GEMM_OPENBLAS) && !defined(VMC_GEMM_DNNL)
  // Our own AVX-512 kernel (for the sizes it takes).
  if constexpr (sizeof(T) == 4) {
    if (alpha != T(0) && vmc::runtime::detail::sgemm_avx512_takes(m, n, k)) {
      vmc::runtime::detail::sgemm_avx512(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
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
  // Past the sizes where Eigen would take a coefficient-wise or matrix-vector product.
  if (m > 1 && n > 1 && m + n + k >= 20) {
    if (beta == T(0)) {
      cv.setZero();
    } else if (beta != T(1)) {
      cv *= beta;
    }
    // op(B)ᵀ is B's storage read column-major unless B is stored transposed; likewise op(A)ᵀ.
    constexpr int Col = Eigen::ColMajor, Row = Eigen::RowMajor;
    if (transpose_b) {
      if (transpose_a) blocked<T, Row, Row>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
      else blocked<T, Row, Col>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
    } else {
      if (transpose_a) blocked<T, Col, Row>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
      else blocked<T, Col, Col>(m, n, k, alpha, a, lda, b, ldb, c, ldc);
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

// vmc_gemm_rows_*: left to the runtime when the call's context collects such products.
template <typename T>
void gemm_rows(const vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k,
               T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (context && context->defer) {
    context->defer->push_back({transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc});
    return;
  }
  gemm<T>(context, transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

namespace vmc::runtime::detail {

template <typename T>
void gemm_sum_as(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n, const GemmTerm<T>* terms,
                 int n_terms, T alpha, T beta, T* c, std::int64_t ldc) {
  std::int64_t k = 0;
  for (int s = 0; s < n_terms; ++s) k += terms[s].k;
  const GemmTerm<T>* f = n_terms > 0 ? &terms[0] : nullptr;
  Recorded recorded(context, {ta, tb, m, n, k, f ? f->lda : 0, f ? f->ldb : 0, ldc, static_cast<double>(beta),
                     f ? f->a : nullptr, f ? f->b : nullptr, c});
#if defined(VMC_HAVE_SGEMM_AVX512) && !defined(VMC_GEMM_OPENBLAS) && !defined(VMC_GEMM_DNNL)
  if constexpr (sizeof(T) == 4) {
    if (sgemm_avx512_takes(m, n, k)) {
      sgemm_avx512_sum(ta, tb, m, n, terms, n_terms, alpha, beta, c, ldc);
      return;
    }
  }
#endif
  // Elsewhere a product per piece, added up (recorded as the one product).
  for (int s = 0; s < n_terms; ++s) {
    const GemmTerm<T>& g = terms[s];
    if (g.k == 0 && s > 0) continue;
    gemm<T>(nullptr, ta, tb, m, n, g.k, alpha, g.a, g.lda, g.b, g.ldb, s == 0 ? beta : T(1), c, ldc);
  }
  if (n_terms == 0) gemm<T>(nullptr, ta, tb, m, n, 0, alpha, nullptr, 1, nullptr, 1, beta, c, ldc);
}

bool gemm_fuses_adam() {
#if defined(VMC_HAVE_SGEMM_AVX512) && !defined(VMC_GEMM_OPENBLAS) && !defined(VMC_GEMM_DNNL)
  return true;
#else
  return false;
#endif
}

bool gemm_sum_adam(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
                   const GemmTerm<float>* terms, int n_terms, float alpha, float* c, std::int64_t ldc,
                   const AdamTarget& adam) {
  std::int64_t k = 0;
  for (int s = 0; s < n_terms; ++s) k += terms[s].k;
#if defined(VMC_HAVE_SGEMM_AVX512) && !defined(VMC_GEMM_OPENBLAS) && !defined(VMC_GEMM_DNNL)
  if (sgemm_avx512_takes(m, n, k)) {
    const GemmTerm<float>* f = &terms[0];
    Recorded recorded(context, {ta, tb, m, n, k, f->lda, f->ldb, ldc, 0.0, f->a, f->b, c});
    sgemm_avx512_sum(ta, tb, m, n, terms, n_terms, alpha, 0.0f, c, ldc, &adam);
    return true;
  }
#else
  (void)context, (void)ta, (void)tb, (void)m, (void)n, (void)alpha, (void)c, (void)ldc, (void)adam;
#endif
  return false;
}

void gemm_sum(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
              const GemmTerm<float>* terms, int n_terms, float alpha, float beta, float* c, std::int64_t ldc) {
  gemm_sum_as<float>(context, ta, tb, m, n, terms, n_terms, alpha, beta, c, ldc);
}

void gemm_sum(const vmc_context* context, bool ta, bool tb, std::int64_t m, std::int64_t n,
              const GemmTerm<double>* terms, int n_terms, double alpha, double beta, double* c, std::int64_t ldc) {
  gemm_sum_as<double>(context, ta, tb, m, n, terms, n_terms, alpha, beta, c, ldc);
}

}  // namespace vmc::runtime::detail

extern "C" {

void vmc_gemm_f32(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc) {
  gemm<float>(context, transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void vmc_gemm_f64(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n, int64_t k,
                  double alpha, const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                  int64_t ldc) {
  gemm<double>(context, transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Computed now, unless the call's context collects them (vmc_context::defer).
void vmc_gemm_rows_f32(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n,
                       int64_t k, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                       float* c, int64_t ldc) {
  gemm_rows<float>(context, transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void vmc_gemm_rows_f64(vmc_context* context, int32_t transpose_a, int32_t transpose_b, int64_t m, int64_t n,
                       int64_t k, double alpha, const double* a, int64_t lda, const double* b, int64_t ldb,
                       double beta, double* c, int64_t ldc) {
  gemm_rows<double>(context, transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // extern "C"
