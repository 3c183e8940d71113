// JIT vs interpreter, quick smoke version (the thorough differential suite builds on it).
#include <doctest/doctest.h>

#include <array>

#include "jit/compiled_model.hpp"
#include "test_lower_helpers.hpp"

using namespace lower_test;

namespace {

// The JIT's elbo_grad outputs against the interpreter's at `b`, in f64 and f32: each element
// within tol·eps·scale (scale: the output's largest magnitude, at least 1); returns the worst
// error / (eps·scale) per precision {f32, f64}.
std::array<double, 2> compare_with_interpreter(const Compiled& m, const ir::Bindings& b, const std::string& label,
                                               double eps64, double eps32, double tol = 1) {
  std::vector<const ir::Node*> outs;
  for (const ir::Output& o : m.l().function.outputs) outs.push_back(o.node);
  std::vector<ir::Tensor> want = ir::evaluate(outs, b);
  std::array<double, 2> worst{0, 0};
  for (auto precision : {codegen::Precision::F64, codegen::Precision::F32}) {
    Diagnostics d;
    auto jit = jit::CompiledModel::build(m.l(), precision, d, label);
    REQUIRE(jit);
    std::vector<ir::Tensor> got = jit->run("elbo_grad", b);
    REQUIRE(got.size() == want.size());
    const bool f64 = precision == codegen::Precision::F64;
    const double eps = f64 ? eps64 : eps32;
    for (std::size_t k = 0; k < want.size(); ++k) {
      double scale = 1;
      for (double v : want[k].values) scale = std::max(scale, std::abs(v));
      for (std::size_t i = 0; i < want[k].values.size(); ++i) {
        CAPTURE(label);
        CAPTURE(codegen::to_string(precision));
        CAPTURE(m.l().function.outputs[k].name);
        double err = std::abs(got[k].values[i] - want[k].values[i]) / (eps * scale);
        worst[f64] = std::max(worst[f64], err);
        CHECK(err <= tol);
      }
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("jit: stdlib models' elbo_grad equals the interpreter (f64 and f32)") {
  struct Case { const char* model; Dims dims; };
  const Case cases[] = {
      {"gaussian_vae", {{"D", 6}, {"H", 5}, {"J", 2}}},
      {"bernoulli_vae", {{"D", 6}, {"H", 5}, {"J", 2}}},
      {"logistic_regression", {{"D", 3}}},
      {"eight_schools", {{"J", 8}}},
      {"ppca", {{"D", 4}}},
  };
  double worst[2] = {0, 0};
  for (const Case& c : cases) {
    for (Estimator::Ref e : {Estimator::A, Estimator::B, Estimator::Stl, Estimator::Iwae}) {
      Compiled m(stdlib_text(c.model), sema_options(c.dims), lower_options(e, 2));
      REQUIRE_MESSAGE(m.ok(), m.messages());
      ir::Bindings b = m.synthetic(3, 6, 4, 0.5);
      std::array<double, 2> w = compare_with_interpreter(m, b, std::string(c.model) + " " + std::string(e->name), 1e-13, 1e-5, 10);
      worst[0] = std::max(worst[0], w[0]);
      worst[1] = std::max(worst[1], w[1]);
    }
  }
  MESSAGE("worst error / (eps·scale): f32 ", worst[0], ", f64 ", worst[1]);
}

std::string loops_garch(int T);  // test_loops.cpp
std::string loops_ar(int T);
std::string loops_per_copy();
std::string loops_hmm();
std::string loops_volatility(int T);

TEST_CASE("jit: loops equal the interpreter: every kernel output, every estimator, f64 and f32") {
  // (test_jit_differential.cpp bounds each op's rounding; through a loop's iterations it has no
  // bound, so loops are compared here at a relative tolerance.)
  struct Case {
    std::string label, text;
    sema::Options options;
  };
  const Case cases[] = {
      {"garch", loops_garch(12), sema_options({{"T", 12}}, "meanfield")},
      {"ar", loops_ar(11), sema_options({{"T", 11}})},
      {"per copy", loops_per_copy(), sema_options()},
      {"hmm", loops_hmm(), sema_options({{"N", 9}}, "meanfield")},
      {"volatility", loops_volatility(8), sema_options({{"T", 8}}, "meanfield")},
  };
  for (const Case& c : cases) {
    for (const lower::Estimator& e : lower::estimators()) {
      if (e.importance_weighted && c.label == "per copy") continue;  // global latents and a subsampled plate
      for (int samples : {1, 2}) {
        Compiled m(c.text, c.options, lower_options(&e, samples));
        REQUIRE_MESSAGE(m.ok(), m.messages());
        for (std::uint64_t seed : {1u, 2u}) {
          ir::Bindings b = m.synthetic(seed, 7, 5, 0.5);
          if (e.importance_weighted) b.inputs[m.l().importance_weight->attrs().name] = ir::Tensor::scalar(1.0);
          compare_with_interpreter(m, b, c.label + " " + std::string(e.name) + " samples " + std::to_string(samples), 1e-11, 2e-4);
        }
      }
    }
  }
}

TEST_CASE("jit: sample_guide's draws equal the interpreter's, for local and global latents") {
  struct Case { const char* model; Dims dims; };
  const Case cases[] = {
      {"gaussian_vae", {{"D", 6}, {"H", 5}, {"J", 2}}},
      {"eight_schools", {{"J", 8}}},
  };
  for (const Case& c : cases) {
    Compiled m(stdlib_text(c.model), sema_options(c.dims), lower_options(Estimator::A));
    REQUIRE_MESSAGE(m.ok(), m.messages());
    REQUIRE(m.l().guide_draws.size() == m.model->latents.size());
    ir::Bindings b = m.synthetic(9, 6, 4, 0.5);
    std::vector<const ir::Node*> draws;
    for (const ir::Output& o : m.l().guide_draws) draws.push_back(o.node);
    std::vector<ir::Tensor> want = ir::evaluate(draws, b);
    Diagnostics d;
    auto jit = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, c.model, {"sample_guide"});
    REQUIRE(jit);
    std::vector<ir::Tensor> got = jit->run("sample_guide", b);
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < want.size(); ++k) {
      CAPTURE(c.model);
      CHECK(got[k].shape == want[k].shape);
      for (std::size_t i = 0; i < want[k].values.size(); ++i) {
        CHECK(std::abs(got[k].values[i] - want[k].values[i]) <= 1e-12 * (1 + std::abs(want[k].values[i])));
      }
    }
  }
}

TEST_CASE("jit: the C description of a compiled model names every buffer and kernel") {
  Compiled m(stdlib_text("eight_schools"), sema_options({{"J", 8}}), lower_options(Estimator::A));
  REQUIRE(m.ok());
  Diagnostics d;
  auto jit = jit::CompiledModel::build(m.l(), codegen::Precision::F32, d, "t", {"elbo_grad", "sample_guide"});
  REQUIRE(jit);
  const vmc_model_info& info = jit->info();
  CHECK(info.abi_version == VMC_ABI_VERSION);
  CHECK(info.real_bytes == 4);
  std::map<std::string, const vmc_buffer_info*> by_name;
  for (int i = 0; i < info.n_inputs; ++i) by_name[info.inputs[i].name] = &info.inputs[i];
  REQUIRE(by_name.count("y"));
  CHECK(by_name["y"]->kind == VMC_DATA);
  CHECK(by_name["y"]->rank == 1);
  CHECK(by_name["y"]->extents[0] == 8);
  REQUIRE(by_name.count("eps.tau"));
  CHECK(by_name["eps.tau"]->kind == VMC_NOISE);
  for (const lower::ParamInput& p : m.l().params) {
    REQUIRE(by_name.count(p.name));
    CHECK(by_name[p.name]->kind == VMC_PARAM);
    CHECK(by_name[p.name]->transform == static_cast<int>(p.transform));
  }
  REQUIRE(info.n_kernels == 2);
  CHECK(std::string(info.kernels[0].name) == "elbo_grad");
  CHECK(std::string(info.kernels[0].outputs[0].name) == "elbo");
  CHECK(info.kernels[0].n_outputs == static_cast<int>(1 + m.l().params.size()));
  CHECK(std::string(info.kernels[0].outputs[1].name) == "grad." + m.l().params[0].name);
  CHECK(std::string(info.kernels[1].name) == "sample_guide");
  REQUIRE(info.n_latents == 3);
  CHECK(std::string(info.latents[0]) == std::string(info.kernels[1].outputs[0].name));
}

TEST_CASE("jit: the compiled gradient of every stdlib model passes the finite-difference check") {
  struct Case { const char* model; Dims dims; };
  const Case cases[] = {
      {"gaussian_vae", {{"D", 5}, {"H", 4}, {"J", 2}}},
      {"bernoulli_vae", {{"D", 5}, {"H", 4}, {"J", 2}}},
      {"logistic_regression", {{"D", 3}}},
      {"eight_schools", {{"J", 8}}},
      {"ppca", {{"D", 4}}},
      {"ar", {{"T", 9}}},
  };
  for (const Case& c : cases) {
    for (Estimator::Ref e : {Estimator::A, Estimator::B, Estimator::Iwae}) {
      Compiled m(stdlib_text(c.model), sema_options(c.dims), lower_options(e, 2));
      REQUIRE_MESSAGE(m.ok(), m.messages());
      Diagnostics d;
      auto jit = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, c.model, {"elbo_grad", "elbo"});
      REQUIRE(jit);
      ir::Bindings b = m.synthetic(11, 6, 4, 0.5);
      std::vector<ir::Tensor> grad = jit->run("elbo_grad", b);
      const double h = 1e-6;
      for (std::size_t p = 0; p < m.l().params.size(); ++p) {
        ir::Tensor& x = b.inputs.at(m.l().params[p].name);
        // The first, middle and last element of each param.
        for (std::size_t i : {std::size_t{0}, x.values.size() / 2, x.values.size() - 1}) {
          double saved = x.values[i];
          x.values[i] = saved + h;
          double up = jit->run("elbo", b)[0].item();
          x.values[i] = saved - h;
          double down = jit->run("elbo", b)[0].item();
          x.values[i] = saved;
          double fd = (up - down) / (2 * h);
          double sym = grad[p + 1].values[i];
          double rounding = 8 * 2.2e-16 * std::max(std::abs(up), std::abs(down)) / h;
          CAPTURE(c.model);
          CAPTURE(std::string(e->name));
          CAPTURE(m.l().params[p].name);
          CAPTURE(i);
          CHECK(std::abs(sym - fd) <= 1e-6 * std::max(1.0, std::abs(fd)) + rounding);
        }
      }
    }
  }
}

TEST_CASE("jit: sample_model runs the model forwards: data drawn from the likelihood, and its mean") {
  for (const char* name : {"gaussian_vae", "bernoulli_vae"}) {
    Compiled m(stdlib_text(name), sema_options({{"D", 6}, {"H", 5}, {"J", 2}}), lower_options(Estimator::A));
    REQUIRE_MESSAGE(m.ok(), m.messages());
    REQUIRE(m.l().model_draws.size() == 2);
    CHECK(m.l().model_draws[0].name == "x");
    CHECK(m.l().model_draws[1].name == "mean.x");
    ir::Bindings b = m.synthetic(4, 6, 5, 0.5);
    std::vector<const ir::Node*> outs{m.l().model_draws[0].node, m.l().model_draws[1].node};
    std::vector<ir::Tensor> want = ir::evaluate(outs, b);
    Diagnostics d;
    auto jit = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, name, {"sample_model"});
    REQUIRE(jit);
    std::vector<ir::Tensor> got = jit->run("sample_model", b);
    REQUIRE(got.size() == 2);
    CHECK(got[0].shape == std::vector<std::int64_t>{5, 6});  // M generated datapoints of D values
    for (std::size_t k = 0; k < 2; ++k) {
      for (std::size_t i = 0; i < want[k].values.size(); ++i) {
        CHECK(std::abs(got[k].values[i] - want[k].values[i]) <= 1e-12 * (1 + std::abs(want[k].values[i])));
      }
    }
    if (std::string(name) == "bernoulli_vae") {
      for (double v : got[0].values) CHECK((v == 0 || v == 1));
      for (double p : got[1].values) CHECK((p > 0 && p < 1));
    }
  }
}

TEST_CASE("jit: a model that cannot be run forwards still fits, and says why it cannot be sampled") {
  Compiled m("model counts; dims { N; } data { y : int<lower=0>[N]; } param { s : real; }\n"
             "latent { r : real<lower=0>; }\n"
             "model { y ~ poisson(r); }\n"
             "guide { r ~ lognormal(s, 0.5); }\n",
             sema_options(), lower_options(Estimator::A));
  REQUIRE_MESSAGE(m.ok(), m.messages());
  CHECK(m.l().model_draws.empty());
  CHECK(m.l().sample_model_problem.find("flat (improper) prior") != std::string::npos);
  Diagnostics d;
  CHECK(jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "counts", {"elbo_grad"}));
  CHECK_FALSE(jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "counts", {"sample_model"}));
  REQUIRE(d.has_errors());
  CHECK(d.all().back().message.find("cannot be sampled forwards") != std::string::npos);
}

TEST_CASE("jit: the generated block's kernel equals the interpreter, its quantities from the same draw") {
  Compiled m("model gq; dims { N; K = 3; } data { x : real[N]; n : int<lower=0>[N]; }\n"
             "param { s : real<lower=0> init 1; }\n"
             "latent { mu : real; tau : real<lower=0>; raw : real[K]; }\n"
             "model { mu ~ normal(0, 1); tau ~ half_normal(1); raw ~ normal(0, 1); x ~ normal(mu, s); }\n"
             "guide { mu ~ normal(0.5, 0.2); tau ~ lognormal(0, 0.3); raw ~ normal(0, 1); }\n"
             "generated {\n"
             "  let theta = mu + tau * raw;\n"
             "  x_rep ~ normal(mu, s);\n"
             "  counts ~ poisson(exp(theta));\n"
             "  wins ~ binomial_logit(n, mu);\n"
             "  var total = 0.0;\n"
             "  for k in 0:K { total = total + theta[k]; }\n"
             "}\n",
             sema_options(), lower_options(Estimator::A));
  REQUIRE_MESSAGE(m.ok(), m.messages());
  std::vector<std::string> names;
  for (const ir::Output& o : m.l().generated) names.push_back(o.name);
  CHECK(names == std::vector<std::string>{"mu", "tau", "raw", "theta", "x_rep", "counts", "wins", "total"});
  ir::Bindings b = m.synthetic(3, 6, 4, 0.5);
  std::vector<double> trials = {0, 1, 5, 12, 40, 200};
  b.inputs["n"] = ir::Tensor{{6}, trials};
  std::vector<const ir::Node*> outs;
  for (const ir::Output& o : m.l().generated) outs.push_back(o.node);
  std::vector<ir::Tensor> want = ir::evaluate(outs, b);
  Diagnostics d;
  auto jit = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "gq", {"generated"});
  REQUIRE(jit);
  std::vector<ir::Tensor> got = jit->run("generated", b);
  REQUIRE(got.size() == want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    CAPTURE(names[k]);
    CHECK(got[k].shape == want[k].shape);
    for (std::size_t i = 0; i < want[k].values.size(); ++i) {
      CHECK(std::abs(got[k].values[i] - want[k].values[i]) <= 1e-12 * (1 + std::abs(want[k].values[i])));
    }
  }
  // theta and total from the latents of the same draw; counts and wins are counts in range.
  const std::vector<double>&mu = got[0].values, &tau = got[1].values, &raw = got[2].values, &theta = got[3].values;
  double sum = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(theta[k] == doctest::Approx(mu[0] + tau[0] * raw[k]).epsilon(1e-12));
    sum += theta[k];
  }
  CHECK(got[7].values[0] == doctest::Approx(sum).epsilon(1e-12));
  CHECK(got[4].shape == std::vector<std::int64_t>{});
  CHECK(got[5].shape == std::vector<std::int64_t>{3});
  for (double c : got[5].values) CHECK((c >= 0 && c == std::floor(c)));
  REQUIRE(got[6].values.size() == trials.size());
  for (std::size_t i = 0; i < trials.size(); ++i) {
    CHECK((got[6].values[i] >= 0 && got[6].values[i] <= trials[i] && got[6].values[i] == std::floor(got[6].values[i])));
  }
}
