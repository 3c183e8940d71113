// The runtime's Trainer through abi.h alone, with a hand-written model (no compiler, no LLVM):
// the seam ARCHITECTURE.md asks to be testable this way. The model: a param mu, data x[N] in a
// subsampled plate, per-row noise eps[M]; its bound is
//   f = (N/M) Σ_i −(x_i − mu)² / 2  +  0 · Σ_i eps_i  −  c · mu² / 2     (c: a row-free part)
// so its gradient is (N/M) Σ_i (x_i − mu) − c·mu, and the optimum is N·mean(x) / (N + c).
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <vector>

#include "vmc/abi.h"
#include "vmc/fit.hpp"
#include "vmc/trainer.hpp"
#include "tiny_model.hpp"

// The replacement operator new/delete below pair malloc with free; GCC cannot see that through
// inlining and warns at the call sites in this file.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Every allocation in the binary, counted while g_count_allocations is set (the "no allocation
// per step" checks below and in test_step_alloc.cpp): operator new, and the C allocator's entry
// points, which this executable interposes for itself and every shared library it loads (a GEMM
// library's packing buffers are malloc'd, not new'd), forwarding to glibc's.
std::atomic<bool> g_count_allocations{false};
std::atomic<long> g_allocations{0};

// Under AddressSanitizer the allocator is ASan's own and must stay so (a replaced operator new
// or malloc breaks its bookkeeping): nothing is counted there (scripts/test-sanitized) and the
// allocation tests say so; every other build counts operator new and malloc alike.
#if defined(__SANITIZE_ADDRESS__)
#define VMC_COUNT_MALLOC 0
#else
#define VMC_COUNT_MALLOC 1
#endif
bool g_counts_allocations = VMC_COUNT_MALLOC;

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}
namespace {
inline void count_allocation() {
  if (g_count_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace
#if VMC_COUNT_MALLOC
extern "C" {
void* malloc(std::size_t n) {
  count_allocation();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  count_allocation();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  count_allocation();
  return __libc_realloc(p, n);
}
int posix_memalign(void** p, std::size_t alignment, std::size_t n) {
  count_allocation();
  *p = __libc_memalign(alignment, n);
  return *p || n == 0 ? 0 : ENOMEM;
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  count_allocation();
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
  count_allocation();
  return __libc_memalign(alignment, n);
}
}
#endif

#if VMC_COUNT_MALLOC
void* operator new(std::size_t n) {
  count_allocation();
  void* p = __libc_malloc(n ? n : 1);  // not the interposed malloc: one allocation, counted once
  if (p) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

constexpr double kRowFree = 0.5;
bool g_record = true;  // the kernel records the rows it sees (off when counting allocations)
std::mutex g_seen_mutex;
std::vector<double> g_seen;  // the x values (= row indices) each call was given
bool g_nan = false;          // make the next gradients NaN
bool g_nan_bound = false;    // make the next bounds NaN (the gradients stay finite)
int g_calls = 0;             // kernel calls so far
int g_huge_at = -1;          // the call whose bound is 4e20 too large (an outlier estimate)

void elbo_grad(const void* const* in, const int64_t* sizes, void* const* out, void*, vmc_context*) {
  const double mu = *static_cast<const double*>(in[0]);
  const auto* x = static_cast<const double*>(in[1]);
  const double n = *static_cast<const double*>(in[2]);
  const double m = *static_cast<const double*>(in[3]);
  const auto* eps = static_cast<const double*>(in[4]);
  const int64_t rows = sizes[1];
  double f = 0, g = 0;
  for (int64_t i = 0; i < rows; ++i) {
    f += -0.5 * (x[i] - mu) * (x[i] - mu) + 0 * eps[i];
    g += x[i] - mu;
  }
  if (g_record) {
    std::lock_guard<std::mutex> lock(g_seen_mutex);
    g_seen.insert(g_seen.end(), x, x + rows);
  }
  *static_cast<double*>(out[0]) = g_nan_bound ? NAN : n / m * f - kRowFree * mu * mu / 2 + (g_calls++ == g_huge_at ? 4e20 : 0);
  *static_cast<double*>(out[1]) = g_nan ? NAN : n / m * g - kRowFree * mu;
}
int64_t workspace(const int64_t*) { return 0; }

// The model of this file: its kernel above, with the row-free part.
struct Model : TinyModel {
  Model() : TinyModel(elbo_grad, workspace, /*row_free_part=*/true) {}
};

vmc::runtime::Arrays rows(int64_t n) {
  vmc::data::Array x{"x", {n}, std::vector<double>(static_cast<size_t>(n)), true};
  std::iota(x.values.begin(), x.values.end(), 0.0);
  return {{"x", x}};
}

vmc::runtime::TrainerOptions options(int threads, const char* optimizer = "sgd",
                                     double lr = 0.1) {
  vmc::runtime::TrainerOptions o;
  o.threads = threads;
  o.default_batch = 4;
  o.optimizer = &vmc::runtime::optimizer_named(optimizer);
  o.lr = lr;
  return o;
}

}  // namespace

TEST_CASE("trainer: every epoch visits every row once; the last batch is the remainder") {
  Model m;
  vmc::runtime::Trainer t(m.info, rows(10), {{"mu", {0.0}}}, options(1));
  CHECK(t.steps_per_epoch() == 3);
  CHECK(t.batch_size() == 4);
  for (int epoch = 0; epoch < 2; ++epoch) {
    g_seen.clear();
    std::vector<int64_t> sizes;
    for (int s = 0; s < 3; ++s) sizes.push_back(t.step().rows);
    CHECK(sizes == std::vector<int64_t>{4, 4, 2});
    std::multiset<double> seen(g_seen.begin(), g_seen.end());
    CHECK(seen.size() == 10);
    CHECK(std::set<double>(seen.begin(), seen.end()).size() == 10);
  }
  CHECK(t.datapoints_seen() == 20);
}

TEST_CASE("trainer: the partial batch is scaled by its own size (N/M')") {
  Model m;
  // Constant data: every batch's estimate of the whole bound is the same whatever its size.
  vmc::runtime::Arrays data = rows(10);
  for (double& v : data.at("x").values) v = 3;
  vmc::runtime::Trainer t(m.info, data, {{"mu", {1.0}}}, options(1, "sgd", 1e-12));
  double full = 10 * -0.5 * 4 - kRowFree * 0.5;
  for (int s = 0; s < 3; ++s) CHECK(t.step().elbo == doctest::Approx(full).epsilon(1e-9));
}

TEST_CASE("trainer: SGD and Adam reach the optimum; two threads give the same steps") {
  Model m;
  const double optimum = 10 * 4.5 / (10 + kRowFree);
  CHECK(vmc::runtime::optimizers().size() == 5);  // every one of the registry is tested here
  for (const vmc::runtime::Optimizer& opt : vmc::runtime::optimizers()) {
    std::string name(opt.name);
    const char* k = opt.name.data();
    CAPTURE(name);
    double lr = name == "sgd" ? 0.05 : name == "momentum" ? 0.005 : name == "adagrad" ? 0.5 : 0.01;
    vmc::runtime::Trainer one(m.info, rows(10), {{"mu", {0.0}}}, options(1, k, lr));
    vmc::runtime::Trainer two(m.info, rows(10), {{"mu", {0.0}}}, options(2, k, lr));
    for (int s = 0; s < 3000; ++s) {
      vmc::runtime::StepResult a = one.step(), b = two.step();
      // The row-free part is counted once when the batch is split (not twice).
      REQUIRE(a.elbo == doctest::Approx(b.elbo).epsilon(1e-12));
    }
    CHECK(two.param("mu")[0] == doctest::Approx(one.param("mu")[0]).epsilon(1e-9));
    // The average of the stochastic iterates sits at the optimum.
    double avg = 0;
    for (int s = 0; s < 600; ++s) {
      one.step();
      avg += one.param("mu")[0] / 600;
    }
    CHECK(avg == doctest::Approx(optimum).epsilon(0.03));
  }
}

TEST_CASE("trainer: a saved state continues bit for bit") {
  Model m;
  auto o = options(1, "adam", 0.01);
  vmc::runtime::Trainer a(m.info, rows(10), {{"mu", {0.0}}}, o);
  for (int s = 0; s < 7; ++s) a.step();
  std::string state = a.save_state();
  vmc::runtime::Trainer b(m.info, rows(10), {{"mu", {0.0}}}, o);
  b.restore_state(state);
  CHECK(b.steps_done() == 7);
  for (int s = 0; s < 11; ++s) CHECK(a.step().elbo == b.step().elbo);
  CHECK(a.param("mu") == b.param("mu"));
  // Another optimizer's state is refused with a message; params alone are taken.
  vmc::runtime::Trainer c(m.info, rows(10), {{"mu", {0.0}}}, options(1));
  CHECK_THROWS_AS(c.restore_state(state), vmc::runtime::RuntimeError);
  c.restore_state(state, /*params_only=*/true);
  CHECK(c.param("mu") != std::vector<double>{0.0});
  CHECK_THROWS_AS(c.restore_state("garbage"), vmc::runtime::RuntimeError);
}

TEST_CASE("fit loop: the smoothed bound recovers from one huge estimate, which is said to be an outlier") {
  // Issue 22: the window was a running add-and-subtract sum, so after a +4e20 estimate had left
  // it the smoothed bound kept the rounding error (+4e20 read as ~0 or +65536s), for good.
  Model m;
  vmc::runtime::Trainer t(m.info, rows(10), {{"mu", {3.0}}}, options(1, "sgd", 0.0));
  vmc::runtime::FitHistory h;
  vmc::runtime::LoopOptions o;
  o.steps = 300;
  g_calls = 0;
  g_huge_at = 50;
  std::ostringstream log;
  vmc::runtime::run_fit(t, h, o, log);
  g_huge_at = -1;
  REQUIRE(h.trace.size() >= 100);
  double mean = 0;
  for (std::size_t i = h.trace.size() - 100; i < h.trace.size(); ++i) mean += h.trace[i].elbo / 100;
  CHECK(h.trace.back().smoothed == doctest::Approx(mean).epsilon(1e-12));
  CHECK(std::abs(h.trace.back().smoothed) < 1e3);
  CAPTURE(log.str());
  CHECK(log.str().find("step 51: the bound's estimate 4e+19 per datapoint is an outlier") != std::string::npos);
}

TEST_CASE("trainer: a restored state is a good state; impossible counts and NaN params are refused") {
  Model m;
  auto o = options(1, "adam", 0.01);
  vmc::runtime::Trainer a(m.info, rows(10), {{"mu", {0.0}}}, o);
  for (int s = 0; s < 7; ++s) a.step();
  const std::string state = a.save_state();
  // A resumed fit that diverges at once puts back the state it resumed from (issue 21).
  vmc::runtime::Trainer b(m.info, rows(10), {{"mu", {0.0}}}, o);
  b.restore_state(state);
  const std::vector<double> resumed = b.param("mu");
  g_nan = true;
  CHECK_FALSE(b.step().finite);
  g_nan = false;
  CHECK(b.restore_last_good_state() == 7);
  CHECK(b.param("mu") == resumed);
  // The step counter sits after "vmc-engine", the version, fingerprint, optimizer, seed, batch.
  const std::size_t steps_at = 10 + 4 + 8 + 4 + 8 + 8;
  for (std::int64_t bad : {std::int64_t{-5}, std::numeric_limits<std::int64_t>::max()}) {
    std::string crafted = state;
    std::memcpy(crafted.data() + steps_at, &bad, sizeof bad);
    vmc::runtime::Trainer c(m.info, rows(10), {{"mu", {0.0}}}, o);
    CHECK_THROWS_WITH_AS(c.restore_state(crafted), doctest::Contains("step counts are impossible"),
                         vmc::runtime::RuntimeError);
  }
  // NaN params (a checkpoint an older vmc wrote after diverging) are named, for eval too.
  std::string nan_state = state;
  const double nan = std::nan("");
  std::size_t mu_at = nan_state.find("mu", steps_at + 24);  // after the three counts
  REQUIRE(mu_at != std::string::npos);
  std::memcpy(nan_state.data() + mu_at + 2 + 8, &nan, sizeof nan);  // the name, the byte count, the value
  vmc::runtime::Trainer d(m.info, rows(10), {{"mu", {0.0}}}, o);
  CHECK_THROWS_WITH_AS(d.restore_state(nan_state), doctest::Contains("param 'mu' element 0 is NaN"),
                       vmc::runtime::RuntimeError);
  CHECK_THROWS_WITH_AS(d.restore_state(nan_state, true), doctest::Contains("param 'mu' element 0 is NaN"),
                       vmc::runtime::RuntimeError);
}

TEST_CASE("trainer: a non-finite gradient skips the step and names the param") {
  Model m;
  vmc::runtime::Trainer t(m.info, rows(10), {{"mu", {0.25}}}, options(1));
  g_nan = true;
  vmc::runtime::StepResult r = t.step();
  g_nan = false;
  CHECK_FALSE(r.finite);
  CHECK(r.problem.find("'mu'") != std::string::npos);
  CHECK(t.param("mu")[0] == 0.25);
  CHECK(t.step().finite);
  // A NaN bound names the param too: its gradient's problem, else the largest param.
  g_nan = g_nan_bound = true;
  r = t.step();
  CHECK(r.problem.find("the bound is NaN and the gradient of 'mu' is NaN") == 0);
  g_nan = false;
  r = t.step();
  g_nan_bound = false;
  CHECK_FALSE(r.finite);
  CHECK(r.problem.find("the bound is NaN (the largest param value is 'mu' = ") == 0);
}

TEST_CASE("trainer: data that does not fit the model is refused with a message") {
  Model m;
  vmc::data::Array wrong{"x", {5, 2}, std::vector<double>(10), false};
  CHECK_THROWS_WITH_AS(vmc::runtime::Trainer(m.info, {{"x", wrong}}, {{"mu", {0.0}}}, options(1)),
                       doctest::Contains("has shape [5, 2] but the model declares [N]"),
                       vmc::runtime::RuntimeError);
  CHECK_THROWS_WITH_AS(vmc::runtime::Trainer(m.info, {}, {{"mu", {0.0}}}, options(1)),
                       doctest::Contains("reads data 'x'"), vmc::runtime::RuntimeError);
  CHECK_THROWS_AS(vmc::runtime::Trainer(m.info, rows(10), {{"mu", {0.0, 1.0}}}, options(1)),
                  vmc::runtime::RuntimeError);
}

TEST_CASE("trainer: a training step allocates nothing once warm") {
  if (!g_counts_allocations) {
    MESSAGE("allocations are not counted under AddressSanitizer");
    return;
  }
  Model m;
  // The counter sees allocations at all.
  g_allocations = 0;
  g_count_allocations = true;
  // Through volatile pointers: a new-expression paired with its delete may be elided by the
  // compiler (C++14), and whether GCC does so changed with unrelated code in this file.
  void* (*volatile cxx_new)(std::size_t) = ::operator new;
  ::operator delete(cxx_new(24));
  void* (*volatile c_malloc)(std::size_t) = std::malloc;  // not folded away with its free
  std::free(c_malloc(16));
  void* aligned = nullptr;
  REQUIRE(posix_memalign(&aligned, 64, 64) == 0);
  std::free(aligned);
  g_count_allocations = false;
  REQUIRE(g_allocations.load() == 3);
  g_record = false;
  for (int threads : {1, 2}) {
    for (auto k : {"adam", "sgd"}) {
      CAPTURE(threads);
      vmc::runtime::Trainer t(m.info, rows(1000), {{"mu", {0.0}}}, options(threads, k, 0.01));
      // Warm: buffers grow to the largest batch, and one epoch's shuffle is drawn.
      for (int s = 0; s < 300; ++s) t.step();
      g_allocations = 0;
      g_count_allocations = true;
      for (int s = 0; s < 200; ++s) t.step();  // within one epoch of 250 steps
      g_count_allocations = false;
      CHECK(g_allocations.load() == 0);
    }
  }
  g_record = true;
}

TEST_CASE("trainer: --clip-grad scales the step to the clipped norm, on any number of threads") {
  Model m;
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    vmc::runtime::TrainerOptions o = options(threads, "sgd", 0.1);
    o.clip_grad = 0.5;
    // Far from the data the gradient per datapoint is ~1000: clipped to 0.5, SGD moves mu by
    // lr · 0.5 exactly.
    vmc::runtime::Trainer t(m.info, rows(10), {{"mu", {-1000.0}}}, o);
    REQUIRE(t.step().finite);
    CHECK(t.param("mu")[0] == doctest::Approx(-1000.0 + 0.1 * 0.5).epsilon(1e-12));
    // Near the optimum the gradient is below the clip: the step is the plain one.
    o.clip_grad = 1e6;
    vmc::runtime::Trainer u(m.info, rows(10), {{"mu", {-1000.0}}}, o);
    REQUIRE(u.step().finite);
    CHECK(u.param("mu")[0] > -1000.0 + 10);
  }
}

// The step's check of the summed gradient (runtime/src/engine_step.cpp), declared here: it is
// internal to the runtime.
namespace vmc::runtime::detail {
double sum_of_squares(const float* x, std::size_t n);
double sum_of_squares(const double* x, std::size_t n);
}  // namespace vmc::runtime::detail

TEST_CASE("trainer: the gradient's sum of squares, every length and alignment, NaN and Inf") {
  std::vector<double> d(300);
  std::vector<float> f(300);
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = std::sin(1.7 * static_cast<double>(i)) * (1 + static_cast<double>(i % 7));
    f[i] = static_cast<float>(d[i]);
  }
  for (std::size_t start : {0, 1, 3}) {
    for (std::size_t n = 0; n + start <= 300; n += 7) {
      CAPTURE(start);
      CAPTURE(n);
      double want_d = 0, want_f = 0;
      for (std::size_t i = start; i < start + n; ++i) {
        want_d += d[i] * d[i];
        want_f += static_cast<double>(f[i]) * static_cast<double>(f[i]);
      }
      CHECK(vmc::runtime::detail::sum_of_squares(d.data() + start, n) == doctest::Approx(want_d).epsilon(1e-12));
      CHECK(vmc::runtime::detail::sum_of_squares(f.data() + start, n) == doctest::Approx(want_f).epsilon(1e-5));
    }
  }
  for (std::size_t at : {0, 17, 40, 299}) {
    CAPTURE(at);
    std::vector<float> g = f;
    g[at] = NAN;
    CHECK(std::isnan(vmc::runtime::detail::sum_of_squares(g.data(), g.size())));
    g[at] = INFINITY;
    CHECK(std::isinf(vmc::runtime::detail::sum_of_squares(g.data(), g.size())));
  }
}
