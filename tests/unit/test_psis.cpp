// The PSIS diagnostic k̂ (runtime/include/vmc/psis.hpp): recovers the shape of exactly-GPD
// ratios; separates a heavy-tailed from a light-tailed importance ratio; matches an independent
// numpy port of loo's psis()/gpdfit() to 1e-9 on closed-form inputs; the documented edge cases.
#include "vmc/psis.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Open-interval uniform from 53 random bits, so log/pow never see 0 or 1.
double uniform01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

// log of S GPD(k, sigma) draws by inversion: w = sigma/k · ((1 − u)^(−k) − 1).
std::vector<double> gpd_log_weights(double k, double sigma, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> lw(static_cast<size_t>(n));
  for (auto& v : lw) v = std::log(sigma / k * (std::pow(1.0 - uniform01(rng), -k) - 1.0));
  return lw;
}

// log N(z; 0, s²) − log N(z; 0, 1) at S draws z ~ N(0, 1): the guide is the standard normal.
// Box–Muller on our own uniforms, not std::normal_distribution, whose output differs between
// standard libraries.
std::vector<double> normal_log_weights(double s, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> lw(static_cast<size_t>(n));
  for (auto& v : lw) {
    const double r = std::sqrt(-2.0 * std::log(uniform01(rng)));
    const double z = r * std::cos(6.283185307179586 * uniform01(rng));
    v = -std::log(s) - 0.5 * z * z / (s * s) + 0.5 * z * z;
  }
  return lw;
}

bool rel_close(double a, double b, double tol) { return std::abs(a - b) <= tol * std::abs(b); }

}  // namespace

TEST_CASE("psis khat recovers the shape of exactly generalized-Pareto ratios") {
  // One fit has standard error ≈ (1 + k)/sqrt(M) ≈ 0.07–0.11 at M = 300, so ±0.1 per fit holds
  // for these fixed draws, not for every seed; the mean of 20 fits (error ≈ 0.02) is the sharp
  // check. Measured mean errors: +0.021, +0.011, −0.004 (the prior pulls k̂ 3% toward 0.5).
  for (double k : {0.2, 0.5, 0.9}) {
    CAPTURE(k);
    double sum = 0.0;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(seed);
      const vmc::ParetoFit fit = vmc::psis_khat(gpd_log_weights(k, 1.0, 10000, seed));
      CHECK(fit.tail_length == 300);  // ceil(min(2000, 3·100))
      CHECK(fit.sigma > 0.0);
      if (seed <= 3) CHECK(std::abs(fit.k - k) < 0.1);
      sum += fit.k;
    }
    CHECK(std::abs(sum / 20.0 - k) < 0.05);
  }
}

TEST_CASE("psis khat: heavy relative tail (target N(0, s^2), s > 1) vs light (s = 0.5) for a N(0,1) guide") {
  // For target N(0, s²) and guide N(0, 1) the ratio is ∝ exp((1 − 1/s²) z²/2), whose tail index
  // is k = 1 − 1/s²: 0.75 for s = 2, 0.89 for s = 3; for s < 1 the ratio is bounded (k < 0).
  // The Gaussian tail reaches its Pareto limit slowly, so at S = 10,000 k̂ runs low and varies:
  // for s = 2 single fits span 0.56–0.84 over these seeds (mean 0.68, as loo would report), so
  // "> 0.7" is asserted for the mean at s = 3 (measured 0.80), not per fit at s = 2.
  double heavy2 = 0.0, heavy3 = 0.0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    const double k2 = vmc::psis_khat(normal_log_weights(2.0, 10000, seed)).k;
    const double k3 = vmc::psis_khat(normal_log_weights(3.0, 10000, seed)).k;
    const double light = vmc::psis_khat(normal_log_weights(0.5, 10000, seed)).k;
    CAPTURE(k2);
    CAPTURE(light);
    CHECK(k2 > 0.5);
    CHECK(light < 0.0);  // measured −1.86 … −1.67
    heavy2 += k2 / 20.0;
    heavy3 += k3 / 20.0;
  }
  CHECK(heavy2 > 0.6);
  CHECK(heavy2 < 0.8);
  CHECK(heavy3 > 0.7);
}

TEST_CASE("psis khat matches a numpy port of loo's psis on closed-form inputs") {
  // Reference values: /tmp numpy port of loo psis.R + gpdfit.R (full sort, R's 1-based indices),
  // run once by hand on exactly these sequences; not a test dependency.
  {
    std::vector<double> lw(1000);
    for (int i = 0; i < 1000; ++i) lw[static_cast<size_t>(i)] = 0.5 * std::log(i + 1.0) + std::sin(i);
    const vmc::ParetoFit fit = vmc::psis_khat(lw);
    CHECK(fit.tail_length == 95);
    CHECK(rel_close(fit.k, -0.51059710711051942, 1e-9));
    CHECK(rel_close(fit.sigma, 0.18820764464038572, 1e-9));
  }
  {
    std::vector<double> lw(3000);
    for (int i = 0; i < 3000; ++i)
      lw[static_cast<size_t>(i)] = -0.7 * std::log((i + 0.5) / 3000.0) + 0.1 * std::sin(i);
    const vmc::ParetoFit fit = vmc::psis_khat(lw);
    CHECK(fit.tail_length == 165);
    CHECK(rel_close(fit.k, 0.6808808325058936, 1e-9));
    CHECK(rel_close(fit.sigma, 0.012277256511122079, 1e-9));
  }
}

TEST_CASE("psis khat is invariant to order and (nearly) to a constant shift") {
  std::vector<double> lw = normal_log_weights(2.0, 2000, 7);
  const vmc::ParetoFit base = vmc::psis_khat(lw);
  std::vector<double> rev(lw.rbegin(), lw.rend());
  CHECK(vmc::psis_khat(rev).k == base.k);  // same sorted tail, same arithmetic
  for (auto& v : lw) v += 123.0;
  CHECK(vmc::psis_khat(lw).k == doctest::Approx(base.k).epsilon(1e-9));
}

TEST_CASE("psis khat edge cases: q = p, short tails, non-finite log weights") {
  SUBCASE("q = p: all log weights equal gives the documented k = 0") {
    const vmc::ParetoFit fit = vmc::psis_khat(std::vector<double>(1000, -3.25));
    CHECK(fit.k == 0.0);
    CHECK(fit.sigma == 0.0);
    CHECK(fit.tail_length == 95);
  }
  SUBCASE("fewer than 5 tail points gives +inf (loo's enough_tail_samples)") {
    CHECK(vmc::psis_khat({0.1, 0.5, -0.2, 0.3, 0.0}).k == kInf);
    CHECK(vmc::psis_khat({0.1, 0.5, -0.2, 0.3, 0.0}).tail_length == 1);
    CHECK(vmc::psis_khat({}).k == kInf);
    std::vector<double> lw(20);
    for (int i = 0; i < 20; ++i) lw[static_cast<size_t>(i)] = std::sin(i);
    CHECK(vmc::psis_khat(lw).k == kInf);  // M = 4
    lw.push_back(std::sin(20));
    CHECK(vmc::psis_khat(lw).tail_length == 5);
    CHECK(std::isfinite(vmc::psis_khat(lw).k));
  }
  SUBCASE("+inf anywhere gives +inf; NaN anywhere gives NaN") {
    std::vector<double> lw = normal_log_weights(0.5, 1000, 5);
    lw[17] = kInf;
    CHECK(vmc::psis_khat(lw).k == kInf);
    lw[400] = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(vmc::psis_khat(lw).k));
    lw[17] = 0.0;
    CHECK(std::isnan(vmc::psis_khat(lw).k));
  }
  SUBCASE("-inf entries are dropped: same k as without them") {
    std::vector<double> lw = gpd_log_weights(0.5, 1.0, 1000, 9);
    const vmc::ParetoFit base = vmc::psis_khat(lw);
    std::vector<double> with = lw;
    with.insert(with.begin() + 100, 50, -kInf);
    const vmc::ParetoFit fit = vmc::psis_khat(with);
    CHECK(fit.k == base.k);
    CHECK(fit.tail_length == base.tail_length);
    CHECK(vmc::psis_khat(std::vector<double>(100, -kInf)).k == kInf);
  }
}

TEST_CASE("psis smoothing: normalised, order kept, the tail pulled in, nothing above the largest raw weight") {
  std::vector<double> lw = gpd_log_weights(0.6, 1.0, 2000, 3);
  std::vector<double> raw = lw;
  const vmc::ParetoFit fit = vmc::psis_smooth(lw);
  CHECK(std::isfinite(fit.k));
  double total = 0, raw_max = *std::max_element(raw.begin(), raw.end());
  for (double v : lw) total += std::exp(v);
  CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
  // The body (below the tail) is untouched but for the normalisation's shift; back on the raw
  // scale, no smoothed weight exceeds the largest raw one, and the draws keep their raw order.
  std::vector<std::size_t> by_raw(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) by_raw[i] = i;
  std::stable_sort(by_raw.begin(), by_raw.end(), [&](auto a, auto b) { return raw[a] < raw[b]; });
  const double shift = raw[by_raw[0]] - lw[by_raw[0]];
  const std::size_t body = raw.size() - static_cast<std::size_t>(fit.tail_length);
  for (std::size_t r = 0; r < body; ++r) CHECK(lw[by_raw[r]] + shift == doctest::Approx(raw[by_raw[r]]).epsilon(1e-9));
  for (std::size_t i = 0; i < raw.size(); ++i) CHECK(lw[i] + shift <= raw_max + 1e-9);
  for (std::size_t i = 1; i < raw.size(); ++i) CHECK(lw[by_raw[i - 1]] <= lw[by_raw[i]] + 1e-12);
  // The tail's weights are the fitted ones, not the raw draws'.
  int changed = 0;
  for (std::size_t r = body; r < raw.size(); ++r) changed += std::abs(lw[by_raw[r]] + shift - raw[by_raw[r]]) > 1e-6;
  CHECK(changed > fit.tail_length / 2);
}

TEST_CASE("psis loo: posterior draws with equal ratios give log mean likelihoods; a datapoint's own draws tell") {
  // S draws, N = 2 datapoints; log_ratio 0 (draws from the posterior itself).
  const std::int64_t S = 400, N = 2;
  std::vector<double> ll(static_cast<std::size_t>(S * N)), ratio(static_cast<std::size_t>(S), 0.0);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n(0, 0.3);
  for (std::int64_t s = 0; s < S; ++s) {
    ll[static_cast<std::size_t>(s * N)] = -1.0;  // the same at every draw: LOO = lppd
    ll[static_cast<std::size_t>(s * N + 1)] = -2.0 + n(rng);
  }
  vmc::Loo loo = vmc::psis_loo(ll, ratio, S, N);
  CHECK(loo.elpd[0] == doctest::Approx(-1.0));
  CHECK(loo.lppd[0] == doctest::Approx(-1.0));
  // Leaving out a datapoint whose likelihood varies lowers its predictive density below lppd.
  CHECK(loo.elpd[1] < loo.lppd[1]);
  CHECK(loo.p_loo == doctest::Approx(loo.lppd[1] - loo.elpd[1]));
  CHECK(loo.elpd_loo == doctest::Approx(loo.elpd[0] + loo.elpd[1]));
  CHECK(loo.looic == doctest::Approx(-2 * loo.elpd_loo));
  CHECK(loo.khat[0] <= 0.5);
}
