// `vmc emit ir`: one line per node in schedule order, numbered from %0, then the outputs.
//   %4 = matmul %1, %0 transpose_b : [M, 400]
#pragma once

#include <iosfwd>
#include <string>

#include "ir/function.hpp"

namespace vmc::ir {

void print(std::ostream& out, const Function& f);
std::string to_string(const Shape& shape, const Graph& graph);

}  // namespace vmc::ir
