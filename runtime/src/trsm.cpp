// vmc_trsm_f32 / vmc_trsm_f64: B := L⁻¹B or L⁻ᵀB in place, L lower-triangular (its upper
// triangle is never read), all row-major and contiguous.
#include "vmc/abi.h"

#include <Eigen/Core>

namespace {

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
void trsm(int32_t transpose, int64_t k, int64_t n, const T* l, T* b) {
  if (k <= 0 || n <= 0) return;
  Eigen::Map<const RowMajor<T>> lv(l, k, k);
  Eigen::Map<RowMajor<T>> bv(b, k, n);
  if (transpose) {
    // Lᵀ is the upper triangle of the transposed view: still a view of L, never a copy.
    lv.transpose().template triangularView<Eigen::Upper>().solveInPlace(bv);
  } else {
    lv.template triangularView<Eigen::Lower>().solveInPlace(bv);
  }
}

}  // namespace

extern "C" {

void vmc_trsm_f32(int32_t transpose, int64_t k, int64_t n, const float* l, float* b) {
  trsm<float>(transpose, k, n, l, b);
}

void vmc_trsm_f64(int32_t transpose, int64_t k, int64_t n, const double* l, double* b) {
  trsm<double>(transpose, k, n, l, b);
}

}  // extern "C"
