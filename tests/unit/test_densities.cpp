// The lowered log densities (lower/densities.hpp): every entry of sema's table has one; each
// matches an independent scalar formula (extreme but valid inputs included), is normalised
// (quadrature or a sum over the support) and has symbolic gradients that match finite
// differences. Samplers and moments: test_densities_samplers.cpp; KLs: test_densities_kl.cpp.
#include <limits>
#include <map>
#include <sstream>

#include "ir/special.hpp"
#include "test_densities_helpers.hpp"

using namespace densities_test;

namespace {

double log1pexp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// Independent scalar log densities, written from the textbook pdfs.
double reference(std::string_view name, double x, const std::vector<double>& a) {
  auto z = [&](double mu, double s) { return (x - mu) / s; };
  if (name == "normal") return -0.5 * std::log(2 * kPi * a[1] * a[1]) - 0.5 * std::pow(z(a[0], a[1]), 2);
  if (name == "lognormal") {
    double lz = (std::log(x) - a[0]) / a[1];
    return -std::log(x * a[1] * std::sqrt(2 * kPi)) - 0.5 * lz * lz;
  }
  if (name == "laplace") return -std::log(2 * a[1]) - std::abs(x - a[0]) / a[1];
  if (name == "logistic") {
    double t = z(a[0], a[1]);
    return -t - std::log(a[1]) - 2 * log1pexp(-t);
  }
  if (name == "cauchy") return -std::log(kPi * a[1]) - std::log1p(std::pow(z(a[0], a[1]), 2));
  if (name == "student_t") {
    double nu = a[0], t = z(a[1], a[2]);
    return std::lgamma((nu + 1) / 2) - std::lgamma(nu / 2) - 0.5 * std::log(nu * kPi) -
           std::log(a[2]) - (nu + 1) / 2 * std::log1p(t * t / nu);
  }
  if (name == "exponential") return std::log(a[0]) - a[0] * x;
  if (name == "gamma") {
    return a[0] * std::log(a[1]) - std::lgamma(a[0]) + (a[0] - 1) * std::log(x) - a[1] * x;
  }
  if (name == "beta") {
    return std::lgamma(a[0] + a[1]) - std::lgamma(a[0]) - std::lgamma(a[1]) +
           (a[0] - 1) * std::log(x) + (a[1] - 1) * std::log1p(-x);
  }
  if (name == "uniform") return -std::log(a[1] - a[0]);
  if (name == "half_normal") return std::log(2.0) + reference("normal", x, {0.0, a[0]});
  if (name == "weibull") {  // Stan's: alpha / sigma (x / sigma)^(alpha − 1) exp(−(x / sigma)^alpha)
    double k = a[0], s = a[1];
    return std::log(k / s) + (k - 1) * std::log(x / s) - std::pow(x / s, k);
  }
  if (name == "bernoulli") return x * std::log(a[0]) + (1 - x) * std::log1p(-a[0]);
  if (name == "bernoulli_logit") return -x * log1pexp(-a[0]) - (1 - x) * log1pexp(a[0]);
  if (name == "poisson") return x * std::log(a[0]) - a[0] - std::lgamma(x + 1);
  if (name == "poisson_log") return reference("poisson", x, {std::exp(a[0])});
  if (name == "binomial_logit") {
    double n = a[0];
    double log_choose = std::lgamma(n + 1) - std::lgamma(x + 1) - std::lgamma(n - x + 1);
    return log_choose - x * log1pexp(-a[1]) - (n - x) * log1pexp(a[1]);
  }
  if (name == "binomial") {
    double n = a[0], p = a[1];
    return std::lgamma(n + 1) - std::lgamma(x + 1) - std::lgamma(n - x + 1) + x * std::log(p) + (n - x) * std::log1p(-p);
  }
  if (name == "neg_binomial_2") {  // Stan: C(x + phi - 1, x) (mu / (mu + phi))^x (phi / (mu + phi))^phi
    double mu = a[0], phi = a[1];
    return std::lgamma(x + phi) - std::lgamma(x + 1) - std::lgamma(phi) + x * std::log(mu / (mu + phi)) +
           phi * std::log(phi / (mu + phi));
  }
  if (name == "neg_binomial_2_log") return reference("neg_binomial_2", x, {std::exp(a[0]), a[1]});
  if (name == "half_cauchy") return std::log(2.0) + reference("cauchy", x, {0.0, a[0]});
  if (name == "half_student_t") return std::log(2.0) + reference("student_t", x, {a[0], 0.0, a[1]});
  if (name == "inv_gamma") {
    double alpha = a[0], beta = a[1];
    return alpha * std::log(beta) - std::lgamma(alpha) - (alpha + 1) * std::log(x) - beta / x;
  }
  FAIL("no reference for " << name);
  return 0;
}

// Rows of {x, args...} per elementwise distribution: typical points and extreme valid ones.
const std::map<std::string, std::vector<std::vector<double>>>& points() {
  static const std::map<std::string, std::vector<std::vector<double>>> p = {
      {"normal", {{0.3, 0.1, 1.2}, {-2.5, 1, 0.5}, {1 + 2e-8, 1, 1e-8}, {3e7, -1e8, 1e8}, {50, 0, 1}}},
      {"lognormal", {{0.5, 0, 1}, {20, 2, 0.3}, {1e-10, -20, 1}, {1e10, 23, 0.01}}},
      {"laplace", {{0.3, -0.2, 0.7}, {-5, 1, 1e-3}, {1e6, 0, 1e6}}},
      {"logistic", {{0.3, 0.1, 2}, {-40, 0, 1}, {-700, 0, 1}, {500, 0, 2}}},
      {"cauchy", {{0.3, 0, 1}, {1e8, 0, 1e-3}, {-3, 2, 5}}},
      {"student_t", {{0.3, 3, 0, 1}, {-10, 1.5, 2, 0.5}, {1e4, 30, 0, 2}, {1, 1e4, 0, 1}}},
      {"exponential", {{0.5, 2}, {1e-8, 1e3}, {1e5, 1e-4}}},
      {"gamma", {{0.5, 2, 3}, {1e-6, 0.5, 1}, {50, 30, 0.7}}},
      {"beta", {{0.3, 2, 5}, {1e-6, 0.5, 0.5}, {0.999999, 3, 0.8}}},
      {"uniform", {{0.3, 0, 1}, {5, -10, 20}}},
      {"half_normal", {{0.3, 1}, {1e-8, 1e-6}, {1e3, 1e4}}},
      {"weibull", {{0.5, 1.5, 2}, {3, 0.7, 1}, {1e-6, 2, 0.5}, {40, 5, 30}, {2e4, 1, 1e4}}},
      {"bernoulli", {{1, 0.3}, {0, 0.3}, {0.25, 0.6}, {1, 1e-12}}},
      {"bernoulli_logit", {{1, 50}, {0, 50}, {1, -50}, {0, -50}, {0.3, 2}, {1, 0}}},
      {"poisson", {{3, 2.5}, {0, 1e-3}, {100, 90}}},
      {"poisson_log", {{3, 0.9}, {0, -10}, {1000, 7}}},
      {"binomial_logit", {{3, 10, 0.2}, {0, 5, -3}, {20, 20, 4}, {7, 50, -1}}},
      {"binomial", {{3, 10, 0.2}, {0, 5, 0.01}, {20, 20, 0.97}, {7, 50, 0.5}}},
      {"neg_binomial_2", {{3, 2.5, 1.5}, {0, 0.1, 0.5}, {40, 30, 200}, {7, 4, 1e-2}}},
      {"neg_binomial_2_log", {{3, 0.9, 1.5}, {0, -5, 2}, {400, 6, 3}}},
      {"half_cauchy", {{0.3, 1}, {1e-8, 2}, {1e6, 0.5}}},
      {"half_student_t", {{0.3, 3, 1}, {1e-8, 1.5, 2}, {1e4, 30, 0.5}}},
      {"inv_gamma", {{0.5, 2, 3}, {1e-3, 0.5, 1e-3}, {50, 3, 0.7}}},
  };
  return p;
}

// Σ-form reference for the multivariate normal: Σ = L Lᵀ, Gaussian elimination for Σ⁻¹d and
// log det Σ.
double mvnormal_reference(const std::vector<double>& x, const std::vector<double>& mu,
                          const std::vector<double>& l, std::size_t k) {
  std::vector<double> s(k * k, 0.0), d(k);
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < k; ++j)
      for (std::size_t m = 0; m <= std::min(i, j); ++m) s[i * k + j] += l[i * k + m] * l[j * k + m];
  for (std::size_t i = 0; i < k; ++i) d[i] = x[i] - mu[i];
  std::vector<double> a = s, y = d;
  double logdet = 0;
  for (std::size_t c = 0; c < k; ++c) {
    logdet += std::log(std::abs(a[c * k + c]));
    for (std::size_t r = c + 1; r < k; ++r) {
      double f = a[r * k + c] / a[c * k + c];
      for (std::size_t j = c; j < k; ++j) a[r * k + j] -= f * a[c * k + j];
      y[r] -= f * y[c];
    }
  }
  std::vector<double> sol(k);
  for (std::size_t c = k; c-- > 0;) {
    double v = y[c];
    for (std::size_t j = c + 1; j < k; ++j) v -= a[c * k + j] * sol[j];
    sol[c] = v / a[c * k + c];
  }
  double quad = 0;
  for (std::size_t i = 0; i < k; ++i) quad += d[i] * sol[i];
  return -0.5 * static_cast<double>(k) * std::log(2 * kPi) - 0.5 * logdet - 0.5 * quad;
}

const std::vector<double> kL3 = {1.2, 0, 0, -0.4, 0.7, 0, 0.3, 0.5, 0.9};

}  // namespace

TEST_CASE("densities: every registry entry's IR parts build") {
  for (const dist::Distribution& d : dist::distributions()) {
    INFO(d.name);
    Env env;
    const Node* x = env.vec("x", {0.5, 0.5});
    Args args;
    if (d.shape == dist::ShapeRule::MvNormal) {
      args = {env.vec("mu", {0, 0}), env.tensor("L", {1, 0, 0, 1}, {2, 2})};
    } else if (d.shape == dist::ShapeRule::Vector) {
      args = {env.vec("alpha", {1, 2})};
    } else if (d.shape == dist::ShapeRule::CorrCholesky) {
      x = env.tensor("L", {1, 0, 0.6, 0.8}, {2, 2});
      args = {env.scalar("eta", 2)};
    } else if (d.shape == dist::ShapeRule::Categorical) {
      x = env.vec("x", {1, 0});
      args = {env.tensor("logits", {0, 0, 0, 0, 0, 0}, {2, 3})};
    } else {
      for (std::size_t i = 0; i < d.arity(); ++i) args.push_back(env.vec("a" + std::to_string(i), {1, 1}));
    }
    CHECK_NOTHROW(dist::log_density(d, x, args));
    if (d.reparam() == dist::Reparam::Yes) {
      const Node* noise = env.vec("e", {0.5, 0.5});
      CHECK_NOTHROW(dist::sample(d, args, noise));
      bool has_moments = d.name != "cauchy" && d.name != "half_cauchy";  // no mean, no variance
      CHECK((dist::mean(d, args) != nullptr) == has_moments);
      CHECK((dist::stddev(d, args) != nullptr) == has_moments);
    }
  }
  // Every KL partner names a distribution of the registry, once.
  for (const dist::Distribution& q : dist::distributions()) {
    for (const dist::KlPartner& p : q.kl) {
      CHECK(dist::find(p.prior) != nullptr);
      CHECK(q.kl_with(p.prior) == &p);
    }
  }
}

TEST_CASE("densities: elementwise log densities match the textbook formulas") {
  for (const auto& [name, rows] : points()) {
    const dist::Distribution& d = entry(name);
    Env env;
    const Node* x = columns(env, rows, 0, 1, "x")[0];
    Args args = columns(env, rows, 1, d.arity());
    std::vector<double> got = env.eval(dist::log_density(d, x, args));
    REQUIRE(got.size() == rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      std::vector<double> a(rows[i].begin() + 1, rows[i].end());
      double want = reference(name, rows[i][0], a);
      INFO(name << " at x = " << rows[i][0] << ": " << got[i] << " vs " << want);
      CHECK(std::isfinite(got[i]));
      CHECK(std::abs(got[i] - want) <= 1e-10 * std::max(1.0, std::abs(want)));
    }
  }
}

TEST_CASE("densities: bernoulli_logit is finite and exact at logits of +-50") {
  Env env;
  const Node* x = env.vec("x", {1, 0, 1, 0});
  const Node* l = env.vec("l", {50, 50, -50, -50});
  std::vector<double> got = env.eval(dist::log_density(entry("bernoulli_logit"), x, {l}));
  CHECK(near(got[0], -std::exp(-50.0), 1e-12));
  CHECK(near(got[1], -50.0, 1e-15));
  CHECK(near(got[2], -50.0, 1e-15));
  CHECK(near(got[3], -std::exp(-50.0), 1e-12));
}

TEST_CASE("densities: scalar arguments broadcast to the value's shape") {
  Env env;
  const Node* x = env.vec("x", {0.2, 0.4, 0.6});
  const Node* lp = dist::log_density(entry("uniform"), x, {env.scalar("lo", 0), env.scalar("hi", 2)});
  CHECK(lp->shape() == x->shape());
  for (double v : env.eval(lp)) CHECK(v == doctest::Approx(-std::log(2.0)));
  const Node* ln = dist::log_density(entry("normal"), x, {env.scalar("mu", 0), env.scalar("s", 1)});
  CHECK(ln->shape() == x->shape());
  CHECK(env.eval(ln)[1] == doctest::Approx(reference("normal", 0.4, {0, 1})));
}

TEST_CASE("densities: categorical_logit is log_softmax at the label") {
  Env env;
  std::vector<double> logits = {0.5, -1, 2, 0, 30, -30, 1, 2, -700, 0, 700, 1};
  const Node* x = env.vec("x", {2, 0, 1});
  const Node* lg = env.tensor("logits", logits, {3, 4});
  const Node* lp = dist::log_density(entry("categorical_logit"), x, {lg});
  REQUIRE(lp->shape() == x->shape());
  std::vector<double> got = env.eval(lp);
  int labels[] = {2, 0, 1};
  for (int r = 0; r < 3; ++r) {
    const double* row = &logits[r * 4];
    double m = *std::max_element(row, row + 4), s = 0;
    for (int k = 0; k < 4; ++k) s += std::exp(row[k] - m);
    double want = row[labels[r]] - m - std::log(s);
    INFO("row " << r);
    CHECK(got[r] == doctest::Approx(want).epsilon(1e-13));
  }
  // Unbatched: a scalar label and logits [K].
  Env one;
  const Node* lp1 = dist::log_density(entry("categorical_logit"), one.scalar("x", 3),
                                       {one.vec("logits", {0.5, -1, 2, 0})});
  CHECK(lp1->is_scalar());
  CHECK(one.eval1(lp1) == doctest::Approx(got[0] - 2));  // logit 0 instead of 2, same row
}

TEST_CASE("densities: mvnormal_cholesky matches the covariance form, batched and not") {
  std::vector<double> xs = {0.3, -1.0, 2.0, 1.5, 0.2, -0.7};
  std::vector<double> mus = {0.1, 0.2, 0.3, -0.5, 0.0, 0.4};
  Env env;
  const Node* x = env.tensor("x", xs, {2, 3});
  const Node* mu = env.tensor("mu", mus, {2, 3});
  const Node* l = env.tensor("L", kL3, {3, 3});
  const Node* lp = dist::log_density(entry("mvnormal_cholesky"), x, {mu, l});
  REQUIRE(lp->shape() == shape_of({2}));
  std::vector<double> got = env.eval(lp);
  for (std::size_t r = 0; r < 2; ++r) {
    std::vector<double> xr(xs.begin() + 3 * r, xs.begin() + 3 * r + 3);
    std::vector<double> mr(mus.begin() + 3 * r, mus.begin() + 3 * r + 3);
    CHECK(got[r] == doctest::Approx(mvnormal_reference(xr, mr, kL3, 3)).epsilon(1e-12));
  }
  // No batch axis, and mu given as a scalar.
  Env one;
  const Node* lp1 = dist::log_density(entry("mvnormal_cholesky"), one.vec("x", {0.3, -1.0, 2.0}),
                                       {one.scalar("mu", 0.5), one.tensor("L", kL3, {3, 3})});
  CHECK(lp1->is_scalar());
  CHECK(one.eval1(lp1) ==
        doctest::Approx(mvnormal_reference({0.3, -1.0, 2.0}, {0.5, 0.5, 0.5}, kL3, 3)).epsilon(1e-12));
  // Two batch axes.
  Env two;
  const Node* lp2 = dist::log_density(entry("mvnormal_cholesky"), two.tensor("x", xs, {2, 1, 3}),
                                       {two.tensor("mu", mus, {2, 1, 3}), two.tensor("L", kL3, {3, 3})});
  REQUIRE(lp2->shape() == shape_of({2, 1}));
  std::vector<double> got2 = two.eval(lp2);
  CHECK(got2[0] == doctest::Approx(got[0]).epsilon(1e-14));
  CHECK(got2[1] == doctest::Approx(got[1]).epsilon(1e-14));
}

TEST_CASE("densities: multi_normal(mu, Sigma) is mvnormal_cholesky(mu, L) for Sigma = L L', and draws mu + L eps") {
  // Sigma from kL3 (lower-triangular, positive diagonal); junk above Sigma's diagonal is not read.
  std::vector<double> sigma(9);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += kL3[static_cast<std::size_t>(r * 3 + k)] * kL3[static_cast<std::size_t>(c * 3 + k)];
      sigma[static_cast<std::size_t>(r * 3 + c)] = c > r ? 99.0 : s;
    }
  std::vector<double> xs = {0.3, -1.0, 2.0, 1.5, 0.2, -0.7};
  Env env;
  const Node* x = env.tensor("x", xs, {2, 3});
  const Node* mu = env.vec("mu", {0.1, 0.2, 0.3});
  std::vector<double> got = env.eval(dist::log_density(entry("multi_normal"), x, {mu, env.tensor("Sigma", sigma, {3, 3})}));
  for (std::size_t r = 0; r < 2; ++r) {
    std::vector<double> xr(xs.begin() + 3 * static_cast<long>(r), xs.begin() + 3 * static_cast<long>(r) + 3);
    CHECK(got[r] == doctest::Approx(mvnormal_reference(xr, {0.1, 0.2, 0.3}, kL3, 3)).epsilon(1e-12));
  }
  Env draw;
  const Node* e = draw.vec("e", {0.5, -1.0, 2.0});
  std::vector<double> z = draw.eval(dist::sample(entry("multi_normal"), {draw.scalar("mu", 1.0), draw.tensor("Sigma", sigma, {3, 3})}, e));
  const std::vector<double> eps = {0.5, -1.0, 2.0};
  for (std::size_t r = 0; r < 3; ++r) {
    double want = 1.0;
    for (std::size_t k = 0; k < 3; ++k) want += kL3[r * 3 + k] * eps[k];
    CHECK(z[r] == doctest::Approx(want).epsilon(1e-12));
  }
}

TEST_CASE("densities: lkj_corr_cholesky is (1 - r^2)^(eta - 1) normalised at K = 2, and integrates to one at K = 3") {
  // K = 2: L = [[1, 0], [r, sqrt(1 - r²)]]; the density of r is (1 − r²)^(η − 1) / (2^(2η − 1) B(η, η)).
  for (double eta : {0.7, 1.0, 2.5}) {
    Env env;
    for (double r : {-0.9, 0.1, 0.6}) {
      const Node* lp = dist::log_density(entry("lkj_corr_cholesky"), env.tensor("L", {1, 0, r, std::sqrt(1 - r * r)}, {2, 2}),
                                         {env.scalar("eta", eta)});
      double log_beta = 2 * std::lgamma(eta) - std::lgamma(2 * eta);
      double want = (eta - 1) * std::log1p(-r * r) - (2 * eta - 1) * std::log(2.0) - log_beta;
      CHECK(env.eval1(lp) == doctest::Approx(want).epsilon(1e-12));
    }
  }
  // K = 3 over the canonical partial correlations z ∈ (−1, 1)³ (L10 = z0, L20 = z1,
  // L21 = z2 sqrt(1 − z1²)): ∫ p(L(z)) |dL/dz| dz = 1, |dL/dz| = sqrt(1 − z1²).
  const int n = 36;  // one density per grid point (the value is one matrix): 46,656 evaluations
  std::vector<double> ls, jac;
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      for (int c = 0; c < n; ++c) {
        double z0 = -1 + 2 * (a + 0.5) / n, z1 = -1 + 2 * (b + 0.5) / n, z2 = -1 + 2 * (c + 0.5) / n;
        double l21 = z2 * std::sqrt(1 - z1 * z1);
        ls.insert(ls.end(), {1, 0, 0, z0, std::sqrt(1 - z0 * z0), 0, z1, l21, std::sqrt(1 - z1 * z1 - l21 * l21)});
        jac.push_back(std::sqrt(1 - z1 * z1) * 8.0 / (static_cast<double>(n) * n * n));
      }
  double mass = 0;
  for (std::size_t i = 0; i < jac.size(); ++i) {
    Env one;
    std::vector<double> m(ls.begin() + static_cast<long>(9 * i), ls.begin() + static_cast<long>(9 * i + 9));
    mass += std::exp(one.eval1(dist::log_density(entry("lkj_corr_cholesky"), one.tensor("L", m, {3, 3}), {one.scalar("eta", 1.8)}))) * jac[i];
  }
  CHECK(mass == doctest::Approx(1).epsilon(5e-3));
}

TEST_CASE("densities: von_mises integrates to one over a period; log I_0 and I_1 / I_0 at known values") {
  for (double kappa : {0.01, 1.0, 8.0, 700.0}) {
    const int n = 20000;
    std::vector<double> xs;
    for (int i = 0; i < n; ++i) xs.push_back(0.3 - kPi + 2 * kPi * (i + 0.5) / n);  // any period
    Env env;
    std::vector<double> lp = env.eval(dist::log_density(entry("von_mises"), env.vec("x", xs), {env.scalar("mu", 0.3), env.scalar("k", kappa)}));
    double mass = 0;
    for (double v : lp) mass += std::exp(v) * 2 * kPi / n;
    INFO("kappa " << kappa);
    CHECK(mass == doctest::Approx(1).epsilon(1e-6));
  }
  using namespace vmc::ir::special;
  CHECK(log_bessel_i0(0) == 0);
  CHECK(bessel_i1_over_i0(0) == 0);
  CHECK(bessel_i1_over_i0(1e-8) == doctest::Approx(0.5e-8).epsilon(1e-9));
  CHECK(std::exp(log_bessel_i0(1)) == doctest::Approx(1.2660658777520082).epsilon(1e-14));  // I_0(1)
  CHECK(bessel_i1_over_i0(1) == doctest::Approx(0.5651591039924851 / 1.2660658777520082).epsilon(1e-14));
  CHECK(log_bessel_i0(-3) == log_bessel_i0(3));
  CHECK(bessel_i1_over_i0(-3) == -bessel_i1_over_i0(3));
  // The asymptotic series takes over at 500 without a step.
  CHECK(log_bessel_i0(500 - 1e-12) == doctest::Approx(log_bessel_i0(500 + 1e-12)).epsilon(1e-14));
  CHECK(bessel_i1_over_i0(500 - 1e-9) == doctest::Approx(bessel_i1_over_i0(500 + 1e-9)).epsilon(1e-14));
  CHECK(std::isfinite(log_bessel_i0(1e6)));
}

TEST_CASE("densities: dirichlet is the Beta at K = 2, its formula at K = 3, batched, and integrates to one") {
  Env env;
  // Two vectors on the 2-simplex: Beta(a0, a1) at x0.
  const Node* lp = dist::log_density(entry("dirichlet"), env.tensor("x", {0.3, 0.7, 0.9, 0.1}, {2, 2}),
                                     {env.vec("alpha", {2.5, 0.7})});
  REQUIRE(lp->shape() == shape_of({2}));
  std::vector<double> got = env.eval(lp);
  auto beta_lpdf = [](double x, double a, double b) {
    return std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + (a - 1) * std::log(x) + (b - 1) * std::log1p(-x);
  };
  CHECK(got[0] == doctest::Approx(beta_lpdf(0.3, 2.5, 0.7)).epsilon(1e-12));
  CHECK(got[1] == doctest::Approx(beta_lpdf(0.9, 2.5, 0.7)).epsilon(1e-12));
  // K = 3 with a scalar (symmetric) alpha: lgamma(3a) - 3 lgamma(a) + (a - 1) Σ log x.
  Env three;
  const Node* lp3 = dist::log_density(entry("dirichlet"), three.vec("x", {0.2, 0.5, 0.3}), {three.scalar("a", 1.7)});
  CHECK(lp3->is_scalar());
  double want = std::lgamma(5.1) - 3 * std::lgamma(1.7) + 0.7 * (std::log(0.2) + std::log(0.5) + std::log(0.3));
  CHECK(three.eval1(lp3) == doctest::Approx(want).epsilon(1e-12));
  // Over the 3-simplex (x0, x1 on a midpoint grid of the triangle, x2 = 1 - x0 - x1): mass 1.
  const int n = 800;
  std::vector<double> xs;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; i + j < n - 1; ++j) {
      double x0 = (i + 0.5) / n, x1 = (j + 0.5) / n;
      xs.insert(xs.end(), {x0, x1, 1 - x0 - x1});
    }
  }
  Env grid;
  std::int64_t rows = static_cast<std::int64_t>(xs.size() / 3);
  std::vector<double> dens = grid.eval(dist::log_density(entry("dirichlet"), grid.tensor("x", xs, {rows, 3}),
                                                         {grid.vec("alpha", {2.0, 3.0, 1.5})}));
  double mass = 0;
  for (double v : dens) mass += std::exp(v) / (static_cast<double>(n) * n);
  CHECK(mass == doctest::Approx(1).epsilon(2e-3));
}

TEST_CASE("densities: continuous densities integrate to one") {
  enum Map { Real, Positive, Unit, Interval };
  struct Case {
    std::string name;
    std::vector<double> args;
    Map map;
    double centre, scale;
  };
  const std::vector<Case> cases = {
      {"normal", {0.7, 1.3}, Real, 0.7, 1.3},       {"normal", {-3, 1e-3}, Real, -3, 1e-3},
      {"lognormal", {0.4, 0.6}, Positive, 0, 1.5},  {"laplace", {0.5, 2}, Real, 0.5, 2},
      {"logistic", {-1, 0.4}, Real, -1, 0.4},       {"cauchy", {2, 0.5}, Real, 2, 0.5},
      {"student_t", {3, 1, 2}, Real, 1, 2},         {"student_t", {1.5, 0, 1}, Real, 0, 1},
      {"exponential", {2.5}, Positive, 0, 0.4},     {"gamma", {2.5, 1.5}, Positive, 0, 1.7},
      {"gamma", {1, 0.3}, Positive, 0, 3},          {"beta", {2, 5}, Unit, 0, 1},
      {"beta", {1.5, 1.2}, Unit, 0, 1},             {"uniform", {-1, 3}, Interval, 0, 1},
      {"half_normal", {0.8}, Positive, 0, 0.8},      {"weibull", {1.5, 2}, Positive, 0, 2},
      {"weibull", {0.8, 0.5}, Positive, 0, 0.5},
      {"half_cauchy", {1.5}, Positive, 0, 1.5},     {"inv_gamma", {3, 2}, Positive, 0, 1},
      {"half_student_t", {3, 1.2}, Positive, 0, 1.2},
      {"inv_gamma", {1.5, 0.5}, Positive, 0, 0.5},
  };
  const std::size_t n = 400000;
  for (const Case& c : cases) {
    std::vector<double> xs(n), jac(n);
    for (std::size_t i = 0; i < n; ++i) {
      double u = (static_cast<double>(i) + 0.5) / static_cast<double>(n);  // midpoints of (0, 1)
      switch (c.map) {
        case Real: {  // x = c + s t / (1 − t²), t ∈ (−1, 1)
          double t = 2 * u - 1, w = 1 - t * t;
          xs[i] = c.centre + c.scale * t / w;
          jac[i] = 2 * c.scale * (1 + t * t) / (w * w);
          break;
        }
        case Positive:  // x = s u / (1 − u)
          xs[i] = c.scale * u / (1 - u);
          jac[i] = c.scale / ((1 - u) * (1 - u));
          break;
        case Unit: xs[i] = u, jac[i] = 1; break;
        case Interval: xs[i] = c.args[0] + (c.args[1] - c.args[0]) * u, jac[i] = c.args[1] - c.args[0]; break;
      }
    }
    Env env;
    Args args;
    for (std::size_t j = 0; j < c.args.size(); ++j) args.push_back(env.scalar("a" + std::to_string(j), c.args[j]));
    std::vector<double> lp = env.eval(dist::log_density(entry(c.name), env.vec("x", xs), args));
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += std::exp(lp[i]) * jac[i];
    total /= static_cast<double>(n);
    INFO(c.name << ": " << total);
    CHECK(total == doctest::Approx(1.0).epsilon(2e-5));
  }
}

TEST_CASE("densities: mvnormal_cholesky integrates to one in two dimensions") {
  const std::int64_t g = 500;
  std::vector<double> xs, jac;
  for (std::int64_t i = 0; i < g; ++i) {
    for (std::int64_t j = 0; j < g; ++j) {
      double w = 1;
      for (std::int64_t idx : {i, j}) {
        double t = 2 * ((static_cast<double>(idx) + 0.5) / g) - 1, v = 1 - t * t;
        xs.push_back(3 * t / v);
        w *= 2 * 3 * (1 + t * t) / (v * v) / static_cast<double>(g);
      }
      jac.push_back(w);
    }
  }
  Env env;
  const Node* x = env.tensor("x", xs, {g * g, 2});
  const Node* lp = dist::log_density(entry("mvnormal_cholesky"), x,
                                      {env.vec("mu", {0.3, -0.2}), env.tensor("L", {1.1, 0, -0.6, 0.8}, {2, 2})});
  std::vector<double> v = env.eval(lp);
  double total = 0;
  for (std::size_t i = 0; i < v.size(); ++i) total += std::exp(v[i]) * jac[i];
  CHECK(total == doctest::Approx(1.0).epsilon(1e-4));
}

TEST_CASE("densities: ordered_logistic is the difference of logistic CDFs at the cutpoints, sums to one") {
  auto sigmoid = [](double z) { return 1 / (1 + std::exp(-z)); };
  const std::vector<double> c = {-1.0, 0.5, 2.0};
  for (double eta : {0.3, -2.0, 35.0, -35.0}) {
    Env env;
    // y = 0 ... 3, each with the same eta (a batch of four).
    const Node* lp = dist::log_density(entry("ordered_logistic"), env.vec("y", {0, 1, 2, 3}),
                                       {env.scalar("eta", eta), env.vec("c", c)});
    REQUIRE(lp->shape() == shape_of({4}));
    std::vector<double> got = env.eval(lp);
    std::vector<double> s = {1, sigmoid(eta - c[0]), sigmoid(eta - c[1]), sigmoid(eta - c[2]), 0};
    double total = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      double want = std::log(s[k] - s[k + 1]);
      INFO("eta " << eta << " y " << k);
      // Far in a tail the reference's own difference cancels; the density stays finite.
      if (std::isfinite(want) && s[k] - s[k + 1] > 1e-12) CHECK(got[k] == doctest::Approx(want).epsilon(1e-10));
      CHECK(std::isfinite(got[k]));
      total += std::exp(got[k]);
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("densities: discrete densities sum to one over the support") {
  auto total = [](std::string_view name, std::vector<double> support, std::vector<double> args) {
    Env env;
    Args a;
    for (std::size_t j = 0; j < args.size(); ++j) a.push_back(env.scalar("a" + std::to_string(j), args[j]));
    double s = 0;
    for (double v : env.eval(dist::log_density(entry(name), env.vec("x", support), a))) s += std::exp(v);
    return s;
  };
  auto range = [](int n) {
    std::vector<double> r;
    for (int i = 0; i <= n; ++i) r.push_back(i);
    return r;
  };
  CHECK(total("bernoulli", {0, 1}, {0.3}) == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(total("bernoulli_logit", {0, 1}, {-2.3}) == doctest::Approx(1.0).epsilon(1e-14));
  CHECK(total("poisson", range(200), {3.5}) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(total("poisson_log", range(300), {std::log(40.0)}) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(total("binomial_logit", range(12), {12, 0.7}) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(total("binomial", range(12), {12, 0.3}) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(total("binomial", range(4), {4, 0}) == doctest::Approx(1.0).epsilon(1e-14));  // the edges: all mass at 0
  CHECK(total("binomial", range(4), {4, 1}) == doctest::Approx(1.0).epsilon(1e-14));  // ... at n
  CHECK(total("neg_binomial_2", range(3000), {4.5, 0.8}) == doctest::Approx(1.0).epsilon(1e-10));
  CHECK(total("neg_binomial_2_log", range(400), {std::log(20.0), 30}) == doctest::Approx(1.0).epsilon(1e-12));
  Env env;
  const Node* lp = dist::log_density(entry("categorical_logit"), env.vec("x", {0, 1, 2, 3, 4}),
                                      {env.tensor("logits", std::vector<double>(5, 0.0), {5, 5})});
  double s = 0;
  // Row r's label is r: with every row's logits equal, each is log(1/5).
  for (double v : env.eval(lp)) s += std::exp(v);
  CHECK(s == doctest::Approx(1.0).epsilon(1e-14));
  Env env2;
  const Node* lp2 = dist::log_density(entry("categorical_logit"), env2.vec("x", {0, 1, 2, 3}),
                                       {env2.vec("logits", {0.3, -2, 1.7, 0.1})});
  double s2 = 0;
  for (double v : env2.eval(lp2)) s2 += std::exp(v);
  CHECK(s2 == doctest::Approx(1.0).epsilon(1e-14));
}

TEST_CASE("densities: log density gradients match finite differences") {
  // Away from kinks: laplace's points keep x off mu.
  for (const auto& [name, all_rows] : points()) {
    const dist::Distribution& d = entry(name);
    std::vector<std::vector<double>> rows;
    for (const auto& r : all_rows) {
      bool extreme = false;
      for (double v : r) extreme |= std::abs(v) > 1e3 || (v != 0 && std::abs(v) < 1e-5);
      extreme |= name == "beta" && r[0] > 0.99;  // a step would leave the support
      if (!extreme) rows.push_back(r);
    }
    if (name == "uniform") rows = {{0.3, -0.5, 1.5}, {0.1, 0, 2}};
    INFO(name);
    Env env;
    const Node* x = columns(env, rows, 0, 1, "x")[0];
    Args args = columns(env, rows, 1, d.arity());
    std::vector<const Node*> wrt = args;
    // x too: every formula here is smooth in x, the discrete ones included (lgamma(x + 1)).
    wrt.push_back(x);
    check_gradient(env, dist::log_density(d, x, args), wrt);
  }
  SUBCASE("mvnormal_cholesky") {
    Env env;
    const Node* x = env.tensor("x", {0.3, -1.0, 2.0, 1.5, 0.2, -0.7}, {2, 3});
    const Node* mu = env.tensor("mu", {0.1, 0.2, 0.3, -0.5, 0.0, 0.4}, {2, 3});
    const Node* l = env.tensor("L", kL3, {3, 3});
    check_gradient(env, dist::log_density(entry("mvnormal_cholesky"), x, {mu, l}), {x, mu, l});
    Env one;
    const Node* x1 = one.vec("x", {0.3, -1.0, 2.0});
    const Node* mu1 = one.vec("mu", {0.1, 0.2, 0.3});
    const Node* l1 = one.tensor("L", kL3, {3, 3});
    check_gradient(one, dist::log_density(entry("mvnormal_cholesky"), x1, {mu1, l1}), {x1, mu1, l1});
  }
  SUBCASE("categorical_logit") {
    Env env;
    const Node* logits = env.tensor("logits", {0.5, -1, 2, 0, 3, -3, 1, 2}, {2, 4});
    const Node* x = env.vec("x", {2, 1});
    check_gradient(env, dist::log_density(entry("categorical_logit"), x, {logits}), {logits});
  }
}

TEST_CASE("densities: batch axes known only at run time") {
  // A minibatch axis M: mvnormal_cholesky (density, sampler, KL) and categorical_logit.
  Env env;
  ir::Extent m = ir::Extent::runtime(env.g.symbol("M"));
  ir::Extent k = ir::Extent::constant(3);
  env.b.sizes["M"] = 2;
  auto bind = [&](const std::string& name, std::vector<double> v, ir::Shape s, Dims dims) {
    env.b.inputs[name] = ir::Tensor{std::move(dims), std::move(v)};
    return ir::input(env.g, name, ir::InputKind::Param, std::move(s));
  };
  std::vector<double> xs = {0.3, -1.0, 2.0, 1.5, 0.2, -0.7};
  const Node* x = bind("x", xs, {m, k}, {2, 3});
  const Node* l = env.tensor("L", kL3, {3, 3});
  const dist::Distribution& mv = entry("mvnormal_cholesky");
  const Node* lp = dist::log_density(mv, x, {env.vec("mu", {0.1, 0.2, 0.3}), l});
  REQUIRE(lp->shape() == ir::Shape{m});
  std::vector<double> got = env.eval(lp);
  CHECK(got[1] == doctest::Approx(mvnormal_reference({1.5, 0.2, -0.7}, {0.1, 0.2, 0.3}, kL3, 3)).epsilon(1e-12));
  const Node* z = dist::sample(mv, {env.scalar("zero", 0), l}, x);
  REQUIRE(z->shape() == x->shape());
  CHECK(env.eval(z)[4] == doctest::Approx(-0.4 * 1.5 + 0.7 * 0.2).epsilon(1e-14));
  const Node* kl = dist::kl_divergence(mv, {x, l}, entry("normal"), {env.scalar("m0", 0), env.scalar("s1", 1)});
  REQUIRE(kl->shape() == ir::Shape{m});
  CHECK(env.eval(kl).size() == 2);
  const Node* labels = bind("y", {2, 0}, {m}, {2});
  const Node* cat = dist::log_density(entry("categorical_logit"), labels, {x});
  REQUIRE(cat->shape() == ir::Shape{m});
  std::vector<double> c = env.eval(cat);
  CHECK(c[0] == doctest::Approx(2.0 - std::log(std::exp(0.3) + std::exp(-1.0) + std::exp(2.0))).epsilon(1e-13));
  CHECK(c[1] == doctest::Approx(1.5 - std::log(std::exp(1.5) + std::exp(0.2) + std::exp(-0.7))).epsilon(1e-13));
}

TEST_CASE("densities: extreme values and arguments give finite or -inf log densities, never NaN or +inf") {
  // Every elementwise distribution at the edges of its support and of its parameters' ranges
  // (0, 1, tiny, huge, both signs), every combination: a log density is finite there, or −∞
  // where the density underflows; NaN or +∞ would poison a whole minibatch's bound.
  const std::vector<double> real = {-1e300, -1e8, -1, 0, 1e-300, 1, 1e8, 1e300};
  const std::vector<double> positive = {1e-300, 1e-8, 1, 1e8, 1e300};
  const std::vector<double> unit = {1e-300, 1e-8, 0.5, 1 - 1e-16};
  const std::vector<double> probability = {0, 1e-300, 0.5, 1 - 1e-16, 1};
  auto values_of = [&](dist::Support s) -> std::vector<double> {
    switch (s) {
      case dist::Support::Positive: return positive;
      case dist::Support::UnitInterval: return unit;
      case dist::Support::Binary: return {0, 1};
      case dist::Support::Count: return {0, 1, 7, 1e6};
      case dist::Support::BoundedCount: return {0, 1, 5};
      case dist::Support::Interval: return {0, 0.25, 1};
      default: return real;
    }
  };
  auto args_of = [&](const dist::Distribution& d, std::size_t i) -> std::vector<double> {
    std::string_view p = d.params[i].name;
    if (d.name == "uniform") return i == 0 ? std::vector<double>{0} : std::vector<double>{1};
    if ((d.name == "binomial_logit" || d.name == "binomial") && i == 0) return {5, 1e6};
    if (p == "p") return probability;
    if (d.params[i].support == dist::Support::Positive) return positive;
    return real;  // mu, logit, log_rate, ...
  };
  int checked = 0;
  for (const dist::Distribution& d : dist::distributions()) {
    if (d.shape != dist::ShapeRule::Broadcast) continue;
    // Every combination of x and the arguments, one row each.
    std::vector<std::vector<double>> rows = {{}};
    auto extend = [&](const std::vector<double>& options) {
      std::vector<std::vector<double>> next;
      for (const auto& r : rows) {
        for (double v : options) {
          next.push_back(r);
          next.back().push_back(v);
        }
      }
      rows = std::move(next);
    };
    extend(values_of(d.support));
    for (std::size_t i = 0; i < d.arity(); ++i) extend(args_of(d, i));
    Env env;
    const Node* x = columns(env, rows, 0, 1, "x")[0];
    std::vector<double> got = env.eval(dist::log_density(d, x, columns(env, rows, 1, d.arity())));
    REQUIRE(got.size() == rows.size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::ostringstream where;
      where << d.name << "(x = " << rows[r][0];
      for (std::size_t i = 1; i < rows[r].size(); ++i) where << ", " << d.params[i - 1].name << " = " << rows[r][i];
      where << ") = " << got[r];
      INFO(where.str());
      CHECK(!std::isnan(got[r]));
      CHECK(got[r] != std::numeric_limits<double>::infinity());
      ++checked;
    }
  }
  MESSAGE(checked, " extreme points checked");
  // The Bernoulli edges exactly: p = 0 or 1 (a sigmoid that underflowed) at the matching value
  // is certain (log 1 = 0), at the other impossible.
  Env env;
  const Node* x = env.vec("x", {0, 1, 1, 0});
  std::vector<double> got = env.eval(dist::log_density(entry("bernoulli"), x, {env.vec("p", {0, 0, 1, 1})}));
  CHECK(got[0] == 0);
  CHECK(got[1] == -std::numeric_limits<double>::infinity());
  CHECK(got[2] == 0);
  CHECK(got[3] == -std::numeric_limits<double>::infinity());
}

TEST_CASE("densities: categorical_logit and mvnormal_cholesky at extreme arguments: finite or -inf, never NaN") {
  // Logits of ±1e300 (log_softmax must not form inf − inf) and Cholesky factors with diagonals
  // from 1e-300 to 1e300 at values up to ±1e300.
  {
    Env env;
    std::vector<double> logits = {1e300, -1e300, 0, -1e300, -1e300, -1e300, 1e300, 1e300, 1e300};
    const Node* x = env.vec("x", {0, 1, 2});
    std::vector<double> got =
        env.eval(dist::log_density(entry("categorical_logit"), x, {env.tensor("logits", logits, {3, 3})}));
    CHECK(got[0] == 0);                 // the label holds all the mass
    CHECK(got[1] == doctest::Approx(-std::log(3.0)));  // three equal logits, however large
    CHECK(got[2] == doctest::Approx(-std::log(3.0)));
  }
  for (double d : {1e-300, 1e-8, 1.0, 1e8, 1e300}) {
    for (double v : {0.0, 1e-300, 1.0, 1e300, -1e300}) {
      Env env;
      const Node* x = env.vec("x", {v, -v});
      const Node* mu = env.vec("mu", {0, 0});
      const Node* l = env.tensor("L", {d, 0, 0.5 * d, d}, {2, 2});
      double got = env.eval1(dist::log_density(entry("mvnormal_cholesky"), x, {mu, l}));
      INFO("mvnormal_cholesky(x = ±" << v << ", L diagonal " << d << ") = " << got);
      CHECK(!std::isnan(got));
      CHECK(got != std::numeric_limits<double>::infinity());
    }
  }
}

TEST_CASE("densities: a prior's mass within a latent's bounds is its density's integral over them") {
  // What lowering subtracts from the log density of a prior on a latent declared with bounds
  // inside the prior's support (the truncated density; dist::log_mass_within, from each entry's
  // tails), against midpoint quadrature of the entry's own density over the bounds.
  struct Case {
    std::string name;
    std::vector<double> args;
    std::optional<double> lower, upper;
    double scale;  // of the map onto a half-line
  };
  const std::vector<Case> cases = {
      {"normal", {0.7, 1.3}, 0.0, std::nullopt, 1.3},   {"normal", {-2, 0.5}, 0.0, std::nullopt, 0.5},
      {"normal", {1, 2}, std::nullopt, 0.5, 2},          {"normal", {1, 2}, -1.0, 2.5, 1},
      {"normal", {8, 1}, 0.0, std::nullopt, 1},          {"cauchy", {0.5, 1.5}, 0.0, std::nullopt, 1.5},
      {"cauchy", {-1, 0.3}, -2.0, 3.0, 1},                {"logistic", {0.2, 0.7}, 0.0, std::nullopt, 0.7},
      {"logistic", {0.2, 0.7}, -1.0, 1.0, 1},            {"laplace", {1, 0.7}, 0.0, std::nullopt, 0.7},
      {"laplace", {-1, 0.7}, 0.0, std::nullopt, 0.7},    {"laplace", {0.5, 2}, -1.0, 0.0, 1},
      {"laplace", {0.5, 2}, std::nullopt, 2.0, 2},       {"lognormal", {0.4, 0.6}, 1.0, std::nullopt, 1.5},
      {"lognormal", {0.4, 0.6}, std::nullopt, 2.0, 1},   {"exponential", {2.5}, 0.3, std::nullopt, 0.4},
      {"exponential", {2.5}, 0.3, 1.0, 1},               {"half_normal", {0.8}, 0.5, std::nullopt, 0.8},
      {"half_normal", {0.8}, std::nullopt, 1.0, 1},      {"weibull", {1.5, 2}, 1.0, std::nullopt, 2},
      {"weibull", {0.8, 0.5}, 0.2, 3.0, 1},
      {"half_cauchy", {1.5}, 0.5, std::nullopt, 1.5},    {"half_cauchy", {0.7}, std::nullopt, 2.0, 1},
      {"student_t", {3, 0.5, 1.5}, 0.0, std::nullopt, 1.5}, {"student_t", {1.5, -1, 0.3}, -2.0, 3.0, 1},
      {"student_t", {30, 2, 0.5}, std::nullopt, 1.0, 0.5},  {"half_student_t", {3, 1.5}, 0.5, std::nullopt, 1.5},
      {"half_student_t", {2.5, 0.7}, std::nullopt, 2.0, 1},
  };
  const std::size_t n = 400000;
  for (const Case& c : cases) {
    const dist::Distribution& d = entry(c.name);
    REQUIRE(static_cast<bool>(d.tails.log_cdf));
    REQUIRE(dist::cuts_support(d, c.lower, c.upper));
    const bool positive = d.support == dist::Support::Positive;
    std::vector<double> xs(n), jac(n);
    for (std::size_t i = 0; i < n; ++i) {
      double u = (static_cast<double>(i) + 0.5) / static_cast<double>(n);
      if (c.lower && c.upper) {
        xs[i] = *c.lower + (*c.upper - *c.lower) * u, jac[i] = *c.upper - *c.lower;
      } else if (c.lower) {
        xs[i] = *c.lower + c.scale * u / (1 - u), jac[i] = c.scale / ((1 - u) * (1 - u));
      } else if (positive) {
        xs[i] = *c.upper * u, jac[i] = *c.upper;
      } else {
        xs[i] = *c.upper - c.scale * u / (1 - u), jac[i] = c.scale / ((1 - u) * (1 - u));
      }
    }
    Env env;
    Args args;
    for (std::size_t j = 0; j < c.args.size(); ++j) args.push_back(env.scalar("a" + std::to_string(j), c.args[j]));
    std::vector<double> lp = env.eval(dist::log_density(d, env.vec("x", xs), args));
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) total += std::exp(lp[i]) * jac[i];
    total /= static_cast<double>(n);
    const Node* like = env.scalar("like", 0);
    double mass = std::exp(env.eval(dist::log_mass_within(d, args, like, c.lower, c.upper)).at(0));
    INFO(c.name << " lower " << c.lower.value_or(NAN) << " upper " << c.upper.value_or(NAN) << ": quadrature "
                << total << ", tails " << mass);
    CHECK(mass == doctest::Approx(total).epsilon(5e-5));
  }
  // Bounds at the support's own (half_normal on <lower=0>) or an interval's do not cut it.
  CHECK(!dist::cuts_support(entry("half_normal"), 0.0, std::nullopt));
  CHECK(!dist::cuts_support(entry("uniform"), 0.0, 1.0));
  CHECK(!dist::cuts_support(entry("normal"), std::nullopt, std::nullopt));
  CHECK(!static_cast<bool>(entry("gamma").tails.log_cdf));  // sema warns for it (test_lower_values.cpp)
}
