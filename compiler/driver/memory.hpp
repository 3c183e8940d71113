// The memory check before training (and before a large sample): what is left to the process
// and what a model will allocate.
#pragma once

#include <string>

#include "driver/binding.hpp"

namespace vmc::driver {

// What memory is left to this process: the least of MemAvailable, what ulimit -v leaves of the
// address space and what the cgroup's limit leaves (bytes < 0: no limit known), and which.
struct MemoryLimit {
  double bytes = -1;
  std::string what;
};
MemoryLimit memory_left();
std::string gigabytes(double bytes);
// What training `b` will allocate beyond what the process holds after loading the data and
// compiling: params, gradients, optimizer state, the last good state, the data in the model's
// precision, and each thread's workspace and rows.
double memory_to_come(const Bound& b, int threads, int optimizer_slots);

// Reports (at `where`) and returns false when training `b` would take more than is left.
bool fits_in_memory(const Bound& b, const std::string& where, int threads, int optimizer_slots);

}  // namespace vmc::driver
