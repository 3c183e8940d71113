// Reverse-mode symbolic differentiation of the IR, done once at compile time: the gradient of a
// scalar node with respect to chosen inputs, as more nodes in the same graph. Adjoints that
// several users contribute are summed; gradients of products are products with transposes.
#pragma once

#include <vector>

#include "ir/loop.hpp"
#include "ir/node.hpp"

namespace vmc::diff {

// d(objective)/d(wrt[k]) for each k; an input the objective does not depend on gets zeros.
std::vector<const ir::Node*> gradient(const ir::Node* objective,
                                      const std::vector<const ir::Node*>& wrt);

// Completes a loop body (ir/loop.hpp) with its vjp: the body copied into the vjp's graph, seeded
// with the input "loop.carry_bar", differentiated with respect to the state and the invariants.
void derive_vjp(ir::LoopBody& body);

}  // namespace vmc::diff
