// vmc_potrf_f32 / vmc_potrf_f64: A := L in place, the lower-triangular Cholesky factor of the
// symmetric positive-definite k×k A (row-major, contiguous; only its lower triangle is read),
// zeros above the diagonal. When A is not positive definite (a pivot that is not positive and
// finite: a non-PD matrix, or NaN in A) every element becomes NaN, so the bound that uses it is
// NaN and the step is refused, as Stan rejects the draw.
//
// Cholesky–Banachiewicz, row by row: the inner products run along contiguous rows. O(k³/3); the
// matrices of the models that call it (Gaussian-process covariances) have k up to a few hundred.
#include "vmc/abi.h"

#include <cmath>
#include <limits>

namespace {

template <typename T>
void potrf(int64_t k, T* a) {
  for (int64_t i = 0; i < k; ++i) {
    T* row_i = a + i * k;
    for (int64_t j = 0; j <= i; ++j) {
      const T* row_j = a + j * k;
      T s = row_i[j];
      for (int64_t p = 0; p < j; ++p) s -= row_i[p] * row_j[p];
      if (j < i) {
        row_i[j] = s / row_j[j];
      } else if (s > T(0) && std::isfinite(s)) {
        row_i[i] = std::sqrt(s);
      } else {
        for (int64_t e = 0; e < k * k; ++e) a[e] = std::numeric_limits<T>::quiet_NaN();
        return;
      }
    }
    for (int64_t j = i + 1; j < k; ++j) row_i[j] = T(0);
  }
}

}  // namespace

extern "C" {

void vmc_potrf_f32(int64_t k, float* a) { potrf<float>(k, a); }
void vmc_potrf_f64(int64_t k, double* a) { potrf<double>(k, a); }

}  // extern "C"
