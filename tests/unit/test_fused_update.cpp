// Adam in the weight gradients' GEMM epilogue (runtime/src/gemm_sum.hpp, gemm_sum_adam; the
// guard in engine_products.cpp, bound_part and fusable_step): the product's micro-tiles move
// the params from registers, and a step takes that path only when nothing can refuse it. Either
// way the params must end up bit for bit as if the gradient had been stored, checked and then
// applied by the update's loop.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "digits_vae.hpp"
#include "gemm_sum.hpp"
#include "pool.hpp"
#include "vmc/abi.h"
#include "vmc/trainer.hpp"

using namespace vmc;
using namespace vmc::unit_test;
using vmc::runtime::detail::AdamConstants;
using vmc::runtime::detail::AdamTarget;
using vmc::runtime::detail::GemmTerm;

namespace {

// The update loop's arithmetic (adam_avx512.hpp) on one float, each step rounded as its vector
// instruction rounds it.
float adam_reference(float g, float& m1, float& m2, float p, const AdamConstants& c) {
  g = c.scale * g;
  m1 = std::fma(c.beta1, m1, (1 - c.beta1) * g);
  m2 = std::fma(c.beta2, m2, (1 - c.beta2) * (g * g));
  const float den = std::fma(std::sqrt(m2), c.inv_root_bc2, c.eps);
  return p + (c.step_size * m1) / den;
}

// The builds whose float32 products take the epilogue: vmc's own AVX-512 GEMM, and only it.
// A hand-written float32 model (abi.h alone) whose one weight's gradient is a product that reads
// the weight itself: grad W (24 × 64) = M · W, M a fixed 24 × 24 matrix. Fused, the tile of rows
// 0–11 would move W's rows 0–11 before the tile of rows 12–23 reads them: the guard must see the
// operand inside W and take the stored gradient.
void self_reading_kernel(const void* const* in, const int64_t*, void* const* out, void* workspace,
                         vmc_context* context) {
  const auto* w = static_cast<const float*>(in[0]);
  auto* m = static_cast<float*>(workspace);
  for (int i = 0; i < 24 * 24; ++i) m[i] = 0.01f * static_cast<float>(i % 7 - 3);
  *static_cast<float*>(out[0]) = 0.5f;  // a finite bound
  vmc_gemm_rows_f32(context, 0, 0, 24, 64, 24, 1.0f, m, 24, w, 64, 0.0f, static_cast<float*>(out[1]), 64);
}
int64_t self_reading_workspace(const int64_t*) { return 24 * 24 * 4 + 64; }

struct SelfReadingModel {
  int64_t w_extents[2] = {24, 64};
  vmc_buffer_info inputs[1] = {{"W", VMC_PARAM, 0, 2, w_extents, VMC_IDENTITY, 0, 0, ""}};
  vmc_buffer_info outputs[2] = {
      {"elbo", VMC_OUTPUT, 0, 0, nullptr, 0, 0, 0, ""},
      {"grad.W", VMC_OUTPUT, 0, 2, w_extents, 0, 0, 0, ""},
  };
  int32_t reads[1] = {1};
  vmc_kernel_info kernel{"elbo_grad", self_reading_kernel, self_reading_workspace, 2, outputs, reads};
  vmc_model_info info{VMC_ABI_VERSION, 4, 0, nullptr, nullptr, 1, inputs, 1, 0, /*samples*/ 1, /*importance_weighted*/ 0, 0, nullptr, 1, &kernel};
};

bool avx512_products() {
  const bool fuses = vmc::runtime::detail::gemm_fuses_adam();
  CHECK(fuses == (std::string(vmc::runtime::gemm_backend()) == "avx512+eigen"));
  return fuses;
}

}  // namespace

TEST_CASE("runtime: a product's Adam epilogue moves each param as the stored gradient's update would") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1, 1);
  struct Split {
    std::int64_t m, n;
    std::vector<std::int64_t> ks;
  };
  // The VAE's blocks (a thread's rows of 784 × 400, 400 × 784 by columns), tiles cut at every
  // edge (13 rows: a 12-row sliver and one of 1; 70 columns: two panels and 6), k across the
  // GEMM's blocks of 512 (the epilogue in the last only), several and empty pieces.
  const Split splits[] = {{392, 400, {50, 50}}, {400, 392, {34, 33, 33}}, {20, 400, {50, 0, 50}},
                          {13, 70, {300, 10}},  {33, 40, {500, 30, 600}}, {140, 33, {7}}};
  const AdamConstants constants{0.01f, 0.9f, 0.999f, 1e-8f, 1e-3f / 0.271f, 1 / std::sqrt(0.00399f)};
  for (int ta : {0, 1})
    for (int tb : {0, 1})
      for (const Split& sp : splits)
        for (std::int64_t pad : {0, 5})
          for (bool stream : {false, true}) {
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(sp.m);
            CAPTURE(sp.n);
            CAPTURE(pad);
            CAPTURE(stream);
            const std::int64_t ldc = sp.n + pad;
            std::vector<std::vector<float>> as, bs;
            std::vector<GemmTerm<float>> terms;
            for (std::int64_t k : sp.ks) {
              as.emplace_back(static_cast<std::size_t>(sp.m * k));
              bs.emplace_back(static_cast<std::size_t>(k * sp.n));
              for (float& x : as.back()) x = u(rng);
              for (float& x : bs.back()) x = u(rng);
              terms.push_back({as.back().data(), ta ? sp.m : k, bs.back().data(), tb ? k : sp.n, k});
            }
            const auto size = static_cast<std::size_t>(sp.m * ldc);
            std::vector<float> p(size), m1(size), m2(size);
            for (std::size_t x = 0; x < size; ++x) {
              p[x] = u(rng);
              m1[x] = 0.1f * u(rng);
              m2[x] = 0.01f * std::abs(u(rng));
            }
            std::vector<float> want_p = p, want_m1 = m1, want_m2 = m2, grad(size, 0.0f);
            vmc::runtime::detail::gemm_sum(nullptr, ta != 0, tb != 0, sp.m, sp.n, terms.data(), static_cast<int>(terms.size()),
                                           0.5f, 0.0f, grad.data(), ldc);
            for (std::int64_t i = 0; i < sp.m; ++i) {
              for (std::int64_t j = 0; j < sp.n; ++j) {
                const auto x = static_cast<std::size_t>(i * ldc + j);
                want_p[x] = adam_reference(grad[x], want_m1[x], want_m2[x], want_p[x], constants);
              }
            }
            std::vector<float> c(size, std::numeric_limits<float>::quiet_NaN());
            const AdamTarget adam{p.data(), m1.data(), m2.data(), constants, stream};
            if (!vmc::runtime::detail::gemm_sum_adam(nullptr, ta != 0, tb != 0, sp.m, sp.n, terms.data(),
                                                     static_cast<int>(terms.size()), 0.5f, c.data(), ldc, adam)) {
              CHECK_FALSE(avx512_products());  // only a build without vmc's AVX-512 GEMM declines
              continue;
            }
            // Bit for bit, the padding between rows untouched.
            CHECK(p == want_p);
            CHECK(m1 == want_m1);
            CHECK(m2 == want_m2);
          }
}

TEST_CASE("runtime: largest_magnitude finds the largest |x|, and any NaN or Inf") {
  using vmc::runtime::detail::largest_magnitude;
  std::vector<float> x(100);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * static_cast<float>(i) - 0.5f;
  CHECK(largest_magnitude(x.data(), 0) == 0);
  CHECK(largest_magnitude(x.data(), x.size()) == doctest::Approx(0.5));
  for (std::size_t at : {0, 17, 63, 64, 97, 99}) {  // in the vector loop and in the tail
    CAPTURE(at);
    std::vector<float> y = x;
    y[at] = -3e30f;
    CHECK(largest_magnitude(y.data(), y.size()) == -y[at]);
    y[at] = std::numeric_limits<float>::quiet_NaN();
    CHECK(std::isinf(largest_magnitude(y.data(), y.size())));
    y[at] = -std::numeric_limits<float>::infinity();
    CHECK(std::isinf(largest_magnitude(y.data(), y.size())));
  }
}

TEST_CASE("trainer: Adam in the weight products' epilogue gives the same fit as the stored gradient, bit for bit") {
  for (const char* model : {"bernoulli_vae", "gaussian_vae"}) {
    CAPTURE(model);
    DigitsVae vae(model);
    for (int threads : {1, 2, 3}) {
      CAPTURE(threads);
      std::vector<std::string> states;
      for (bool fused : {false, true}) {
        vmc::runtime::TrainerOptions o;
        o.threads = threads;
        o.fused_update = fused;
        vmc::runtime::Trainer t = vae.trainer(o);
        // 120 steps: the last good state kept (not fused) at 0, 50 and 100; the params'
        // stores timed both ways from 64 to 95.
        for (int s = 0; s < 120; ++s) REQUIRE(t.step().finite);
        if (!fused) {
          CHECK(t.fused_updates() == 0);
        } else if (avx512_products()) {
          CHECK(t.fused_updates() == 117);
        } else {
          MESSAGE("no AVX-512 GEMM here: every update takes the stored gradient");
        }
        states.push_back(t.save_state());
      }
      CHECK(states[0] == states[1]);
    }
  }
}

TEST_CASE("trainer: a step whose gradient the operands cannot bound is not fused, and fails as the other way") {
  // One pixel of every digit made huge. At 1e34 the Bernoulli VAE's steps stay finite (a bound
  // near 1e34) but its decoder's weight gradient is bounded by k · max|h| · max|δ| ≈ 50 · 1e34,
  // past the guard's 1e30: not fused. At 1e37 its bound is still finite but a weight's gradient
  // (mu_W's) is not, and the step is refused: had any weight moved in an epilogue first, the
  // states would differ. The Gaussian VAE's bound overflows at 1e34: every step refused.
  struct Case {
    const char* model;
    double pixel;
  };
  for (const Case& c : {Case{"bernoulli_vae", 1e34}, Case{"bernoulli_vae", 1e37}, Case{"gaussian_vae", 1e34}}) {
    CAPTURE(c.model);
    CAPTURE(c.pixel);
    DigitsVae vae(c.model);
    const auto cols = static_cast<std::size_t>(vae.x.shape[1]);
    for (std::size_t r = 0; r * cols < vae.x.values.size(); ++r) vae.x.values[r * cols + 3] = c.pixel;
    std::vector<std::string> states, problems;
    for (bool fused : {false, true}) {
      vmc::runtime::TrainerOptions o;
      o.threads = 2;
      o.fused_update = fused;
      vmc::runtime::Trainer t = vae.trainer(o);
      std::string problem;
      for (int s = 0; s < 5; ++s) {
        const vmc::runtime::StepResult r = t.step();
        problem += std::to_string(r.finite) + r.problem + "|" + std::to_string(r.elbo) + ";";
      }
      CHECK(t.fused_updates() == 0);
      states.push_back(t.save_state());
      problems.push_back(problem);
    }
    CHECK(problems[0] == problems[1]);
    CHECK(states[0] == states[1]);
  }
}

TEST_CASE("trainer: a product that reads the param it is the gradient of is not fused") {
  SelfReadingModel model;
  std::vector<double> init(24 * 64);
  for (std::size_t i = 0; i < init.size(); ++i) init[i] = std::sin(0.1 * static_cast<double>(i));
  std::vector<std::vector<double>> params;
  for (bool fused : {false, true}) {
    vmc::runtime::TrainerOptions o;
    o.fused_update = fused;
    vmc::runtime::Trainer t(model.info, {}, {{"W", init}}, o);
    for (int s = 0; s < 3; ++s) REQUIRE(t.step().finite);
    CHECK(t.fused_updates() == 0);
    params.push_back(t.param("W"));
  }
  CHECK(params[0] == params[1]);
}
