// The reparameterized samplers and the guide families' moments (dist/distribution.hpp): each
// sampler is the map it claims (inverse CDF or affine, spot-checked), its draws have the
// distribution's mean and variance, and its gradient wrt its arguments at fixed noise matches
// finite differences.
#include <functional>

#include "ir/special.hpp"
#include "test_densities_helpers.hpp"

using namespace densities_test;

namespace {

struct SamplerCase {
  std::string name;
  std::vector<double> args;
  double mean, var;  // NaN where undefined (cauchy)
};

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<SamplerCase> sampler_cases() {
  double lm = 0.2, ls = 0.5;
  return {
      {"normal", {0.7, 1.3}, 0.7, 1.69},
      {"lognormal", {lm, ls}, std::exp(lm + ls * ls / 2), std::expm1(ls * ls) * std::exp(2 * lm + ls * ls)},
      {"laplace", {-0.5, 1.5}, -0.5, 2 * 1.5 * 1.5},
      {"logistic", {1, 0.8}, 1, 0.64 * kPi * kPi / 3},
      {"cauchy", {2, 0.5}, kNaN, kNaN},
      {"exponential", {2.5}, 0.4, 0.16},
      {"uniform", {-1, 3}, 1, 16.0 / 12},
      {"half_normal", {0.8}, 0.8 * std::sqrt(2 / kPi), 0.64 * (1 - 2 / kPi)},
      // shape 1.7, scale 2: mean sigma Γ(1 + 1/k), variance sigma² (Γ(1 + 2/k) − Γ(1 + 1/k)²)
      {"weibull", {1.7, 2}, 2 * std::tgamma(1 + 1 / 1.7),
       4 * (std::tgamma(1 + 2 / 1.7) - std::pow(std::tgamma(1 + 1 / 1.7), 2))},
  };
}

// The claimed map from noise to a draw, for spot checks: CDFs for the inverse-CDF samplers
// (F(sample(u)) = u), the affine forms for the normal-based ones.
double claimed_cdf(std::string_view name, double z, const std::vector<double>& a) {
  if (name == "laplace") {
    double t = (z - a[0]) / a[1];
    return t < 0 ? 0.5 * std::exp(t) : 1 - 0.5 * std::exp(-t);
  }
  if (name == "logistic") return 1 / (1 + std::exp(-(z - a[0]) / a[1]));
  if (name == "cauchy") return 0.5 + std::atan((z - a[0]) / a[1]) / kPi;
  if (name == "exponential") return -std::expm1(-a[0] * z);
  if (name == "uniform") return (z - a[0]) / (a[1] - a[0]);
  if (name == "weibull") return -std::expm1(-std::pow(z / a[1], a[0]));
  FAIL("no CDF for " << name);
  return 0;
}

double claimed_draw(std::string_view name, double e, const std::vector<double>& a) {
  if (name == "normal") return a[0] + a[1] * e;
  if (name == "lognormal") return std::exp(a[0] + a[1] * e);
  if (name == "half_normal") return a[0] * std::abs(e);
  FAIL("no affine form for " << name);
  return 0;
}

Args scalar_args(Env& env, const std::vector<double>& a) {
  Args out;
  for (std::size_t j = 0; j < a.size(); ++j) out.push_back(env.scalar("a" + std::to_string(j), a[j]));
  return out;
}

const std::vector<double> kL3 = {1.2, 0, 0, -0.4, 0.7, 0, 0.3, 0.5, 0.9};

}  // namespace

TEST_CASE("densities/samplers: noise kinds") {
  using K = ir::InputKind;
  for (std::string_view n : {"normal", "lognormal", "half_normal", "mvnormal_cholesky"}) {
    CHECK(entry(n).sampler.noise == K::Noise);
  }
  for (std::string_view n : {"laplace", "logistic", "cauchy", "exponential", "uniform"}) {
    CHECK(entry(n).sampler.noise == K::Uniform);
  }
}

TEST_CASE("densities/samplers: draws have the distribution's mean and variance") {
  const std::size_t n = 200000;
  std::uint64_t seed = 11;
  for (const SamplerCase& c : sampler_cases()) {
    INFO(c.name);
    const dist::Distribution& d = entry(c.name);
    Env env;
    const Node* noise = env.vec("eps", noise_for(d.sampler.noise, n, seed++), d.sampler.noise);
    const Node* z = dist::sample(d, scalar_args(env, c.args), noise);
    REQUIRE(z->shape() == noise->shape());
    std::vector<double> draws = env.eval(z);
    if (c.name == "cauchy") {  // no moments: its quartiles are mu - sigma, mu, mu + sigma
      for (double q : {-1.0, 0.0, 1.0}) {
        double below = 0;
        for (double v : draws) below += v <= c.args[0] + q * c.args[1];
        double p = 0.5 + std::atan(q) / kPi, frac = below / static_cast<double>(n);
        CHECK(std::abs(frac - p) <= 5 * std::sqrt(p * (1 - p) / static_cast<double>(n)));
      }
      continue;
    }
    Stats s = stats(draws);
    INFO("mean " << s.mean << " vs " << c.mean << ", var " << s.var << " vs " << c.var);
    CHECK(std::abs(s.mean - c.mean) <= 5 * s.mean_se());
    CHECK(std::abs(s.var - c.var) <= 5 * s.var_se());
  }
}

TEST_CASE("densities/samplers: each sampler is the inverse CDF or affine map it claims") {
  const std::vector<double> us = {1e-6, 0.01, 0.3, 0.5, 0.77, 0.999, 1 - 1e-9};
  const std::vector<double> es = {-3.5, -0.2, 0.0, 0.9, 4.0};
  for (const SamplerCase& c : sampler_cases()) {
    INFO(c.name);
    const dist::Distribution& d = entry(c.name);
    bool uniform = d.sampler.noise == ir::InputKind::Uniform;
    const std::vector<double>& noise = uniform ? us : es;
    Env env;
    std::vector<double> draws =
        env.eval(dist::sample(d, scalar_args(env, c.args), env.vec("eps", noise, d.sampler.noise)));
    for (std::size_t i = 0; i < noise.size(); ++i) {
      INFO("noise " << noise[i] << " -> " << draws[i]);
      if (uniform) {
        CHECK(near(claimed_cdf(c.name, draws[i], c.args), noise[i], 1e-8));
      } else {
        CHECK(draws[i] == doctest::Approx(claimed_draw(c.name, noise[i], c.args)).epsilon(1e-14));
      }
    }
  }
}

TEST_CASE("densities/samplers: sampler gradients at fixed noise match finite differences") {
  for (const SamplerCase& c : sampler_cases()) {
    INFO(c.name);
    const dist::Distribution& d = entry(c.name);
    Env env;
    bool uniform = d.sampler.noise == ir::InputKind::Uniform;
    std::vector<double> noise = uniform ? std::vector<double>{0.1, 0.45, 0.8} : std::vector<double>{-1.3, 0.4, 2.2};
    const Node* eps = env.vec("eps", noise, d.sampler.noise);
    // Elementwise arguments, varied per element.
    Args args;
    for (std::size_t j = 0; j < c.args.size(); ++j) {
      double v = c.args[j];
      args.push_back(env.vec("a" + std::to_string(j), {v, v * 1.1 + 0.05, v * 0.9 + 0.1}));
    }
    check_gradient(env, dist::sample(d, args, eps), args);
  }
}

TEST_CASE("densities/samplers: mvnormal_cholesky draws mu + L eps per row") {
  const std::size_t n = 200000;
  std::vector<double> mu = {0.5, -1.0, 2.0};
  Env env;
  const Node* eps = env.tensor("eps", normals(3 * n, 5), {static_cast<std::int64_t>(n), 3}, ir::InputKind::Noise);
  const Node* z = dist::sample(entry("mvnormal_cholesky"), {env.vec("mu", mu), env.tensor("L", kL3, {3, 3})}, eps);
  REQUIRE(z->shape() == eps->shape());
  std::vector<double> draws = env.eval(z);
  const std::vector<double>& e = env.b.inputs.at("eps").values;
  // Spot checks of the map itself.
  for (std::size_t r : {std::size_t{0}, std::size_t{7}, n - 1}) {
    for (std::size_t i = 0; i < 3; ++i) {
      double want = mu[i];
      for (std::size_t j = 0; j <= i; ++j) want += kL3[i * 3 + j] * e[r * 3 + j];
      CHECK(draws[r * 3 + i] == doctest::Approx(want).epsilon(1e-14));
    }
  }
  // Moments: mean mu, covariance L Lᵀ.
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double sij = 0, sii = 0, sjj = 0;
      for (std::size_t m = 0; m < 3; ++m) {
        sij += kL3[i * 3 + m] * kL3[j * 3 + m];
        sii += kL3[i * 3 + m] * kL3[i * 3 + m];
        sjj += kL3[j * 3 + m] * kL3[j * 3 + m];
      }
      double mi = 0, mj = 0, c = 0;
      for (std::size_t r = 0; r < n; ++r) mi += draws[r * 3 + i], mj += draws[r * 3 + j];
      mi /= n, mj /= n;
      for (std::size_t r = 0; r < n; ++r) c += (draws[r * 3 + i] - mi) * (draws[r * 3 + j] - mj);
      c /= n;
      INFO("entry " << i << "," << j << ": " << c << " vs " << sij);
      CHECK(std::abs(c - sij) <= 5 * std::sqrt((sii * sjj + sij * sij) / n));
      if (i == j) CHECK(std::abs(mi - mu[i]) <= 5 * std::sqrt(sii / n));
    }
  }
  // Unbatched, with the upper triangle of L ignored.
  Env one;
  std::vector<double> full = kL3;
  full[1] = 9, full[2] = -9, full[5] = 4;
  const Node* z1 = dist::sample(entry("mvnormal_cholesky"), {one.vec("mu", mu), one.tensor("L", full, {3, 3})},
                                 one.vec("eps", {0.3, -1.1, 0.6}, ir::InputKind::Noise));
  std::vector<double> got = one.eval(z1);
  for (std::size_t i = 0; i < 3; ++i) {
    double want = mu[i];
    for (std::size_t j = 0; j <= i; ++j) want += kL3[i * 3 + j] * std::vector<double>{0.3, -1.1, 0.6}[j];
    CHECK(got[i] == doctest::Approx(want).epsilon(1e-14));
  }
}

TEST_CASE("densities/samplers: mvnormal_cholesky sampler gradients") {
  Env env;
  const Node* mu = env.tensor("mu", {0.5, -1.0, 2.0, 0.1, 0.2, 0.3}, {2, 3});
  const Node* l = env.tensor("L", kL3, {3, 3});
  const Node* eps = env.tensor("eps", {0.3, -1.1, 0.6, 1.4, 0.2, -0.5}, {2, 3}, ir::InputKind::Noise);
  // A weighted sum so every entry's gradient differs.
  const Node* w = ir::mul(dist::sample(entry("mvnormal_cholesky"), {mu, l}, eps),
                          env.tensor("w", {1, -2, 3, 0.5, 1.5, -1}, {2, 3}));
  check_gradient(env, w, {mu, l});
}

TEST_CASE("densities/samplers: means and standard deviations of the guide families") {
  struct M {
    std::string name;
    std::vector<double> args;
    double mean, sd;
  };
  double lm = 0.2, ls = 0.5;
  std::vector<M> cases = {
      {"normal", {0.7, 1.3}, 0.7, 1.3},
      {"lognormal", {lm, ls}, std::exp(lm + ls * ls / 2), std::sqrt(std::expm1(ls * ls) * std::exp(2 * lm + ls * ls))},
      {"laplace", {-0.5, 1.5}, -0.5, 1.5 * std::sqrt(2.0)},
      {"logistic", {1, 0.8}, 1, 0.8 * kPi / std::sqrt(3.0)},
      {"exponential", {2.5}, 0.4, 0.4},
      {"gamma", {3, 2}, 1.5, std::sqrt(3.0) / 2},
      {"beta", {2, 3}, 0.4, std::sqrt(6.0 / (25 * 6))},
      {"uniform", {-1, 3}, 1, 4 / std::sqrt(12.0)},
      {"half_normal", {0.8}, 0.8 * std::sqrt(2 / kPi), 0.8 * std::sqrt(1 - 2 / kPi)},
      {"weibull", {1.7, 2}, 2 * std::tgamma(1 + 1 / 1.7),
       2 * std::sqrt(std::tgamma(1 + 2 / 1.7) - std::pow(std::tgamma(1 + 1 / 1.7), 2))},
  };
  for (const M& c : cases) {
    INFO(c.name);
    Env env;
    Args args = scalar_args(env, c.args);
    const Node* m = dist::mean(entry(c.name), args);
    const Node* s = dist::stddev(entry(c.name), args);
    REQUIRE((m && s));
    CHECK(env.eval1(m) == doctest::Approx(c.mean).epsilon(1e-14));
    CHECK(env.eval1(s) == doctest::Approx(c.sd).epsilon(1e-14));
  }
  Env env;
  CHECK(dist::mean(entry("cauchy"), scalar_args(env, {0, 1})) == nullptr);
  CHECK(dist::stddev(entry("cauchy"), scalar_args(env, {0, 1})) == nullptr);
  // mvnormal_cholesky: mu, and the marginal sds sqrt(diag(L Lᵀ)), per row.
  const Node* mu = env.tensor("mu", {0.5, -1.0, 2.0, 0.1, 0.2, 0.3}, {2, 3});
  Args mv = {mu, env.tensor("L", kL3, {3, 3})};
  const Node* m = dist::mean(entry("mvnormal_cholesky"), mv);
  const Node* s = dist::stddev(entry("mvnormal_cholesky"), mv);
  REQUIRE(s->shape() == mu->shape());
  CHECK(env.eval(m) == env.b.inputs.at("mu").values);
  std::vector<double> sd = env.eval(s);
  for (std::size_t r = 0; r < 2; ++r) {
    for (std::size_t i = 0; i < 3; ++i) {
      double v = 0;
      for (std::size_t j = 0; j <= i; ++j) v += kL3[i * 3 + j] * kL3[i * 3 + j];
      CHECK(sd[r * 3 + i] == doctest::Approx(std::sqrt(v)).epsilon(1e-14));
    }
  }
}

// The discrete samplers draw by inversion of uniform noise: the smallest k with F(k) >= u.
// Checked against CDFs summed here in long double, on both sides of each function's switch from
// summing the mass to Boost's quantile (rate 30, n 50), and in the tails of u.
namespace {

long double poisson_cdf(long double k, long double rate) {
  long double mass = std::exp(-rate), cdf = 0;
  for (long double j = 0; j <= k; ++j) {
    cdf += mass;
    mass *= rate / (j + 1);
  }
  return cdf;
}

long double binomial_cdf(long double k, long double n, long double p) {
  long double cdf = 0;
  for (long double j = 0; j <= k; ++j) {
    cdf += std::exp(std::lgamma(n + 1) - std::lgamma(j + 1) - std::lgamma(n - j + 1) + j * std::log(p) +
                    (n - j) * std::log1p(-p));
  }
  return cdf;
}

}  // namespace

TEST_CASE("densities/samplers: poisson, poisson_log and binomial_logit draw the inverse CDF of u") {
  const std::vector<double> us = {1e-9, 0.001, 0.1, 0.37, 0.5, 0.81, 0.99, 0.999999};
  for (double rate : {0.05, 1.0, 4.5, 29.0, 31.0, 250.0}) {
    for (double u : us) {
      double k = ir::special::poisson_quantile(u, rate);
      INFO("rate " << rate << " u " << u << " -> " << k);
      REQUIRE(k >= 0);
      CHECK(k == std::floor(k));
      // Within rounding of the CDF: F(k) >= u and F(k - 1) < u.
      CHECK(poisson_cdf(k, rate) >= u - 1e-12);
      if (k > 0) CHECK(poisson_cdf(k - 1, rate) < u + 1e-12);
    }
  }
  for (double n : {1.0, 10.0, 49.0, 51.0, 400.0}) {
    for (double p : {0.02, 0.5, 0.93}) {
      for (double u : us) {
        double k = ir::special::binomial_quantile(u, n, p);
        INFO("n " << n << " p " << p << " u " << u << " -> " << k);
        REQUIRE(k >= 0);
        REQUIRE(k <= n);
        CHECK(binomial_cdf(k, n, p) >= u - 1e-12);
        if (k > 0) CHECK(binomial_cdf(k - 1, n, p) < u + 1e-12);
      }
    }
  }
  // Outside the domain: NaN, never an exception; the edges exact.
  CHECK(std::isnan(ir::special::poisson_quantile(0.5, -1)));
  CHECK(std::isnan(ir::special::binomial_quantile(0.5, 2.5, 0.3)));
  CHECK(ir::special::poisson_quantile(0.5, 0) == 0);
  CHECK(ir::special::binomial_quantile(0.2, 7, 1) == 7);

  // Through the registry's samplers: the draws' mean and variance.
  const std::size_t n = 200000;
  struct Case {
    std::string name;
    std::vector<double> args;
    double mean, var;
  };
  const double p = 1 / (1 + std::exp(-0.4));
  for (const Case& c : std::vector<Case>{{"poisson", {3.2}, 3.2, 3.2},
                                         {"poisson", {55}, 55, 55},
                                         {"poisson_log", {0.7}, std::exp(0.7), std::exp(0.7)},
                                         {"binomial_logit", {12, 0.4}, 12 * p, 12 * p * (1 - p)}}) {
    INFO(c.name << " " << c.args[0]);
    const dist::Distribution& d = entry(c.name);
    REQUIRE(static_cast<bool>(d.sampler.fn));
    CHECK(d.sampler.noise == ir::InputKind::Uniform);
    Env env;
    const Node* u = env.vec("u", noise_for(d.sampler.noise, n, 23), d.sampler.noise);
    std::vector<double> draws = env.eval(dist::sample(d, scalar_args(env, c.args), u));
    Stats s = stats(draws);
    INFO("mean " << s.mean << " vs " << c.mean << ", var " << s.var << " vs " << c.var);
    CHECK(std::abs(s.mean - c.mean) <= 5 * s.mean_se());
    CHECK(std::abs(s.var - c.var) <= 5 * s.var_se());
  }
}

TEST_CASE("densities/samplers: binomial, neg_binomial_2(_log) and half_cauchy draws") {
  // neg_binomial_2's quantile against its CDF summed here, on both sides of the switch to Boost.
  auto nb_cdf = [](long double k, long double mu, long double phi) {
    long double q = mu / (mu + phi), mass = std::pow(1 - q, phi), cdf = 0;
    for (long double j = 0; j <= k; ++j) {
      cdf += mass;
      mass *= (j + phi) / (j + 1) * q;
    }
    return cdf;
  };
  for (double mu : {0.3, 4.0, 60.0, 900.0}) {
    for (double phi : {0.05, 1.0, 25.0}) {
      for (double u : {1e-6, 0.2, 0.5, 0.93, 0.999999}) {
        double k = ir::special::neg_binomial_2_quantile(u, mu, phi);
        INFO("mu " << mu << " phi " << phi << " u " << u << " -> " << k);
        REQUIRE(k >= 0);
        CHECK(k == std::floor(k));
        CHECK(nb_cdf(k, mu, phi) >= u - 1e-9);
        if (k > 0) CHECK(nb_cdf(k - 1, mu, phi) < u + 1e-9);
      }
    }
  }
  CHECK(std::isnan(ir::special::neg_binomial_2_quantile(0.5, 1, 0)));
  CHECK(ir::special::neg_binomial_2_quantile(0.5, 0, 2) == 0);

  const std::size_t n = 200000;
  struct Case {
    std::string name;
    std::vector<double> args;
    double mean, var;
  };
  for (const Case& c : std::vector<Case>{{"binomial", {20, 0.3}, 6, 4.2},
                                         {"neg_binomial_2", {4.5, 2}, 4.5, 4.5 + 4.5 * 4.5 / 2},
                                         {"neg_binomial_2_log", {std::log(40.0), 5}, 40, 40 + 1600.0 / 5}}) {
    INFO(c.name);
    const dist::Distribution& d = entry(c.name);
    REQUIRE(static_cast<bool>(d.sampler.fn));
    Env env;
    const Node* u = env.vec("u", noise_for(d.sampler.noise, n, 31), d.sampler.noise);
    std::vector<double> draws = env.eval(dist::sample(d, scalar_args(env, c.args), u));
    for (std::size_t i = 0; i < 100; ++i) CHECK(draws[i] == std::floor(draws[i]));
    Stats s = stats(draws);
    INFO("mean " << s.mean << " vs " << c.mean << ", var " << s.var << " vs " << c.var);
    CHECK(std::abs(s.mean - c.mean) <= 5 * s.mean_se());
    CHECK(std::abs(s.var - c.var) <= 5 * s.var_se());
  }
  // half_cauchy: the inverse of its CDF (2/pi) atan(x / sigma), and its quartiles.
  Env env;
  const std::vector<double> us = {1e-6, 0.25, 0.5, 0.75, 0.999};
  std::vector<double> z = env.eval(dist::sample(entry("half_cauchy"), {env.scalar("s", 1.7)}, env.vec("u", us, ir::InputKind::Uniform)));
  for (std::size_t i = 0; i < us.size(); ++i) CHECK(near(2 / kPi * std::atan(z[i] / 1.7), us[i], 1e-10));
}

TEST_CASE("densities/samplers: student_t and half_student_t draw their inverse CDFs") {
  // The t quantile: symmetric, its known values (t_1 is Cauchy: tan(pi (u - 1/2)); t_2:
  // (2u - 1) / sqrt(2u(1 - u))), and NaN outside the domain.
  for (double u : {0.01, 0.2, 0.5, 0.9, 0.999}) {
    CHECK(ir::special::student_t_quantile(u, 1) == doctest::Approx(std::tan(kPi * (u - 0.5))).epsilon(1e-12));
    CHECK(ir::special::student_t_quantile(u, 2) == doctest::Approx((2 * u - 1) / std::sqrt(2 * u * (1 - u))).epsilon(1e-12));
    CHECK(ir::special::student_t_quantile(1 - u, 7.5) == doctest::Approx(-ir::special::student_t_quantile(u, 7.5)).epsilon(1e-12));
  }
  CHECK(std::isnan(ir::special::student_t_quantile(0.5, 0)));
  // Its log CDF (student_t_lcdf, the tails of truncated priors) at the same known forms, far into
  // the lower tail, and its derivative in nu against a wide central difference.
  for (double t : {-1e6, -30.0, -2.5, 0.0, 0.7, 12.0}) {
    CHECK(ir::special::student_t_log_cdf(t, 1) == doctest::Approx(std::log(std::atan2(1.0, -t) / kPi)).epsilon(1e-12));
    CHECK(ir::special::student_t_log_cdf(t, 2) ==
          doctest::Approx(std::log(0.5 + t / (2 * std::sqrt(2 + t * t)))).epsilon(t < -1e5 ? 1e-6 : 1e-12));
    double h = 1e-4, nu = 4.5;
    double fd = (ir::special::student_t_log_cdf(t, nu + h) - ir::special::student_t_log_cdf(t, nu - h)) / (2 * h);
    CHECK(ir::special::student_t_log_cdf_dnu(t, nu) == doctest::Approx(fd).epsilon(1e-6));
  }
  CHECK(std::isnan(ir::special::student_t_log_cdf(0.5, -1)));
  const std::size_t n = 200000;
  Env env;
  const Node* u = env.vec("u", noise_for(ir::InputKind::Uniform, n, 41), ir::InputKind::Uniform);
  std::vector<double> t = env.eval(dist::sample(entry("student_t"), scalar_args(env, {6, 1, 2}), u));
  Stats s = stats(t);
  CHECK(std::abs(s.mean - 1) <= 5 * s.mean_se());
  CHECK(std::abs(s.var - 4 * 6.0 / 4) <= 5 * s.var_se());
  // half_student_t(3, 1.5): its median is 1.5 t_3^-1(3/4) = 1.5 * 0.7648923...
  std::vector<double> h = env.eval(dist::sample(entry("half_student_t"), scalar_args(env, {3, 1.5}), u));
  double below = 0;
  for (double v : h) {
    CHECK(v >= 0);
    below += v <= 1.5 * 0.76489232804;
  }
  CHECK(std::abs(below / static_cast<double>(n) - 0.5) <= 5 * std::sqrt(0.25 / static_cast<double>(n)));
}

TEST_CASE("densities/samplers: gamma, inv_gamma, beta, dirichlet, categorical_logit and ordered_logistic draw forwards") {
  const std::size_t n = 200000;
  Env env;
  const Node* u = env.vec("u", noise_for(ir::InputKind::Uniform, n, 77), ir::InputKind::Uniform);
  auto moments = [&](std::string_view name, const std::vector<double>& args, double mean, double var) {
    INFO(name);
    const dist::Distribution& d = entry(name);
    REQUIRE(static_cast<bool>(d.sampler.fn));
    CHECK(d.sampler.noise == ir::InputKind::Uniform);
    Stats s = stats(env.eval(dist::sample(d, scalar_args(env, args), u)));
    INFO("mean " << s.mean << " vs " << mean << ", var " << s.var << " vs " << var);
    CHECK(std::abs(s.mean - mean) <= 5 * s.mean_se());
    CHECK(std::abs(s.var - var) <= 5 * s.var_se());
  };
  moments("gamma", {2.5, 4}, 2.5 / 4, 2.5 / 16);
  moments("gamma", {0.3, 1}, 0.3, 0.3);  // shape below 1: mass near 0
  moments("inv_gamma", {5, 2}, 2.0 / 4, 4.0 / (16 * 3));
  moments("beta", {2, 5}, 2.0 / 7, 10.0 / (49 * 8));
  // The inverse CDF at known points: Gamma(1, 1) is Exp(1); Beta(1, 1) is uniform, Beta(2, 1) is √u.
  for (double p : {1e-6, 0.2, 0.5, 0.93}) {
    CHECK(ir::special::gamma_quantile(p, 1) == doctest::Approx(-std::log1p(-p)).epsilon(1e-12));
    CHECK(ir::special::beta_quantile(p, 1, 1) == doctest::Approx(p).epsilon(1e-12));
    CHECK(ir::special::beta_quantile(p, 2, 1) == doctest::Approx(std::sqrt(p)).epsilon(1e-12));
  }
  CHECK(std::isnan(ir::special::gamma_quantile(0.5, 0)));
  CHECK(std::isnan(ir::special::beta_quantile(1.5, 1, 1)));
  // Dirichlet(1, 2, 3): on the simplex, means alpha / 6.
  {
    const std::size_t rows = 40000;
    Env e;
    const Node* uk = e.tensor("u", noise_for(ir::InputKind::Uniform, rows * 3, 78), {static_cast<std::int64_t>(rows), 3});
    std::vector<double> x = e.eval(dist::sample(entry("dirichlet"), {e.vec("alpha", {1, 2, 3})}, uk));
    double m[3] = {0, 0, 0};
    for (std::size_t r = 0; r < rows; ++r) {
      CHECK(x[3 * r] + x[3 * r + 1] + x[3 * r + 2] == doctest::Approx(1).epsilon(1e-12));
      for (int k = 0; k < 3; ++k) m[k] += x[3 * r + static_cast<std::size_t>(k)] / static_cast<double>(rows);
    }
    for (int k = 0; k < 3; ++k) CHECK(std::abs(m[k] - (k + 1) / 6.0) < 0.005);
  }
  // categorical_logit(log p) and ordered_logistic: category frequencies.
  auto frequencies = [&](const Node* draws, std::size_t k) {
    std::vector<double> f(k, 0);
    for (double v : env.eval(draws)) {
      REQUIRE(v >= 0);
      REQUIRE(v < static_cast<double>(k));
      f[static_cast<std::size_t>(v)] += 1.0 / static_cast<double>(n);
    }
    return f;
  };
  const std::vector<double> p = {0.2, 0.5, 0.3};
  std::vector<double> fc = frequencies(
      dist::sample(entry("categorical_logit"), {env.vec("logits", {std::log(0.2) + 3, std::log(0.5) + 3, std::log(0.3) + 3})}, u), 3);
  for (std::size_t k = 0; k < 3; ++k) CHECK(std::abs(fc[k] - p[k]) <= 5 * std::sqrt(p[k] * (1 - p[k]) / n));
  auto sigmoid = [](double z) { return 1 / (1 + std::exp(-z)); };
  const double eta = 0.4;
  const std::vector<double> c = {-1.0, 0.5, 2.0};
  std::vector<double> fo = frequencies(dist::sample(entry("ordered_logistic"), {env.scalar("eta", eta), env.vec("c", c)}, u), 4);
  std::vector<double> s = {1, sigmoid(eta - c[0]), sigmoid(eta - c[1]), sigmoid(eta - c[2]), 0};
  for (std::size_t k = 0; k < 4; ++k) {
    double q = s[k] - s[k + 1];
    CHECK(std::abs(fo[k] - q) <= 5 * std::sqrt(q * (1 - q) / n));
  }
}
