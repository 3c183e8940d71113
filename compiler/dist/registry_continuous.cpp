// The registry's continuous univariate entries (registry.cpp lists every entry).

#include "dist/registry_entry.hpp"

namespace vmc::dist::entries {

// --- continuous, on the real line ------------------------------------------------------------

Distribution normal() {
  return entry({
      .name = "normal",
      .params = Params{{"mu"}, {"sigma", Positive}},
      .support = Real,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* { return normal_lpdf(x, a[0], a[1]); }},
      .sampler = Sampler::reparameterized(
          kNormal, [](const Args& a, const Node* e) -> const Node* { return V(a[0]) + V(a[1]) * e; },
          "mu + sigma * eps"),
      .moments = Moments{first, second},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) { return std::normal_distribution<double>(a[0], a[1])(rng); }},
      .kl = KlPartners{{"normal", kl_normal_normal}},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log_ndtr((V(x) - a[0]) / V(a[1])); },
                    [](const Node* x, const Args& a) -> const Node* { return log_ndtr((V(a[0]) - x) / V(a[1])); }},
  });
}

Distribution lognormal() {
  return entry({
      .name = "lognormal",
      .params = Params{{"mu"}, {"sigma", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V lx = log(V(x));
        return normal_lpdf(lx, a[0], a[1]) - lx;
      }},
      .sampler = Sampler::reparameterized(
          kNormal, [](const Args& a, const Node* e) -> const Node* { return exp(V(a[0]) + V(a[1]) * e); },
          "exp(mu + sigma * eps)"),
      .moments = Moments{[](const Args& a) -> const Node* { return exp(V(a[0]) + 0.5 * square(V(a[1]))); },
                  [](const Args& a) -> const Node* {
                    V s2 = square(V(a[1]));
                    return sqrt(expm1(s2)) * exp(V(a[0]) + 0.5 * s2);
                  }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) { return std::lognormal_distribution<double>(a[0], a[1])(rng); }},
      .kl = KlPartners{{"lognormal", kl_lognormal_lognormal}},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log_ndtr((log(V(x)) - a[0]) / V(a[1])); },
                    [](const Node* x, const Args& a) -> const Node* { return log_ndtr((V(a[0]) - log(V(x))) / V(a[1])); }},
  });
}

Distribution laplace() {
  return entry({
      .name = "laplace",
      .params = Params{{"mu"}, {"b", Positive}},
      .support = Real,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V b = a[1];
        return -log(2.0 * b) - abs(V(x) - a[0]) / b;
      }},
      // The inverse CDF: μ − b sign(u − ½) log(1 − 2|u − ½|).
      .sampler = Sampler::reparameterized(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            V c = V(u) - 0.5;
            return V(a[0]) - V(a[1]) * sign(c) * log1p(-2.0 * abs(c));
          },
          "mu - b sign(u - 1/2) log(1 - 2 abs(u - 1/2))"),
      .moments = Moments{first, [](const Args& a) -> const Node* { return std::sqrt(2.0) * V(a[1]); }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        double x = uniform01(rng);
        return a[0] - a[1] * (x < 0.5 ? -1 : 1) * std::log(1 - 2 * std::abs(x - 0.5));
      }},
      .kl = KlPartners{{"laplace", kl_laplace_laplace}},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* {
                      V z = (V(x) - a[0]) / V(a[1]);
                      V below = -abs(z) - std::log(2.0), above = log1p(-0.5 * exp(-abs(z)));
                      return ir::select(ir::binary(ir::Op::Greater, scalar(z, 0), z), below, above);
                    },
                    [](const Node* x, const Args& a) -> const Node* {
                      V z = (V(x) - a[0]) / V(a[1]);
                      V below = log1p(-0.5 * exp(-abs(z))), above = -abs(z) - std::log(2.0);
                      return ir::select(ir::binary(ir::Op::Greater, scalar(z, 0), z), below, above);
                    }},
  });
}

Distribution logistic() {
  return entry({
      .name = "logistic",
      .params = Params{{"mu"}, {"s", Positive}},
      .support = Real,
      .shape = ShapeRule::Broadcast,
      // −z − log s − 2 log(1 + e^{−z}), written symmetrically so neither tail overflows.
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V s = a[1];
        V z = (V(x) - a[0]) / s;
        return log_sigmoid(z) + log_sigmoid(-z) - log(s);
      }},
      .sampler = Sampler::reparameterized(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* { return V(a[0]) + V(a[1]) * (log(V(u)) - log1p(-V(u))); },
          "mu + s logit(u)"),
      .moments = Moments{first, [](const Args& a) -> const Node* { return (kPi / std::sqrt(3.0)) * V(a[1]); }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        double x = uniform01(rng);
        return a[0] + a[1] * std::log(x / (1 - x));
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log_sigmoid((V(x) - a[0]) / V(a[1])); },
                    [](const Node* x, const Args& a) -> const Node* { return log_sigmoid((V(a[0]) - x) / V(a[1])); }},
  });
}

Distribution cauchy() {
  return entry({
      .name = "cauchy",
      .params = Params{{"mu"}, {"sigma", Positive}},
      .support = Real,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V sigma = a[1];
        V z = (V(x) - a[0]) / sigma;
        return -std::log(kPi) - log(sigma) - log1p(square(z));
      }},
      .sampler = Sampler::reparameterized(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* { return V(a[0]) + V(a[1]) * tan(kPi * (V(u) - 0.5)); },
          "mu + sigma tan(pi (u - 1/2))"),
      .moments = Moments::none(),  // undefined
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) { return std::cauchy_distribution<double>(a[0], a[1])(rng); }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log(0.5 + atan((V(x) - a[0]) / V(a[1])) / kPi); },
                    [](const Node* x, const Args& a) -> const Node* { return log(0.5 - atan((V(x) - a[0]) / V(a[1])) / kPi); }},
  });
}

// Student's t with nu degrees of freedom at uniform noise u, by its inverse CDF (the runtime's).
const Node* student_t_draw(const Node* nu, const Node* u) {
  return ir::binary(ir::Op::StudentTQuantile, u, fit(nu, u->shape()));
}

// log P(T_nu ≤ t) elementwise.
const Node* student_t_log_cdf(const Node* t, const Node* nu) {
  return ir::binary(ir::Op::StudentTLogCdf, t, fit(nu, t->shape()));
}

Distribution student_t() {
  return entry({
      .name = "student_t",
      .params = Params{{"nu", Positive}, {"mu"}, {"sigma", Positive}},
      .support = Real,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V nu = a[0], sigma = a[2];
        V z = (V(x) - a[1]) / sigma;
        V half_nu1 = 0.5 * (nu + 1.0);
        return lgamma(half_nu1) - lgamma(0.5 * nu) - 0.5 * log(nu * kPi) - log(sigma) -
               half_nu1 * log1p(square(z) / nu);
      }},
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* { return V(a[1]) + V(a[2]) * student_t_draw(a[0], u); },
          "mu + sigma t_nu^-1(u)"),
      .moments = Moments::none(),
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return a[1] + a[2] * std::student_t_distribution<double>(a[0])(rng);
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return student_t_log_cdf((V(x) - a[1]) / V(a[2]), a[0]); },
                    [](const Node* x, const Args& a) -> const Node* { return student_t_log_cdf((V(a[1]) - x) / V(a[2]), a[0]); }},
  });
}

// --- continuous, positive or bounded ---------------------------------------------------------

Distribution exponential() {
  return entry({
      .name = "exponential",
      .params = Params{{"rate", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V rate = a[0];
        return log(rate) - rate * x;
      }},
      .sampler = Sampler::reparameterized(
          kUniform, [](const Args& a, const Node* u) -> const Node* { return -log1p(-V(u)) / a[0]; },
          "-log(1 - u) / rate"),
      .moments = Moments{inverse_first, inverse_first},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) { return std::exponential_distribution<double>(a[0])(rng); }},
      .kl = KlPartners{{"exponential", kl_exponential_exponential}, {"gamma", kl_exponential_gamma}},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log(-expm1(-(V(a[0]) * x))); },
                    [](const Node* x, const Args& a) -> const Node* { return -(V(a[0]) * x); }},
  });
}

// Gamma(shape, 1) at uniform noise u: a forward draw.
const Node* gamma_draw(const Node* shape, const Node* u) {
  return ir::binary(ir::Op::GammaQuantile, u, fit(shape, u->shape()));
}

Distribution gamma() {
  return entry({
      .name = "gamma",
      .params = Params{{"shape", Positive}, {"rate", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V shape = a[0], rate = a[1];
        return shape * log(rate) - lgamma(shape) + (shape - 1.0) * log(V(x)) - rate * x;
      }},
      .sampler = Sampler::forward_later(
          kUniform, [](const Args& a, const Node* u) -> const Node* { return V(gamma_draw(a[0], u)) / a[1]; },
          "Gamma(shape, 1)^-1(u) / rate"),
      .moments = Moments{[](const Args& a) -> const Node* { return V(a[0]) / a[1]; },
                  [](const Args& a) -> const Node* { return sqrt(V(a[0])) / a[1]; }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) { return std::gamma_distribution<double>(a[0], 1 / a[1])(rng); }},
      .kl = KlPartners{{"gamma", kl_gamma_gamma}},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution beta() {
  return entry({
      .name = "beta",
      .params = Params{{"a", Positive}, {"b", Positive}},
      .support = UnitInterval,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V p = a[0], q = a[1];
        V log_beta_fn = lgamma(p) + lgamma(q) - lgamma(p + q);
        return (p - 1.0) * log(V(x)) + (q - 1.0) * log1p(-V(x)) - log_beta_fn;
      }},
      .sampler = Sampler::forward_later(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            return u->graph().make(ir::Op::BetaQuantile, {u, fit(a[0], u->shape()), fit(a[1], u->shape())}, {}, u->shape());
          },
          "Beta(a, b)^-1(u)"),
      .moments = Moments{[](const Args& a) -> const Node* { return V(a[0]) / (V(a[0]) + a[1]); },
                  [](const Args& a) -> const Node* {
                    V p = a[0], q = a[1], s = p + q;
                    return sqrt(p * q / (square(s) * (s + 1.0)));
                  }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        double g1 = std::gamma_distribution<double>(a[0], 1)(rng);
        double g2 = std::gamma_distribution<double>(a[1], 1)(rng);
        return g1 / (g1 + g2);
      }},
      .kl = KlPartners{{"beta", kl_beta_beta}},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution uniform() {
  return entry({
      .name = "uniform",
      .params = Params{{"lo", Real, ArgKind::Constant}, {"hi", Real, ArgKind::Constant}},
      .support = Interval,
      .shape = ShapeRule::Broadcast,
      // Inside (lo, hi) only: outside the density is 0, which the IR cannot say (no −∞).
      .log_density = LogDensity{[](const Node*, const Args& a) -> const Node* { return -log(V(a[1]) - a[0]); }},
      .sampler = Sampler::reparameterized(
          kUniform, [](const Args& a, const Node* u) -> const Node* { return V(a[0]) + (V(a[1]) - a[0]) * u; },
          "lo + (hi - lo) u"),
      .moments = Moments{[](const Args& a) -> const Node* { return 0.5 * (V(a[0]) + a[1]); },
                  [](const Args& a) -> const Node* { return (V(a[1]) - a[0]) / std::sqrt(12.0); }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return std::uniform_real_distribution<double>(a[0], a[1])(rng);
      }},
      // Finite only when the guide's interval lies inside the prior's; sema guarantees that by
      // requiring the prior's support to cover the latent's.
      .kl = KlPartners{{"uniform", kl_uniform_uniform}},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution half_normal() {
  return entry({
      .name = "half_normal",
      .params = Params{{"sigma", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V sigma = a[0];
        return 0.5 * std::log(2 / kPi) - log(sigma) - 0.5 * square(V(x) / sigma);
      }},
      .sampler = Sampler::reparameterized(
          kNormal, [](const Args& a, const Node* e) -> const Node* { return V(a[0]) * abs(V(e)); }, "sigma abs(eps)"),
      .moments = Moments{[](const Args& a) -> const Node* { return std::sqrt(2 / kPi) * V(a[0]); },
                  [](const Args& a) -> const Node* { return std::sqrt(1 - 2 / kPi) * V(a[0]); }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return std::abs(std::normal_distribution<double>(0, a[0])(rng));
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* {
                      return log1p(-exp(log_ndtr(-(V(x) / a[0])) + std::log(2.0)));
                    },
                    [](const Node* x, const Args& a) -> const Node* { return log_ndtr(-(V(x) / a[0])) + std::log(2.0); }},
  });
}

// |cauchy(0, sigma)|: the half-Cauchy prior on scales (Gelman 2006), as its own family so that a
// draw (generated block, sample_model) and an init take its support.
Distribution half_cauchy() {
  return entry({
      .name = "half_cauchy",
      .params = Params{{"sigma", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V sigma = a[0];
        return std::log(2 / kPi) - log(sigma) - log1p(square(V(x) / sigma));
      }},
      .sampler = Sampler::reparameterized(
          kUniform, [](const Args& a, const Node* u) -> const Node* { return V(a[0]) * tan(0.5 * kPi * V(u)); },
          "sigma tan(pi u / 2)"),
      .moments = Moments::none(),  // undefined
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return std::abs(std::cauchy_distribution<double>(0, a[0])(rng));
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      // F(x) = (2/pi) atan(x / sigma), 1 − F(x) = (2/pi) atan(sigma / x) for x > 0.
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log(atan(V(x) / a[0]) * (2 / kPi)); },
                    [](const Node* x, const Args& a) -> const Node* { return log(atan(V(a[0]) / x) * (2 / kPi)); }},
  });
}

// |student_t(nu, 0, sigma)|: the half-t prior on scales (Gelman 2006), nu = 3 or 4 a common choice.
// von_mises(mu, kappa), the circular normal: e^(kappa cos(y − mu)) / (2 pi I_0(kappa)) on any y
// (as Stan's: the density is periodic in y). No sampler yet.
Distribution von_mises() {
  return entry({
      .name = "von_mises",
      .params = Params{{"mu"}, {"kappa", Positive}},
      .support = Real,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V kappa = a[1];
        V c = ir::unary(ir::Op::Cos, V(x) - a[0]);
        return kappa * c - std::log(2 * kPi) - V(ir::unary(ir::Op::LogBesselI0, kappa));
      }},
      .sampler = Sampler::none(),
      .moments = Moments::none(),
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

Distribution half_student_t() {
  return entry({
      .name = "half_student_t",
      .params = Params{{"nu", Positive}, {"sigma", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V nu = a[0], sigma = a[1];
        V half_nu1 = 0.5 * (nu + 1.0);
        return std::log(2.0) + lgamma(half_nu1) - lgamma(0.5 * nu) - 0.5 * log(nu * kPi) - log(sigma) -
               half_nu1 * log1p(square(V(x) / sigma) / nu);
      }},
      // |t| at u is the t quantile at (1 + u) / 2.
      .sampler = Sampler::forward_only(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            return V(a[1]) * student_t_draw(a[0], 0.5 + 0.5 * V(u));
          },
          "sigma t_nu^-1((1 + u) / 2)"),
      .moments = Moments::none(),
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return a[1] * std::abs(std::student_t_distribution<double>(a[0])(rng));
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      // P(|T| > z) = 2 P(T ≤ −z) for z = x / sigma: log 2 + log F(−z), and its complement.
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* {
                       return log(-expm1(std::log(2.0) + V(student_t_log_cdf(-(V(x) / a[1]), a[0]))));
                     },
                     [](const Node* x, const Args& a) -> const Node* {
                       return std::log(2.0) + V(student_t_log_cdf(-(V(x) / a[1]), a[0]));
                     }},
  });
}

// Stan's inv_gamma(alpha, beta): 1/X for X ~ gamma(alpha, beta);
//   log p = alpha log beta − lgamma(alpha) − (alpha + 1) log x − beta / x.
Distribution inv_gamma() {
  return entry({
      .name = "inv_gamma",
      .params = Params{{"alpha", Positive}, {"beta", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V alpha = a[0], beta = a[1];
        return alpha * log(beta) - lgamma(alpha) - (alpha + 1.0) * log(V(x)) - beta / x;
      }},
      .sampler = Sampler::forward_later(
          kUniform, [](const Args& a, const Node* u) -> const Node* { return V(a[1]) / V(gamma_draw(a[0], u)); },
          "beta / Gamma(alpha, 1)^-1(u)"),
      // The mean for alpha > 1, the sd for alpha > 2 (infinite or undefined below).
      .moments = Moments{[](const Args& a) -> const Node* { return V(a[1]) / (V(a[0]) - 1.0); },
                  [](const Args& a) -> const Node* { return V(a[1]) / ((V(a[0]) - 1.0) * sqrt(V(a[0]) - 2.0)); }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return 1 / std::gamma_distribution<double>(a[0], 1 / a[1])(rng);
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

// Stan's weibull(alpha, sigma): shape alpha, scale sigma. With t = log(x / sigma) and s = alpha t,
// log p = log(alpha / sigma) − t + s − e^s; s is capped where e^s is infinite anyway, so a huge
// s gives −∞, not ∞ − ∞.
Distribution weibull() {
  return entry({
      .name = "weibull",
      .params = Params{{"alpha", Positive}, {"sigma", Positive}},
      .support = Positive,
      .shape = ShapeRule::Broadcast,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        V alpha = a[0], sigma = a[1];
        V t = log(V(x)) - log(sigma);
        V s = ir::binary(ir::Op::Min, alpha * t, scalar(t, 1e300));
        return log(alpha) - log(sigma) - t + (s - exp(s));
      }},
      // The inverse CDF: sigma (−log(1 − u))^(1/alpha).
      .sampler = Sampler::reparameterized(
          kUniform,
          [](const Args& a, const Node* u) -> const Node* {
            return V(a[1]) * V(ir::binary(ir::Op::Pow, -log1p(-V(u)), 1.0 / V(a[0])));
          },
          "sigma (-log(1 - u))^(1/alpha)"),
      .moments = Moments{[](const Args& a) -> const Node* { return V(a[1]) * exp(lgamma(1.0 + 1.0 / V(a[0]))); },
                         [](const Args& a) -> const Node* {
                           V g1 = lgamma(1.0 + 1.0 / V(a[0])), g2 = lgamma(1.0 + 2.0 / V(a[0]));
                           return V(a[1]) * sqrt(exp(g2) - exp(2.0 * g1));
                         }},
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return std::weibull_distribution<double>(a[0], a[1])(rng);
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails{[](const Node* x, const Args& a) -> const Node* { return log(-expm1(-exp(V(a[0]) * (log(V(x)) - log(V(a[1])))))); },
                    [](const Node* x, const Args& a) -> const Node* { return -exp(V(a[0]) * (log(V(x)) - log(V(a[1])))); }},
  });
}

}  // namespace vmc::dist::entries
