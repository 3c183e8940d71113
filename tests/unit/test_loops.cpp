// Loops (`for t in a:b { ... }`, vars carried across iterations): a loop's objective and gradient
// equal those of the same model unrolled by hand, its gradient equals finite differences of the
// interpreter, and its IR does not grow with the trip count (one loop node, whatever T is).
#include <cmath>
#include <numbers>

#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

// GARCH(1,1), as in Stan's example models: sigma[t] from the previous one.
std::string garch(bool unrolled, int T) {
  std::string text = R"(model garch11;
dims { T; }
data { y : real[T]; sigma1 : real<lower=0>; }
latent { mu : real; alpha0 : real<lower=0>; alpha1 : real<lower=0, upper=1>; beta1 : real<lower=0, upper=1>; }
model {
  mu ~ normal(0, 10);
  alpha0 ~ normal(0, 1);
  alpha1 ~ uniform(0, 1);
  beta1 ~ uniform(0, 1);
)";
  if (!unrolled) {
    text += R"(  var sigma = sigma1;
  for t in 1:T {
    sigma = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma));
    y[t] ~ normal(mu, sigma);
  }
)";
  } else {
    std::string previous = "sigma1";
    for (int t = 1; t < T; ++t) {
      std::string s = "s" + std::to_string(t);
      text += "  let " + s + " = sqrt(alpha0 + alpha1 * square(y[" + std::to_string(t - 1) + "] - mu) + beta1 * square(" +
              previous + "));\n  y[" + std::to_string(t) + "] ~ normal(mu, " + s + ");\n";
      previous = s;
    }
  }
  return text + "}\n";  // the guide: --guide meanfield
}

sema::Options garch_options(std::int64_t T) { return sema_options({{"T", T}}, "meanfield"); }

// AR(K) with K from the data: a loop nested in a loop whose bound it reads.
std::string ar(bool unrolled, int T, int K) {
  std::string text = R"(model ar;
dims { T; }
data { K : int<lower=1, upper=3>; y : real[T]; }
latent { alpha : real; beta : real[3]; sigma : real<lower=0>; }
param { al : real; all : real init -1; bl : real[3]; bll : real[3] init -1; sl : real; sll : real init -1; }
model {
  alpha ~ normal(0, 10);
  beta ~ normal(0, 1);
  sigma ~ lognormal(0, 1);
)";
  if (!unrolled) {
    text += R"(  for t in K:T {
    var m = alpha;
    for k in 0:K {
      m = m + beta[k] * y[t - k - 1];
    }
    y[t] ~ normal(m, sigma);
  }
)";
  } else {
    for (int t = K; t < T; ++t) {
      std::string m = "alpha";
      for (int k = 0; k < K; ++k) m += " + beta[" + std::to_string(k) + "] * y[" + std::to_string(t - k - 1) + "]";
      text += "  y[" + std::to_string(t) + "] ~ normal(" + m + ", sigma);\n";
    }
  }
  text += R"(}
guide {
  alpha ~ normal(al, exp(all));
  beta ~ normal(bl, exp(bll));
  sigma ~ lognormal(sl, exp(sll));
}
)";
  return text;
}

// A loop inside a subsampled plate, per copy: a dot product written as a recurrence, and a
// target += of a density function inside the loop.
std::string per_copy(bool unrolled) {
  std::string text = R"(model per_copy;
dims { N; D = 3; }
data { X : real[N, D]; y : real[N]; }
latent { w : real[D]; }
param { wl : real[D]; wll : real[D] init -1; }
model {
  w ~ normal(0, 1);
  plate i in N subsample {
)";
  if (!unrolled) {
    text += R"(    var s = 0.0;
    for d in 0:D {
      s = s + w[d] * X[i, d];
      target += normal_lpdf(X[i, d] | w[d], 2);
    }
    y[i] ~ normal(s, 1);
)";
  } else {
    text += "    y[i] ~ normal(w[0] * X[i, 0] + w[1] * X[i, 1] + w[2] * X[i, 2], 1);\n";
    for (int d = 0; d < 3; ++d) {
      text += "    target += normal_lpdf(X[i, " + std::to_string(d) + "] | w[" + std::to_string(d) + "], 2);\n";
    }
  }
  text += R"(  }
}
guide {
  w ~ normal(wl, exp(wll));
}
)";
  return text;
}

// The loop form's and the unrolled form's elbo and gradients at the same inputs.
void check_same(const std::string& loop, const std::string& unrolled, const sema::Options& so, Estimator::Ref est,
                std::uint64_t seed, const std::string& label, const std::map<std::string, double>& scalars = {}) {
  Compiled a(loop, so, lower_options(est));
  Compiled b(unrolled, so, lower_options(est));
  REQUIRE_MESSAGE(a.ok(), a.messages());
  REQUIRE_MESSAGE(b.ok(), b.messages());
  ir::Bindings bind = a.synthetic(seed, 6, 4, 0.7);
  for (const auto& [name, v] : scalars) bind.inputs[name] = ir::Tensor::scalar(v);
  double va = eval1(a.output("elbo"), bind), vb = eval1(b.output("elbo"), bind);
  CHECK_MESSAGE(near(va, vb, 1e-11, 1e-12), label, ": loop ", va, ", unrolled ", vb);
  for (const lower::ParamInput& p : a.l().params) {
    ir::Tensor ga = ir::evaluate(a.output("grad." + p.name), bind);
    ir::Tensor gb = ir::evaluate(b.output("grad." + p.name), bind);
    REQUIRE(ga.values.size() == gb.values.size());
    for (std::size_t k = 0; k < ga.values.size(); ++k) {
      CHECK_MESSAGE(near(ga.values[k], gb.values[k], 1e-10, 1e-12), label, ": grad.", p.name, "[", k, "] loop ",
                    ga.values[k], ", unrolled ", gb.values[k]);
    }
  }
}

std::size_t node_count(const Compiled& c) {
  std::vector<const ir::Node*> roots;
  for (const ir::Output& o : c.l().function.outputs) roots.push_back(o.node);
  return ir::topological_order(roots).size();
}

// An inner loop whose bound is the outer index: running means.
std::string running(bool unrolled, int T) {
  std::string text = R"(model tri;
dims { T; }
data { y : real[T]; }
latent { a : real; }
param { m : real; s : real; }
model {
  a ~ normal(0, 1);
)";
  if (!unrolled) {
    text += R"(  for t in 0:T {
    var c = 0.0;
    for k in 0:t + 1 {
      c = c + a * y[k];
    }
    y[t] ~ normal(c / (t + 1), 1);
  }
)";
  } else {
    for (int t = 0; t < T; ++t) {
      std::string c = "0.0";
      for (int k = 0; k <= t; ++k) c += " + a * y[" + std::to_string(k) + "]";
      text += "  y[" + std::to_string(t) + "] ~ normal((" + c + ") / " + std::to_string(t + 1) + ", 1);\n";
    }
  }
  return text + "}\nguide { a ~ normal(m, exp(s)); }\n";
}

// A stochastic-volatility model: the latent log-volatilities h, a random walk whose prior is given
// element by element in a loop (h[t] ~ ...), against the same prior as target += terms unrolled.
std::string volatility(bool unrolled, int T) {
  std::string text = R"(model sv;
dims { T; }
data { y : real[T]; }
latent { mu : real; phi : real<lower=-1, upper=1>; sigma : real<lower=0>; h : real[T]; }
model {
  mu ~ normal(0, 10);
  sigma ~ lognormal(-1, 1);
)";
  if (!unrolled) {
    text += R"(  h[0] ~ normal(mu, sigma / sqrt(1 - square(phi)));
  for t in 1:T {
    h[t] ~ normal(mu + phi * (h[t - 1] - mu), sigma);
  }
  for t in 0:T {
    y[t] ~ normal(0, exp(h[t] / 2));
  }
)";
  } else {
    text += "  target += normal_lpdf(h[0] | mu, sigma / sqrt(1 - square(phi)));\n";
    for (int t = 1; t < T; ++t) {
      std::string a = std::to_string(t), b = std::to_string(t - 1);
      text += "  target += normal_lpdf(h[" + a + "] | mu + phi * (h[" + b + "] - mu), sigma);\n";
    }
    for (int t = 0; t < T; ++t) {
      std::string a = std::to_string(t);
      text += "  y[" + a + "] ~ normal(0, exp(h[" + a + "] / 2));\n";
    }
  }
  return text + "}\n";
}

// A two-state hidden Markov model's forward algorithm (as posteriordb's hmm models write it):
// element assignments to vector vars in nested loops, log_sum_exp of a carried vector.
const char* const kHmm = R"(model hmm;
dims { N; K = 2; }
data { y : real[N]; same : real<lower=0, upper=1>[K, K]; }
latent { mu : real[K]; sigma : real<lower=0>; p : real<lower=0, upper=1>[K]; }
model {
  mu ~ normal(0, 5);
  sigma ~ lognormal(0, 1);
  var alpha = 0 * mu;
  for k in 0:K {
    alpha[k] = log(0.5) + normal_lpdf(y[0] | mu[k], sigma);
  }
  for t in 1:N {
    var next = alpha;
    for k in 0:K {
      var acc = alpha;
      for j in 0:K {
        acc[j] = alpha[j] + log(same[j, k] * p[j] + (1 - same[j, k]) * (1 - p[j]));
      }
      next[k] = log_sum_exp(acc) + normal_lpdf(y[t] | mu[k], sigma);
    }
    alpha = next;
  }
  target += log_sum_exp(alpha);
}
)";


}  // namespace

TEST_CASE("loops: a hidden Markov model's forward algorithm, against the same written in plain loops") {
  Compiled c(kHmm, sema_options({{"N", 7}}, "meanfield"), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    ir::Bindings b = c.synthetic(seed, 7, 7, 0.7);
    b.inputs["same"] = ir::Tensor{{2, 2}, {1, 0, 0, 1}};
    auto in = [&](const std::string& n) { return b.inputs.at(n).values; };
    auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
    // The guide in its frame: loc center + e^unit loc, scale e^(unit + scale).
    auto loc_of = [&](const std::string& n, int k) { return in(n + ".center")[k] + std::exp(in(n + ".unit")[k]) * in(n + ".loc")[k]; };
    auto scale_of = [&](const std::string& n, int k) { return std::exp(in(n + ".unit")[k] + in(n + ".scale")[k]); };
    double lq = 0, mu[2], p[2];
    for (int k = 0; k < 2; ++k) {
      double loc = loc_of("mu", k), sc = scale_of("mu", k);
      mu[k] = loc + sc * in("eps.mu")[k];
      lq += normal_lpdf(mu[k], loc, sc);
      double ploc = loc_of("p", k), psc = scale_of("p", k), u = ploc + psc * in("eps.p")[k];
      p[k] = sigmoid(u);
      lq += normal_lpdf(u, ploc, psc) - std::log(p[k] * (1 - p[k]));
    }
    double sloc = loc_of("sigma", 0), ssc = scale_of("sigma", 0), us = sloc + ssc * in("eps.sigma")[0];
    double sigma = std::exp(us);
    lq += normal_lpdf(us, sloc, ssc) - us;
    double lp = normal_lpdf(mu[0], 0, 5) + normal_lpdf(mu[1], 0, 5) + normal_lpdf(std::log(sigma), 0, 1) - std::log(sigma);
    const std::vector<double> y = in("y");
    double alpha[2];
    for (int k = 0; k < 2; ++k) alpha[k] = std::log(0.5) + normal_lpdf(y[0], mu[k], sigma);
    for (std::size_t t = 1; t < y.size(); ++t) {
      double next[2];
      for (int k = 0; k < 2; ++k) {
        double acc[2];
        for (int j = 0; j < 2; ++j) acc[j] = alpha[j] + std::log(j == k ? p[j] : 1 - p[j]);
        double m = std::max(acc[0], acc[1]);
        next[k] = m + std::log(std::exp(acc[0] - m) + std::exp(acc[1] - m)) + normal_lpdf(y[t], mu[k], sigma);
      }
      alpha[0] = next[0];
      alpha[1] = next[1];
    }
    double m = std::max(alpha[0], alpha[1]);
    lp += m + std::log(std::exp(alpha[0] - m) + std::exp(alpha[1] - m));
    CHECK_MESSAGE(near(eval1(c.output("elbo"), b), lp - lq, 1e-10, 1e-12), "seed ", seed);
    GradCheckSummary g = check_gradients(c, b, "hmm, seed " + std::to_string(seed));
    CHECK(g.checked == 20);  // loc, scale, center, unit of mu[2], p[2], sigma
    CHECK(g.bad == 0);
  }
}

// For test_jit_differential.cpp: the loop forms.
std::string loops_garch(int T) { return garch(false, T); }
std::string loops_ar(int T) { return ar(false, T, 3); }
std::string loops_per_copy() { return per_copy(false); }
std::string loops_hmm() { return kHmm; }
std::string loops_volatility(int T) { return volatility(false, T); }

TEST_CASE("loops: a loop's value and gradient equal the unrolled form's") {
  for (auto est : {Estimator::A, Estimator::B, Estimator::Stl}) {
    for (std::uint64_t seed : {1u, 2u}) {
      check_same(garch(false, 7), garch(true, 7), garch_options(7), est, seed, "garch");
      check_same(ar(false, 9, 3), ar(true, 9, 3), sema_options({{"T", 9}}), est, seed, "ar(3)", {{"K", 3}});
      check_same(ar(false, 9, 2), ar(true, 9, 2), sema_options({{"T", 9}}), est, seed, "ar(2)", {{"K", 2}});
      check_same(per_copy(false), per_copy(true), {}, est, seed, "a loop per copy of a subsampled plate");
      check_same(running(false, 6), running(true, 6), sema_options({{"T", 6}}), est, seed,
                 "an inner loop bounded by the outer index");
      check_same(volatility(false, 6), volatility(true, 6), sema_options({{"T", 6}}, "meanfield"), est, seed,
                 "a latent's prior element by element in a loop");
    }
  }
}

TEST_CASE("loops: gradients equal finite differences of the interpreter") {
  for (auto est : {Estimator::A, Estimator::B}) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      GradCheckSummary g = compile_and_check(garch(false, 8), "garch", garch_options(8), est, 1, seed, 0.7);
      CHECK(g.checked == 16);
      CHECK(g.bad == 0);
      GradCheckSummary p = compile_and_check(per_copy(false), "per copy", {}, est, 1, seed, 0.7);
      CHECK(p.bad == 0);
    }
  }
  for (std::uint64_t seed : {1u, 2u}) {
    GradCheckSummary v = compile_and_check(volatility(false, 6), "volatility", sema_options({{"T", 6}}, "meanfield"),
                                           Estimator::A, 1, seed, 0.5);
    CHECK(v.checked == 36);
    CHECK(v.bad == 0);
  }
  // Two samples, each its own run of the loop.
  CHECK(compile_and_check(garch(false, 5), "garch, 2 samples", garch_options(5), Estimator::A, 2).bad == 0);
}

TEST_CASE("loops: the IR does not grow with the trip count") {
  Compiled small(garch(false, 100), garch_options(100), lower_options(Estimator::A));
  Compiled large(garch(false, 10000), garch_options(10000), lower_options(Estimator::A));
  REQUIRE_MESSAGE(small.ok(), small.messages());
  REQUIRE_MESSAGE(large.ok(), large.messages());
  CHECK(node_count(small) == node_count(large));
  // An empty loop (T = 1: 1:1) adds nothing: the bound is the priors' and the guide's alone.
  Compiled none(garch(false, 1), garch_options(1), lower_options(Estimator::A));
  Compiled none_unrolled(garch(true, 1), garch_options(1), lower_options(Estimator::A));
  REQUIRE_MESSAGE(none.ok(), none.messages());
  ir::Bindings b = none.synthetic(3);
  CHECK(near(eval1(none.output("elbo"), b), eval1(none_unrolled.output("elbo"), b), 1e-12, 1e-12));
}

TEST_CASE("loops: a prior given element by element has no closed-form KL and cannot be drawn forwards") {
  const char* text = R"(model walk;
dims { T = 5; }
data { y : real[T]; }
latent { s : real<lower=0>; h : real[T]; }
model {
  s ~ lognormal(0, 1);
  h[0] ~ normal(0, 1);
  for t in 1:T {
    h[t] ~ normal(h[t - 1], s);
  }
  y ~ normal(h, 1);
}
)";
  Compiled c(text, sema_options({}, "meanfield"), lower_options(Estimator::B));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  CHECK(c.messages().find("'h' has its prior given on its elements") != std::string::npos);
  CHECK(c.messages().find("'h' has no '~'") == std::string::npos);  // not a flat prior
  CHECK(c.l().model_draws.empty());
  CHECK(c.l().sample_model_problem.find("prior given on its elements") != std::string::npos);
  // Under B, h's term is sampled: the bound equals A's at the same noise.
  Compiled a(text, sema_options({}, "meanfield"), lower_options(Estimator::A));
  ir::Bindings b = c.synthetic(2);
  CHECK(near(eval1(c.output("elbo"), b), eval1(a.output("elbo"), b), 1e-12, 1e-12));
}

TEST_CASE("loops: a loop in the guide computes a guide parameter") {
  const char* text = R"(model guide_loop;
dims { N; K = 3; }
data { y : real[N]; }
latent { mu : real; }
param { w : real[K]; ls : real init -1; }
model {
  mu ~ normal(0, 10);
  y ~ normal(mu, 1);
}
guide {
  var m = 0.0;
  for k in 0:K {
    m = m + w[k] / (k + 1);
  }
  mu ~ normal(m, exp(ls));
}
)";
  Compiled c(text, {}, lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  ir::Bindings b = c.synthetic(4);
  const std::vector<double>& w = b.inputs.at("w").values;
  double m = w[0] + w[1] / 2 + w[2] / 3;
  double mu = m + std::exp(b.inputs.at("ls").values[0]) * b.inputs.at("eps.mu").values[0];
  CHECK(near(eval1(c.l().guide_draws.at(0).node, b), mu, 1e-12, 1e-12));
  GradCheckSummary g = check_gradients(c, b, "a loop in the guide");
  CHECK(g.checked == 4);
  CHECK(g.bad == 0);
}

TEST_CASE("a let of data on the left of '~' is an expression of data, as the expression itself") {
  const char* with_let = R"(model log_normal_data;
dims { N; }
data { y : real<lower=0>[N]; }
latent { mu : real; }
model {
  mu ~ normal(0, 1);
  let z = log(y) / log(10.0);
  z ~ normal(mu, 1);
}
)";
  const char* inline_expr = R"(model log_normal_data;
dims { N; }
data { y : real<lower=0>[N]; }
latent { mu : real; }
model {
  mu ~ normal(0, 1);
  log(y) / log(10.0) ~ normal(mu, 1);
}
)";
  for (auto est : {Estimator::A, Estimator::B}) check_same(with_let, inline_expr, sema_options({{"N", 5}}, "meanfield"), est, 1, "let of data");
}
