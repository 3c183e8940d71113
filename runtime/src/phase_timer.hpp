// The phases of a training step timed on every thread (Trainer::time_step_phases, `vmc bench
// -v`): the calling thread's row of microseconds, and a scope that adds to it. Internal to the
// runtime.
#pragma once

#include <chrono>

namespace vmc::runtime::detail {

// The calling thread's phase times while Trainer::time_step_phases runs (else null).
inline thread_local double* t_phase_row = nullptr;

// Adds the time until it goes out of scope to *into, when into is not null (time_step_phases).
class PhaseTimer {
 public:
  explicit PhaseTimer(double* into) : into_(into) {
    if (into_) start_ = std::chrono::steady_clock::now();
  }
  ~PhaseTimer() {
    if (into_) *into_ += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_).count();
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  double* into_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vmc::runtime::detail
