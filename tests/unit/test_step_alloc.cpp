// A compiled VAE's training step allocates nothing once warm: not in the runtime, not in the
// generated code, not in the GEMM library (the allocation counter of test_trainer.cpp counts
// operator new and the C allocator's entry points of every library in the process).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "jit/compiled_model.hpp"
#include "lower/synthetic.hpp"
#include "digits_vae.hpp"
#include "gemm_sum.hpp"
#include "test_lower_helpers.hpp"
#include "vmc/data.hpp"
#include "vmc/trainer.hpp"

extern std::atomic<bool> g_count_allocations;
extern std::atomic<long> g_allocations;
extern bool g_counts_allocations;

using namespace vmc;
using namespace lower_test;
using namespace vmc::unit_test;

TEST_CASE("trainer: a compiled VAE's step allocates nothing once warm (runtime, kernel, GEMMs)") {
  if (!g_counts_allocations) {
    MESSAGE("allocations are not counted under AddressSanitizer");
    return;
  }
  if (vmc::runtime::gemm_backend_allocates()) {
    MESSAGE("the GEMM library (", vmc::runtime::gemm_backend(), ") allocates inside each product: not checked");
    return;
  }
  for (const char* model : {"bernoulli_vae", "gaussian_vae"}) {
    CAPTURE(model);
    DigitsVae vae(model);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      vmc::runtime::TrainerOptions o;
      o.threads = threads;
      o.seed = 3;
      vmc::runtime::Trainer t = vae.trainer(o);
      for (int s = 0; s < 20; ++s) t.step();  // warm: 18 steps per epoch, so a shuffle is drawn too
      g_allocations = 0;
      g_count_allocations = true;
      for (int s = 0; s < 10; ++s) t.step();  // within the second epoch
      g_count_allocations = false;
      CHECK(g_allocations.load() == 0);
    }
  }
}

TEST_CASE("trainer: the GEMM bound's replays leave the trainer as it was, in every mode") {
  DigitsVae vae("bernoulli_vae");
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    vmc::runtime::Trainer t = vae.trainer(threads);
    t.step();
    vmc::runtime::GemmProfile profile = t.record_step();
    // 14 products a step per thread. On two threads the kernels leave the five weight
    // gradients Xᵀ·δ over the rows (vmc_gemm_rows_f32), and each thread then computes a block of
    // every one over both threads' rows: k is the whole minibatch (100) on any number of threads,
    // not each thread's 50 rows.
    CHECK(profile.calls() == static_cast<std::size_t>(14 * threads));
    for (const auto& calls : profile.per_thread) {
      CHECK(std::count_if(calls.begin(), calls.end(), [](const auto& g) { return g.k == 100; }) == 5);
      CHECK(std::count_if(calls.begin(), calls.end(), [](const auto& g) { return g.k == 50; }) == 0);
    }
    const std::string before = t.save_state();
    using Operands = vmc::runtime::Trainer::Operands;
    for (Operands mode : {Operands::AsInStep, Operands::Reused, Operands::AfterUpdate}) {
      double seconds = t.replay_gemms(profile, 3, mode);
      CHECK(seconds > 0);
      CHECK(std::isfinite(seconds));
    }
    CHECK(t.save_state() == before);  // the replays ran on their own buffers
  }
}

TEST_CASE("trainer: the bound's replays at small minibatches write only their own buffers") {
  // Row counts below, at and around a micro-tile's 12 rows, split over two threads; the
  // sanitized build reports any write past a replay buffer (the after-update replay wrote a
  // bias that a deferred product's region reached into: `vmc bench --batch 10 --threads 2`
  // corrupted the heap on Fashion-MNIST; the next test makes that case on purpose).
  DigitsVae vae("bernoulli_vae");
  for (std::int64_t m = 2; m <= 13; ++m) {
    CAPTURE(m);
    vmc::runtime::TrainerOptions o;
    o.threads = 2;
    o.default_batch = m;
    vmc::runtime::Trainer t = vae.trainer(o);
    t.step();
    vmc::runtime::GemmProfile profile = t.record_step();
    const std::string before = t.save_state();
    using Operands = vmc::runtime::Trainer::Operands;
    for (Operands mode : {Operands::AsInStep, Operands::AfterUpdate}) CHECK(std::isfinite(t.replay_gemms(profile, 2, mode)));
    CHECK(t.save_state() == before);
  }
}

TEST_CASE("trainer: the after-update replay writes a param only where a product reads it") {
  // A product that reads one element of a weight (its A a 1 x 1 view of the weight's start):
  // the replay's region for it is that one element, and the replay's update must stay in it
  // (it wrote the whole weight, 313,600 floats past a buffer of a few bytes).
  DigitsVae vae("bernoulli_vae");
  vmc::runtime::Trainer t = vae.trainer(2);
  t.step();
  const vmc::runtime::GemmProfile recorded = t.record_step();
  const vmc::runtime::GemmCall& first = recorded.per_thread[0][0];  // x · enc_Wᵀ: B is a weight
  vmc::runtime::GemmCall one = first;
  one.transpose_a = one.transpose_b = 0;
  one.m = one.n = one.k = 1;
  one.lda = one.ldb = one.ldc = 1;
  one.a = first.b;
  one.b = first.a;
  vmc::runtime::GemmProfile crafted;
  crafted.per_thread = {{one}, {one}};
  CHECK(std::isfinite(t.replay_gemms(crafted, 2, vmc::runtime::Trainer::Operands::AfterUpdate)));
}

TEST_CASE("trainer: a step's time by phase, on every thread") {
  DigitsVae vae("bernoulli_vae");
  using vmc::runtime::StepPhases;
  for (int threads : {1, 2})
    for (bool fused : {true, false}) {
      CAPTURE(threads);
      CAPTURE(fused);
      vmc::runtime::TrainerOptions o;
      o.threads = threads;
      o.fused_update = fused;
      vmc::runtime::Trainer t = vae.trainer(o);
      t.step();
      StepPhases phases = t.time_step_phases(5);
      CHECK(t.steps_done() == 6);  // the timed steps are training steps
      REQUIRE(phases.per_thread.size() == static_cast<std::size_t>(threads));
      CHECK(phases.steps == 5);
      CHECK(phases.step_us > 0);
      for (const std::vector<double>& mine : phases.per_thread) {
        REQUIRE(mine.size() == static_cast<std::size_t>(StepPhases::Count));
        for (double us : mine) CHECK(us >= 0);
        CHECK(mine[StepPhases::Products] > 0);
        CHECK(mine[StepPhases::Update] > 0);
        // A split step leaves the weight gradients to the runtime, and so does one that may
        // move the params in their epilogue (float32 Adam, as here, unless turned off or the
        // build's products cannot).
        CHECK((mine[StepPhases::Gradients] > 0) == (threads > 1 || (fused && vmc::runtime::detail::gemm_fuses_adam())));
      }
    }
  for (int p = 0; p < StepPhases::Count; ++p) CHECK(std::string(StepPhases::name(p)) != "?");
}

TEST_CASE("trainer: the threads' round trip is measured between two threads, and leaves the trainer as it was") {
  DigitsVae vae("bernoulli_vae");
  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    vmc::runtime::Trainer t = vae.trainer(threads);
    t.step();
    const std::string before = t.save_state();
    const double ns = t.thread_round_trip_ns();
    if (threads == 1) {
      CHECK(ns == 0);
    } else {
      CHECK(ns > 10);  // a cache line between cores takes tens of nanoseconds at least
      CHECK(std::isfinite(ns));
    }
    CHECK(t.save_state() == before);
    CHECK(t.steps_done() == 1);
  }
}

TEST_CASE("trainer: the params stored through the cache or streamed give the same fit, bit for bit") {
  DigitsVae vae("bernoulli_vae");
  using Stores = vmc::runtime::TrainerOptions::ParamStores;
  std::vector<std::string> states;
  for (Stores mode : {Stores::Cached, Stores::Streamed, Stores::Auto}) {
    vmc::runtime::TrainerOptions o;
    o.threads = 2;
    o.param_stores = mode;
    vmc::runtime::Trainer t = vae.trainer(o);
    for (int s = 0; s < 100; ++s) t.step();  // Auto times both from step 64 to 95, then keeps one
    if (mode == Stores::Cached) CHECK_FALSE(t.params_streamed());
    if (mode == Stores::Streamed && !t.params_streamed()) MESSAGE("no AVX-512 here: the params are always cached");
    states.push_back(t.save_state());
  }
  CHECK(states[0] == states[1]);
  CHECK(states[0] == states[2]);
  // One thread never streams: the next step's products read the params from this core's cache.
  vmc::runtime::TrainerOptions one;
  one.param_stores = Stores::Streamed;
  vmc::runtime::Trainer t = vae.trainer(one);
  t.step();
  CHECK_FALSE(t.params_streamed());
}

TEST_CASE("trainer: a compiled VAE takes the same steps on 1, 2 and 3 threads (its weight gradients in blocks)") {
  // D = 784 binary pixels: the decoder's weight gradient is 400 × 784, cut by rows (at least 64
  // a thread), the encoder's 784 × 400 by rows, the latent layers' 20 × 400 by columns; each
  // thread updates the params of the blocks it computed.
  vmc::data::Array x{"x", {60, 784}, {}, false};
  for (int i = 0; i < 60 * 784; ++i) x.values.push_back((i * 7919 % 13) < 5 ? 1.0 : 0.0);
  vmc::sema::Options so;
  so.data_shapes["x"] = x.shape;
  Compiled m(read(std::string(VMC_SOURCE_DIR) + "/stdlib/bernoulli_vae.vmodel"), so, lower_options(Estimator::A));
  REQUIRE_MESSAGE(m.ok(), m.messages());
  Diagnostics d;
  auto compiled = jit::CompiledModel::build(m.l(), codegen::Precision::F32, d, "bernoulli_vae");
  REQUIRE(compiled);
  auto train = [&](int threads) {
    vmc::runtime::TrainerOptions o;
    o.threads = threads;
    o.default_batch = 20;
    o.seed = 5;
    vmc::runtime::Trainer t(compiled->info(), {{"x", x}}, lower::initial_params(m.l(), 3), o);
    for (int s = 0; s < 6; ++s) REQUIRE(t.step().finite);
    std::map<std::string, std::vector<double>> params;
    for (int i = 0; i < compiled->info().n_inputs; ++i) {
      const vmc_buffer_info& b = compiled->info().inputs[i];
      if (b.kind == VMC_PARAM) params[b.name] = t.param(b.name);
    }
    return params;
  };
  const auto one = train(1);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    const auto split = train(threads);
    REQUIRE(split.size() == one.size());
    for (const auto& [name, values] : one) {
      CAPTURE(name);
      const std::vector<double>& got = split.at(name);
      REQUIRE(got.size() == values.size());
      double worst = 0;
      for (std::size_t i = 0; i < values.size(); ++i) worst = std::max(worst, std::abs(got[i] - values[i]));
      CHECK(worst <= 1e-5);
    }
  }
}
