// Calls every routine abi.h declares once. Linked against vmc_runtime only, so it builds only
// while the runtime stays free of LLVM and of the compiler; it also checks each answer roughly.
#include "vmc/abi.h"

#include <cmath>
#include <cstdio>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "runtime link check failed: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
  const float af[] = {1, 2, 3, 4}, bf[] = {5, 6, 7, 8};
  float cf[4];
  vmc_gemm_f32(nullptr, 0, 0, 2, 2, 2, 1.0f, af, 2, bf, 2, 0.0f, cf, 2);
  expect(cf[0] == 19 && cf[1] == 22 && cf[2] == 43 && cf[3] == 50, "vmc_gemm_f32");

  const double ad[] = {1, 2, 3, 4}, bd[] = {5, 6, 7, 8};
  double cd[4];
  vmc_gemm_f64(nullptr, 0, 0, 2, 2, 2, 1.0, ad, 2, bd, 2, 0.0, cd, 2);
  expect(cd[0] == 19 && cd[1] == 22 && cd[2] == 43 && cd[3] == 50, "vmc_gemm_f64");

  // L = [2 0; 1 4] (99 above the diagonal is ignored); L x = [2, 9] at x = [1, 2].
  const float lf[] = {2, 99, 1, 4};
  float xf[] = {2, 9};
  vmc_trsm_f32(0, 2, 1, lf, xf);
  expect(xf[0] == 1 && xf[1] == 2, "vmc_trsm_f32");

  const double ld[] = {2, 99, 1, 4};
  double xd[] = {2, 9};
  vmc_trsm_f64(0, 2, 1, ld, xd);
  expect(xd[0] == 1 && xd[1] == 2, "vmc_trsm_f64");

  expect(std::abs(vmc_lgamma(5) - std::log(24.0)) < 1e-12, "vmc_lgamma");
  expect(std::abs(vmc_digamma(1) + 0.57721566490153286) < 1e-12, "vmc_digamma");
  expect(std::abs(vmc_trigamma(1) - 1.6449340668482264) < 1e-12, "vmc_trigamma");
  expect(vmc_ndtri(0.5) == 0, "vmc_ndtri");

  if (failures == 0) std::puts("vmc_runtime links and runs without LLVM");
  return failures == 0 ? 0 : 1;
}
