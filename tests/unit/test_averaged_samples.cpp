// --samples L of a mean estimator (A, B, stl) at run time (vmc_model_info::samples): the kernels
// are one sample's, and the runtime averages L calls, each with its own sample's noise key
// (sample_seed). A fit step, an evaluation and the bound's draws with L samples are then the mean
// of L one-sample runs whose seeds are those keys, bit for bit up to the order of the sums, with
// the batch whole or split across threads; and the compiled code does not grow with L.
#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "engine.hpp"
#include "jit/compiled_model.hpp"
#include "lower/synthetic.hpp"
#include "global_local_model.hpp"
#include "test_lower_helpers.hpp"
#include "vmc/data.hpp"
#include "vmc/trainer.hpp"

using namespace vmc;
using namespace lower_test;

namespace {

// A global latent (its noise is the same in every part of a split batch: the row-free part is
// counted once per sample) and local latents in a subsampled plate.
using global_local::kModel;

constexpr std::int64_t kN = 41, kD = 3;

runtime::Arrays make_data() { return global_local::make_data(kN, kD); }

sema::Options shapes() {
  sema::Options so;
  so.data_shapes["x"] = {kN, kD};
  so.data_shapes["y"] = {kN};
  return so;
}

// Every latent local to the plate: what an importance-weighted bound over datapoints needs.
const char* kLocal = R"(model local;
dims { N; D; K = 2; }
data { x : real[N, D]; y : real[N]; }
latent { z : real[N, K]; }
param { w : real[D];  A : real[K, D];  a : real[K];  log_s : real[K]; }
model {
  plate i in N subsample {
    z[i] ~ normal(0, 1);
    y[i] ~ normal(dot(x[i], w) + sum(z[i]), 1);
  }
}
guide {
  plate i in N subsample {
    z[i] ~ normal(A * x[i] + a, exp(log_s));
  }
}
)";

struct Build {
  Compiled model;
  std::unique_ptr<jit::CompiledModel> compiled;
  Build(Estimator::Ref est, int samples, const char* text = kModel) : model(text, shapes(), lower_options(est, samples)) {
    REQUIRE_MESSAGE(model.ok(), model.messages());
    Diagnostics d;
    compiled = jit::CompiledModel::build(model.l(), codegen::Precision::F64, d, "averaged", {"elbo_grad", "elbo"}, "");
    REQUIRE(compiled);
  }
};

std::unique_ptr<Build> build(Estimator::Ref est, int samples, const char* text = kModel) {
  return std::make_unique<Build>(est, samples, text);
}

struct Result {
  double elbo = 0, evaluated = 0;
  std::vector<double> draws;
  std::vector<std::vector<double>> params;  // after one SGD step
};

// One SGD step on all the rows from the same initial params (drawn with seed 5 whatever the
// run's seed), an evaluation in batches of 10 and two draws of the bound, with noise seed `seed`.
Result run(const Build& b, std::uint64_t seed, int threads) {
  runtime::TrainerOptions o;
  o.seed = seed;
  o.threads = threads;
  o.default_batch = kN;  // every row: the minibatch's choice of rows depends on the seed
  o.optimizer = &runtime::optimizer_named("sgd");
  o.lr = 0.05;
  runtime::Trainer t(b.compiled->info(), make_data(), lower::initial_params(b.model.l(), 5), o);
  Result r;
  r.evaluated = t.evaluate(make_data(), "elbo", 3, 10);
  r.draws = t.whole_data_draws("elbo", 2, 4);
  runtime::StepResult s = t.step();
  REQUIRE(s.finite);
  r.elbo = s.elbo;
  for (const std::string& p : t.param_names()) r.params.push_back(t.param(p));
  return r;
}

bool close(double x, double y) { return std::abs(x - y) <= 1e-11 * std::max({1.0, std::abs(x), std::abs(y)}); }

}  // namespace

TEST_CASE("averaged samples: L samples are the mean of L one-sample runs keyed by sample_seed") {
  using runtime::detail::sample_seed;
  CHECK(sample_seed(7, 0) == 7);  // a one-sample run draws what it always drew
  CHECK(sample_seed(7, 1) != sample_seed(7, 2));
  CHECK(sample_seed(7, 1) != sample_seed(8, 1));
  constexpr int L = 4;
  constexpr std::uint64_t seed = 7;
  for (auto est : {Estimator::A, Estimator::B, Estimator::Stl}) {
    auto one = build(est, 1), many = build(est, L);
    CHECK(one->compiled->info().samples == 1);
    CHECK(many->compiled->info().samples == L);
    // One sample lowered either way: the same graph, whatever L is.
    CHECK(one->model.l().function.graph->size() == many->model.l().function.graph->size());
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      Result averaged = run(*many, seed, threads);
      std::vector<Result> singles;
      for (int l = 0; l < L; ++l) singles.push_back(run(*one, sample_seed(seed, static_cast<std::uint32_t>(l)), threads));
      double elbo = 0, evaluated = 0;
      for (const Result& s : singles) {
        elbo += s.elbo / L;
        evaluated += s.evaluated / L;
      }
      CHECK_MESSAGE(close(averaged.elbo, elbo), averaged.elbo, " vs ", elbo);
      CHECK_MESSAGE(close(averaged.evaluated, evaluated), averaged.evaluated, " vs ", evaluated);
      for (std::size_t d = 0; d < averaged.draws.size(); ++d) {
        double mean = 0;
        for (const Result& s : singles) mean += s.draws[d] / L;
        CHECK(close(averaged.draws[d], mean));
      }
      // SGD moves each param by lr times the gradient: the averaged step's move is the mean move.
      Result start = run(*one, seed, threads);
      for (std::size_t p = 0; p < averaged.params.size(); ++p) {
        for (std::size_t i = 0; i < averaged.params[p].size(); ++i) {
          double mean = 0;
          for (const Result& s : singles) mean += s.params[p][i] / L;
          CHECK(close(averaged.params[p][i], mean));
        }
      }
      // And the samples differ: the average is not one sample's value L times.
      CHECK(std::abs(singles[0].elbo - singles[1].elbo) > 1e-6);
      CHECK(close(start.elbo, singles[0].elbo));
    }
  }
}

// The step's total bound and the gradient SGD moved the params by (p1 − p0 = lr g / N), from
// `init`, with noise seed `seed`: a step on all the rows.
struct Step {
  double elbo = 0;
  std::map<std::string, std::vector<double>> gradient;  // per datapoint
};

Step step_from(const Build& b, const std::map<std::string, std::vector<double>>& init, int threads) {
  runtime::TrainerOptions o;
  o.seed = 7;
  o.threads = threads;
  o.default_batch = kN;
  o.optimizer = &runtime::optimizer_named("sgd");
  o.lr = 1e-3;
  runtime::Trainer t(b.compiled->info(), make_data(), init, o);
  runtime::StepResult r = t.step();
  REQUIRE(r.finite);
  Step s;
  s.elbo = r.elbo;
  for (const std::string& p : t.param_names()) {
    std::vector<double> after = t.param(p), g(after.size());
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = (after[i] - init.at(p)[i]) / o.lr;
    s.gradient[p] = g;
  }
  return s;
}

// Every latent global, no subsampled plate: the other case of an importance-weighted bound.
const char* kGlobal = R"(model global;
dims { N; D; }
data { x : real[N, D]; y : real[N]; }
latent { w : real[D]; }
param { w_loc : real[D];  w_ls : real[D] init -1; }
model {
  w ~ normal(0, 1);
  plate i in N { y[i] ~ normal(dot(x[i], w), 1); }
}
guide { w ~ normal(w_loc, exp(w_ls)); }
)";

TEST_CASE("averaged samples: an importance-weighted bound of K = 1 is L^A") {
  for (const char* text : {kLocal, kGlobal}) {
    auto iw = build(Estimator::Iwae, 1, text), a = build(Estimator::A, 1, text);
    CHECK(iw->compiled->info().importance_weighted == 1);
    CHECK(a->compiled->info().importance_weighted == 0);
    auto init = lower::initial_params(a->model.l(), 5);
    for (int threads : {1, 2}) {
      Step x = step_from(*iw, init, threads), y = step_from(*a, init, threads);
      CHECK_MESSAGE(close(x.elbo, y.elbo), x.elbo, " vs ", y.elbo);
      for (const auto& [p, g] : y.gradient) {
        for (std::size_t i = 0; i < g.size(); ++i) CHECK(std::abs(x.gradient.at(p)[i] - g[i]) <= 1e-7 * std::max(1.0, std::abs(g[i])));
      }
    }
  }
}

TEST_CASE("averaged samples: an importance-weighted bound of K samples is the log-mean-exp of their log-weights") {
  // The bound `vmc eval` gives with K = 4 against the log-mean-exp of 4 draws of the log_weights
  // kernel of L^A's model, each with its sample's noise key, on the same rows and stream.
  constexpr int K = 4;
  constexpr std::uint64_t seed = 7, stream = 3;
  auto iw = build(Estimator::Iwae, K, kLocal);
  auto a = build(Estimator::A, 1, kLocal);
  Diagnostics d;
  auto weights = jit::CompiledModel::build(a->model.l(), codegen::Precision::F64, d, "weights", {"log_weights"}, "");
  REQUIRE(weights);
  auto init = lower::initial_params(a->model.l(), 5);
  runtime::TrainerOptions o;
  o.seed = seed;
  o.default_batch = kN;
  runtime::Trainer t(iw->compiled->info(), make_data(), init, o);
  const double evaluated = t.evaluate(make_data(), "elbo", stream, kN);
  std::vector<std::vector<double>> w;
  for (int k = 0; k < K; ++k) {
    runtime::TrainerOptions ok = o;
    ok.seed = runtime::detail::sample_seed(seed, static_cast<std::uint32_t>(k));
    runtime::Trainer one(weights->info(), make_data(), init, ok);
    w.push_back(one.sample("log_weights", 1, kN, stream).values.at(0));
    REQUIRE(w.back().size() == static_cast<std::size_t>(kN));
  }
  double reference = 0;
  for (std::int64_t i = 0; i < kN; ++i) {
    double top = -INFINITY, sum = 0;
    for (int k = 0; k < K; ++k) top = std::max(top, w[k][i]);
    for (int k = 0; k < K; ++k) sum += std::exp(w[k][i] - top);
    reference += (top + std::log(sum / K)) / kN;
  }
  CHECK_MESSAGE(close(evaluated, reference), evaluated, " vs ", reference);
  CHECK(std::abs(w[0][0] - w[1][0]) > 1e-6);  // the samples differ
}

TEST_CASE("averaged samples: an importance-weighted step's gradient is the bound's (finite differences)") {
  // With its noise fixed (the same seed and step), the bound is a smooth function of the params:
  // the gradient the step moved them by is its derivative along random directions. Both passes
  // of call_importance_weighted are in it: a wrong weight or a missing sum would show.
  constexpr int K = 4;
  for (const char* text : {kLocal, kGlobal}) {
    auto iw = build(Estimator::Iwae, K, text);
    auto init = lower::initial_params(iw->model.l(), 5);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      Step at = step_from(*iw, init, threads);
      std::mt19937_64 rng(11);
      std::normal_distribution<double> normal(0, 1);
      for (int direction = 0; direction < 3; ++direction) {
        const double h = 1e-5;
        auto up = init, down = init;
        double along = 0;
        for (auto& [p, v] : up) {
          for (std::size_t i = 0; i < v.size(); ++i) {
            double e = normal(rng);
            v[i] += h * e;
            down.at(p)[i] -= h * e;
            along += e * at.gradient.at(p)[i];
          }
        }
        double fd = (step_from(*iw, up, threads).elbo - step_from(*iw, down, threads).elbo) / (2 * h) / kN;
        CHECK_MESSAGE(std::abs(fd - along) <= 1e-5 * std::max(1.0, std::abs(along)), "finite differences ", fd,
                      ", the step's gradient ", along);
      }
    }
  }
}
