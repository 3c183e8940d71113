// The runtime's record of the products a thread's kernels ask for (`vmc bench`'s GEMM bound):
// when a thread sets t_gemm_log, vmc_gemm_* appends each call's shape to it. And the products a
// kernel leaves to the runtime (vmc_gemm_rows_*): when a thread sets t_gemm_defer, they are
// appended there instead of computed.
#pragma once

#include <cstdint>
#include <vector>

#include "vmc/trainer.hpp"

namespace vmc::runtime::detail {
extern thread_local std::vector<GemmCall>* t_gemm_log;

// A product as the kernel asked for it (vmc_gemm_rows_*), in the kernel's precision.
struct DeferredGemm {
  std::int32_t transpose_a = 0, transpose_b = 0;
  std::int64_t m = 0, n = 0, k = 0;
  double alpha = 1;
  const void* a = nullptr;
  std::int64_t lda = 0;
  const void* b = nullptr;
  std::int64_t ldb = 0;
  double beta = 0;
  void* c = nullptr;
  std::int64_t ldc = 0;
};
extern thread_local std::vector<DeferredGemm>* t_gemm_defer;
// When a thread sets it (Trainer::time_step_phases), vmc_gemm_* adds each product's
// microseconds to it.
extern thread_local double* t_gemm_us;
}
