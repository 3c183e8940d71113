// Algebraic simplification of the joint value + gradient DAG, after differentiation: constant
// folding, identities (x * 1, x + 0, log(exp(a)) = a, exp(0.5 a)² = exp(a), ...), elementwise
// work moved inside broadcasts, transposes folded into products, stop_gradient dropped. CSE
// needs no pass of its own: the graph is hash-consed, so rebuilt equal nodes are one node.
#pragma once

#include <vector>

#include "ir/node.hpp"

namespace vmc::diff {

// The simplified forms of `roots`, built in the same graph.
std::vector<const ir::Node*> simplify(const std::vector<const ir::Node*>& roots);

// The number of distinct nodes reachable from `roots`.
std::size_t count_nodes(const std::vector<const ir::Node*>& roots);

}  // namespace vmc::diff
