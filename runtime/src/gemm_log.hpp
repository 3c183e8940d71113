// The runtime's record of the products a thread's kernels ask for (`vmc bench`'s GEMM bound):
// when a thread sets t_gemm_log, vmc_gemm_* appends each call's shape to it.
#pragma once

#include <vector>

#include "vmc/trainer.hpp"

namespace vmc::runtime::detail {
extern thread_local std::vector<GemmCall>* t_gemm_log;
}
