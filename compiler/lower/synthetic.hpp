// Bindings for a lowered model's inputs with synthetic values: random params, data drawn on
// each declaration's support, fixed noise. `vmc diagnose` and the gradient tests evaluate the
// IR on them, so symbolic gradients can be checked without a data set.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/interpreter.hpp"
#include "lower/lower.hpp"

namespace vmc::lower {

struct SyntheticOptions {
  std::uint64_t seed = 1;
  std::int64_t rows = 6;   // the extent of each run-time dim without a value
  std::int64_t batch = 4;  // each minibatch size (at most `rows`)
  // Params uniform in (−r, r), unconstrained; r = 0 draws them from their declared inits
  // instead (a model's own starting point: normal(0, 0.01) unless it says otherwise).
  double init_radius = 1;
};

// Every param's starting point from its declared init (normal(0, 0.01) unless the model says
// otherwise), unconstrained, in C order, drawn from a generator seeded with `seed`.
std::map<std::string, std::vector<double>> initial_params(const Lowered& lowered, std::uint64_t seed);

ir::Bindings synthetic_bindings(const Lowered& lowered, const sema::Model& model,
                                const SyntheticOptions& options);

}  // namespace vmc::lower
