// What the runtime gives a kernel call besides its buffers (abi.h's vmc_context, opaque to the
// kernel, which passes it to the routines it calls back into): where the products it may defer
// go, and who watches the step (vmc bench). Everything a call needs travels through it; no
// thread-local state. Internal to the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "vmc/abi.h"
#include "vmc/trainer.hpp"

namespace vmc::runtime::detail {

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

// Whoever watches a training step (vmc bench: its products recorded for the GEMM bound, its
// phases timed per thread). Each thread reports only its own, so an observer keeps a row per
// thread and needs no lock.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // One product of thread `thread` and how long it took: a kernel's (`in_kernel`), or one the
  // runtime computes for the kernels (their deferred weight gradients).
  virtual void product(int thread, const GemmCall& call, double seconds, bool in_kernel) = 0;
  // Microseconds thread `thread` spent in `phase`.
  virtual void phase(int thread, StepPhases::Phase phase, double us) = 0;
};

// Adds the time until it goes out of scope to its thread's `phase`, when there is an observer.
class PhaseTimer {
 public:
  PhaseTimer(StepObserver* observer, int thread, StepPhases::Phase phase)
      : observer_(observer), thread_(thread), phase_(phase) {
    if (observer_) start_ = std::chrono::steady_clock::now();
  }
  ~PhaseTimer() {
    if (observer_) {
      observer_->phase(thread_, phase_,
                       std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_).count());
    }
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  StepObserver* observer_;
  int thread_;
  StepPhases::Phase phase_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vmc::runtime::detail

// The context of one kernel call (abi.h).
struct vmc_context {
  // vmc_gemm_rows_* append here instead of computing, when set (a split step's weight gradients).
  std::vector<vmc::runtime::detail::DeferredGemm>* defer = nullptr;
  vmc::runtime::detail::StepObserver* observer = nullptr;  // told of every product, when set
  int thread = 0;                                            // the calling thread's number
  bool in_kernel = true;  // false for the products the runtime computes itself
};
