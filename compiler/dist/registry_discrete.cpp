// The registry's multivariate and discrete entries (registry.cpp lists every entry).

#include "dist/registry_entry.hpp"

namespace vmc::dist::entries {

// --- multivariate ------------------------------------------------------------------------------

// mu may be given as a scalar; the moments are per component, [B..., K].
ir::Shape mv_shape(const Args& a) {
  if (a[0]->rank() >= 1) return a[0]->shape();
  return {a[1]->shape()[0]};
}

// The multivariate normal of mean mu and covariance L Lᵀ, per vector (the last axis).
const Node* mv_log_density(const Node* x, const Node* mu, const Node* lower) {
  const Node* r = ir::sub(x, fit(mu, x->shape()));
  V quad = mahalanobis(lower, r);
  return -0.5 * order_of(lower) * kLog2Pi - V(log_abs_det(lower)) - 0.5 * quad;
}
// mu + L eps, per vector.
const Node* mv_draw(const Node* eps, const Node* mu, const Node* lower) {
  return ir::add(fit(mu, eps->shape()), times_lower_t(eps, lower));
}
// log q(mu + L eps) = Σ log N(eps) − log|det L|, per vector: exact, with no solve.
const Node* mv_log_q(const Node* eps, const Node* lower) {
  V sq = ir::sum(ir::square(eps), static_cast<int>(eps->rank()) - 1);
  return -0.5 * order_of(lower) * kLog2Pi - V(log_abs_det(lower)) - 0.5 * sq;
}

Distribution mvnormal_cholesky() {
  return entry({
      .name = "mvnormal_cholesky",
      .params = Params{{"mu"}, {"L", Cholesky}},
      .support = RealVector,
      .shape = ShapeRule::MvNormal,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* { return mv_log_density(x, a[0], a[1]); }},
      .sampler = Sampler::reparameterized(
          kNormal, [](const Args& a, const Node* e) -> const Node* { return mv_draw(e, a[0], a[1]); }, "mu + L eps",
          [](const Args& a, const Node* e) -> const Node* { return mv_log_q(e, a[1]); }),
      .moments = Moments{[](const Args& a) -> const Node* { return fit(a[0], mv_shape(a)); },
                  [](const Args& a) -> const Node* {
                    return fit(ir::unary(ir::Op::Sqrt, marginal_variance(a[1])), mv_shape(a));
                  }},
      .init = InitDraw::none(),
      .kl = KlPartners{{"normal", kl_mvnormal_normal}, {"mvnormal_cholesky", kl_mvnormal_mvnormal}},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Stan's multi_normal(mu, Sigma): the covariance form, through Sigma's Cholesky factor (an op of
// the IR with its own adjoint; NaN, so a refused step, where Sigma is not positive definite).
// Only Sigma's lower triangle is read.
Distribution multi_normal() {
  return entry({
      .name = "multi_normal",
      .params = Params{{"mu"}, {"Sigma"}},
      .support = RealVector,
      .shape = ShapeRule::MvNormal,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        return mv_log_density(x, a[0], ir::cholesky(a[1]));
      }},
      .sampler = Sampler::reparameterized(
          kNormal, [](const Args& a, const Node* e) -> const Node* { return mv_draw(e, a[0], ir::cholesky(a[1])); },
          "mu + cholesky_decompose(Sigma) eps",
          [](const Args& a, const Node* e) -> const Node* { return mv_log_q(e, ir::cholesky(a[1])); }),
      .moments = Moments{[](const Args& a) -> const Node* { return fit(a[0], mv_shape(a)); },
                         [](const Args& a) -> const Node* {
                           return fit(ir::unary(ir::Op::Sqrt, ir::diag(a[1])), mv_shape(a));
                         }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Stan's lkj_corr_cholesky(eta): the LKJ density of the correlation matrix L Lᵀ (det^(eta − 1),
// Lewandowski, Kurowicka & Joe 2009) with the Jacobian of L ↦ L Lᵀ, on the factor L:
//   Σ_{k=1}^{K−1} (K − k − 1 + 2 eta − 2) log L_kk − log c_K(eta),
//   log c_K = Σ_{k=1}^{K−1} [(2 eta − 2 + K − k)(K − k) log 2 + (K − k) log B(b_k, b_k)],
//   b_k = eta + (K − k − 1)/2.
// One [K, K] value (no batch axes: sema keeps it one for all datapoints). No sampler yet.
Distribution lkj_corr_cholesky() {
  return entry({
      .name = "lkj_corr_cholesky",
      .params = Params{{"eta", Positive}},
      .support = CorrCholesky,
      .shape = ShapeRule::CorrCholesky,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        const std::int64_t k = x->shape()[0].size;
        const Node* eta = a[0];
        const Node* log_diag = ir::log(ir::slice(ir::diag(x), 0, 1, k));  // L_11 ... L_{K−1,K−1}
        ir::Attrs along;  // K − k − 1 for k = 1 ... K − 1: K − 2 − iota
        along.axis = 0;
        const Node* iota = x->graph().make(ir::Op::Iota, {}, along, log_diag->shape());
        V powers = (static_cast<double>(k - 2) - V(iota)) + (V(eta) - 1.0) * 2.0;
        V lp = ir::sum(ir::mul(powers, log_diag));
        for (std::int64_t i = 1; i < k; ++i) {
          const double m = static_cast<double>(k - i);
          V b = V(eta) + 0.5 * (m - 1);
          V log_beta = 2.0 * lgamma(b) - lgamma(2.0 * b);
          lp = lp - (V(eta) * 2.0 - 2.0 + m) * (m * std::log(2.0)) - m * log_beta;
        }
        return lp;
      }},
      .sampler = Sampler::none(),
      .moments = Moments::none(),
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Dirichlet(alpha) on the simplex, one density per vector (the last axis):
// lgamma(Σ alpha) − Σ lgamma(alpha) + Σ (alpha − 1) log x. alpha is a scalar (the symmetric
// Dirichlet) or a vector. Drawn forwards as K gamma draws, normalised.
Distribution dirichlet() {
  return entry({
      .name = "dirichlet",
      .params = Params{{"alpha", Positive}},
      .support = Simplex,
      .shape = ShapeRule::Vector,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        const Node* alpha = fit(a[0], x->shape());
        const int last = static_cast<int>(x->rank()) - 1;
        V total = ir::sum(alpha, last);
        V terms = ir::sum(ir::mul(ir::add(alpha, -1.0), ir::log(x)), last);
        return lgamma(total) - V(ir::sum(ir::unary(ir::Op::Lgamma, alpha), last)) + terms;
      }},
      // K Gamma(alpha_k, 1) draws, normalised.
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            const Node* g = ir::binary(ir::Op::GammaQuantile, u, fit(a[0], u->shape()));
            const int last = static_cast<int>(u->rank()) - 1;
            return ir::div(g, ir::broadcast(ir::sum(g, last), u->shape(), 1u << last));
          },
          "G / sum(G), G_k = Gamma(alpha_k, 1)^-1(u_k)"),
      .moments = Moments::none(),
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// --- discrete ----------------------------------------------------------------------------------

// 1 where u < p: a draw of {0, 1} from uniform noise (no gradient flows through it).
const Node* bernoulli_draw(const Node* p, const Node* u) { return ir::binary(ir::Op::Greater, p, u); }

// The smallest k whose CDF at `rate` reaches u: a count drawn from uniform noise by inversion.
const Node* poisson_draw(const Node* rate, const Node* u) {
  return ir::binary(ir::Op::PoissonQuantile, u, fit(rate, u->shape()));
}

// Real data in [0, 1] makes these the cross-entropy (not a normalised density).
Distribution bernoulli() {
  return entry({
      .name = "bernoulli",
      .params = Params{{"p", UnitInterval}},
      .support = Binary,
      .shape = ShapeRule::Broadcast,
      // At the edges p = 0 and 1 (a sigmoid that underflowed) x·log p would be 0·(−∞) = NaN where
      // x = 0 (and (1 − x)·log(1 − p) where x = 1): exactly there the log's argument is replaced
      // by 1, so the term and its gradient are 0, as the limit says (the "double where" of
      // autodiff); everywhere else the formula is untouched.
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V p = fit(a[0], x->shape());
        V zero = fit(scalar(V(x), 0.0), x->shape()), one = fit(scalar(V(x), 1.0), x->shape());
        auto equal = [](V u, V v) { return V(ir::binary(ir::Op::Equal, u, v)); };
        V p_where_x = ir::select(equal(V(x), zero) * equal(p, zero), one, p);
        V p_where_not_x = ir::select(equal(V(x), one) * equal(p, one), zero, p);
        return V(x) * log(p_where_x) + (1.0 - V(x)) * log1p(-p_where_not_x);
      }},
      .sampler = Sampler::forward_only(
          kUniform, [](const Args& a, const Node* u) { return bernoulli_draw(a[0], u); }, "u < p"),
      .moments = Moments{first, [](const Args& a) -> const Node* { return sqrt(V(a[0]) * (1.0 - V(a[0]))); }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = true,
      .tails = Tails::none(),
  });
}

Distribution bernoulli_logit() {
  return entry({
      .name = "bernoulli_logit",
      .params = Params{{"logit"}},
      .support = Binary,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V l = a[0];
        return -((0.5 * (l + abs(l)) - V(x) * l) + log1p(exp(-abs(l))));
      }},
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) { return bernoulli_draw(ir::unary(ir::Op::Sigmoid, a[0]), u); },
          "u < sigmoid(logit)"),
      .moments = Moments{[](const Args& a) { return ir::unary(ir::Op::Sigmoid, a[0]); },
                  [](const Args& a) -> const Node* {
                    V p = ir::unary(ir::Op::Sigmoid, a[0]);
                    return sqrt(p * (1.0 - p));
                  }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = true,
      .tails = Tails::none(),
  });
}

Distribution poisson() {
  return entry({
      .name = "poisson",
      .params = Params{{"rate", Positive}},
      .support = Count,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V rate = a[0];
        return V(x) * log(rate) - rate - lgamma(V(x) + 1.0);
      }},
      .sampler = Sampler::forward_only(
          kUniform, [](const Args& a, const Node* u) { return poisson_draw(a[0], u); }, "inverse CDF of u"),
      .moments = Moments{first, [](const Args& a) -> const Node* { return sqrt(V(a[0])); }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution poisson_log() {
  return entry({
      .name = "poisson_log",
      .params = Params{{"log_rate"}},
      .support = Count,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V l = a[0];
        return V(x) * l - exp(l) - lgamma(V(x) + 1.0);
      }},
      .sampler = Sampler::forward_only(
          kUniform, [](const Args& a, const Node* u) { return poisson_draw(ir::exp(a[0]), u); },
          "inverse CDF of u at rate exp(log_rate)"),
      .moments = Moments{[](const Args& a) -> const Node* { return exp(V(a[0])); },
                  [](const Args& a) -> const Node* { return exp(0.5 * V(a[0])); }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution binomial_logit() {
  return entry({
      .name = "binomial_logit",
      .params = Params{{"n", Count, ArgKind::Int}, {"logit"}},
      .support = BoundedCount,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V n = a[0], l = a[1], k = x;
        V log_choose = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
        return log_choose + k * log_sigmoid(l) + (n - k) * log_sigmoid(-l);
      }},
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            const Node* n = fit(a[0], u->shape());
            const Node* p = fit(ir::unary(ir::Op::Sigmoid, a[1]), u->shape());
            return u->graph().make(ir::Op::BinomialQuantile, {u, n, p}, {}, u->shape());
          },
          "inverse CDF of u at p = sigmoid(logit)"),
      .moments = Moments{[](const Args& a) -> const Node* { return V(a[0]) * ir::unary(ir::Op::Sigmoid, a[1]); },
                  [](const Args& a) -> const Node* {
                    V p = ir::unary(ir::Op::Sigmoid, a[1]);
                    return sqrt(V(a[0]) * p * (1.0 - p));
                  }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Stan's binomial(n, p): x·log p and (n − x)·log(1 − p) are replaced by 0 where p is 0 or 1 and
// their factor is 0 (as bernoulli's), so the edges give a finite density and gradient.
Distribution binomial() {
  return entry({
      .name = "binomial",
      .params = Params{{"n", Count, ArgKind::Int}, {"p", UnitInterval}},
      .support = BoundedCount,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V k = x, n = fit(a[0], x->shape()), p = fit(a[1], x->shape());
        V zero = fit(scalar(k, 0.0), x->shape()), one = fit(scalar(k, 1.0), x->shape());
        auto equal = [](V u, V v) { return V(ir::binary(ir::Op::Equal, u, v)); };
        V p_where_k = ir::select(equal(k, zero) * equal(p, zero), one, p);
        V p_where_not_k = ir::select(equal(k, n) * equal(p, one), zero, p);
        V log_choose = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
        return log_choose + k * log(p_where_k) + (n - k) * log1p(-p_where_not_k);
      }},
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            return u->graph().make(ir::Op::BinomialQuantile, {u, fit(a[0], u->shape()), fit(a[1], u->shape())}, {},
                                   u->shape());
          },
          "inverse CDF of u"),
      .moments = Moments{[](const Args& a) -> const Node* { return V(a[0]) * a[1]; },
                  [](const Args& a) -> const Node* { return sqrt(V(a[0]) * a[1] * (1.0 - V(a[1]))); }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Stan's neg_binomial_2(mu, phi): mean mu, variance mu + mu²/phi (a gamma mixture of Poissons),
//   log p = lgamma(x + phi) − lgamma(x + 1) − lgamma(phi) + phi log(phi / (mu + phi)) + x log(mu / (mu + phi)).
// `log_mu_phi` is log(mu + phi), computed from the family's own parameters.
const Node* neg_binomial_2_lpmf(V x, V phi, V log_mu, V log_mu_phi) {
  return lgamma(x + phi) - lgamma(x + 1.0) - lgamma(phi) + phi * (log(phi) - log_mu_phi) + x * (log_mu - log_mu_phi);
}

const Node* neg_binomial_2_draw(const Node* mu, const Node* phi, const Node* u) {
  return u->graph().make(ir::Op::NegBinomial2Quantile, {u, fit(mu, u->shape()), fit(phi, u->shape())}, {}, u->shape());
}

Distribution neg_binomial_2() {
  return entry({
      .name = "neg_binomial_2",
      .params = Params{{"mu", Positive}, {"phi", Positive}},
      .support = Count,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V mu = a[0], phi = a[1];
        return neg_binomial_2_lpmf(x, phi, log(mu), log(mu + phi));
      }},
      .sampler = Sampler::forward_only(
          kUniform, [](const Args& a, const Node* u) { return neg_binomial_2_draw(a[0], a[1], u); }, "inverse CDF of u"),
      .moments = Moments{first, [](const Args& a) -> const Node* { V mu = a[0]; return sqrt(mu + square(mu) / a[1]); }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// neg_binomial_2 with mu = exp(eta): log(mu + phi) = log_sum_exp(eta, log phi), finite for any eta.
Distribution neg_binomial_2_log() {
  return entry({
      .name = "neg_binomial_2_log",
      .params = Params{{"eta"}, {"phi", Positive}},
      .support = Count,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V eta = a[0], phi = a[1];
        V log_mu_phi = ir::binary(ir::Op::LogAddExp, fit(eta, x->shape()), fit(log(phi), x->shape()));
        return neg_binomial_2_lpmf(x, phi, eta, log_mu_phi);
      }},
      .sampler = Sampler::forward_only(
          kUniform, [](const Args& a, const Node* u) { return neg_binomial_2_draw(exp(V(a[0])), a[1], u); },
          "inverse CDF of u at mu = exp(eta)"),
      .moments = Moments{[](const Args& a) -> const Node* { return exp(V(a[0])); },
                  [](const Args& a) -> const Node* { V mu = exp(V(a[0])); return sqrt(mu + square(mu) / a[1]); }},
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Stan's ordered_logistic(eta, c) on {0, ..., K-1} (Stan's 1..K less one): P(y > k) = sigmoid(eta −
// c_k) for the K − 1 increasing cutpoints c, so P(y = k) = sigmoid(eta − c_{k−1}) − sigmoid(eta −
// c_k), the first and last against 1 and 0. In logs, with a = eta − c_{k−1} and b = eta − c_k:
// log_sigmoid(a) + log1p(−e^(log_sigmoid(b) − log_sigmoid(a))); the ends take a = +1e30 (so
// log_sigmoid(a) = 0) and b = −1e30 (so the log1p term is 0), all K at once, the one at y kept.
Distribution ordered_logistic() {
  return entry({
      .name = "ordered_logistic",
      .params = Params{{"eta"}, {"c"}},
      .support = Categorical,
      .shape = ShapeRule::Ordinal,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        ir::Shape cuts = x->shape();
        cuts.push_back(a[1]->shape().back());
        const int last = static_cast<int>(cuts.size()) - 1;
        const std::uint32_t last_bit = 1u << last;
        const Node* d = ir::sub(ir::broadcast(fit(a[0], x->shape()), cuts, last_bit), fit(a[1], cuts));
        ir::Shape end = x->shape();
        end.push_back(ir::Extent::constant(1));
        const Node* upper = ir::concat(ir::constant(x->graph(), 1e30, end), d, last);
        const Node* lower = ir::concat(d, ir::constant(x->graph(), -1e30, end), last);
        const Node* ls_upper = ir::unary(ir::Op::LogSigmoid, upper);
        const Node* ls_lower = ir::unary(ir::Op::LogSigmoid, lower);
        const Node* log_p =
            ir::add(ls_upper, ir::unary(ir::Op::Log1p, ir::neg(ir::exp(ir::sub(ls_lower, ls_upper)))));
        ir::Shape full = log_p->shape();
        ir::Attrs at;
        at.axis = last;
        const Node* index = x->graph().make(ir::Op::Iota, {}, at, full);
        const Node* one_hot = ir::binary(ir::Op::Equal, ir::broadcast(x, full, last_bit), index);
        return ir::sum(ir::mul(one_hot, log_p), last);
      }},
      // The number of cutpoints below the draw: Σ_j [u > P(y ≤ j)], P(y ≤ j) = sigmoid(c_j − eta).
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            ir::Shape cuts = u->shape();
            cuts.push_back(a[1]->shape().back());
            const int last = static_cast<int>(cuts.size()) - 1;
            const std::uint32_t bit = 1u << last;
            const Node* below = ir::unary(ir::Op::Sigmoid, ir::sub(fit(a[1], cuts), ir::broadcast(fit(a[0], u->shape()), cuts, bit)));
            return ir::sum(ir::binary(ir::Op::Greater, ir::broadcast(u, cuts, bit), below), last);
          },
          "the number of j with u > sigmoid(c_j - eta)"),
      .moments = Moments::none(),
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution categorical_logit() {
  return entry({
      .name = "categorical_logit",
      .params = Params{{"logits"}},
      .support = Categorical,
      .shape = ShapeRule::Categorical,
      // log_softmax(logits)[x] = Σ_k [x == k] (logits_k − log Σ_j exp(logits_j)).
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        ir::Shape full = x->shape();
        full.push_back(a[0]->shape().back());
        const Node* logits = fit(a[0], full);
        int last = static_cast<int>(full.size()) - 1;
        std::uint32_t last_bit = 1u << last;
        // Shifted by the row's largest logit first: logits − lse(logits) would absorb the log of
        // the sum into a huge logit (three equal logits of 1e300 would give 0, not −log 3); the
        // shift's gradient cancels exactly (shift invariance), up to rounding.
        const Node* top = ir::broadcast(ir::reduce(ir::Op::ReduceMax, logits, last), full, last_bit);
        const Node* shifted = ir::sub(logits, top);
        const Node* norm = ir::broadcast(ir::reduce(ir::Op::LogSumExp, shifted, last), full, last_bit);
        const Node* log_p = ir::sub(shifted, norm);
        ir::Attrs at;
        at.axis = last;
        const Node* index = x->graph().make(ir::Op::Iota, {}, at, full);
        const Node* one_hot = ir::binary(ir::Op::Equal, ir::broadcast(x, full, last_bit), index);
        return ir::sum(ir::mul(one_hot, log_p), last);
      }},
      // The number of categories whose cumulative softmax is below u.
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            ir::Shape full = u->shape();
            full.push_back(a[0]->shape().back());
            const int last = static_cast<int>(full.size()) - 1;
            const std::uint32_t bit = 1u << last;
            const Node* logits = fit(a[0], full);
            const Node* shifted = ir::sub(logits, ir::broadcast(ir::reduce(ir::Op::LogSumExp, logits, last), full, bit));
            const Node* p = ir::exp(shifted);
            // cdf_j = Σ_i [i ≤ j] p_i over a [..., K (j), K (i)] product with the triangle of ones.
            ir::Shape pairs = full;
            pairs.push_back(full.back());
            const Node* spread = ir::broadcast(p, pairs, 1u << last);  // p_i at [..., j, i]
            const Node* ones = ir::tril(ir::constant(u->graph(), 1.0, ir::Shape{full.back(), full.back()}));
            const Node* cdf = ir::sum(ir::mul(spread, ir::broadcast(ones, pairs)), last + 1);
            return ir::sum(ir::binary(ir::Op::Greater, ir::broadcast(u, full, bit), cdf), last);
          },
          "the number of k with u > the cumulative softmax(logits)_k"),
      .moments = Moments::none(),
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

}  // namespace vmc::dist::entries
