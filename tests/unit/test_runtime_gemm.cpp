// The runtime's dense routines (runtime/include/vmc/abi.h) against naive references: GEMM
// against a triple loop, TRSM against substitution, over transposes, rectangular and strided
// (sub-matrix) views, degenerate sizes, and the alpha/beta cases the generated code relies on.
#include "gemm_sum.hpp"
#include "ir/special.hpp"
#include "vmc/abi.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

namespace {

template <typename T>
void gemm(int32_t ta, int32_t tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    vmc_gemm_f32(nullptr, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    vmc_gemm_f64(nullptr, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

template <typename T>
void trsm(int32_t transpose, int64_t k, int64_t n, const T* l, T* b) {
  if constexpr (std::is_same_v<T, float>) {
    vmc_trsm_f32(transpose, k, n, l, b);
  } else {
    vmc_trsm_f64(transpose, k, n, l, b);
  }
}

// A stored row-major rows×cols matrix inside a buffer whose rows are `stride` ≥ cols apart:
// the padding holds a sentinel that must survive every call untouched.
template <typename T>
struct Strided {
  int64_t rows, cols, stride;
  std::vector<T> data;
  static constexpr T kSentinel = T(12345.5);

  Strided(int64_t r, int64_t c, int64_t pad)
      : rows(r), cols(c), stride(c + pad), data(std::max<int64_t>(r * (c + pad), 1), kSentinel) {}
  T& at(int64_t i, int64_t j) { return data[i * stride + j]; }
  T at(int64_t i, int64_t j) const { return data[i * stride + j]; }
  void fill(std::mt19937& rng) {
    std::uniform_real_distribution<double> u(-1, 1);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) at(i, j) = T(u(rng));
  }
  bool padding_intact() const {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = cols; j < stride; ++j)
        if (at(i, j) != kSentinel) return false;
    return true;
  }
};

template <typename T>
constexpr double kEps = std::numeric_limits<T>::epsilon();

// One GEMM call checked against a triple loop in long double. With beta = 0 the C buffer is
// NaN-filled first: the result must not depend on it.
template <typename T>
void check_gemm(int32_t ta, int32_t tb, int64_t m, int64_t n, int64_t k, T alpha, T beta,
                int64_t pad, std::mt19937& rng) {
  CAPTURE(ta);
  CAPTURE(tb);
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(alpha);
  CAPTURE(beta);
  CAPTURE(pad);
  Strided<T> a(ta ? k : m, ta ? m : k, pad), b(tb ? n : k, tb ? k : n, pad), c(m, n, pad);
  a.fill(rng);
  b.fill(rng);
  c.fill(rng);
  if (beta == T(0)) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.at(i, j) = std::numeric_limits<T>::quiet_NaN();
  }
  const Strided<T> c0 = c;
  auto op_a = [&](int64_t i, int64_t p) { return ta ? a.at(p, i) : a.at(i, p); };
  auto op_b = [&](int64_t p, int64_t j) { return tb ? b.at(j, p) : b.at(p, j); };

  gemm<T>(ta, tb, m, n, k, alpha, a.data.data(), a.stride, b.data.data(), b.stride, beta,
          c.data.data(), c.stride);

  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      long double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < k; ++p) {
        long double term = (long double)op_a(i, p) * op_b(p, j);
        sum += term;
        magnitude += std::abs(term);
      }
      long double want = (long double)alpha * sum;
      magnitude = std::abs((long double)alpha) * magnitude;
      if (beta != T(0)) {
        want += (long double)beta * c0.at(i, j);
        magnitude += std::abs((long double)beta * c0.at(i, j));
      }
      const double tolerance = 4 * kEps<T> * double(k + 2) * double(magnitude + 1);
      INFO("C(" << i << ", " << j << ") = " << c.at(i, j) << ", want " << (double)want);
      REQUIRE(std::abs(double(c.at(i, j)) - double(want)) <= tolerance);
    }
  }
  CHECK(a.padding_intact());
  CHECK(b.padding_intact());
  CHECK(c.padding_intact());
}

struct Shape {
  int64_t m, n, k;
};

// Rectangular in every direction, the unit sizes, and sizes large enough to cross Eigen's
// blocking and vectorisation boundaries and those of the AVX-512 kernel (sgemm_avx512.cpp:
// 12-row slivers, 32-column panels, 16×16 transposed tiles, k blocks of 512, m blocks of 132),
// with m leaving every remainder mod 12 (the kernel made for a block's last rows).
constexpr Shape kShapes[] = {{1, 1, 1},     {1, 5, 3},    {5, 1, 3},     {4, 3, 1},   {2, 7, 5},
                             {7, 5, 9},     {16, 16, 16}, {33, 17, 65},  {100, 20, 400},
                             {3, 130, 37},  {140, 64, 270}, {13, 96, 300}, {133, 33, 17},
                             {50, 65, 520}, {24, 32, 16},  {20, 40, 1030}, {6, 45, 70},
                             {10, 33, 520}, {11, 70, 30},  {143, 31, 9}};

struct Scale {
  double alpha, beta;
};
constexpr Scale kScales[] = {{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0.25}, {2, 0}};

template <typename T>
void gemm_suite() {
  std::mt19937 rng(20240611);
  for (int32_t ta : {0, 1})
    for (int32_t tb : {0, 1})
      for (const Shape& s : kShapes)
        for (const Scale& sc : kScales)
          for (int64_t pad : {0, 3})
            check_gemm<T>(ta, tb, s.m, s.n, s.k, T(sc.alpha), T(sc.beta), pad, rng);
}

}  // namespace

TEST_CASE("runtime: gemm f64 against a triple loop") { gemm_suite<double>(); }
TEST_CASE("runtime: gemm f32 against a triple loop") { gemm_suite<float>(); }

TEST_CASE_TEMPLATE("runtime: gemm with an empty dimension", T, float, double) {
  std::mt19937 rng(7);
  for (int32_t ta : {0, 1})
    for (int32_t tb : {0, 1})
      for (const Scale& sc : kScales)
        for (Shape s : {Shape{0, 3, 2}, Shape{3, 0, 2}, Shape{0, 0, 0}, Shape{3, 4, 0},
                        Shape{1, 1, 0}})
          check_gemm<T>(ta, tb, s.m, s.n, s.k, T(sc.alpha), T(sc.beta), 2, rng);
}

TEST_CASE_TEMPLATE("runtime: gemm with k = 0 scales C and reads neither A nor B", T, float,
                   double) {
  T c[] = {1, 2, 3, 4, 5, 6};
  gemm<T>(0, 0, 2, 3, 0, T(1), nullptr, 0, nullptr, 3, T(2), c, 3);
  CHECK(c[0] == 2);
  CHECK(c[5] == 12);
  gemm<T>(1, 1, 2, 3, 0, T(1), nullptr, 2, nullptr, 0, T(1), c, 3);
  CHECK(c[5] == 12);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  T garbage[] = {nan, nan, nan, nan, nan, nan};
  gemm<T>(0, 0, 2, 3, 0, T(1), nullptr, 0, nullptr, 3, T(0), garbage, 3);
  for (T x : garbage) CHECK(x == 0);
}

TEST_CASE_TEMPLATE("runtime: gemm with beta = 1 accumulates over repeated calls", T, float,
                   double) {
  // Summing the weight gradient of two half-batches must equal the whole batch's product:
  // the pattern the runtime uses when it splits a minibatch across threads.
  std::mt19937 rng(3);
  const int64_t rows = 10, d = 6, h = 4;
  Strided<T> x(rows, d, 0), g(rows, h, 0);
  x.fill(rng);
  g.fill(rng);
  std::vector<T> whole(d * h), halves(d * h, T(0));
  // whole = xᵀ g over all rows; halves = xᵀ g over rows 0..4, then += over rows 5..9.
  gemm<T>(1, 0, d, h, rows, T(1), x.data.data(), d, g.data.data(), h, T(0), whole.data(), h);
  gemm<T>(1, 0, d, h, 5, T(1), x.data.data(), d, g.data.data(), h, T(1), halves.data(), h);
  gemm<T>(1, 0, d, h, 5, T(1), x.data.data() + 5 * d, d, g.data.data() + 5 * h, h, T(1),
          halves.data(), h);
  for (int64_t i = 0; i < d * h; ++i) CHECK(halves[i] == doctest::Approx(whole[i]).epsilon(1e-5));
}

namespace {

// B := L⁻¹B (or L⁻ᵀB) by forward (or back) substitution, in long double.
template <typename T>
std::vector<long double> substitute(bool transpose, int64_t k, int64_t n, const std::vector<T>& l,
                                    const std::vector<T>& b) {
  std::vector<long double> x(b.begin(), b.end());
  auto lower = [&](int64_t i, int64_t j) -> long double { return l[i * k + j]; };  // i ≥ j
  for (int64_t col = 0; col < n; ++col) {
    if (!transpose) {
      for (int64_t i = 0; i < k; ++i) {
        long double s = x[i * n + col];
        for (int64_t j = 0; j < i; ++j) s -= lower(i, j) * x[j * n + col];
        x[i * n + col] = s / lower(i, i);
      }
    } else {  // Lᵀ(i, j) = L(j, i), upper-triangular
      for (int64_t i = k - 1; i >= 0; --i) {
        long double s = x[i * n + col];
        for (int64_t j = i + 1; j < k; ++j) s -= lower(j, i) * x[j * n + col];
        x[i * n + col] = s / lower(i, i);
      }
    }
  }
  return x;
}

}  // namespace

TEST_CASE_TEMPLATE("runtime: trsm against substitution", T, float, double) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  for (int32_t transpose : {0, 1}) {
    for (int64_t k : {1, 2, 5, 17, 64}) {
      for (int64_t n : {1, 3, 8}) {
        CAPTURE(transpose);
        CAPTURE(k);
        CAPTURE(n);
        // A well-conditioned Cholesky-like factor; NaN above the diagonal must be ignored.
        std::vector<T> l(k * k);
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j)
            l[i * k + j] = j > i ? nan : j == i ? T(1.5 + 0.5 * u(rng)) : T(0.3 * u(rng));
        std::vector<T> b(k * n);
        for (T& x : b) x = T(u(rng));
        const std::vector<long double> want = substitute(transpose != 0, k, n, l, b);
        trsm<T>(transpose, k, n, l.data(), b.data());
        for (int64_t i = 0; i < k * n; ++i) {
          INFO("entry " << i << ": " << b[i] << ", want " << (double)want[i]);
          REQUIRE(std::abs(double(b[i]) - double(want[i])) <=
                  8 * kEps<T> * double(k) * (1 + std::abs(double(want[i]))));
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("runtime: trsm with an empty side is a no-op", T, float, double) {
  T b[] = {1, 2};
  const T l[] = {2};
  trsm<T>(0, 0, 2, l, b);
  trsm<T>(1, 2, 0, l, b);
  CHECK(b[0] == 1);
  CHECK(b[1] == 2);
}

TEST_CASE("runtime: special functions are the interpreter's") {
  // The interpreter's definitions wrap the runtime's, so compiled code calling back into the
  // runtime agrees with the oracle exactly.
  for (double x : {-2.3, -0.5, 1e-8, 0.1, 0.5, 1.0, 3.7, 10.0, 100.0}) {
    CAPTURE(x);
    CHECK(vmc_digamma(x) == vmc::ir::special::digamma(x));
    CHECK(vmc_trigamma(x) == vmc::ir::special::trigamma(x));
    CHECK(vmc_lgamma(x) == doctest::Approx(std::lgamma(x)).epsilon(1e-14));
  }
  // Outside the domain: values, never an exception (Boost.Math's default policy would throw).
  CHECK(vmc_lgamma(0) == INFINITY);
  CHECK(vmc_lgamma(-3) == INFINITY);
  CHECK(std::isnan(vmc_digamma(-3)));
  CHECK(vmc_trigamma(-3) == INFINITY);
  CHECK(std::isnan(vmc_ndtri(2)));
  for (double p : {1e-300, 1e-20, 0.001, 0.02425, 0.3, 0.5, 0.975, 0.999}) {
    CAPTURE(p);
    CHECK(vmc_ndtri(p) == vmc::ir::special::ndtri(p));
  }
  CHECK(vmc_lgamma(5) == doctest::Approx(std::log(24.0)).epsilon(1e-14));
  CHECK(vmc_lgamma(0.5) == doctest::Approx(0.5 * std::log(std::numbers::pi)).epsilon(1e-14));
}

// The runtime's product of a k split into pieces that live apart (runtime/src/gemm_sum.hpp): a
// split step's weight gradient, Xᵀ·δ summed over each thread's rows. Against a triple loop over
// the pieces, for every transpose, pieces that cross the AVX-512 kernel's k blocks of 512 and
// end inside one, empty pieces, strided pieces, and beta 0 (C NaN, never read) and 1.
TEST_CASE_TEMPLATE("runtime: gemm_sum of k pieces against a triple loop", T, float, double) {
  std::mt19937 rng(99);
  struct Split {
    int64_t m, n;
    std::vector<int64_t> ks;
  };
  const Split splits[] = {{392, 400, {50, 50}},   {400, 784, {34, 33, 33}}, {20, 400, {50, 0, 50}},
                          {33, 70, {300, 10}},    {13, 40, {256, 256, 3}},  {1, 5, {2, 3}},
                          {20, 50, {500, 30, 600}},
                          {100, 96, {0, 0}},      {140, 33, {7}},           {12, 32, {1, 1, 1, 1, 1, 1, 1, 1, 1}}};
  for (int32_t ta : {0, 1})
    for (int32_t tb : {0, 1})
      for (const Split& sp : splits)
        for (double beta : {0.0, 1.0})
          for (int64_t pad : {0, 5}) {
            CAPTURE(ta);
            CAPTURE(tb);
            CAPTURE(sp.m);
            CAPTURE(sp.n);
            CAPTURE(sp.ks.size());
            CAPTURE(beta);
            CAPTURE(pad);
            std::vector<Strided<T>> as, bs;
            std::vector<vmc::runtime::detail::GemmTerm<T>> terms;
            for (int64_t k : sp.ks) {
              as.emplace_back(ta ? k : sp.m, ta ? sp.m : k, pad);
              bs.emplace_back(tb ? sp.n : k, tb ? k : sp.n, pad);
              as.back().fill(rng);
              bs.back().fill(rng);
            }
            for (std::size_t s = 0; s < sp.ks.size(); ++s) {
              terms.push_back({as[s].data.data(), as[s].stride, bs[s].data.data(), bs[s].stride, sp.ks[s]});
            }
            Strided<T> c(sp.m, sp.n, pad);
            c.fill(rng);
            if (beta == 0) {
              for (int64_t i = 0; i < sp.m; ++i)
                for (int64_t j = 0; j < sp.n; ++j) c.at(i, j) = std::numeric_limits<T>::quiet_NaN();
            }
            const Strided<T> c0 = c;
            const T alpha = T(0.75);
            vmc::runtime::detail::gemm_sum(nullptr, ta != 0, tb != 0, sp.m, sp.n, terms.data(), static_cast<int>(terms.size()),
                                           alpha, T(beta), c.data.data(), c.stride);
            for (int64_t i = 0; i < sp.m; ++i) {
              for (int64_t j = 0; j < sp.n; ++j) {
                long double sum = 0, magnitude = 0;
                int64_t total = 0;
                for (std::size_t s = 0; s < sp.ks.size(); ++s) {
                  for (int64_t p = 0; p < sp.ks[s]; ++p) {
                    T x = ta ? as[s].at(p, i) : as[s].at(i, p);
                    T y = tb ? bs[s].at(j, p) : bs[s].at(p, j);
                    sum += (long double)x * y;
                    magnitude += std::abs((long double)x * y);
                  }
                  total += sp.ks[s];
                }
                long double want = (long double)alpha * sum;
                magnitude *= alpha;
                if (beta != 0) {
                  want += c0.at(i, j);
                  magnitude += std::abs((long double)c0.at(i, j));
                }
                const double tolerance = 4 * kEps<T> * double(total + 2) * double(magnitude + 1);
                INFO("C(" << i << ", " << j << ") = " << c.at(i, j) << ", want " << (double)want);
                REQUIRE(std::abs(double(c.at(i, j)) - double(want)) <= tolerance);
              }
            }
            CHECK(c.padding_intact());
          }
}
