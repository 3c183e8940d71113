// The language of issue 23, lowered: `~` on any expression of data (slices, a scaled element, a
// slice of a plate's copy), Stan's density functions in `target +=` (_lpdf, _lpmf, _lcdf, _lccdf,
// summing over a vector), and vars with assignments. The objective's value against a reference
// written here in plain loops, and its gradients against finite differences of the interpreter.
#include <cmath>
#include <numbers>

#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {


double normal_lcdf(double x, double mu, double sigma) {
  return std::log(0.5 * std::erfc(-(x - mu) / sigma / std::sqrt(2.0)));
}
double normal_lccdf(double x, double mu, double sigma) {
  return std::log(0.5 * std::erfc((x - mu) / sigma / std::sqrt(2.0)));
}
double lognormal_lpdf(double x, double mu, double sigma) { return normal_lpdf(std::log(x), mu, sigma) - std::log(x); }
double poisson_lpmf(double k, double rate) { return k * std::log(rate) - rate - std::lgamma(k + 1); }

}  // namespace

// Also compiled by test_jit_differential.cpp ("the language of issue 23").
extern const char* const kLanguageModel;
const char* const kLanguageModel = R"(model language;
dims { N; T; }
data { y : real[T]; k : int<lower=0>[T]; X : real[N, 3]; g : int<lower=0, upper=2>[N]; }
latent { mu : real; sigma : real<lower=0>; a : real[3]; }
param { m : real; ls : real init -1; sm : real; ss : real init -1; am : real[3]; }
model {
  mu ~ normal(0, 5);
  sigma ~ lognormal(0, 1);
  a ~ normal(0, 1);
  y[5:] ~ normal(mu, sigma);
  y[0:2] ~ normal(mu + a[0:2], sigma);
  2 * y[4] ~ normal(mu, sigma);
  target += normal_lpdf(y[2:5] | mu, sigma);
  target += normal_lcdf(y[0] | mu, sigma) + normal_lccdf(y[1] | mu, 2 * sigma);
  target += poisson_lpmf(k | exp(mu / 4));
  var s = 0.0;
  s = s + mu;
  s = s * sigma;
  target += -square(s);
  plate i in N {
    var t = a[g[i]];
    t = t + 1;
    X[i, 1:] ~ normal(t, sigma);
  }
}
guide {
  mu ~ normal(m, exp(ls));
  sigma ~ lognormal(sm, exp(ss));
  a ~ normal(am, 1);
}
)";

TEST_CASE("lower values: '~' on expressions of data, density functions and vars") {
  constexpr std::int64_t T = 8;
  for (auto est : {Estimator::A, Estimator::B}) {
    Compiled c(kLanguageModel, sema_options({{"T", T}}), lower_options(est));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      ir::Bindings b = c.synthetic(seed, 5, 5, 0.7);
      const std::vector<double>& y = in(b, "y");
      const std::vector<double>& k = in(b, "k");
      const std::vector<double>& X = in(b, "X");
      const std::vector<double>& g = in(b, "g");
      double m = in1(b, "m"), smu = std::exp(in1(b, "ls")), sm = in1(b, "sm"), ssig = std::exp(in1(b, "ss"));
      double mu = m + smu * in1(b, "eps.mu");
      double sigma = std::exp(sm + ssig * in1(b, "eps.sigma"));
      double a[3];
      double ref = normal_lpdf(mu, 0, 5) - normal_lpdf(mu, m, smu) + lognormal_lpdf(sigma, 0, 1) -
                   lognormal_lpdf(sigma, sm, ssig);
      for (int j = 0; j < 3; ++j) {
        a[j] = in(b, "am")[j] + in(b, "eps.a")[j];
        ref += normal_lpdf(a[j], 0, 1) - normal_lpdf(a[j], in(b, "am")[j], 1);
      }
      for (std::int64_t t = 5; t < T; ++t) ref += normal_lpdf(y[t], mu, sigma);
      for (int t = 0; t < 2; ++t) ref += normal_lpdf(y[t], mu + a[t], sigma);
      ref += normal_lpdf(2 * y[4], mu, sigma);
      for (int t = 2; t < 5; ++t) ref += normal_lpdf(y[t], mu, sigma);
      ref += normal_lcdf(y[0], mu, sigma) + normal_lccdf(y[1], mu, 2 * sigma);
      for (std::int64_t t = 0; t < T; ++t) ref += poisson_lpmf(k[t], std::exp(mu / 4));
      ref += -std::pow((0 + mu) * sigma, 2);
      std::int64_t n = b.sizes.at("N");
      for (std::int64_t i = 0; i < n; ++i) {
        double t = a[static_cast<int>(g[i])] + 1;
        for (int j = 1; j < 3; ++j) ref += normal_lpdf(X[i * 3 + j], t, sigma);
      }
      // Under B, mu's and a's log-ratios are −KL (normal ‖ normal): compare A only by value.
      if (est != Estimator::A) continue;
      double value = eval1(c.output("elbo"), b);
      CHECK_MESSAGE(near(value, ref, 1e-10, 1e-12), "seed ", seed, ": elbo ", value, ", reference ", ref);
    }
  }
}

TEST_CASE("lower gradients: '~' on expressions of data, density functions and vars") {
  for (auto est : {Estimator::A, Estimator::B, Estimator::Stl}) {
    for (std::uint64_t seed : {1u, 2u}) {
      GradCheckSummary s = compile_and_check(kLanguageModel, "language of issue 23", sema_options({{"T", 8}}), est, 1,
                                             seed, 0.7);
      CHECK(s.checked > 0);
      CHECK(s.bad == 0);
    }
  }
}

TEST_CASE("lower: sample_model cannot draw data from a '~' on an expression of it") {
  Compiled c(kLanguageModel, sema_options({{"T", 8}}), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  CHECK(c.l().model_draws.empty());
  CHECK(c.l().sample_model_problem.find("'y[5:] ~ ...'") != std::string::npos);
}

// Bounds that are expressions of data and earlier latents: the automatic guide's bijection onto
// (lo, hi) computed at each draw, and its log-Jacobian in log q.
extern const char* const kBoundsModel;
const char* const kBoundsModel = R"(model bounds;
dims { N; }
data { y : real[N]; c : real<lower=1>; }
latent {
  a : real<lower=0, upper=1>;
  b : real<lower=0, upper=1 - a>;
  s : real<lower=a * c>;
}
model {
  y ~ normal(a + b, s);
}
)";

TEST_CASE("lower values: bounds that are expressions of data and earlier latents") {
  for (auto est : {Estimator::A, Estimator::B}) {
    Compiled c(kBoundsModel, sema_options({}, "meanfield"), lower_options(est));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      ir::Bindings bind = c.synthetic(seed, 5, 5, 0.7);
      double data_c = in1(bind, "c");
      // In the guide's frame: u = center + e^unit (loc + e^scale ε).
      auto draw = [&](const std::string& name, double& u) {
        double unit = in1(bind, name + ".unit");
        double loc = in1(bind, name + ".center") + std::exp(unit) * in1(bind, name + ".loc");
        double scale = std::exp(unit + in1(bind, name + ".scale"));
        u = loc + scale * in1(bind, "eps." + name);
        return normal_lpdf(u, loc, scale);
      };
      auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
      double ua, ub, us;
      double lq = draw("a", ua) + draw("b", ub) + draw("s", us);
      double a = sigmoid(ua);                       // (0, 1)
      lq -= std::log(sigmoid(ua) * (1 - sigmoid(ua)));
      double width = 1 - a;                         // (0, 1 - a)
      double b = width * sigmoid(ub);
      lq -= std::log(width * sigmoid(ub) * (1 - sigmoid(ub)));
      double s = a * data_c + std::exp(us);         // (a c, inf)
      lq -= us;
      double lp = 0;
      for (double y : in(bind, "y")) lp += normal_lpdf(y, a + b, s);
      CHECK_MESSAGE(near(eval1(c.output("elbo"), bind), lp - lq, 1e-10, 1e-12), "seed ", seed);
    }
  }
}

TEST_CASE("lower gradients: bounds that are expressions of data and earlier latents") {
  for (auto est : {Estimator::A, Estimator::Stl}) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      GradCheckSummary s = compile_and_check(kBoundsModel, "expression bounds", sema_options({}, "meanfield"), est, 1,
                                             seed, 0.7);
      CHECK(s.checked == 12);  // loc, scale, center and unit of 3 latents
      CHECK(s.bad == 0);
    }
  }
}
