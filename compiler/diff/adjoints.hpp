// One adjoint rule per IR op. Given a node n = op(args) and the adjoint g of n (n's shape), a
// rule returns each operand's contribution (nullptr where none flows: int indices, comparisons,
// stop_gradient).
#pragma once

#include "ir/elementwise.hpp"

namespace vmc::diff {

using ir::Contributions;
using AdjointRule = Contributions (*)(const ir::Node& n, const ir::Node* g);

const AdjointRule& adjoint_rule(ir::Op op);

}  // namespace vmc::diff
