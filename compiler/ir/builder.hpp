// Constructors for IR nodes, used by lowering, differentiation and simplification. Binary
// operations broadcast a scalar operand to the other's shape; everything else must already
// agree (an internal assertion otherwise).
#pragma once

#include "ir/node.hpp"

namespace vmc::ir {

const Node* constant(Graph& g, double value, Shape shape = {});
const Node* input(Graph& g, const std::string& name, InputKind kind, Shape shape,
                  DType dtype = DType::Real);
// A constant with `like`'s shape.
const Node* constant_like(const Node* like, double value);

const Node* unary(Op op, const Node* x);
const Node* binary(Op op, const Node* a, const Node* b);

inline const Node* neg(const Node* x) { return unary(Op::Neg, x); }
inline const Node* exp(const Node* x) { return unary(Op::Exp, x); }
inline const Node* log(const Node* x) { return unary(Op::Log, x); }
inline const Node* square(const Node* x) { return unary(Op::Square, x); }
inline const Node* add(const Node* a, const Node* b) { return binary(Op::Add, a, b); }
inline const Node* sub(const Node* a, const Node* b) { return binary(Op::Sub, a, b); }
inline const Node* mul(const Node* a, const Node* b) { return binary(Op::Mul, a, b); }
inline const Node* div(const Node* a, const Node* b) { return binary(Op::Div, a, b); }
const Node* add(const Node* a, double b);
const Node* mul(const Node* a, double b);

const Node* select(const Node* cond, const Node* a, const Node* b);
// Repeats `x` into `shape` along the axes set in `new_axes`; the others are x's, in order.
const Node* broadcast(const Node* x, Shape shape, std::uint32_t new_axes);
// Repeats `x` into `shape` along new leading axes (a scalar fills the whole shape).
const Node* broadcast(const Node* x, Shape shape);
// A scalar or same-shaped `x` as a node of `shape`.
const Node* broadcast_to(const Node* x, const Shape& shape);
const Node* transpose(const Node* x);
const Node* reshape(const Node* x, Shape shape);
const Node* slice(const Node* x, int axis, std::int64_t begin, std::int64_t end);
const Node* concat(const Node* a, const Node* b, int axis);
const Node* gather(const Node* table, const Node* indices);
// x[..., i, ...] along `axis` (dropped), for a real scalar i holding an int (a loop index's
// expression), clamped into the extent.
const Node* take(const Node* x, const Node* i, int axis = 0);
const Node* scatter_add(const Node* rows, const Node* indices, Shape table_shape);
// Reduces along `axis`, or over every axis when axis < 0.
const Node* reduce(Op op, const Node* x, int axis = -1);
inline const Node* sum(const Node* x, int axis = -1) { return reduce(Op::Sum, x, axis); }
const Node* matmul(const Node* a, const Node* b, bool transpose_a = false,
                   bool transpose_b = false);
const Node* outer(const Node* u, const Node* v);
const Node* tri_solve(const Node* lower, const Node* b, bool transpose = false);
// The lower-triangular L with L Lᵀ = A of a symmetric positive-definite A, of which only the
// lower triangle is read; every element NaN when A is not positive definite.
const Node* cholesky(const Node* a);
const Node* tril(const Node* x);
const Node* diag(const Node* x);
const Node* diag_matrix(const Node* v);

// The number of elements, when every extent is constant.
std::int64_t constant_elements(const Shape& s);

}  // namespace vmc::ir
