// The closed-form KL(q ‖ p) formulas the registry's entries list as their KL partners
// (registry.cpp). Elementwise, except for mvnormal_cholesky guides (one KL per vector, [B...]).
#include "dist/kl.hpp"

#include "dist/math.hpp"

namespace vmc::dist::detail {
namespace {

using ir::Node;

V normal_kl(V mu_q, V sigma_q, V mu_p, V sigma_p) {
  return log(sigma_p) - log(sigma_q) +
         (square(sigma_q) + square(mu_q - mu_p)) / (2.0 * square(sigma_p)) - 0.5;
}

V gamma_kl(V shape_q, V rate_q, V shape_p, V rate_p) {
  return (shape_q - shape_p) * digamma(shape_q) - lgamma(shape_q) + lgamma(shape_p) +
         shape_p * (log(rate_q) - log(rate_p)) + shape_q * (rate_p - rate_q) / rate_q;
}

}  // namespace

const Node* kl_normal_normal(const Args& q, const Args& p) {
  return normal_kl(q[0], q[1], p[0], p[1]);
}

// log z is normal under both: the KL of the logs (the Jacobians cancel).
const Node* kl_lognormal_lognormal(const Args& q, const Args& p) {
  return normal_kl(q[0], q[1], p[0], p[1]);
}

const Node* kl_laplace_laplace(const Args& q, const Args& p) {
  V bq = q[1], bp = p[1];
  V d = abs(V(q[0]) - p[0]);
  return log(bp) - log(bq) + d / bp + (bq / bp) * exp(-d / bq) - 1.0;
}

const Node* kl_exponential_exponential(const Args& q, const Args& p) {
  V rq = q[0], rp = p[0];
  return log(rq) - log(rp) + rp / rq - 1.0;
}

// exponential(rate) is gamma(1, rate).
const Node* kl_exponential_gamma(const Args& q, const Args& p) {
  V rq = q[0];
  return gamma_kl(scalar(rq, 1.0), rq, p[0], p[1]);
}

const Node* kl_gamma_gamma(const Args& q, const Args& p) {
  return gamma_kl(q[0], q[1], p[0], p[1]);
}

const Node* kl_beta_beta(const Args& q, const Args& p) {
  V aq = q[0], bq = q[1], ap = p[0], bp = p[1];
  auto log_beta_fn = [](V a, V b) { return lgamma(a) + lgamma(b) - lgamma(a + b); };
  return log_beta_fn(ap, bp) - log_beta_fn(aq, bq) + (aq - ap) * digamma(aq) +
         (bq - bp) * digamma(bq) + (ap - aq + bp - bq) * digamma(aq + bq);
}

// Finite only when q's interval lies inside p's, which sema guarantees.
const Node* kl_uniform_uniform(const Args& q, const Args& p) {
  return log(V(p[1]) - p[0]) - log(V(q[1]) - q[0]);
}

// A full-rank guide N(mu_q, Lq Lqᵀ) against independent normals N(mu_p, diag σp²):
// ½ [Σ σq_k²/σp_k² + Σ (μq−μp)²/σp² − K + 2 Σ log σp − 2 log |det Lq|], per vector.
const Node* kl_mvnormal_normal(const Args& q, const Args& p) {
  const Node* lower = q[1];
  ir::Shape shape = widest({q[0], p[0], p[1]});
  if (shape.empty()) shape = {lower->shape()[0]};
  V mu_q = fit(q[0], shape), mu_p = fit(p[0], shape), sigma_p = fit(p[1], shape);
  V var_q = fit(marginal_variance(lower), shape);
  V terms = (var_q + square(mu_q - mu_p)) / square(sigma_p) + 2.0 * log(sigma_p);
  int last = static_cast<int>(shape.size()) - 1;
  V per_vector = ir::sum(terms, last);
  return 0.5 * (per_vector - order_of(lower) - 2.0 * V(log_abs_det(lower)));
}

// ½ [tr(Σp⁻¹Σq) + (μp−μq)ᵀ Σp⁻¹ (μp−μq) − K + 2 log |det Lp| − 2 log |det Lq|], with
// tr(Σp⁻¹Σq) = ‖Lp⁻¹ Lq‖²_F.
const Node* kl_mvnormal_mvnormal(const Args& q, const Args& p) {
  const Node* lq = q[1];
  const Node* lp = p[1];
  ir::Shape shape = widest({q[0], p[0]});
  if (shape.empty()) shape = {lq->shape()[0]};
  const Node* diff = ir::sub(fit(p[0], shape), fit(q[0], shape));
  V trace = ir::sum(ir::square(ir::tri_solve(lp, ir::tril(lq))));
  V quad = mahalanobis(lp, diff);
  return 0.5 * (trace + quad - order_of(lq) + 2.0 * V(log_abs_det(lp)) -
                2.0 * V(log_abs_det(lq)));
}

}  // namespace vmc::dist::detail
