// The elementwise ops of ops.def (categories Unary, Binary, Select), each defined once, in one
// specialisation of Elementwise<op>:
//   cheap      costs less than a store and a load (no division, no transcendental): codegen
//              may recompute it in each user instead of storing it
//   value      its value on doubles: the interpreter's definition, and constant folding's
//   code       its code, written once against a backend B (codegen's LLVM builder, Llvm in
//              codegen/values.cpp), whose primitives are instructions:
//                B::V          a value
//                c(v)          the constant v
//                neg add sub mul div pow copysign           arithmetic
//                exp log sqrt fabs                          vectorisable intrinsics
//                libm("tan", x)                             libm in the code's precision
//                runtime("vmc_lgamma", x)                   a runtime double(double) (abi.h)
//                olt ogt oeq one une (a, b) -> predicate;   select(p, a, b)
//   adjoint    its adjoint rule: each operand's contribution given the adjoint g of the result
//              (nullptr where none flows)
// Every table that needs one of these (interpreter, folding, codegen, schedule, adjoints) is
// generated from ops.def, so an elementwise op without its specialisation here does not build.
#pragma once

#include <algorithm>
#include <array>
#include <vector>
#include <cmath>
#include <limits>
#include <numbers>

#include "ir/builder.hpp"
#include "ir/special.hpp"
#include "support/check.hpp"

namespace vmc::ir {

// An adjoint rule's answer: one contribution per operand, nullptr (or none past the end) for none.
using Contributions = std::vector<const Node*>;

template <Op op>
struct Elementwise;  // one specialisation per elementwise op below

namespace elementwise_detail {
inline const Node* one_minus(const Node* x) { return sub(constant_like(x, 1), x); }
}  // namespace elementwise_detail

// --- one operand -------------------------------------------------------------------------------

template <>
struct Elementwise<Op::Neg> {
  static constexpr bool cheap = true;
  static double value(double x) { return -x; }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.neg(x); }
  static Contributions adjoint(const Node&, const Node* g) { return {neg(g)}; }
};

template <>
struct Elementwise<Op::Exp> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::exp(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.exp(x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, &n)}; }
};

template <>
struct Elementwise<Op::Log> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::log(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.log(x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {div(g, n.arg(0))}; }
};

// log1p through log, so it vectorises (log has a vector routine, log1p has none): with
// u = 1 + x rounded, log(u) − ((u − 1) − x)/u corrects the rounding of u to first order,
// which makes it accurate to a few ulp for every x > −1 (Goldberg's classic trick).
template <>
struct Elementwise<Op::Log1p> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::log1p(x); }
  template <class B>
  static auto code(B& b, typename B::V x) {
    auto u = b.add(b.c(1), x);
    auto log_u = b.log(u);
    auto correction = b.div(b.sub(b.sub(u, b.c(1)), x), u);
    auto general = b.sub(log_u, correction);
    // At u = 0 (x = −1) and u = ∞ the correction is 0/0 or ∞ − ∞: log(u) is already −∞ or ∞.
    auto infinite = b.oeq(b.fabs(log_u), b.c(std::numeric_limits<double>::infinity()));
    general = b.select(infinite, log_u, general);
    auto exact = b.oeq(u, b.c(1));
    return b.select(exact, x, general);
  }
  static Contributions adjoint(const Node& n, const Node* g) { return {div(g, add(n.arg(0), 1))}; }
};

template <>
struct Elementwise<Op::Expm1> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::expm1(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.libm("expm1", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, add(&n, 1))}; }
};

template <>
struct Elementwise<Op::Sqrt> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::sqrt(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.sqrt(x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {div(mul(g, 0.5), &n)}; }
};

template <>
struct Elementwise<Op::Square> {
  static constexpr bool cheap = true;
  static double value(double x) { return x * x; }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.mul(x, x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, mul(n.arg(0), 2))}; }
};

template <>
struct Elementwise<Op::Abs> {
  static constexpr bool cheap = true;
  static double value(double x) { return std::abs(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.fabs(x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::Sign, n.arg(0)))}; }
};

// tanh through exp, so it vectorises: sign(x)·(1 − e^−2|x|)/(1 + e^−2|x|), and the odd Taylor
// polynomial near 0 where that form would cancel: below |x| = 0.03 the polynomial's first
// omitted term is under 1e-17 relative; above it the exp form loses under 4e-15 relative.
template <>
struct Elementwise<Op::Tanh> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::tanh(x); }
  template <class B>
  static auto code(B& b, typename B::V x) {
    auto a = b.fabs(x);
    auto t = b.exp(b.mul(a, b.c(-2)));
    auto den = b.add(b.c(1), t);
    auto far = b.div(b.sub(b.c(1), t), den);
    far = b.copysign(far, x);
    auto x2 = b.mul(x, x);
    // x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835
    auto p = b.c(62.0 / 2835);
    for (double k : {-17.0 / 315, 2.0 / 15, -1.0 / 3, 1.0}) p = b.add(b.mul(p, x2), b.c(k));
    auto near = b.mul(p, x);
    auto small = b.olt(a, b.c(0.03));
    return b.select(small, near, far);
  }
  static Contributions adjoint(const Node& n, const Node* g) {
    return {mul(g, elementwise_detail::one_minus(square(&n)))};
  }
};

// cosh x = h + 1/(4h) with h = e^|x|/2 = (e^(|x|/2)/2)·e^(|x|/2): one exp, of an exact half, so
// h overflows only where cosh does and keeps exp's accuracy where e^(|x| − log 2) would not (the
// rounded argument near 709 costs 250 ulp). Its derivative sinh x = sign(x)·(h − 1/(4h)).
template <>
struct Elementwise<Op::Cosh> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::cosh(x); }
  template <class B>
  static auto code(B& b, typename B::V x) {
    auto e = b.exp(b.mul(b.fabs(x), b.c(0.5)));
    auto h = b.mul(b.mul(b.c(0.5), e), e);
    return b.add(h, b.div(b.c(0.25), h));
  }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* x = n.arg(0);
    const Node* e = exp(mul(unary(Op::Abs, x), 0.5));
    const Node* h = mul(mul(e, 0.5), e);
    const Node* sinh = mul(unary(Op::Sign, x), sub(h, div(constant_like(h, 0.25), h)));
    return {mul(g, sinh)};
  }
};

template <>
struct Elementwise<Op::Tan> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::tan(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.libm("tan", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, add(square(&n), 1))}; }
};

template <>
struct Elementwise<Op::Sin> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::sin(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.libm("sin", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::Cos, n.arg(0)))}; }
};

template <>
struct Elementwise<Op::Cos> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::cos(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.libm("cos", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {neg(mul(g, unary(Op::Sin, n.arg(0))))}; }
};

template <>
struct Elementwise<Op::Sigmoid> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::sigmoid(x); }
  // 1 / (1 + e^−x): exact limits 0 and 1, no NaN.
  template <class B>
  static auto code(B& b, typename B::V x) { return b.div(b.c(1), b.add(b.c(1), b.exp(b.neg(x)))); }
  static Contributions adjoint(const Node& n, const Node* g) {
    return {mul(g, mul(&n, elementwise_detail::one_minus(&n)))};
  }
};

template <>
struct Elementwise<Op::Max>;

template <>
struct Elementwise<Op::Softplus> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::softplus(x); }
  // max(x, 0) + log1p(e^−|x|)
  template <class B>
  static auto code(B& b, typename B::V x);
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::Sigmoid, n.arg(0)))}; }
};

template <>
struct Elementwise<Op::LogSigmoid> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::log_sigmoid(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.neg(Elementwise<Op::Softplus>::code(b, b.neg(x))); }
  static Contributions adjoint(const Node& n, const Node* g) {
    return {mul(g, unary(Op::Sigmoid, neg(n.arg(0))))};
  }
};

template <>
struct Elementwise<Op::Relu> {
  static constexpr bool cheap = true;
  static double value(double x) { return x > 0 ? x : 0; }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.select(b.ogt(x, b.c(0)), x, b.c(0)); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::Step, n.arg(0)))}; }
};

template <>
struct Elementwise<Op::Step> {
  static constexpr bool cheap = true;
  static double value(double x) { return x > 0 ? 1 : 0; }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.select(b.ogt(x, b.c(0)), b.c(1), b.c(0)); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }  // piecewise constant
};

template <>
struct Elementwise<Op::Sign> {
  static constexpr bool cheap = true;
  static double value(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
  template <class B>
  static auto code(B& b, typename B::V x) {
    auto below = b.select(b.olt(x, b.c(0)), b.c(-1), b.c(0));
    return b.select(b.ogt(x, b.c(0)), b.c(1), below);
  }
  static Contributions adjoint(const Node&, const Node*) { return {}; }  // piecewise constant
};

template <>
struct Elementwise<Op::Atan> {
  static constexpr bool cheap = false;
  static double value(double x) { return std::atan(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.libm("atan", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {div(g, add(square(n.arg(0)), 1.0))}; }
};

template <>
struct Elementwise<Op::StopGradient> {
  static constexpr bool cheap = true;
  static double value(double x) { return x; }
  template <class B>
  static auto code(B&, typename B::V x) { return x; }
  static Contributions adjoint(const Node&, const Node*) { return {}; }  // its value only
};

// --- two operands ------------------------------------------------------------------------------

template <>
struct Elementwise<Op::Add> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return a + b; }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.add(x, y); }
  static Contributions adjoint(const Node&, const Node* g) { return {g, g}; }
};

template <>
struct Elementwise<Op::Sub> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return a - b; }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.sub(x, y); }
  static Contributions adjoint(const Node&, const Node* g) { return {g, neg(g)}; }
};

template <>
struct Elementwise<Op::Mul> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return a * b; }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.mul(x, y); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, n.arg(1)), mul(g, n.arg(0))}; }
};

template <>
struct Elementwise<Op::Div> {
  static constexpr bool cheap = false;
  static double value(double a, double b) { return a / b; }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.div(x, y); }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* d = n.arg(1);
    return {div(g, d), neg(div(mul(g, &n), d))};
  }
};

template <>
struct Elementwise<Op::Pow> {
  static constexpr bool cheap = false;
  static double value(double a, double b) { return std::pow(a, b); }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.pow(x, y); }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* a = n.arg(0);
    const Node* e = n.arg(1);
    const Node* da = mul(g, mul(e, binary(Op::Pow, a, sub(e, constant_like(e, 1)))));
    // The exponent's gradient needs log(a); skip it when the exponent is a constant.
    const Node* de = e->op() == Op::Const ? nullptr : mul(g, mul(&n, log(a)));
    return {da, de};
  }
};

// As std::min and std::max: the first operand unless the second is strictly beyond it.
template <>
struct Elementwise<Op::Min> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return std::min(a, b); }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.select(b.olt(y, x), y, x); }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* b_smaller = binary(Op::Greater, n.arg(0), n.arg(1));
    return {mul(g, elementwise_detail::one_minus(b_smaller)), mul(g, b_smaller)};
  }
};

template <>
struct Elementwise<Op::Max> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return std::max(a, b); }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.select(b.olt(x, y), y, x); }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* a_larger = binary(Op::Greater, n.arg(0), n.arg(1));
    return {mul(g, a_larger), mul(g, elementwise_detail::one_minus(a_larger))};
  }
};

template <class B>
auto Elementwise<Op::Softplus>::code(B& b, typename B::V x) {
  auto tail = Elementwise<Op::Log1p>::code(b, b.exp(b.neg(b.fabs(x))));
  return b.add(Elementwise<Op::Max>::code(b, x, b.c(0)), tail);
}

// log(e^a + e^b) = max(a, b) + log1p(e^−|a − b|), which overflows for neither; an infinite
// max is the answer itself (−∞ for two −∞, where the difference would be NaN).
template <>
struct Elementwise<Op::LogAddExp> {
  static constexpr bool cheap = false;
  static double value(double a, double b) {
    double m = std::max(a, b);
    if (std::isinf(m)) return m;
    return m + std::log1p(std::exp(-std::abs(a - b)));
  }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) {
    auto m = Elementwise<Op::Max>::code(b, x, y);
    auto tail = Elementwise<Op::Log1p>::code(b, b.exp(b.neg(b.fabs(b.sub(x, y)))));
    auto finite = b.one(b.fabs(m), b.c(std::numeric_limits<double>::infinity()));
    return b.select(finite, b.add(m, tail), m);
  }
  // ∂/∂a = e^(a − result): each operand's share of the sum.
  static Contributions adjoint(const Node& n, const Node* g) {
    return {mul(g, exp(sub(n.arg(0), &n))), mul(g, exp(sub(n.arg(1), &n)))};
  }
};

template <>
struct Elementwise<Op::Greater> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return a > b ? 1 : 0; }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.select(b.ogt(x, y), b.c(1), b.c(0)); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }  // piecewise constant
};

template <>
struct Elementwise<Op::Equal> {
  static constexpr bool cheap = true;
  static double value(double a, double b) { return a == b ? 1 : 0; }
  template <class B>
  static auto code(B& b, typename B::V x, typename B::V y) { return b.select(b.oeq(x, y), b.c(1), b.c(0)); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }  // piecewise constant
};

// --- three operands ----------------------------------------------------------------------------

template <>
struct Elementwise<Op::Select> {
  static constexpr bool cheap = true;
  static double value(double c, double a, double b) { return c != 0 ? a : b; }
  template <class B>
  static auto code(B& b, typename B::V c, typename B::V x, typename B::V y) {
    return b.select(b.une(c, b.c(0)), x, y);
  }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* zero = constant_like(g, 0);
    return {nullptr, select(n.arg(0), g, zero), select(n.arg(0), zero, g)};
  }
};

}  // namespace vmc::ir

// The special functions and the samplers' inverse CDFs: the same Elementwise<op>, in a file of
// their own.
#include "ir/elementwise_special.hpp"
