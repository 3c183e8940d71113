// Semantic analysis of statements: lets, plates, `target +=`, and `~` (what may be sampled
// where, distribution arguments and supports, guide families), then the latents: one `~` in
// each block, local or global, and the closed-form KL of each (guide, prior) pair.
#include "test_sema_helpers.hpp"

using namespace sema_test;

namespace {

// Lines 1-4 of the models below; their blocks start on line 5.
const std::string kPrelude =
    "model m;\n"
    "dims { N; K = 3; }\n"
    "data { x : real[N]; y : int[N]; X : real[N, K]; c : int[N]; }\n"
    "param { mu : real; w : real[K]; L : real<cholesky>[K, K]; }\n";

// A model with no latents: `body` is the model block, from line 6.
std::string model_only(const std::string& body) { return kPrelude + "model {\n" + body + "\n}\n"; }

// Latents declared on line 5; the model block's statements start on line 7, the guide's two
// lines after the model's last one.
std::string with_latents(const std::string& latents, const std::string& model,
                         const std::string& guide) {
  return kPrelude + "latent { " + latents + " }\nmodel {\n" + model + "\n}\nguide {\n" + guide +
         "\n}\n";
}

}  // namespace

TEST_CASE("lets and plate indices do not shadow") {
  Checked c(model_only("let mu = 1;\nlet h = 2;\nlet h = 3;\nplate x in N { }\n"
                       "plate i in N { plate i in K { } }\nlet k = k + 1;"));
  CHECK(c.errors() == Lines{"6:5: let 'mu' shadows param 'mu'; choose another name",
                            "8:5: 'h' is already defined here; lets are immutable, choose another name",
                            "9:7: plate index 'x' shadows data 'x'; choose another name",
                            "10:22: plate index 'i' shadows plate index 'i'; choose another name",
                            "11:9: 'k' is used before it is defined"});
  CHECK(c.notes(0) == Lines{"4:9: 'mu' is declared here"});
  CHECK(c.notes(1) == Lines{"7:5: 'h' is declared here"});
  CHECK(c.notes(4) == Lines{"11:5: 'k' is defined here"});
}

TEST_CASE("a let is visible after it in its block and in nested plates only") {
  Checked c(model_only("let a = 1;\nplate i in N { let b = a + x[i]; }\ntarget += b;"));
  CHECK(c.errors() == Lines{"8:11: 'b' is not visible here: it is a let of a plate body, visible "
                            "only in that plate"});
  CHECK(c.notes() == Lines{"7:20: 'b' is defined here"});
}

TEST_CASE("plates run over dims") {
  Checked c(model_only("plate i in Kk { }\nplate i in x { }\nplate i in N { plate j in N { } }"));
  CHECK(c.errors() == Lines{"6:12: unknown dim 'Kk'; did you mean 'K'?",
                            "7:12: 'x' is data, not a dim; a plate runs over a dim",
                            "8:27: plate 'j' runs over N, as does the enclosing plate 'i'"});
  CHECK(c.notes(2) == Lines{"8:12: the enclosing plate over N is here"});
}

TEST_CASE("target +=") {
  Checked c(with_latents("z : real;", "z ~ normal(0, 1);\ntarget += w;\ntarget += sum(w) + 1;",
                         "z ~ normal(0, 1);\ntarget += 1;"));
  CHECK(c.errors() == Lines{"8:11: 'target +=' needs a scalar, but 'w' is real[3]",
                            "13:1: 'target +=' is not allowed in the guide; it adds to the "
                            "model's log density"});
}

TEST_CASE("what the left side of '~' may be") {
  Checked c(model_only("let h = 1;\nh ~ normal(0, 1);\nK ~ normal(0, 1);\nmu + 1 ~ normal(0, 1);\n"
                       "pi ~ normal(0, 1);\nx[0] ~ normal(0, 1);\nplate i in N { i ~ normal(0, 1); }\n"
                       "q ~ normal(0, 1);"));
  // A let is an expression of what it reads: of data it may be sampled; of a constant it is refused.
  CHECK(c.errors() == Lines{"7:1: the left side of '~' must be data, a latent or a param, or an expression of data, "
                            "but 'h' reads no data",
                            "8:1: 'K' is a dim; '~' needs data, a latent or a param",
                            "9:1: the left side of '~' is data, a latent or a param, or an expression of "
                            "data only, but 'mu + 1' reads param 'mu'; write 'target += normal_lpdf(mu + 1 "
                            "| ...)' for a density of it (with any Jacobian it needs)",
                            "10:1: the left side of '~' must be data, a latent or a param, or an "
                            "expression of data, but 'pi' reads no data",
                            // 11: x[0] ~ ... is a likelihood term of one element of data
                            "12:16: 'i' is a plate index; '~' needs data, a latent or a param",
                            "13:1: unknown name 'q'"});
}

TEST_CASE("the guide samples only latents, each indexed by every enclosing plate") {
  Checked c(with_latents("z : real[N]; s : real;",
                         "plate i in N { z[i] ~ normal(0, 1); }\ns ~ normal(0, 1);",
                         "x ~ normal(0, 1);\nmu ~ normal(0, 1);\nplate i in N { z ~ normal(0, 1); }\n"
                         "plate i in N { s ~ normal(0, 1); }"));
  CHECK(c.errors() == Lines{"11:1: data 'x' cannot be sampled in the guide; only latents can",
                            "12:1: param 'mu' cannot be sampled in the guide; only latents can",
                            "13:16: latent 'z' must be sampled as 'z[i]' here: indexed by every "
                            "enclosing plate, in order",
                            "14:16: latent 's' must be sampled as 's[i]' here: indexed by every "
                            "enclosing plate, in order"});
}

TEST_CASE("distributions") {
  Checked c(model_only("x ~ normall(0, 1);\nx ~ exp(1);\nx ~ normal(0);\nmu ~ student_t(1, 2);\n"
                       "mu ~ exponential(1, 2);"));
  CHECK(c.errors() == Lines{"6:5: unknown distribution 'normall'; did you mean 'normal'? (vmc help distributions lists them all)",
                            "7:5: 'exp' is a function, not a distribution",
                            "8:5: 'normal' takes 2 arguments (mu, sigma), but 1 was given",
                            "9:6: 'student_t' takes 3 arguments (nu, mu, sigma), but 2 were given",
                            "10:6: 'exponential' takes 1 argument (rate), but 2 were given"});
}

TEST_CASE("distribution arguments: a scalar or the left side's shape") {
  Checked c(model_only("x ~ normal(w, 1);\nplate i in N { X[i] ~ normal(w', exp(w)); }\n"
                       "plate i in N { y[i] ~ binomial_logit(2.5, mu); c[i] ~ binomial_logit(y[i], "
                       "X[i]); }"));
  CHECK(c.errors() ==
        Lines{"6:12: argument 'mu' of 'normal' is real[3], but the left side 'x' is real[N]; it "
              "must be a scalar or have the same shape",
              "7:30: argument 'mu' of 'normal' is real[3]', but the left side 'X[i]' is real[3]; "
              "it must be a scalar or have the same shape",
              "8:38: argument 'n' of 'binomial_logit' must be an int, but it is real",
              "8:76: argument 'logit' of 'binomial_logit' is real[3], but the left side 'c[i]' "
              "is int; it must be a scalar or have the same shape"});
}

TEST_CASE("shape rules of mvnormal_cholesky and categorical_logit") {
  Checked c(with_latents("z : real[K]; u : real[N, K];",
                         "z ~ mvnormal_cholesky(0, L);\nu ~ mvnormal_cholesky(0, L);\n"
                         "plate i in N { c[i] ~ categorical_logit(X[i]); }\nc ~ categorical_logit(w);\n"
                         "plate i in N { c[i] ~ categorical_logit(X); }",
                         "z ~ mvnormal_cholesky(w, w);\nu ~ normal(0, 1);"));
  CHECK(c.errors() ==
        Lines{"8:1: 'mvnormal_cholesky' needs a vector on the left of '~', but 'u' is real[N, 3]",
              "10:1: 'categorical_logit' needs a scalar on the left of '~' (index it by a plate), "
              "but 'c' is int[N]",
              "11:41: argument 'logits' of 'categorical_logit' must be a vector, but it is "
              "real[N, 3]",
              "14:26: argument 'L' of 'mvnormal_cholesky' is real[3], but the left side 'z' is "
              "real[3], so it must be real[3, 3]"});
}

TEST_CASE("uniform's bounds are constants with lo < hi") {
  Checked c(model_only("mu ~ uniform(0, w[0]);\nmu ~ uniform(1, 1);\nmu ~ uniform(-pi, pi);"));
  CHECK(c.errors() == Lines{"6:17: argument 'hi' of 'uniform' must be a constant, but 'w[0]' is not",
                            "7:6: 'uniform' needs lo < hi, but its bounds are 1 and 1"});
}

TEST_CASE("supports of data, params and latents") {
  Checked c(with_latents("z : real; s : real<lower=0>; p : real<lower=0, upper=2>;",
                         "x ~ poisson(1);\nx ~ bernoulli(0.5);\ny ~ normal(0, 1);\nmu ~ poisson(1);\n"
                         "z ~ bernoulli_logit(0);\ns ~ normal(0, 1);\np ~ uniform(0, 1);",
                         "z ~ normal(0, 1);\ns ~ lognormal(0, 1);\np ~ uniform(0, 2);"));
  CHECK(c.errors() ==
        Lines{"7:1: 'poisson' needs int data, but 'x' is real[N]",
              "10:6: param 'mu' cannot have the discrete distribution 'poisson': params are "
              "continuous",
              "11:5: latent 'z' cannot have the discrete distribution 'bernoulli_logit': latents "
              "are continuous",
              "13:5: prior 'uniform' has support (0, 1) but latent 'p' is real<lower=0, upper=2>; "
              "constrain 'p' to the prior's support"});
}

TEST_CASE("a prior must cover the latent's support") {
  Checked c(with_latents("z : real;", "z ~ lognormal(0, 1);", "z ~ normal(0, 1);"));
  CHECK(c.errors() == Lines{"7:5: prior 'lognormal' has support (0, inf) but latent 'z' is real; "
                            "constrain 'z' to the prior's support"});
}

TEST_CASE("guide families") {
  Checked c(with_latents(
      "a : real; b : real<lower=0>; d : real<lower=0>; e : real<lower=0, upper=1>; "
      "f : real<lower=0, upper=1>; g : real<lower=1>; h : real; k : real<cholesky>[K, K];",
      "a ~ normal(0, 1);\nb ~ gamma(1, 1);\nd ~ gamma(1, 1);\ne ~ beta(1, 1);\nf ~ uniform(0, 1);\n"
      "g ~ normal(0, 1);\nh ~ normal(0, 1);\nk ~ normal(0, 1);",
      "a ~ student_t(3, 0, 1);\nb ~ gamma(1, 1);\nd ~ normal(0, 1);\ne ~ uniform(0, 2);\n"
      "f ~ beta(1, 1);\ng ~ lognormal(0, 1);\nh ~ exponential(1);\nk ~ normal(0, 1);"));
  CHECK(c.errors() ==
        Lines{"17:5: 'student_t' cannot be a guide family: it is not reparameterizable",
              "18:5: 'gamma' cannot be a guide family yet: it needs implicit reparameterization, "
              "which is not supported",
              "19:5: guide family 'normal' has support real but latent 'd' is real<lower=0>; use "
              "lognormal, exponential, half_normal, half_cauchy or weibull",
              "20:5: guide family 'uniform' has support (0, 2) but latent 'e' is "
              "real<lower=0, upper=1>; use uniform(0, 1)",
              "21:5: 'beta' cannot be a guide family yet: it needs implicit reparameterization, "
              "which is not supported",
              "22:5: guide family 'lognormal' has support (0, inf) but latent 'g' is "
              "real<lower=1>; no guide family has that support",
              "23:5: guide family 'exponential' has support (0, inf) but latent 'h' is real; use "
              "normal, laplace, logistic, cauchy, mvnormal_cholesky or multi_normal",
              "24:5: guide family 'normal' has support real but latent 'k' is real<cholesky>; no "
              "guide family has the support of a Cholesky factor yet"});
}

TEST_CASE("every latent has one '~' in the model and one in the guide") {
  Checked c(with_latents("a : real; b : real; d : real;",
                         "a ~ normal(0, 1);\na ~ normal(0, 2);\nd ~ normal(0, 1);",
                         "b ~ normal(0, 1);\nd ~ normal(0, 1);"));
  CHECK(c.errors() == Lines{"8:1: latent 'a' already has a '~' in the model block",
                            "5:10: latent 'a' has no '~' in the guide block",
                            // a note, not an error (test_lower_values.cpp)
                            "5:20: latent 'b' has no '~' in the model block: its prior is flat (improper) on its support, so the bound is on log p(data) up to that prior's infinite constant"});
  CHECK(c.notes(0) == Lines{"7:1: the first '~' on 'a' is here"});
}

TEST_CASE("local and global latents") {
  SUBCASE("the model and the guide must agree") {
    Checked c(with_latents("z : real[N]; u : real[N];",
                           "plate i in N subsample { z[i] ~ normal(0, 1); }\nu ~ normal(0, 1);",
                           "plate i in N { z[i] ~ normal(0, 1); }\n"
                           "plate i in N subsample { u[i] ~ normal(0, 1); }"));
    CHECK(c.errors() ==
          Lines{"11:16: latent 'z' is local to the subsampled plate over N in the model, but "
                "global in the guide",
                "12:26: latent 'u' is global in the model, but local to the subsampled plate "
                "over N in the guide"});
    CHECK(c.notes(0) == Lines{"7:26: the model samples 'z' here"});
  }
  SUBCASE("a local latent is read only inside its plate") {
    Checked c(with_latents("z : real[N];",
                           "plate i in N subsample { z[i] ~ normal(0, 1); x[i] ~ normal(z[i], 1); }\n"
                           "target += sum(z);\nplate i in N { target += z[i]; }",
                           "plate i in N subsample { z[i] ~ normal(0, 1); }"));
    CHECK(c.errors() == Lines{"8:15: local latent 'z' exists only for the minibatch; read it "
                              "inside a subsampled plate over N, indexed by that plate's index",
                              "9:26: local latent 'z' exists only for the minibatch; read it "
                              "inside a subsampled plate over N, indexed by that plate's index"});
    CHECK(c.notes(0) == Lines{"7:26: 'z' is local here"});
  }
  SUBCASE("classification") {
    Checked c(with_latents("z : real[N, K]; g : real; h : real[N];",
                           "g ~ normal(0, 1);\nplate i in N subsample { plate j in K { "
                           "z[i, j] ~ normal(g, 1); } }\nplate i in N { h[i] ~ normal(0, 1); }",
                           "g ~ normal(0, 1);\nplate i in N subsample { plate j in K { "
                           "z[i, j] ~ normal(0, 1); } }\nplate i in N { h[i] ~ normal(0, 1); }"));
    REQUIRE(c.model);
    const sema::Model& m = *c.model;
    CHECK(m.find_variable("z")->local);
    CHECK(m.find_variable("z")->plate_dim == "N");
    CHECK_FALSE(m.find_variable("g")->local);
    CHECK_FALSE(m.find_variable("h")->local);
    CHECK(sema::summary_line(m) ==
          "ok: 3 params (13 values), 3 latents (1 local, 2 global), 4 data, 2 dims; model m");
  }
}

TEST_CASE("the guide reads a latent only after its '~'") {
  Checked c(with_latents("a : real; b : real;", "a ~ normal(0, 1);\nb ~ normal(a, 1);",
                         "b ~ normal(a, 1);\na ~ normal(a, 1);"));
  CHECK(c.errors() == Lines{"11:12: latent 'a' is read in the guide before its '~'",
                            "12:12: latent 'a' is read in the guide before its '~'"});
}

TEST_CASE("closed-form KL per (guide family, prior) pair") {
  Checked c(with_latents(
      "a : real; b : real; d : real<lower=0>; e : real[K]; f : real<lower=0, upper=1>;",
      "a ~ normal(0, 1);\nb ~ normal(0, 1);\nd ~ gamma(2, 1);\ne ~ normal(0, 1);\n"
      "f ~ uniform(-1, 2);",
      "a ~ normal(mu, 1);\nb ~ laplace(0, 1);\nd ~ exponential(1);\n"
      "e ~ mvnormal_cholesky(w, L);\nf ~ uniform(0, 1);"));
  REQUIRE(c.model);
  const sema::Model& m = *c.model;
  CHECK(m.find_variable("a")->closed_form_kl);
  CHECK_FALSE(m.find_variable("b")->closed_form_kl);
  CHECK(m.find_variable("d")->closed_form_kl);
  CHECK(m.find_variable("e")->closed_form_kl);
  CHECK(m.find_variable("f")->closed_form_kl);
  CHECK(m.find_variable("b")->guide_family->name == "laplace");
  CHECK(m.samples.size() == 10);
}

TEST_CASE("a plate over something that is not a dim does not cascade") {
  Checked c(with_latents("z : real[N];", "plate i in x subsample { z[i] ~ normal(0, 1); }",
                         "plate i in N subsample { z[i] ~ normal(0, 1); }"));
  CHECK(c.errors() == Lines{"7:12: 'x' is data, not a dim; a plate runs over a dim"});
}

TEST_CASE("a let of the other block is out of reach") {
  Checked c(with_latents("z : real;", "let h = 1;\nz ~ normal(h, 1);", "z ~ normal(h, 1);"));
  CHECK(c.errors() == Lines{"11:12: 'h' is a let of the model block, which the guide cannot see"});
  CHECK(c.notes() == Lines{"7:5: 'h' is defined here"});
}

TEST_CASE("a shadowing name is still bound, so its uses do not cascade") {
  Checked c(with_latents("b : real[N];", "plate b in N { x[b] ~ normal(0, 1); }\nb ~ normal(0, 1);",
                         "b ~ normal(0, 1);"));
  CHECK(c.errors() == Lines{"7:7: plate index 'b' shadows latent 'b'; choose another name"});
}

TEST_CASE("generated block: each top-level name an output, typed by its value or its draw's arguments") {
  Checked c(kPrelude +
            "latent { z : real; v : real[K]; }\n"
            "model { z ~ normal(0, 1); v ~ normal(0, 1); x ~ normal(z, 1); }\n"
            "guide { z ~ normal(mu, 1); v ~ normal(w, 1); }\n"
            "generated {\n"
            "  let t = z + v;\n"
            "  x_rep ~ normal(z + X * v, 1);\n"
            "  m ~ mvnormal_cholesky(v, L);\n"
            "  m0 ~ mvnormal_cholesky(0, L);\n"
            "  n ~ poisson(exp(v));\n"
            "  b ~ bernoulli_logit(z);\n"
            "  var s = 0.0;\n"
            "  for k in 0:K { let e = square(t[k]); s = s + e; }\n"
            "  let r = x_rep[0] + s;\n"
            "}\n");
  REQUIRE_MESSAGE(c.model, c.first_error());
  Lines got;
  for (const sema::GeneratedQuantity& q : c.model->generated) got.push_back(q.name + " " + sema::to_string(q.type));
  // The loop's let `e` is local to the loop: not an output.
  CHECK(got == Lines{"t real[3]", "x_rep real[N]", "m real[3]", "m0 real[3]", "n int[3]", "b int", "s real",
                     "r real"});
  CHECK(c.model->generated_block != nullptr);
}

TEST_CASE("generated block: what it cannot do, and names it cannot reuse or see") {
  Checked c(kPrelude +
            "latent { z : real; }\n"
            "model { z ~ normal(0, 1); }\n"
            "guide { z ~ normal(mu, 1); }\n"
            "generated {\n"
            "  w ~ normal(0, 1);\n"
            "  a ~ normal(w, X);\n"
            "  g ~ gamma(2, 1);\n"  // every family is drawn forwards since issue 25
            "  u ~ normal(z, 1);\n"
            "  u2 ~ normal(u, 1);\n"
            "}\n"
            "fn f(q) = q + u;\n");
  // The fn is checked first: a generated quantity is not a global.
  CHECK(c.errors() == Lines{"15:15: unknown name 'u'",
                            "9:3: 'w' is a param already; a '~' in the generated block declares a new quantity: "
                            "choose another name (as 'w_rep' for a replicate of data)",
                            "10:17: argument 'sigma' of 'normal' is real[N, 3], but the left side 'a' is real[3]; "
                            "it must be a scalar or have the same shape"});
}
