#include "dist/math.hpp"

#include "support/check.hpp"

namespace vmc::dist::detail {
namespace {

// `rows` [B..., K] as a matrix [rows, K] (B... = one axis or none need no reshape), and back.
const ir::Node* as_matrix(const ir::Node* rows) {
  if (rows->rank() <= 2) return rows;
  ir::Shape batch(rows->shape().begin(), rows->shape().end() - 1);
  ir::Shape flat{ir::Extent::constant(ir::constant_elements(batch)), rows->shape().back()};
  return ir::reshape(rows, flat);
}

}  // namespace

const ir::Node* fit(const ir::Node* x, const ir::Shape& shape) {
  if (x->shape() == shape) return x;
  return ir::broadcast(x, shape);
}

ir::Shape widest(std::initializer_list<const ir::Node*> nodes) {
  ir::Shape out;
  for (const ir::Node* n : nodes) {
    if (n->rank() > out.size()) out = n->shape();
  }
  return out;
}

double order_of(const ir::Node* lower) {
  VMC_ASSERT(lower->rank() == 2 && lower->shape()[0].is_constant(),
             "a Cholesky factor must be a [K, K] matrix of constant K");
  return static_cast<double>(lower->shape()[0].size);
}

const ir::Node* mahalanobis(const ir::Node* lower, const ir::Node* rows) {
  if (rows->rank() == 1) return ir::sum(ir::square(ir::tri_solve(lower, rows)));
  // Solve for every row at once: L⁻¹ Rᵀ is [K, rows]; its column sums of squares are [rows].
  const ir::Node* m = as_matrix(rows);
  const ir::Node* out = ir::sum(ir::square(ir::tri_solve(lower, ir::transpose(m))), 0);
  ir::Shape batch(rows->shape().begin(), rows->shape().end() - 1);
  return ir::reshape(out, batch);
}

const ir::Node* times_lower_t(const ir::Node* rows, const ir::Node* lower) {
  const ir::Node* l = ir::tril(lower);
  if (rows->rank() == 1) return ir::matmul(l, rows);
  return ir::reshape(ir::matmul(as_matrix(rows), l, false, true), rows->shape());
}

const ir::Node* log_abs_det(const ir::Node* lower) {
  return ir::sum(ir::log(ir::unary(ir::Op::Abs, ir::diag(lower))));
}

const ir::Node* marginal_variance(const ir::Node* lower) {
  return ir::sum(ir::square(ir::tril(lower)), 1);
}

}  // namespace vmc::dist::detail
