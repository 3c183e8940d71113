// The C++ host API (vmc/vmc.hpp) as a host program sees it: linked against libvmc.so alone.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <vmc/vmc.hpp>

namespace {

const char* kNormalMean = R"(model normal_mean;
dims { N; }
data { y : real[N]; }
latent { mu : real; }
param { mu_loc : real; mu_ls : real init -1; }
model {
  mu ~ normal(0, 10);
  y ~ normal(mu, 1);
}
guide { mu ~ normal(mu_loc, exp(mu_ls)); }
)";

vmc::Data ys(int n) {
  vmc::data::Array y{"y", {n}, {}, false};
  for (int i = 0; i < n; ++i) y.values.push_back(1.5 + std::sin(3.0 * i));
  return vmc::Data(y);
}

}  // namespace

TEST_CASE("api: a model that does not check throws its diagnostics") {
  CHECK_THROWS_WITH_AS(vmc::compile_string("model m;\ndata { x : real[N; }\n", "bad.vmodel"),
                       doctest::Contains("bad.vmodel:2:"), vmc::Error);
  CHECK_THROWS_WITH_AS(vmc::compile_file("/nonexistent/model.vmodel"), doctest::Contains("model.vmodel"),
                       vmc::Error);
}

TEST_CASE("api: elbo_and_grad agrees with finite differences of itself (f64, fixed noise)") {
  vmc::Model model = vmc::compile_string(kNormalMean, "normal_mean.vmodel", {.f64 = true});
  CHECK(model.name() == "normal_mean");
  vmc::Data data = ys(20);
  vmc::Values params = model.initial_params(data, 3);
  params["mu_loc"] = {0.7};
  params["mu_ls"] = {-0.4};
  vmc::Values noise = model.draw_noise(data, 5), grad, ignored;
  REQUIRE(noise.size() == 1);
  double f = model.elbo_and_grad(params, data, noise, grad);
  CHECK(std::isfinite(f));
  for (const char* name : {"mu_loc", "mu_ls"}) {
    CAPTURE(name);
    const double h = 1e-6;
    vmc::Values up = params, down = params;
    up[name][0] += h;
    down[name][0] -= h;
    double fd = (model.elbo_and_grad(up, data, noise, ignored) - model.elbo_and_grad(down, data, noise, ignored)) / (2 * h);
    CHECK(grad.at(name)[0] == doctest::Approx(fd).epsilon(1e-6));
  }
  // Missing params and noise of the wrong size are errors, not crashes.
  CHECK_THROWS_AS(model.elbo_and_grad({}, data, noise, grad), vmc::Error);
  CHECK_THROWS_AS(model.elbo_and_grad(params, data, {{"eps.mu", {1, 2}}}, grad), vmc::Error);
}

TEST_CASE("api: fit reaches the conjugate posterior") {
  vmc::Model model = vmc::compile_string(kNormalMean, "normal_mean.vmodel");
  vmc::Data data = ys(50);
  double sum = 0;
  for (double v : data.arrays.at("y").values) sum += v;
  double precision = 0.01 + 50, mean = sum / precision, sd = 1 / std::sqrt(precision);
  vmc::FitResult r = vmc::fit(model, data, {.estimator = vmc::Estimator::Stl, .steps = 3000, .lr = 0.01});
  CHECK(r.steps == 3000);
  CHECK(r.trace.size() == 3000);
  CHECK(r.params.at("mu_loc")[0] == doctest::Approx(mean).epsilon(0.2 * sd / mean));
  CHECK(std::exp(r.params.at("mu_ls")[0]) == doctest::Approx(sd).epsilon(0.05));
  CHECK(r.final_elbo_per_datapoint > r.trace.front());
}

TEST_CASE("api: an estimator or optimizer the registries do not have is an error, never a default") {
  vmc::Model model = vmc::compile_string(kNormalMean, "normal_mean.vmodel");
  vmc::FitOptions bad_estimator{.estimator = static_cast<vmc::Estimator>(7), .steps = 5};
  CHECK_THROWS_WITH_AS(vmc::fit(model, ys(20), bad_estimator), doctest::Contains("unknown estimator"), vmc::Error);
  vmc::FitOptions bad_optimizer{.steps = 5, .optimizer = "adamw"};
  CHECK_THROWS_WITH_AS(vmc::fit(model, ys(20), bad_optimizer), doctest::Contains("unknown optimizer 'adamw'"),
                       vmc::Error);
  // Each value of the enum is the registry's entry of that position: B is the closed-form one.
  vmc::FitResult b = vmc::fit(model, ys(20), {.estimator = vmc::Estimator::B, .steps = 5});
  CHECK(b.steps == 5);
}
