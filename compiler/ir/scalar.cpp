#include "ir/scalar.hpp"

#include "ir/elementwise.hpp"
#include "support/check.hpp"

namespace vmc::ir {
namespace {

using Unary = double (*)(double);
using Binary = double (*)(double, double);

// Tables generated from ops.def: each elementwise op's value, nullptr for the other categories.
template <Op op>
constexpr Unary unary_entry() {
  if constexpr (info(op).category == Category::Unary) return &Elementwise<op>::value;
  else return nullptr;
}
template <Op op>
constexpr Binary binary_entry() {
  if constexpr (info(op).category == Category::Binary) return &Elementwise<op>::value;
  else return nullptr;
}

constexpr Unary kUnary[] = {
#define VMC_OP(name, ...) unary_entry<Op::name>(),
#include "ir/ops.def"
#undef VMC_OP
};
constexpr Binary kBinary[] = {
#define VMC_OP(name, ...) binary_entry<Op::name>(),
#include "ir/ops.def"
#undef VMC_OP
};

}  // namespace

double unary_value(Op op, double x) {
  Unary f = kUnary[static_cast<int>(op)];
  VMC_ASSERT(f, std::string("not a unary op: ") + info(op).spelling);
  return f(x);
}

double binary_value(Op op, double a, double b) {
  Binary f = kBinary[static_cast<int>(op)];
  VMC_ASSERT(f, std::string("not a binary op: ") + info(op).spelling);
  return f(a, b);
}

double select_value(double c, double a, double b) { return Elementwise<Op::Select>::value(c, a, b); }

}  // namespace vmc::ir
