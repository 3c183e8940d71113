// Reverse-mode symbolic differentiation of the IR, done once at compile time: the gradient of a
// scalar node with respect to chosen inputs, as more nodes in the same graph. Adjoints that
// several users contribute are summed; gradients of products are products with transposes.
#pragma once

#include <vector>

#include "ir/node.hpp"

namespace vmc::diff {

// d(objective)/d(wrt[k]) for each k; an input the objective does not depend on gets zeros.
std::vector<const ir::Node*> gradient(const ir::Node* objective,
                                      const std::vector<const ir::Node*>& wrt);

}  // namespace vmc::diff
