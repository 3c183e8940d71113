// A kernel's deferred products (abi.h, vmc_gemm_rows_*) through the runtime alone, with a
// hand-written model (no compiler): a split step computes each one once over every thread's
// rows (runtime/src/engine_step.cpp, run_products), and checks its blocks as they are computed.
// The model: a param W[2, 3], data x[N, 3] in a subsampled plate; its bound is linear in W,
// f = N/M · Σ_rows Σ_i c_i (W_i · x_row) with c = (1, 1/2), so grad W = Cᵀ·X is one product
// over the rows, left to the runtime as the compiler leaves a weight gradient.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine.hpp"
#include "vmc/abi.h"
#include "vmc/trainer.hpp"

namespace {

bool g_zero_bound = false;  // the bound 0 (finite) whatever the data
int64_t g_columns = 3;      // W's and x's columns (RowsModel's)

void rows_kernel(const void* const* in, const int64_t* sizes, void* const* out, void* workspace,
                 vmc_context* context) {
  const auto* w = static_cast<const double*>(in[0]);
  const auto* x = static_cast<const double*>(in[1]);
  const double n = *static_cast<const double*>(in[2]);
  const double m = *static_cast<const double*>(in[3]);
  const int64_t rows = sizes[1], cols = g_columns;
  auto* c = static_cast<double*>(workspace);  // rows × 2: each row's weights, scaled N/M
  double f = 0;
  for (int64_t r = 0; r < rows; ++r) {
    c[2 * r] = n / m;
    c[2 * r + 1] = 0.5 * n / m;
    for (int64_t j = 0; j < cols; ++j) f += (c[2 * r] * w[j] + c[2 * r + 1] * w[cols + j]) * x[cols * r + j];
  }
  *static_cast<double*>(out[0]) = g_zero_bound ? 0.0 : f;
  // grad W (2 × cols) = Cᵀ (2 × rows) · X (rows × cols), k over the rows: deferrable.
  vmc_gemm_rows_f64(context, 1, 0, 2, cols, rows, 1.0, c, 2, x, cols, 0.0, static_cast<double*>(out[1]), cols);
}
int64_t rows_workspace(const int64_t* sizes) { return sizes[1] * 2 * 8 + 64; }

struct RowsModel {
  const char* size_names[2] = {"N", "M"};
  const char* size_dims[2] = {"N", "N"};
  int64_t w_extents[2] = {2, g_columns};
  int64_t x_extents[2] = {-2, g_columns};  // M × columns
  vmc_buffer_info inputs[4] = {
      {"W", VMC_PARAM, 0, 2, w_extents, VMC_IDENTITY, 0, 0, ""},
      {"x", VMC_DATA, 0, 2, x_extents, 0, 0, 0, "N"},
      {"N", VMC_SIZE, 0, 0, nullptr, 0, 0, 0, ""},
      {"M", VMC_SIZE, 0, 0, nullptr, 0, 0, 0, ""},
  };
  vmc_buffer_info outputs[2] = {
      {"elbo", VMC_OUTPUT, 0, 0, nullptr, 0, 0, 0, ""},
      {"grad.W", VMC_OUTPUT, 0, 2, w_extents, 0, 0, 0, ""},
  };
  int32_t reads[4] = {1, 1, 1, 1};
  vmc_kernel_info kernel{"elbo_grad", rows_kernel, rows_workspace, 2, outputs, reads};
  vmc_model_info info{VMC_ABI_VERSION, 8, 2, size_names, size_dims, 4, inputs, 1, 0, /*samples*/ 1, /*importance_weighted*/ 0, 0, nullptr, 1, &kernel};
};

vmc::runtime::Arrays data(std::vector<double> values) {
  const auto n = static_cast<int64_t>(values.size()) / g_columns;
  return {{"x", vmc::data::Array{"x", {n, g_columns}, std::move(values), false}}};
}

vmc::runtime::TrainerOptions options(int threads, int64_t batch) {
  vmc::runtime::TrainerOptions o;
  o.threads = threads;
  o.default_batch = batch;
  o.optimizer = &vmc::runtime::optimizer_named("sgd");
  o.lr = 0.01;
  return o;
}

const std::map<std::string, std::vector<double>> kInit = {{"W", {0.1, -0.2, 0.3, 0.05, 0.0, -0.1}}};

}  // namespace

TEST_CASE("trainer: a deferred product is summed over every thread's rows, once") {
  RowsModel model;
  std::vector<double> x;
  for (int i = 0; i < 3 * 37; ++i) x.push_back(std::sin(0.37 * i));
  vmc::runtime::Trainer one(model.info, data(x), kInit, options(1, 10));
  std::vector<double> want;
  for (int s = 0; s < 12; ++s) REQUIRE(one.step().finite);  // an epoch and a bit (a last batch of 7)
  want = one.param("W");
  for (int threads : {2, 3, 4}) {
    CAPTURE(threads);
    vmc::runtime::Trainer split(model.info, data(x), kInit, options(threads, 10));
    for (int s = 0; s < 12; ++s) REQUIRE(split.step().finite);
    std::vector<double> got = split.param("W");
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-13));
    // The product as the threads ran it: a block of C's 3 columns per thread (C has fewer rows
    // than columns; a fourth thread has none), k the whole minibatch, not each thread's share.
    vmc::runtime::GemmProfile profile = split.record_step();
    std::int64_t columns = 0;
    for (const auto& calls : profile.per_thread) {
      REQUIRE(calls.size() <= 1);
      for (const vmc::runtime::GemmCall& g : calls) {
        CHECK(g.k == 10);
        CHECK(g.m == 2);
        columns += g.n;
      }
    }
    CHECK(columns == 3);
  }
}

TEST_CASE("trainer: a split step checks each deferred product's sum: an overflow is named, the step skipped") {
  RowsModel model;
  // Two rows whose products are finite alone and overflow only when the threads' rows are
  // summed (whichever threads they fall to, the sum of C's column is 2e308 · N/M).
  std::vector<double> x = {1e308, 0, 0, 1, 2, 3, 1e308, 0, 0, 4, 5, 6};
  g_zero_bound = true;
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    vmc::runtime::Trainer t(model.info, data(x), kInit, options(threads, 4));
    vmc::runtime::StepResult r = t.step();
    CHECK_FALSE(r.finite);
    CHECK(r.problem.find("the gradient of 'W' is infinite at element") != std::string::npos);
    CHECK(t.param("W") == kInit.at("W"));  // skipped: every thread left its slice alone
  }
  g_zero_bound = false;
}

TEST_CASE("trainer: each thread's block of a deferred product starts on a cache line") {
  // grad W is 2 × 40 doubles (5 lines a row), cut by columns: 20 + 20 would start the second
  // thread's block in the middle of a line (its every vector split across two); the cut is at
  // a whole line's 8 columns, 16 + 24 for two threads, 16 + 8 + 16 for three (13.3 rounded up,
  // 26.7 down: each the nearer).
  g_columns = 40;
  RowsModel model;
  std::vector<double> x;
  for (int i = 0; i < 40 * 30; ++i) x.push_back(std::cos(0.11 * i));
  std::map<std::string, std::vector<double>> init = {{"W", std::vector<double>(80, 0.25)}};
  vmc::runtime::Trainer one(model.info, data(x), init, options(1, 10));
  for (int s = 0; s < 4; ++s) REQUIRE(one.step().finite);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    vmc::runtime::Trainer split(model.info, data(x), init, options(threads, 10));
    for (int s = 0; s < 4; ++s) REQUIRE(split.step().finite);
    std::vector<double> got = split.param("W"), want = one.param("W");
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-13));
    vmc::runtime::GemmProfile profile = split.record_step();
    std::vector<std::int64_t> widths;
    for (const auto& calls : profile.per_thread) {
      for (const vmc::runtime::GemmCall& g : calls) {
        CHECK(reinterpret_cast<std::uintptr_t>(g.c) % 64 == 0);
        widths.push_back(g.n);
      }
    }
    CHECK(widths == (threads == 2 ? std::vector<std::int64_t>{16, 24} : std::vector<std::int64_t>{16, 8, 16}));
  }
  g_columns = 3;
}

TEST_CASE("trainer: the last good state (every 50th step's, each thread copying its slices) is put back whole") {
  // 2 × 4100 params: each thread's slice of them crosses the 4096-element pieces the copy is
  // made in. The state after 50 steps is kept (before the 51st step's update); 13 steps later
  // it is put back: params, Adam's moments and its update count, as save_state had them then.
  g_columns = 4100;
  RowsModel model;
  std::vector<double> x;
  for (int i = 0; i < 4100 * 30; ++i) x.push_back(std::sin(0.013 * i));
  std::map<std::string, std::vector<double>> init = {{"W", std::vector<double>(8200, 0.5)}};
  for (int threads : {1, 2, 3}) {
    CAPTURE(threads);
    vmc::runtime::TrainerOptions o = options(threads, 10);
    o.optimizer = &vmc::runtime::optimizer_named("adam");
    vmc::runtime::Trainer t(model.info, data(x), init, o);
    CHECK(t.restore_last_good_state() == -1);  // nothing kept before the first step
    for (int s = 0; s < 50; ++s) REQUIRE(t.step().finite);
    const std::string kept = t.save_state();
    for (int s = 0; s < 13; ++s) REQUIRE(t.step().finite);
    REQUIRE(t.save_state() != kept);
    CHECK(t.restore_last_good_state() == 50);
    // From the update count on (the step and datapoint counters go on).
    constexpr std::size_t kUpdates = 10 + 4 + 8 + 4 + 8 + 8 + 8 + 8;
    const std::string now = t.save_state();
    CHECK(now.compare(kUpdates, std::string::npos, kept, kUpdates, std::string::npos) == 0);
  }
  g_columns = 3;
}

TEST_CASE("BalancedCuts: blocks on whole units, the rounding evened out over the products") {
  using vmc::runtime::detail::BalancedCuts;
  // Two threads, two products of 784 rows of equal work: 392 is no multiple of 16, so one
  // product gives thread 0 384 rows and the other 400 (not 384 both times).
  for (int t : {0, 1}) {
    BalancedCuts cuts(2, 16, t);
    std::size_t rows = 0;
    for (int d = 0; d < 2; ++d) {
      auto [b, e] = cuts.next(784, 1.0);
      CHECK(b % 16 == 0);
      CHECK((e % 16 == 0 || e == 784));
      rows += e - b;
    }
    CHECK(rows == 784);
  }
  // A heavier product first: its rounding is made up by the next, as far as units allow.
  BalancedCuts first(2, 16, 0), second(2, 16, 1);
  auto a0 = first.next(784, 10.0), b0 = first.next(400, 10.0), c0 = first.next(784, 10.0);
  auto a1 = second.next(784, 10.0), b1 = second.next(400, 10.0), c1 = second.next(784, 10.0);
  CHECK(a0.second == a1.first);  // the threads agree on every cut
  CHECK(b0.second == b1.first);
  CHECK(c0.second == c1.first);
  const double work0 = 10.0 * static_cast<double>((a0.second - a0.first) + (b0.second - b0.first) + (c0.second - c0.first));
  CHECK(std::abs(work0 - 10.0 * (784 + 400 + 784) / 2) <= 10.0 * 8);
  // Fewer rows than a unit: one thread takes them all, the other none.
  BalancedCuts small(2, 16, 0);
  auto s0 = small.next(10, 1.0);
  CHECK(((s0.first == 0 && s0.second == 0) || (s0.first == 0 && s0.second == 10)));
}
