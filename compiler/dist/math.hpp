// Internal to the registry (registry.cpp, kl.cpp): a thin value wrapper so density formulas read
// like formulas (x - mu, 0.5 * square(z), log(sigma)), and the few shape helpers that the
// multivariate normal's density, sampler and KLs share.
#pragma once

#include "ir/builder.hpp"
#include "ir/node.hpp"

namespace vmc::dist::detail {

// A node, with arithmetic. Scalars broadcast as in ir::binary; doubles become scalar constants.
struct V {
  const ir::Node* n;
  V(const ir::Node* node) : n(node) {}  // NOLINT: implicit on purpose
  operator const ir::Node*() const { return n; }
  ir::Graph& graph() const { return n->graph(); }
};

inline V scalar(const V& like, double v) { return ir::constant(like.graph(), v); }

inline V operator+(V a, V b) { return ir::add(a, b); }
inline V operator-(V a, V b) { return ir::sub(a, b); }
inline V operator*(V a, V b) { return ir::mul(a, b); }
inline V operator/(V a, V b) { return ir::div(a, b); }
inline V operator-(V a) { return ir::neg(a); }
// Exact matches for a node on either side, so that V - node is never pointer arithmetic.
inline V operator+(V a, const ir::Node* b) { return a + V(b); }
inline V operator+(const ir::Node* a, V b) { return V(a) + b; }
inline V operator-(V a, const ir::Node* b) { return a - V(b); }
inline V operator-(const ir::Node* a, V b) { return V(a) - b; }
inline V operator*(V a, const ir::Node* b) { return a * V(b); }
inline V operator*(const ir::Node* a, V b) { return V(a) * b; }
inline V operator/(V a, const ir::Node* b) { return a / V(b); }
inline V operator/(const ir::Node* a, V b) { return V(a) / b; }
inline V operator+(V a, double b) { return a + scalar(a, b); }
inline V operator+(double a, V b) { return scalar(b, a) + b; }
inline V operator-(V a, double b) { return a - scalar(a, b); }
inline V operator-(double a, V b) { return scalar(b, a) - b; }
inline V operator*(V a, double b) { return a * scalar(a, b); }
inline V operator*(double a, V b) { return scalar(b, a) * b; }
inline V operator/(V a, double b) { return a / scalar(a, b); }
inline V operator/(double a, V b) { return scalar(b, a) / b; }

inline V log(V x) { return ir::log(x); }
inline V exp(V x) { return ir::exp(x); }
inline V square(V x) { return ir::square(x); }
inline V log1p(V x) { return ir::unary(ir::Op::Log1p, x); }
inline V expm1(V x) { return ir::unary(ir::Op::Expm1, x); }
inline V sqrt(V x) { return ir::unary(ir::Op::Sqrt, x); }
inline V abs(V x) { return ir::unary(ir::Op::Abs, x); }
inline V sign(V x) { return ir::unary(ir::Op::Sign, x); }
inline V tan(V x) { return ir::unary(ir::Op::Tan, x); }
inline V lgamma(V x) { return ir::unary(ir::Op::Lgamma, x); }
inline V digamma(V x) { return ir::unary(ir::Op::Digamma, x); }
inline V log_sigmoid(V x) { return ir::unary(ir::Op::LogSigmoid, x); }
inline V log_ndtr(V x) { return ir::unary(ir::Op::LogNdtr, x); }
inline V atan(V x) { return ir::unary(ir::Op::Atan, x); }

// `x` (a scalar, or a trailing part of `shape`) repeated along new leading axes to `shape`.
const ir::Node* fit(const ir::Node* x, const ir::Shape& shape);

// The larger-rank shape of the given nodes' shapes (they must nest as leading-axis broadcasts).
ir::Shape widest(std::initializer_list<const ir::Node*> nodes);

// K for a Cholesky factor L [K, K] (a constant extent).
double order_of(const ir::Node* lower);

// ‖L⁻¹ r‖² for each row r of `rows` [B..., K]: a node of shape [B...].
const ir::Node* mahalanobis(const ir::Node* lower, const ir::Node* rows);

// r Lᵀ for each row r of `rows` [B..., K] (L's upper triangle ignored): [B..., K].
const ir::Node* times_lower_t(const ir::Node* rows, const ir::Node* lower);

// log |det L| = Σ log |L_kk| for a triangular L: a scalar.
const ir::Node* log_abs_det(const ir::Node* lower);

// The marginal variances diag(L Lᵀ) = the row sums of tril(L)²: [K].
const ir::Node* marginal_variance(const ir::Node* lower);

}  // namespace vmc::dist::detail
