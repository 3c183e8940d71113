// The support checks (lower.hpp, SupportCheck): a distribution's argument outside its support —
// a negative scale, a probability past 1 — found at the initial values before the first step
// (as Stan's "Rejecting initial value", but naming the statement's file:line:col, the argument
// and its value), and, when a training step goes non-finite, the statement whose argument did.
#pragma once

#include <cstdint>
#include <string>

#include "driver/binding.hpp"
#include "vmc/trainer.hpp"

namespace vmc::driver {

// Runs the support kernel at the trainer's params over a few draws; renders an error for each
// argument outside its support (at most a few) and returns false, or returns true. `when`:
// "at the initial values".
bool check_supports(const Bound& b, runtime::Trainer& trainer, const std::string& when);

// The first argument outside its support at the trainer's params, as a clause ("lognormal's
// sigma at FILE:LINE:COL is -0.3, outside (0, inf)"), or "" when none is (or the model has no
// support kernel).
std::string support_problem(const Bound& b, runtime::Trainer& trainer, std::uint64_t draw);

}  // namespace vmc::driver
