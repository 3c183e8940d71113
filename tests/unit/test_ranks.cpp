// Data-parallel ranks (TrainerOptions::collective, runtime/src/engine_ranks.cpp) as threads of
// one process (thread_ranks.hpp): R ranks with a global minibatch of M follow one process with
// minibatch M up to the order of floating-point sums, each rank keeping only its shard. The same
// through Open MPI's mpirun is the ctest label `mpi` (tests/mpi/).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "jit/compiled_model.hpp"
#include "lower/synthetic.hpp"
#include "global_local_model.hpp"
#include "test_lower_helpers.hpp"
#include "thread_ranks.hpp"
#include "vmc/data.hpp"
#include "vmc/trainer.hpp"

using namespace vmc;
using namespace lower_test;

namespace {

// A global latent (a prior outside the plate: the bound has a row-free part), local latents
// with an amortised guide, and two data arrays batched over the plate (global_local_model.hpp).
using global_local::kModel;

runtime::Arrays make_data(std::int64_t n, std::int64_t d) { return global_local::make_data(n, d); }

struct Run {
  std::vector<std::vector<double>> params;  // by param, after the steps
  std::vector<double> elbos;                // every step's bound
};

Run train(const vmc_model_info& info, const lower::Lowered& l, const runtime::TrainerOptions& o, int steps,
          runtime::Collective* c = nullptr) {
  runtime::TrainerOptions opt = o;
  opt.collective = c;
  runtime::Trainer t(info, make_data(103, 3), lower::initial_params(l, o.seed), opt);
  Run r;
  for (int s = 0; s < steps; ++s) r.elbos.push_back(t.step().elbo);
  for (const std::string& p : t.param_names()) r.params.push_back(t.param(p));
  return r;
}

// The largest difference relative to the values' scale (every element of every param).
double max_rel(const Run& a, const Run& b) {
  double worst = 0;
  for (std::size_t p = 0; p < a.params.size(); ++p) {
    for (std::size_t i = 0; i < a.params[p].size(); ++i) {
      double x = a.params[p][i], y = b.params[p][i];
      worst = std::max(worst, std::abs(x - y) / std::max({std::abs(x), std::abs(y), 1e-3}));
    }
  }
  for (std::size_t s = 0; s < a.elbos.size(); ++s) {
    worst = std::max(worst, std::abs(a.elbos[s] - b.elbos[s]) / std::max(std::abs(a.elbos[s]), 1.0));
  }
  return worst;
}

// Per param, ‖a − b‖ / ‖a‖ (the bounds as in max_rel): float32's measure, as tests/mpi's
// params_diff. An element whose gradient nearly cancels moves by about lr either way in Adam's
// first steps under any change of summation order, so single elements of a float32 fit differ
// by more than the params do (max_rel reached 1.02e-5 in the ASan build).
double max_norm_rel(const Run& a, const Run& b) {
  double worst = 0;
  for (std::size_t p = 0; p < a.params.size(); ++p) {
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < a.params[p].size(); ++i) {
      diff += (a.params[p][i] - b.params[p][i]) * (a.params[p][i] - b.params[p][i]);
      norm += a.params[p][i] * a.params[p][i];
    }
    worst = std::max(worst, std::sqrt(diff) / std::max(std::sqrt(norm), 1e-3));
  }
  for (std::size_t s = 0; s < a.elbos.size(); ++s) {
    worst = std::max(worst, std::abs(a.elbos[s] - b.elbos[s]) / std::max(std::abs(a.elbos[s]), 1.0));
  }
  return worst;
}

}  // namespace

TEST_CASE("ranks: R ranks as threads follow one process with the same global minibatch") {
  sema::Options so;
  so.data_shapes["x"] = {103, 3};
  so.data_shapes["y"] = {103};
  for (auto precision : {codegen::Precision::F64, codegen::Precision::F32}) {
    const bool f64 = precision == codegen::Precision::F64;
    CAPTURE(f64);
    for (auto est : {Estimator::A, Estimator::B}) {
      Compiled m(kModel, so, lower_options(est));
      REQUIRE_MESSAGE(m.ok(), m.messages());
      Diagnostics d;
      auto compiled = jit::CompiledModel::build(m.l(), precision, d, "ranks");
      REQUIRE(compiled);
      REQUIRE(compiled->info().row_free_part == 1);
      runtime::TrainerOptions o;
      o.seed = 11;
      o.default_batch = 10;  // 11 steps per epoch, the last of 3 rows: fewer rows than 4 ranks
      o.optimizer = &vmc::runtime::optimizer_named("adam");
      o.lr = 0.01;
      const int steps = 50;
      Run one = train(compiled->info(), m.l(), o, steps);
      for (int ranks : {2, 3, 4}) {
        for (int threads : {1, 2}) {
          CAPTURE(ranks);
          CAPTURE(threads);
          runtime::TrainerOptions ro = o;
          ro.threads = threads;
          ThreadRanks group(ranks);
          std::vector<Run> runs(ranks);
          std::vector<std::thread> members;
          for (int r = 0; r < ranks; ++r) {
            members.emplace_back([&, r] { runs[r] = train(compiled->info(), m.l(), ro, steps, &group.rank(r)); });
          }
          for (std::thread& t : members) t.join();
          for (int r = 0; r < ranks; ++r) {
            CAPTURE(r);
            CHECK(max_rel(runs[r], runs[0]) == 0.0);  // every rank holds the same params, bit for bit
            if (f64) {
              CHECK(max_rel(runs[r], one) < 1e-10);
            } else {
              CHECK(max_norm_rel(runs[r], one) < 1e-5);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("ranks: each rank keeps only its shard and refuses whole-data work") {
  sema::Options so;
  so.data_shapes["x"] = {103, 3};
  so.data_shapes["y"] = {103};
  Compiled m(kModel, so, lower_options(Estimator::A));
  REQUIRE(m.ok());
  Diagnostics d;
  auto compiled = jit::CompiledModel::build(m.l(), codegen::Precision::F64, d, "ranks", {"elbo_grad", "sample_guide"});
  REQUIRE(compiled);
  ThreadRanks group(2);
  std::string rank1_error;
  std::thread second([&] {
    runtime::TrainerOptions o;
    o.collective = &group.rank(1);
    runtime::Trainer t(compiled->info(), make_data(103, 3), lower::initial_params(m.l(), 1), o);
    t.step();
    try {
      t.sample("sample_guide", 1, 10, 1);  // its shard starts at row 52
    } catch (const runtime::RuntimeError& e) {
      rank1_error = e.what();
    }
  });
  runtime::TrainerOptions o;
  o.collective = &group.rank(0);
  runtime::Trainer t(compiled->info(), make_data(103, 3), lower::initial_params(m.l(), 1), o);
  t.step();
  second.join();
  // Rank 0's shard holds rows 0–51: the first 50 can be sampled, 60 cannot, nor the whole data.
  CHECK(t.sample("sample_guide", 1, 50, 1).count == 1);
  CHECK_THROWS_WITH_AS(t.sample("sample_guide", 1, 60, 1), doctest::Contains("rank 0: 52 rows"), runtime::RuntimeError);
  CHECK_THROWS_AS(t.gradient_noise(4, 1), runtime::RuntimeError);
  CHECK(rank1_error.find("rank 1: 51 rows") != std::string::npos);
}
