// Rewrites of the objective before it is differentiated, where a form that is exact in real
// arithmetic has a derivative that floating point cannot evaluate: sqrt of a product holding an
// exp that underflows to 0 (a Gaussian process's spectral density, sdgp² exp(-l² λ / 2)) has the
// derivative 0.5 / sqrt(0) = ∞ times exp's 0, NaN, where the true derivative is ~0. With the exp
// taken out of the root, sqrt(c exp(y)) = sqrt(c) exp(y / 2), both value and derivative are
// finite. Only rewrites that hold for every value of their operands are made: sqrt(a b) is split
// only when both factors are provably non-negative.
#pragma once

#include <vector>

#include "ir/node.hpp"

namespace vmc::diff {

// `roots` with the rewrites made, in the same graph; nodes nothing applies to are kept.
std::vector<const ir::Node*> stabilize(const std::vector<const ir::Node*>& roots);

}  // namespace vmc::diff
