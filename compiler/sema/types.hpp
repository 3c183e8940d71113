// Types of declarations and expressions, and the shape rules of the operators.
//
// A type is an element kind, an optional constraint and a shape of symbolic extents. Rank-1
// values are column vectors; a transposed one is a row vector, printed `real[784]'`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "parse/ast.hpp"
#include "sema/extent.hpp"

namespace vmc::sema {

// Error marks an expression whose type could not be determined because of an error already
// reported: every check involving it is skipped, so one mistake gives one message.
enum class Kind { Real, Int, Error };

// The support constraint of a declaration; bounds are constants.
struct Constraint {
  std::optional<double> lower;
  std::optional<double> upper;
  bool cholesky = false;
  // A vector in increasing order (`real<ordered>[K]`, Stan's ordered[K]); positive_ordered: and
  // positive. Latents only: z = cumulative_sum of (u_0, e^u_1, ...) (or of e^u) from reals u.
  bool ordered = false;
  bool positive_ordered = false;
  // A vector of K positive elements summing to 1 (`real<simplex>[K]`, Stan's simplex[K]). Latents
  // only: stick-breaking from K - 1 reals u (Stan's transform).
  bool simplex = false;
  // The Cholesky factor of a correlation matrix (`real<cholesky_corr>[K, K]`, Stan's
  // cholesky_factor_corr[K]): lower-triangular, positive diagonal, rows of unit length. Latents
  // only: from K(K - 1)/2 reals through canonical partial correlations tanh(u) (Stan's transform).
  bool cholesky_corr = false;
  // A latent's bound that is an expression of data and of latents declared before it
  // (`upper=1 - alpha1`), instead of a constant: its value is set at each draw.
  const ast::Expr* lower_expr = nullptr;
  const ast::Expr* upper_expr = nullptr;

  bool empty() const {
    return !lower && !upper && !cholesky && !ordered && !positive_ordered && !simplex && !cholesky_corr && !lower_expr &&
           !upper_expr;
  }
  bool is_ordered() const { return ordered || positive_ordered; }
  // A vector (or a correlation's Cholesky factor) mapped whole from unconstrained reals: latents
  // under the automatic guides only.
  bool is_vector_map() const { return ordered || positive_ordered || simplex || cholesky_corr; }
  bool has_expression() const { return lower_expr || upper_expr; }
  bool operator==(const Constraint&) const = default;
};

struct Type {
  Kind kind = Kind::Real;
  Constraint constraint;
  std::vector<Extent> shape;  // empty for a scalar
  bool row = false;           // a transposed vector (rank 1 only)
  // The plates the value varies over (one copy per index), outermost first: `x[i]` in a plate
  // over i, and what is computed from it. Lowering makes each such plate a batch axis, which
  // decides what it can compute (a shared matrix times per-copy vectors is one product; a
  // matrix per copy is not), so sema checks those rules with this. Not part of the printed type.
  std::vector<const ast::Plate*> plates;

  static Type error() { return Type{Kind::Error, {}, {}, false, {}}; }
  static Type real(std::vector<Extent> shape = {}) { return Type{Kind::Real, {}, std::move(shape), false, {}}; }
  static Type integer(std::vector<Extent> shape = {}) { return Type{Kind::Int, {}, std::move(shape), false, {}}; }

  bool is_error() const { return kind == Kind::Error; }
  bool is_int() const { return kind == Kind::Int; }
  bool is_scalar() const { return shape.empty(); }
  std::size_t rank() const { return shape.size(); }
  // Same extents and orientation; kinds and constraints may differ.
  bool same_shape(const Type& other) const { return shape == other.shape && row == other.row; }
  // The type of a value computed from this one: same kind, shape and plates, no constraint.
  Type value() const { return Type{kind, {}, shape, row, plates}; }
  bool operator==(const Type&) const = default;
};

// `3`, `0.01`, `-2`, `1e+20`: the shortest text that reads back as the same double.
std::string format_number(double value);
// `<lower=0, upper=1>`, `<cholesky>`, or "" when unconstrained.
std::string to_string(const Constraint& c);
// `real`, `real[N, D]`, `int<lower=0, upper=1>[N]`, `real[784]'`, `<error>`.
std::string to_string(const Type& t);

// The shape rules of LANGUAGE.md "Expressions". Each returns the result's type, or nullopt when
// the operands' shapes do not agree; an error operand gives an error result.
//   '*'          scalar·any, matrix·vector, matrix·matrix, row·vector (scalar),
//                vector·row (outer product), row·matrix (row)
//   + - .* ./    equal shapes, or one operand scalar
//   / ^          the right operand is a scalar
// + - .* * of two ints stay int; everything else is real.
std::optional<Type> binary_type(ast::BinaryOp op, const Type& lhs, const Type& rhs);
// Transposes a matrix, turns a vector into a row and back, leaves a scalar; rank >= 3 has none.
std::optional<Type> transpose_type(const Type& t);
// Elementwise operations of two operands (builtin min/max/log_sum_exp, the binary operators):
// equal shapes or one scalar; the result kind is `kind`.
std::optional<Type> broadcast_type(const Type& a, const Type& b, Kind kind);
// The plates of a value computed from values varying over `a` and `b`: both, outermost first
// (nested plates begin in the source in nesting order).
std::vector<const ast::Plate*> union_plates(const std::vector<const ast::Plate*>& a,
                                            const std::vector<const ast::Plate*>& b);

}  // namespace vmc::sema
