// The compiled gradients ("grad.NAME", simplified) against central finite differences of the
// unsimplified objective on the reference interpreter, for every stdlib model and for small
// models that use every construct the lowering handles, under each estimator (A, B, stl, iwae)
// with 1 and 3 samples. stl's stop_gradient operands are pinned, as `vmc diagnose` does.
#include <cmath>

#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

// Every registered estimator (importance-weighted ones only when the model allows them) × samples {1, 3}, at two random points.
void check_all(const std::string& text, const std::string& label, const sema::Options& so,
               bool iwae = true, double radius = 1) {
  int checked = 0;
  double worst = 0;
  for (const lower::Estimator& registered : lower::estimators()) {  // every one, as it is added
    Estimator::Ref e = &registered;
    if (e->importance_weighted && !iwae) continue;
    for (int samples : {1, 3}) {
      for (std::uint64_t seed : {1u, 2u}) {
        GradCheckSummary s = compile_and_check(text, label, so, e, samples, seed, radius);
        checked += s.checked;
        worst = std::max(worst, s.worst_ratio);
      }
    }
  }
  CAPTURE(worst);  // the worst error / tolerance over the elements checked
  CHECK(checked > 0);
  CHECK(worst <= 1);
}

}  // namespace

TEST_CASE("lower gradients: every stdlib model under every estimator") {
  const std::pair<const char*, Dims> models[] = {
      {"gaussian_vae", {{"D", 3}, {"H", 2}, {"J", 2}}},
      {"bernoulli_vae", {{"D", 3}, {"H", 2}, {"J", 2}}},
      {"eight_schools", {{"J", 3}}},
      {"logistic_regression", {{"D", 2}}},
      {"ppca", {{"D", 3}, {"K", 2}}},
      {"ar", {{"T", 7}, {"K", 3}}},
  };
  for (const auto& [name, dims] : models) {
    check_all(stdlib_text(name), name, sema_options(dims));
  }
}

TEST_CASE("lower gradients: nested plates (a subsampled outer plate, a plain inner one)") {
  const char* text = R"(model nested;
dims { N; T = 3; }
data { y : real[N, T]; }
param { w : real[T]; c : real; a : real[T]; a0 : real; ls : real; }
latent { z : real[N]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    plate t in T {
      y[i, t] ~ normal(w[t] * z[i] + c, 1);
    }
  }
}
guide {
  plate i in N subsample {
    z[i] ~ normal(dot(a, y[i]) + a0, exp(ls));
  }
}
)";
  check_all(text, "nested plates", {});
}

TEST_CASE("lower gradients: a local latent per copy of a nested plate") {
  const char* text = R"(model nested_latent;
dims { N; T = 3; }
data { y : real[N, T]; }
param { c : real; a : real[T]; ls : real; b : real; ls2 : real[T]; }
latent { z : real[N]; u : real[N, T]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    plate t in T {
      u[i, t] ~ normal(z[i] + c, 1);
      y[i, t] ~ normal(u[i, t], 0.5);
    }
  }
}
guide {
  plate i in N subsample {
    z[i] ~ normal(dot(a, y[i]), exp(ls));
    plate t in T {
      u[i, t] ~ normal(b * y[i, t] + z[i], exp(ls2[t]));
    }
  }
}
)";
  check_all(text, "nested local latent", {});
}

TEST_CASE("lower gradients: a hierarchical model with gathers by int data") {
  const char* subsampled = R"(model hier;
dims { N; G = 3; }
data { y : real[N]; g : int<lower=0, upper=2>[N]; }
latent { mu : real; a : real[G]; }
param { mu_loc : real; mu_ls : real; a_loc : real[G]; a_ls : real[G]; s : real<lower=0>; }
model {
  mu ~ normal(0, 1);
  a ~ normal(mu, 1);
  plate i in N subsample {
    y[i] ~ normal(a[g[i]], s);
  }
}
guide {
  mu ~ normal(mu_loc, exp(mu_ls));
  a ~ normal(a_loc, exp(a_ls));
}
)";
  // Global latents with a subsampled plate: iwae does not apply.
  check_all(subsampled, "hierarchical, subsampled", {}, false);
  const char* whole = R"(model hier_whole;
dims { N; G = 3; }
data { y : real[N]; g : int<lower=0, upper=2>[N]; }
latent { mu : real; a : real[G]; }
param { mu_loc : real; mu_ls : real; a_loc : real[G]; a_ls : real[G]; s : real<lower=0>; }
model {
  mu ~ normal(0, 1);
  a ~ normal(mu, 1);
  y ~ normal(a[g], s);
  plate i in N {
    y[i] ~ normal(a[g[i]] + mu, 2);
  }
}
guide {
  mu ~ normal(mu_loc, exp(mu_ls));
  a ~ normal(a_loc, exp(a_ls));
}
)";
  check_all(whole, "hierarchical, whole data", {});
}

TEST_CASE("lower gradients: slices, constant indices, transposes, products, fns, target +=, param priors") {
  const char* text = models::linalg;  // in test_lower_helpers.hpp
  check_all(text, "linear algebra", {}, false, 0.5);
}

TEST_CASE("lower gradients: constrained params and mvnormal_cholesky data") {
  const char* text = R"(model constrained;
dims { N; K = 3; }
data { y : real[N, K]; t : real[N]; }
param {
  s : real<lower=0>;
  r : real<lower=-1, upper=2>;
  q : real<upper=1>;
  L : real<cholesky>[K, K];
  m : real[K];
  sig : real<lower=0.5>[K];
}
model {
  m ~ normal(0, s);
  s ~ lognormal(0, 1);
  r ~ uniform(-1, 2);
  target += -square(q) + log(1 - q);
  plate i in N subsample {
    y[i] ~ mvnormal_cholesky(m * r, L);
    t[i] ~ normal(sum(m .* sig), s);
  }
}
)";
  // No latents, a subsampled plate: MAP; the iwae estimator reports that it does not apply.
  check_all(text, "constrained params", {}, false, 0.7);
}

TEST_CASE("lower gradients: every guide family, for a latent of its support") {
  // Priors with a closed-form KL where the table has one (L^B uses it for those).
  const char* closed = R"(model families;
dims { N; K = 3; }
data { y : real[N]; }
latent {
  a : real;  b : real<lower=0>;  c : real;  d : real;  e : real;
  f : real<lower=0>;  g : real<lower=0, upper=1>;  h : real<lower=0>;  k : real[K];
}
param {
  a_m : real; a_s : real;  b_m : real; b_s : real;  c_m : real; c_s : real;
  d_m : real; d_s : real;  e_m : real; e_s : real;  f_r : real;  h_s : real;
  k_m : real[K];  k_L : real<cholesky>[K, K];
}
model {
  a ~ normal(0, 1);
  b ~ lognormal(0, 1);
  c ~ laplace(0, 2);
  d ~ normal(0, 1);
  e ~ normal(0, 3);
  f ~ exponential(2);
  g ~ uniform(0, 1);
  h ~ half_normal(2);
  k ~ normal(0, 1);
  y ~ normal(a + 0.3 * b + c + d + 0.1 * e + f + g + h + sum(k), 2);
}
guide {
  a ~ normal(a_m, exp(a_s));
  b ~ lognormal(b_m, exp(b_s));
  c ~ laplace(c_m, exp(c_s));
  d ~ logistic(d_m, exp(d_s));
  e ~ cauchy(e_m, exp(e_s));
  f ~ exponential(exp(f_r));
  g ~ uniform(0, 1);
  h ~ half_normal(exp(h_s));
  k ~ mvnormal_cholesky(k_m, k_L);
}
)";
  {
    Compiled c(closed, {}, lower_options(Estimator::B));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    // The latents whose pair has no closed form keep their sampled term.
    std::vector<std::string> sampled = c.l().sampled_kl;
    std::sort(sampled.begin(), sampled.end());
    CHECK(sampled == std::vector<std::string>{"d", "e", "h"});
  }
  check_all(closed, "guide families (closed-form priors)", {}, true, 0.5);
  // The other priors of the KL table (exponential ‖ gamma, mvnormal ‖ mvnormal) and priors with
  // no closed form against these guides.
  const char* other = R"(model families2;
dims { N; K = 2; }
data { y : real[N]; }
latent { f : real<lower=0>; k : real[K]; b : real<lower=0>; g : real<lower=-1, upper=3>; }
param { f_r : real; k_m : real[K]; k_L : real<cholesky>[K, K]; p_L : real<cholesky>[K, K];
        b_m : real; b_s : real; }
model {
  f ~ gamma(2, 3);
  k ~ mvnormal_cholesky(0.5, p_L);
  b ~ exponential(1);
  g ~ uniform(-1, 3);
  y ~ normal(f + k[0] - k[1] + b + g, 1);
}
guide {
  f ~ exponential(exp(f_r));
  k ~ mvnormal_cholesky(k_m, k_L);
  b ~ lognormal(b_m, exp(b_s));
  g ~ uniform(-1, 3);
}
)";
  check_all(other, "guide families (other priors)", {}, true, 0.5);
}

TEST_CASE("lower gradients: local latents with non-normal guide families") {
  const char* text = R"(model local_families;
dims { N; K = 2; }
data { y : real[N, K]; c : real<lower=0>[N]; }
param { A : real[K, K]; a : real[K]; ls : real; L : real<cholesky>[K, K]; rw : real; rb : real; }
latent { z : real[N, K]; r : real<lower=0>[N]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    r[i] ~ exponential(1);
    y[i] ~ normal(z[i], 1);
    c[i] ~ lognormal(log(r[i]), 1);
  }
}
guide {
  plate i in N subsample {
    z[i] ~ mvnormal_cholesky(A * y[i] + a, L);
    r[i] ~ exponential(exp(rw * c[i] + rb));
  }
}
)";
  check_all(text, "local latents, mvnormal_cholesky and exponential guides", {}, true, 0.5);
}

TEST_CASE("lower gradients: automatic guides with constrained latents") {
  const char* global = models::auto_global;  // in test_lower_helpers.hpp
  for (const char* guide : {"meanfield", "fullrank", "lowrank:1", "lowrank:3"}) {
    check_all(global, std::string("automatic ") + guide + " guide, global latents",
              sema_options({}, guide), true, 0.5);
  }
  {
    Compiled c(global, sema_options({}, "fullrank"), lower_options(Estimator::A));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    std::vector<std::string> names;
    for (const lower::ParamInput& p : c.l().params) names.push_back(p.name);
    // One normal over every global latent's elements: no param of its own per latent.
    // Each latent's own loc (as meanfield's), one Cholesky factor over all of them.
    CHECK(names == std::vector<std::string>{"mu.loc", "tau.loc", "p.loc", "th.loc", "q.loc", "guide.chol",
                                            "guide.center", "guide.unit"});
    // The frame is fixed: its params are read through stop_gradient, and start as the identity.
    CHECK(c.l().params[6].frozen);
    CHECK(c.l().params[7].frozen);
    CHECK_FALSE(c.l().params[0].frozen);
    CHECK(c.l().params[5].shape == ir::Shape{ir::Extent::constant(6), ir::Extent::constant(6)});

  }
  const char* local = R"(model auto_local;
dims { N; }
data { y : real[N]; }
latent { mu : real; s : real<lower=0>[N]; }
model {
  mu ~ normal(0, 1);
  plate i in N subsample {
    s[i] ~ lognormal(0, 0.5);
    y[i] ~ normal(mu, s[i]);
  }
}
)";
  // A local latent's automatic guide has a loc and a scale per datapoint, so N needs a value.
  check_all(local, "automatic meanfield guide, a local constrained latent",
            sema_options({{"N", 6}}, "meanfield"), false, 0.5);
  // fullrank: the joint normal over the global latent, a normal per datapoint for the local one.
  check_all(local, "automatic fullrank guide, a global and a local constrained latent",
            sema_options({{"N", 6}}, "fullrank"), false, 0.5);
  {
    Compiled c(local, sema_options({{"N", 6}}, "fullrank"), lower_options(Estimator::A));
    REQUIRE_MESSAGE(c.ok(), c.messages());
    std::vector<std::string> names;
    for (const lower::ParamInput& p : c.l().params) names.push_back(p.name);
    CHECK(names == std::vector<std::string>{"mu.loc", "guide.chol", "guide.center", "guide.unit", "s.loc", "s.scale"});
  }
  const char* all_local = R"(model auto_all_local;
dims { N; }
data { y : real[N]; }
latent { z : real[N]; s : real<lower=0>[N]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    s[i] ~ exponential(1);
    y[i] ~ normal(z[i], s[i] + 0.1);
  }
}
)";
  check_all(all_local, "automatic meanfield guide, all latents local",
            sema_options({{"N", 6}}, "meanfield"), true, 0.5);
}

TEST_CASE("lower gradients: latents per copy of a plain plate, discrete data, reductions, dims as values") {
  const char* text = R"(model plain_plate;
dims { N; K = 3; }
data { y : real[N]; c : int<lower=0, upper=2>[N]; n : int<lower=0, upper=5>[N]; X : real[N, K]; }
param { a_loc : real[K]; a_ls : real[K]; t : real[N]; B : real[K, K]; w : real[K]; }
latent { a : real[K]; z : real[N]; }
model {
  plate k in K { a[k] ~ normal(0, 1); }
  let s = log_sum_exp(w) + max(w) - min(w) + log_sum_exp(w[0], w[1]) + max(w[0], w[2]);
  target += -log(N) * s + K * sum(a);
  plate i in N subsample {
    z[i] ~ normal(t[i], 1);
    c[i] ~ categorical_logit(B * X[i] + w);
    n[i] ~ binomial_logit(5, z[i]);
    n[i] ~ poisson_log(z[i] * 0.1);
    y[i] ~ normal(z[i] + dot(a, X[i]), 1);
  }
  plate k in K { target += -square(a[k] - w[k]); }
}
guide {
  plate k in K { a[k] ~ normal(a_loc[k], exp(a_ls[k])); }
  plate i in N subsample { z[i] ~ normal(a[0] * y[i] + min(a), 1); }
}
)";
  // A param indexed by the subsampled plate (t) needs N at compile time.
  check_all(text, "plain-plate latents and discrete likelihoods", sema_options({{"N", 6}}), false, 0.5);
}

TEST_CASE("lower gradients: the elementwise builtins of ops.def, as the language calls them") {
  // Every op with a builtin name is callable by it (sema/builtins.hpp): cosh is an ops.def line
  // and an Elementwise<Op::Cosh>, nothing else.
  const char* text = R"(model builtins;
dims { N; }
data { y : real[N]; }
param { w : real[3]; s : real; }
model {
  target += -sum(cosh(w)) + cosh(s) * 0.1 - square(mean(w) - s) - 0.5 * sum(abs(w));
  y ~ normal(mean(w) + min(w), exp(0.1 * s));
}
)";
  check_all(text, "builtins", sema_options({{"N", 4}}), false, 0.5);
}

TEST_CASE("lower gradients: weibull as a likelihood, a prior and a guide family") {
  // A registry entry and nothing else: sema, lowering, KL-free estimator B and sample_model all
  // read it.
  const char* text = R"(model weibull_model;
dims { N; }
data { y : real<lower=0>[N]; }
param { a_loc : real; a_ls : real init -1; k_q : real init 0.5; s_q : real init 0.3; }
latent { alpha : real<lower=0>; s : real<lower=0>; }
model {
  alpha ~ weibull(2, 1.5);
  s ~ lognormal(0, 1);
  y ~ weibull(alpha, s);
}
guide {
  alpha ~ lognormal(a_loc, exp(a_ls));
  s ~ weibull(exp(k_q) + 1, exp(s_q));
}
)";
  check_all(text, "weibull", sema_options({{"N", 5}}), true, 0.5);
}

TEST_CASE("lower gradients: priors normalised over a latent's bounds (truncated densities)") {
  // Each family with tails, cut by lower, upper or both bounds, its arguments depending on
  // params (the truncation's mass is a function of them too).
  const char* text = R"(model truncated;
dims { N; }
data { y : real[N]; }
param { m : real; ls : real; }
latent { a : real<lower=0>; b : real<lower=-1, upper=2>; c : real<upper=1>; d : real<lower=0>;
         e : real<lower=0.5>; f : real<lower=0.2, upper=3>; g : real<lower=0.3>; h : real<lower=1>; }
model {
  a ~ normal(m, exp(ls));
  b ~ cauchy(m, 1.5);
  c ~ logistic(m, exp(ls));
  d ~ laplace(m, 0.7);
  e ~ half_normal(exp(ls));
  f ~ exponential(exp(m));
  g ~ weibull(1.5, exp(ls));
  h ~ lognormal(m, 0.6);
  y ~ normal(a + b + c + d + e + f + g + h, 1);
}
)";
  sema::Options so;
  so.auto_guide = "meanfield";
  check_all(text, "truncated", so, true, 0.5);
}

TEST_CASE("lower gradients: flat priors (latents with no '~' in the model)") {
  const char* text = R"(model flat;
dims { N; }
data { y : real[N]; }
latent { mu : real; s : real<lower=0>; }
model { y ~ normal(mu, s); }
)";
  sema::Options so;
  so.auto_guide = "meanfield";
  check_all(text, "flat", so, true, 0.5);
}

TEST_CASE("lower gradients: Stan's function names and the composed builtins (issue 25)") {
  // Each new function on params, vectors and per-copy values in a plate, inside the objective.
  const char* text = R"(model functions;
dims { N; K = 3; }
data { y : real[N]; k : int<lower=0, upper=2>[N]; }
param { a : real; v : real[K]; p : real<lower=0, upper=1>; w : real[K]; }
latent { z : real; }
model {
  z ~ normal(0, 1);
  target += log1m(p) + logit(p) + log1m_inv_logit(a) + log_inv_logit(a) + inv_logit(a);
  target += sum(log_softmax(v)) + dot_product(softmax(v), w) + fabs(a - 0.3) + fmin(a, 0.1) + fmax(a, -0.2);
  target += log_mix(p, normal_lpdf(z | a, 1), normal_lpdf(z | -a, 2));
  target += sum(log_mix(p, v, w));
  target += dot(cumulative_sum(v), w) + sum(append_row(a, v) .* append_row(w, p)) + sum(rep_vector(a, K) .* v);
  target += sum(diag_matrix(v) * w) + sum(rows_dot_product(diag_matrix(w), diag_matrix(v)));
  plate i in N {
    target += log_softmax(w * y[i] + v)[1] + sum(softmax(v * y[i])) + log1m(inv_logit(y[i] * a));
    target += sum(cumulative_sum(v * y[i])) + sum(append_row(v * y[i], a)) + sum(rep_vector(y[i] * a, 2));
  }
}
guide { z ~ normal(a, exp(w[0])); }
)";
  check_all(text, "functions", sema_options());
}

TEST_CASE("lower gradients: the Gaussian-process builtins, a fn reading rep_vector, a latent read before its '~'") {
  // gp_pois_regr's shape: a kernel of data points and of latents, its Cholesky factor, and
  // draws through it; the latents are read (in a let) before their priors.
  const char* text = R"(model gp;
dims { N; K = 4; }
data { y : real[N]; x : real[K]; P : real[K, 2]; }
latent { rho : real<lower=0>; alpha : real<lower=0>; eta : real[K]; }
fn latent_f(points, a, r, e) = cholesky_decompose(gp_exp_quad_cov(points, a, r) + diag_matrix(rep_vector(0.5, K))) * e;
model {
  let f = latent_f(x, alpha, rho, eta);
  let L2 = cholesky_decompose(cov_exp_quad(P, alpha, rho) + diag_matrix(rep_vector(1.0, K)));
  rho ~ gamma(5, 4);
  alpha ~ normal(0, 2);
  eta ~ normal(0, 1);
  y ~ normal(sum(f) + dot_self(eta), 1);
  target += sum(L2 * eta) - sum(log1p(L2 .* L2));
  target += multi_normal_lpdf(eta | rep_vector(0.5, K), cov_exp_quad(x, alpha, rho) + diag_matrix(rep_vector(1.0, K)));
}
)";
  for (const char* guide : {"meanfield", "fullrank"}) {
    check_all(text, std::string("gaussian process, ") + guide, sema_options({}, guide), true, 0.5);
  }
}

TEST_CASE("lower gradients: ordered and positive_ordered latents under the automatic guides (issue 25)") {
  const char* global = R"(model ordered_global;
dims { N; }
data { y : real[N]; }
latent { c : ordered[3]; p : positive_ordered[2]; s : real<lower=0>; }
model {
  c ~ normal(0, 2);
  p ~ exponential(1);
  s ~ lognormal(0, 1);
  y ~ normal(c[0] + c[2] * p[1], s);
}
)";
  for (const char* guide : {"meanfield", "fullrank", "lowrank:2"}) {
    check_all(global, std::string("ordered latents, ") + guide, sema_options({}, guide), true, 0.5);
  }
  // A local ordered latent: one increasing vector per datapoint.
  const char* local = R"(model ordered_local;
dims { N; K = 3; }
data { y : real[N, K]; }
latent { z : ordered[N, K]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    y[i] ~ normal(z[i], 1);
  }
}
)";
  Compiled rejected(local, sema_options({{"N", 4}}, "meanfield"), lower_options(Estimator::A));
  CHECK_FALSE(rejected.ok());  // ordered is a vector type: real<ordered>[N, K] is refused
}

TEST_CASE("lower values: an ordered latent's automatic guide draws increasing vectors") {
  // (Increasing to rounding: an increment e^u below the previous element's ulp adds nothing, as in Stan.)
  Compiled c("model o;\ndims { N; }\ndata { y : real[N]; }\nlatent { z : ordered[4]; p : positive_ordered[3]; }\n"
             "model { z ~ normal(0, 1); p ~ exponential(1); y ~ normal(z[0], 1); }\n",
             sema_options({}, "meanfield"), lower_options(Estimator::A));
  REQUIRE_MESSAGE(c.ok(), c.messages());
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    ir::Bindings b = c.synthetic(seed, 3, 3, 1.0);
    std::vector<ir::Tensor> draws = ir::evaluate({c.l().guide_draws[0].node, c.l().guide_draws[1].node}, b);
    for (std::size_t k = 1; k < 4; ++k) CHECK(draws[0].values[k] > draws[0].values[k - 1]);
    CHECK(draws[1].values[0] > 0);
    for (std::size_t k = 1; k < 3; ++k) CHECK(draws[1].values[k] > draws[1].values[k - 1]);
  }
}

namespace {

// A latent's map from unconstrained reals under the meanfield guide, checked at one draw: with a
// flat prior and a likelihood free of the latent, estimator A's bound is
// log p(y) − log N(u) + log |det dz/du|, so the log-Jacobian in the bound is read back from it
// and compared with the log-determinant of the map's Jacobian by central differences of the
// guide's draw (over the `free` elements of z, as many as u has). Returns u, and z at u.
struct MapDraw {
  std::vector<double> u, z;
};
MapDraw check_map_jacobian(const Compiled& c, const std::string& name, std::uint64_t seed, const std::vector<std::size_t>& free) {
  ir::Bindings b = c.synthetic(seed, 3, 3, 1.5);
  const std::size_t m = free.size();
  const std::string eps = "eps." + name;
  REQUIRE(in(b, eps).size() == m);
  std::vector<double> u(m), sd(m);
  double log_n = 0;
  for (std::size_t i = 0; i < m; ++i) {
    double unit = in(b, name + ".unit")[i], e = in(b, eps)[i];
    sd[i] = std::exp(unit + in(b, name + ".scale")[i]);
    u[i] = in(b, name + ".center")[i] + std::exp(unit) * in(b, name + ".loc")[i] + sd[i] * e;
    log_n += normal_lpdf(e, 0, 1) - std::log(sd[i]);
  }
  double log_lik = 0;
  for (double y : in(b, "y")) log_lik += normal_lpdf(y, 0, 1);
  const double log_jacobian = eval1(c.output("elbo"), b) - log_lik + log_n;
  const ir::Node* draw = c.l().guide_draws[0].node;
  std::vector<std::vector<double>> J(m, std::vector<double>(m));
  const double h = 1e-6;
  for (std::size_t i = 0; i < m; ++i) {
    ir::Bindings p = b;
    p.inputs[eps].values[i] += h / sd[i];
    std::vector<double> up = ir::evaluate(draw, p).values;
    p.inputs[eps].values[i] -= 2 * h / sd[i];
    std::vector<double> down = ir::evaluate(draw, p).values;
    for (std::size_t k = 0; k < m; ++k) J[k][i] = (up[free[k]] - down[free[k]]) / (2 * h);
  }
  double log_det = 0;  // by Gaussian elimination with partial pivoting
  for (std::size_t col = 0; col < m; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < m; ++r)
      if (std::abs(J[r][col]) > std::abs(J[pivot][col])) pivot = r;
    std::swap(J[col], J[pivot]);
    log_det += std::log(std::abs(J[col][col]));
    for (std::size_t r = col + 1; r < m; ++r) {
      double f = J[r][col] / J[col][col];
      for (std::size_t k = col; k < m; ++k) J[r][k] -= f * J[col][k];
    }
  }
  CHECK_MESSAGE(log_det == doctest::Approx(log_jacobian).epsilon(1e-6), name, " seed ", seed);
  return {u, ir::evaluate(draw, b).values};
}

Compiled map_model(const std::string& type) {
  return Compiled("model map;\ndims { N; }\ndata { y : real[N]; }\nlatent { s : " + type + "; }\nmodel { y ~ normal(0, 1); }\n",
                  sema_options({}, "meanfield"), lower_options(Estimator::A));
}

}  // namespace

TEST_CASE("lower values: the maps of simplex, ordered and cholesky_factor_corr latents, inverted, and their log-Jacobians") {
  // simplex[4]: positive, summing to 1, inverted by Stan's u_k = logit(x_k / stick_k) + log(K − 1 − k).
  Compiled simplex = map_model("simplex[4]");
  REQUIRE_MESSAGE(simplex.ok(), simplex.messages());
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    MapDraw d = check_map_jacobian(simplex, "s", seed, {0, 1, 2});
    REQUIRE(d.z.size() == 4);
    double stick = 1, total = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(d.z[k] > 0);
      total += d.z[k];
      if (k == 3) break;
      double z = d.z[k] / stick;
      CHECK(std::log(z / (1 - z)) + std::log(static_cast<double>(3 - k)) == doctest::Approx(d.u[k]).epsilon(1e-9));
      stick -= d.z[k];
    }
    CHECK(total == doctest::Approx(1).epsilon(1e-12));
  }
  // ordered[3], positive_ordered[3]: u_0 = z_0 (log z_0 when positive), u_k = log(z_k − z_{k−1}).
  for (const char* type : {"ordered[3]", "positive_ordered[3]"}) {
    const bool positive = std::string(type).rfind("positive", 0) == 0;
    Compiled c = map_model(type);
    REQUIRE_MESSAGE(c.ok(), c.messages());
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      MapDraw d = check_map_jacobian(c, "s", seed, {0, 1, 2});
      CHECK((positive ? std::log(d.z[0]) : d.z[0]) == doctest::Approx(d.u[0]).epsilon(1e-9));
      for (std::size_t k = 1; k < 3; ++k) {
        CHECK(d.z[k] > d.z[k - 1]);
        CHECK(std::log(d.z[k] - d.z[k - 1]) == doctest::Approx(d.u[k]).epsilon(1e-9));
      }
    }
  }
  // cholesky_factor_corr[3]: unit rows, a positive diagonal, zeros above it; the free elements
  // L10, L20, L21, inverted by u = atanh of the partial correlations L10, L20, L21 / sqrt(1 − L20²).
  Compiled corr = map_model("cholesky_factor_corr[3]");
  REQUIRE_MESSAGE(corr.ok(), corr.messages());
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    MapDraw d = check_map_jacobian(corr, "s", seed, {3, 6, 7});
    const std::vector<double>& l = d.z;
    REQUIRE(l.size() == 9);
    for (std::size_t r = 0; r < 3; ++r) {
      double len = 0;
      for (std::size_t k = 0; k < 3; ++k) len += l[3 * r + k] * l[3 * r + k];
      CHECK(len == doctest::Approx(1).epsilon(1e-12));
      CHECK(l[4 * r] > 0);
      for (std::size_t k = r + 1; k < 3; ++k) CHECK(l[3 * r + k] == 0);
    }
    CHECK(std::atanh(l[3]) == doctest::Approx(d.u[0]).epsilon(1e-9));
    CHECK(std::atanh(l[6]) == doctest::Approx(d.u[1]).epsilon(1e-9));
    CHECK(std::atanh(l[7] / std::sqrt(1 - l[6] * l[6])) == doctest::Approx(d.u[2]).epsilon(1e-9));
  }
}

TEST_CASE("lower gradients: simplex latents and dirichlet densities under the automatic guides (issue 25)") {
  const char* global = R"(model simplex_global;
dims { N; K = 3; }
data { y : int<lower=0, upper=2>[N]; a : real<lower=0>[K]; }
latent { theta : simplex[K]; w : real<simplex>[2]; }
model {
  theta ~ dirichlet(a);
  target += dirichlet_lpdf(w | 1.5);
  plate i in N { y[i] ~ categorical_logit(log(theta) + w[0]); }
}
)";
  for (const char* guide : {"meanfield", "fullrank", "lowrank:2"}) {
    check_all(global, std::string("simplex latents, ") + guide, sema_options({}, guide), true, 0.5);
  }
}

TEST_CASE("lower gradients: von_mises, sin and cos (issue 25)") {
  const char* text = R"(model circular;
dims { N; }
data { y : real[N]; }
latent { mu : real; kappa : real<lower=0>; }
model {
  mu ~ normal(0, 1);
  kappa ~ gamma(2, 0.5);
  y ~ von_mises(mu, kappa);
  target += 0.1 * sin(mu) * cos(kappa);
}
)";
  for (const char* guide : {"meanfield", "fullrank"}) {
    check_all(text, std::string("von_mises, ") + guide, sema_options({}, guide), true, 0.5);
  }
}

TEST_CASE("lower gradients: cholesky_factor_corr latents under lkj_corr_cholesky (issue 25)") {
  const char* text = R"(model lkj;
dims { N; K = 3; }
data { y : real[N, K]; }
latent { L : cholesky_factor_corr[K]; sigma : real<lower=0>[K]; eta : real<lower=0>; }
model {
  eta ~ gamma(4, 2);
  L ~ lkj_corr_cholesky(eta + 1);
  sigma ~ normal(0, 2);
  plate i in N { y[i] ~ mvnormal_cholesky(0, diag_matrix(sigma) * L); }
}
)";
  for (const char* guide : {"meanfield", "fullrank"}) {
    check_all(text, std::string("cholesky_factor_corr, ") + guide, sema_options({}, guide), true, 0.5);
  }
}
