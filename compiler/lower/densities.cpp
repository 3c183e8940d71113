// The lowering of sema's distribution table: one entry per distribution, in the table's order,
// holding its log density, reparameterized sampler (with its noise kind) and the mean and
// standard deviation that summaries report. The closed-form KLs are in kl.cpp.
//
// Log densities are the normalised ones, in numerically stable forms (log_sigmoid for logits,
// log1p near 1, lgamma for factorials). They hold inside the support only: the IR has no −∞,
// so a value outside it gets a finite number (uniform) or NaN (log of a negative), and sema's
// support checks are what keep such values out.
#include "lower/densities.hpp"

#include <array>
#include <cmath>
#include <numbers>
#include <string>

#include "ir/builder.hpp"
#include "lower/density_math.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using namespace detail;
using ir::InputKind;
using ir::Node;

constexpr double kPi = std::numbers::pi;
const double kLog2Pi = std::log(2 * kPi);

// --- log densities: (x, args) -> log p(x | args) ---

V normal_lpdf(V x, V mu, V sigma) {
  V z = (x - mu) / sigma;
  return -0.5 * kLog2Pi - log(sigma) - 0.5 * square(z);
}

const Node* lp_normal(const Node* x, const Args& a) { return normal_lpdf(x, a[0], a[1]); }

const Node* lp_lognormal(const Node* x, const Args& a) {
  V lx = log(V(x));
  return normal_lpdf(lx, a[0], a[1]) - lx;
}

const Node* lp_laplace(const Node* x, const Args& a) {
  V b = a[1];
  return -log(2.0 * b) - abs(V(x) - a[0]) / b;
}

const Node* lp_logistic(const Node* x, const Args& a) {
  // −z − log s − 2 log(1 + e^{−z}), written symmetrically so neither tail overflows.
  V s = a[1];
  V z = (V(x) - a[0]) / s;
  return log_sigmoid(z) + log_sigmoid(-z) - log(s);
}

const Node* lp_cauchy(const Node* x, const Args& a) {
  V sigma = a[1];
  V z = (V(x) - a[0]) / sigma;
  return -std::log(kPi) - log(sigma) - log1p(square(z));
}

const Node* lp_student_t(const Node* x, const Args& a) {
  V nu = a[0], sigma = a[2];
  V z = (V(x) - a[1]) / sigma;
  V half_nu1 = 0.5 * (nu + 1.0);
  return lgamma(half_nu1) - lgamma(0.5 * nu) - 0.5 * log(nu * kPi) - log(sigma) -
         half_nu1 * log1p(square(z) / nu);
}

const Node* lp_exponential(const Node* x, const Args& a) {
  V rate = a[0];
  return log(rate) - rate * x;
}

const Node* lp_gamma(const Node* x, const Args& a) {
  V shape = a[0], rate = a[1];
  return shape * log(rate) - lgamma(shape) + (shape - 1.0) * log(V(x)) - rate * x;
}

const Node* lp_beta(const Node* x, const Args& a) {
  V p = a[0], q = a[1];
  V log_beta_fn = lgamma(p) + lgamma(q) - lgamma(p + q);
  return (p - 1.0) * log(V(x)) + (q - 1.0) * log1p(-V(x)) - log_beta_fn;
}

const Node* lp_uniform(const Node*, const Args& a) {
  // Inside (lo, hi) only: outside the density is 0, which the IR cannot say (no −∞).
  return -log(V(a[1]) - a[0]);
}

const Node* lp_half_normal(const Node* x, const Args& a) {
  V sigma = a[0];
  return 0.5 * std::log(2 / kPi) - log(sigma) - 0.5 * square(V(x) / sigma);
}

const Node* lp_mvnormal_cholesky(const Node* x, const Args& a) {
  const Node* lower = a[1];
  const Node* r = ir::sub(x, fit(a[0], x->shape()));
  double k = order_of(lower);
  V quad = mahalanobis(lower, r);
  return -0.5 * k * kLog2Pi - V(log_abs_det(lower)) - 0.5 * quad;
}

// Real data in [0, 1] makes these the cross-entropy (not a normalised density).
// At the edges p = 0 and 1 (a sigmoid that underflowed) x·log p would be 0·(−∞) = NaN where
// x = 0 (and (1 − x)·log(1 − p) where x = 1): exactly there the log's argument is replaced by
// 1, so the term and its gradient are 0, as the limit says (the "double where" of autodiff);
// everywhere else the formula is untouched.
const Node* lp_bernoulli(const Node* x, const Args& a) {
  V p = fit(a[0], x->shape());
  V zero = fit(scalar(V(x), 0.0), x->shape()), one = fit(scalar(V(x), 1.0), x->shape());
  auto equal = [](V u, V v) { return V(ir::binary(ir::Op::Equal, u, v)); };
  V p_where_x = ir::select(equal(V(x), zero) * equal(p, zero), one, p);
  V p_where_not_x = ir::select(equal(V(x), one) * equal(p, one), zero, p);
  return V(x) * log(p_where_x) + (1.0 - V(x)) * log1p(-p_where_not_x);
}

const Node* lp_bernoulli_logit(const Node* x, const Args& a) {
  V l = a[0];
  return -((0.5 * (l + abs(l)) - V(x) * l) + log1p(exp(-abs(l))));
}

const Node* lp_poisson(const Node* x, const Args& a) {
  V rate = a[0];
  return V(x) * log(rate) - rate - lgamma(V(x) + 1.0);
}

const Node* lp_poisson_log(const Node* x, const Args& a) {
  V l = a[0];
  return V(x) * l - exp(l) - lgamma(V(x) + 1.0);
}

const Node* lp_binomial_logit(const Node* x, const Args& a) {
  V n = a[0], l = a[1], k = x;
  V log_choose = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
  return log_choose + k * log_sigmoid(l) + (n - k) * log_sigmoid(-l);
}

const Node* lp_categorical_logit(const Node* x, const Args& a) {
  // log_softmax(logits)[x] = Σ_k [x == k] (logits_k − log Σ_j exp(logits_j)).
  ir::Shape full = x->shape();
  full.push_back(a[0]->shape().back());
  const Node* logits = fit(a[0], full);
  int last = static_cast<int>(full.size()) - 1;
  std::uint32_t last_bit = 1u << last;
  // Shifted by the row's largest logit first: logits − lse(logits) would absorb the log of the
  // sum into a huge logit (three equal logits of 1e300 would give 0, not −log 3); the shift's
  // gradient cancels exactly (shift invariance), up to rounding.
  const Node* top = ir::broadcast(ir::reduce(ir::Op::ReduceMax, logits, last), full, last_bit);
  const Node* shifted = ir::sub(logits, top);
  const Node* norm = ir::broadcast(ir::reduce(ir::Op::LogSumExp, shifted, last), full, last_bit);
  const Node* log_p = ir::sub(shifted, norm);
  ir::Attrs at;
  at.axis = last;
  const Node* index = x->graph().make(ir::Op::Iota, {}, at, full);
  const Node* one_hot = ir::binary(ir::Op::Equal, ir::broadcast(x, full, last_bit), index);
  return ir::sum(ir::mul(one_hot, log_p), last);
}

// --- reparameterized samplers: (args, noise of the draw's shape) -> draw ---

const Node* draw_normal(const Args& a, const Node* e) { return V(a[0]) + V(a[1]) * e; }
const Node* draw_lognormal(const Args& a, const Node* e) { return exp(V(draw_normal(a, e))); }

const Node* draw_laplace(const Args& a, const Node* u) {
  // The inverse CDF: μ − b sign(u − ½) log(1 − 2|u − ½|).
  V c = V(u) - 0.5;
  return V(a[0]) - V(a[1]) * sign(c) * log1p(-2.0 * abs(c));
}

const Node* draw_logistic(const Args& a, const Node* u) {
  return V(a[0]) + V(a[1]) * (log(V(u)) - log1p(-V(u)));
}

const Node* draw_cauchy(const Args& a, const Node* u) {
  return V(a[0]) + V(a[1]) * tan(kPi * (V(u) - 0.5));
}

const Node* draw_exponential(const Args& a, const Node* u) { return -log1p(-V(u)) / a[0]; }

const Node* draw_uniform(const Args& a, const Node* u) {
  return V(a[0]) + (V(a[1]) - a[0]) * u;
}

const Node* draw_half_normal(const Args& a, const Node* e) { return V(a[0]) * abs(V(e)); }

const Node* draw_mvnormal_cholesky(const Args& a, const Node* e) {
  return ir::add(fit(a[0], e->shape()), times_lower_t(e, a[1]));
}

// --- moments of the guide families, elementwise ---

const Node* first(const Args& a) { return a[0]; }
const Node* second(const Args& a) { return a[1]; }

const Node* mean_lognormal(const Args& a) { return exp(V(a[0]) + 0.5 * square(V(a[1]))); }
const Node* sd_lognormal(const Args& a) {
  V s2 = square(V(a[1]));
  return sqrt(expm1(s2)) * exp(V(a[0]) + 0.5 * s2);
}
const Node* sd_laplace(const Args& a) { return std::sqrt(2.0) * V(a[1]); }
const Node* sd_logistic(const Args& a) { return (kPi / std::sqrt(3.0)) * V(a[1]); }
const Node* inverse_first(const Args& a) { return 1.0 / V(a[0]); }
const Node* mean_gamma(const Args& a) { return V(a[0]) / a[1]; }
const Node* sd_gamma(const Args& a) { return sqrt(V(a[0])) / a[1]; }
const Node* mean_beta(const Args& a) { return V(a[0]) / (V(a[0]) + a[1]); }
const Node* sd_beta(const Args& a) {
  V p = a[0], q = a[1], s = p + q;
  return sqrt(p * q / (square(s) * (s + 1.0)));
}
const Node* mean_uniform(const Args& a) { return 0.5 * (V(a[0]) + a[1]); }
const Node* sd_uniform(const Args& a) { return (V(a[1]) - a[0]) / std::sqrt(12.0); }
const Node* mean_half_normal(const Args& a) { return std::sqrt(2 / kPi) * V(a[0]); }
const Node* sd_half_normal(const Args& a) { return std::sqrt(1 - 2 / kPi) * V(a[0]); }

// mu may be given as a scalar; the moments are per component, [B..., K].
ir::Shape mv_shape(const Args& a) {
  if (a[0]->rank() >= 1) return a[0]->shape();
  return {a[1]->shape()[0]};
}
const Node* mean_mvnormal(const Args& a) { return fit(a[0], mv_shape(a)); }
const Node* sd_mvnormal(const Args& a) {
  return fit(ir::unary(ir::Op::Sqrt, marginal_variance(a[1])), mv_shape(a));
}

// --- the table ---

using LogDensity = const Node* (*)(const Node* x, const Args& args);
using Sampler = const Node* (*)(const Args& args, const Node* noise);
using Moment = const Node* (*)(const Args& args);

struct Entry {
  std::string_view name;
  LogDensity log_density;
  InputKind noise = InputKind::Noise;
  Sampler sample = nullptr;  // only for reparameterized guide families
  Moment mean = nullptr;     // nullptr where undefined or not a guide family
  Moment stddev = nullptr;
};

constexpr InputKind kNormal = InputKind::Noise;
constexpr InputKind kUniform = InputKind::Uniform;

// In the order of sema::distributions(); checked by name at first use.
const std::array kTable{
    Entry{"normal", lp_normal, kNormal, draw_normal, first, second},
    Entry{"lognormal", lp_lognormal, kNormal, draw_lognormal, mean_lognormal, sd_lognormal},
    Entry{"laplace", lp_laplace, kUniform, draw_laplace, first, sd_laplace},
    Entry{"logistic", lp_logistic, kUniform, draw_logistic, first, sd_logistic},
    Entry{"cauchy", lp_cauchy, kUniform, draw_cauchy, nullptr, nullptr},
    Entry{"student_t", lp_student_t},
    Entry{"exponential", lp_exponential, kUniform, draw_exponential, inverse_first,
          inverse_first},
    Entry{"gamma", lp_gamma, kNormal, nullptr, mean_gamma, sd_gamma},
    Entry{"beta", lp_beta, kNormal, nullptr, mean_beta, sd_beta},
    Entry{"uniform", lp_uniform, kUniform, draw_uniform, mean_uniform, sd_uniform},
    Entry{"half_normal", lp_half_normal, kNormal, draw_half_normal, mean_half_normal,
          sd_half_normal},
    Entry{"mvnormal_cholesky", lp_mvnormal_cholesky, kNormal, draw_mvnormal_cholesky,
          mean_mvnormal, sd_mvnormal},
    Entry{"bernoulli", lp_bernoulli},
    Entry{"bernoulli_logit", lp_bernoulli_logit},
    Entry{"poisson", lp_poisson},
    Entry{"poisson_log", lp_poisson_log},
    Entry{"binomial_logit", lp_binomial_logit},
    Entry{"categorical_logit", lp_categorical_logit},
};

const Entry& entry(const sema::Distribution& dist) {
  static const bool checked = [] {
    const auto& dists = sema::distributions();
    VMC_ASSERT(dists.size() == kTable.size(), "the lowering table and sema's differ in length");
    for (std::size_t i = 0; i < kTable.size(); ++i) {
      VMC_ASSERT(dists[i].name == kTable[i].name,
                 "lowering table entry " + std::string(kTable[i].name) + " is out of order");
    }
    return true;
  }();
  (void)checked;
  for (const Entry& e : kTable) {
    if (e.name == dist.name) return e;
  }
  VMC_ASSERT(false, "no lowering for distribution " + std::string(dist.name));
}

void expect_args(const sema::Distribution& dist, const Args& args) {
  VMC_ASSERT(args.size() == dist.arity(), std::string(dist.name) + " takes " +
                                              std::to_string(dist.arity()) + " arguments");
  for (const Node* a : args) VMC_ASSERT(a != nullptr, "missing argument");
}

// Elementwise results at x's shape even when every argument is a scalar (uniform ignores x).
const Node* at_shape_of(const Node* value, const Node* x) {
  if (value->shape() == x->shape() || !value->is_scalar()) return value;
  return ir::broadcast(value, x->shape());
}

}  // namespace

const Node* log_density(const sema::Distribution& dist, const Node* x, const Args& args) {
  expect_args(dist, args);
  const Node* lp = entry(dist).log_density(x, args);
  return dist.shape == sema::ShapeRule::Broadcast ? at_shape_of(lp, x) : lp;
}

InputKind noise_kind(const sema::Distribution& dist) { return entry(dist).noise; }

const Node* sample(const sema::Distribution& dist, const Args& args, const Node* noise) {
  expect_args(dist, args);
  const Entry& e = entry(dist);
  VMC_ASSERT(dist.reparam == sema::Reparam::Yes && e.sample,
             std::string(dist.name) + " has no reparameterized sampler");
  const Node* z = e.sample(args, noise);
  return dist.shape == sema::ShapeRule::Broadcast ? at_shape_of(z, noise) : z;
}

const Node* mean(const sema::Distribution& dist, const Args& args) {
  expect_args(dist, args);
  Moment m = entry(dist).mean;
  return m ? m(args) : nullptr;
}

const Node* stddev(const sema::Distribution& dist, const Args& args) {
  expect_args(dist, args);
  Moment m = entry(dist).stddev;
  return m ? m(args) : nullptr;
}

}  // namespace vmc::lower
