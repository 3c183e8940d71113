// The value of each elementwise op on scalars: the interpreter's definition of the ops, and the
// simplifier's constant folding (so the two cannot disagree).
#pragma once

#include "ir/node.hpp"

namespace vmc::ir {

double unary_value(Op op, double x);
double binary_value(Op op, double a, double b);

}  // namespace vmc::ir
