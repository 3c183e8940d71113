// THE distribution table: one entry per distribution, every part of it beside it (see
// distribution.hpp for what each part is). Adding a distribution is one entry here plus its
// tests (compiler/README.md says which).
//
// Log densities are the normalised ones, in numerically stable forms (log_sigmoid for logits,
// log1p near 1, lgamma for factorials). They hold inside the support only: the IR has no −∞,
// so a value outside it gets a finite number (uniform) or NaN (log of a negative), and sema's
// support checks are what keep such values out.
#include <cmath>
#include <concepts>
#include <numbers>
#include <utility>

#include "dist/distribution.hpp"
#include "dist/kl.hpp"
#include "dist/math.hpp"

namespace vmc::dist {
namespace {

using namespace detail;
using ir::InputKind;
using ir::Node;
using enum Support;

// An entry's parts, each Required: an entry that leaves one out does not build (a distribution
// without some part says so with that part's none()).
template <class T>
struct Required {
  template <class U>
    requires std::convertible_to<U, T>
  Required(U&& v) : value(std::forward<U>(v)) {}  // NOLINT: implicit on purpose
  T value;
};

using Params = std::vector<Param>;
using KlPartners = std::vector<KlPartner>;

struct Parts {
  Required<std::string_view> name;
  Required<Params> params;
  Required<Support> support;
  Required<ShapeRule> shape;
  Required<LogDensity> log_density;
  Required<Sampler> sampler;
  Required<Moments> moments;
  Required<InitDraw> init;
  Required<KlPartners> kl;
  Required<bool> accepts_real_data;
  Required<Tails> tails;
};

Distribution entry(Parts p) {
  return {p.name.value,  p.params.value,  p.support.value, p.shape.value, p.log_density.value,
          p.sampler.value, p.moments.value, p.init.value,  p.kl.value,    p.accepts_real_data.value,
          p.tails.value};
}

constexpr double kPi = std::numbers::pi;
const double kLog2Pi = std::log(2 * kPi);
constexpr InputKind kNormal = InputKind::Noise;
constexpr InputKind kUniform = InputKind::Uniform;

V normal_lpdf(V x, V mu, V sigma) {
  V z = (x - mu) / sigma;
  return -0.5 * kLog2Pi - log(sigma) - 0.5 * square(z);
}

double uniform01(Rng& rng) { return std::uniform_real_distribution<double>(0, 1)(rng); }

const Node* first(const Args& a) { return a[0]; }
const Node* second(const Args& a) { return a[1]; }
const Node* inverse_first(const Args& a) { return 1.0 / V(a[0]); }

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
      .sampler = Sampler::none(),
      .moments = Moments::none(),
      .init = InitDraw{[](const std::vector<double>& a, Rng& rng) {
        return a[1] + a[2] * std::student_t_distribution<double>(a[0])(rng);
      }},
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
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
      .sampler = Sampler::later(),
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
      .sampler = Sampler::later(),
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

// --- multivariate ------------------------------------------------------------------------------

// mu may be given as a scalar; the moments are per component, [B..., K].
ir::Shape mv_shape(const Args& a) {
  if (a[0]->rank() >= 1) return a[0]->shape();
  return {a[1]->shape()[0]};
}

Distribution mvnormal_cholesky() {
  return entry({
      .name = "mvnormal_cholesky",
      .params = Params{{"mu"}, {"L", Cholesky}},
      .support = RealVector,
      .shape = ShapeRule::MvNormal,
      .log_density = LogDensity{[](const Node* x, const Args& a) -> const Node* {
        const Node* lower = a[1];
        const Node* r = ir::sub(x, fit(a[0], x->shape()));
        double k = order_of(lower);
        V quad = mahalanobis(lower, r);
        return -0.5 * k * kLog2Pi - V(log_abs_det(lower)) - 0.5 * quad;
      }},
      .sampler = Sampler::reparameterized(
          kNormal,
          [](const Args& a, const Node* e) -> const Node* {
            return ir::add(fit(a[0], e->shape()), times_lower_t(e, a[1]));
          },
          "mu + L eps",
          // log q(mu + L eps) = Σ log N(eps) − log|det L|, per vector: exact, with no solve.
          [](const Args& a, const Node* e) -> const Node* {
            double k = order_of(a[1]);
            V sq = ir::sum(ir::square(e), static_cast<int>(e->rank()) - 1);
            return -0.5 * k * kLog2Pi - V(log_abs_det(a[1])) - 0.5 * sq;
          }),
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

// --- discrete ----------------------------------------------------------------------------------

// 1 where u < p: a draw of {0, 1} from uniform noise (no gradient flows through it).
const Node* bernoulli_draw(const Node* p, const Node* u) { return ir::binary(ir::Op::Greater, p, u); }

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
      .sampler = Sampler::none(),
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
      .sampler = Sampler::none(),
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
      .sampler = Sampler::none(),
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
      .sampler = Sampler::none(),
      .moments = Moments::none(),
      .init = InitDraw::none(),
      .kl = KlPartners{},
      .accepts_real_data = false,
      .tails = Tails::none(),
  });
}

}  // namespace

const std::vector<Distribution>& distributions() {
  static const std::vector<Distribution> table = {
      normal(),      lognormal(),   laplace(),     logistic(),          cauchy(),
      student_t(),   exponential(), gamma(),       beta(),              uniform(),
      half_normal(), weibull(),     mvnormal_cholesky(), bernoulli(),       bernoulli_logit(),
      poisson(),     poisson_log(), binomial_logit(), categorical_logit(),
  };
  return table;
}

}  // namespace vmc::dist
