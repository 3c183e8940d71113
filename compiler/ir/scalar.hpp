// The value of each elementwise op on scalars (Elementwise<op>::value, ir/elementwise.hpp): the
// interpreter's definition of the ops, and the constant folding of the simplifier and of sema
// (`init log(2)`), so the three cannot disagree.
#pragma once

#include "ir/node.hpp"

namespace vmc::ir {

double unary_value(Op op, double x);
double binary_value(Op op, double a, double b);
double select_value(double c, double a, double b);

}  // namespace vmc::ir
