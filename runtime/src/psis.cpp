// k̂ as loo's psis() computes it; see include/vmc/psis.hpp for the algorithm and the edge cases.
#include "vmc/psis.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace vmc {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_log1p_scaled(double a, const std::vector<double>& x) {
  double s = 0.0;
  for (double xi : x) s += std::log1p(a * xi);
  return s / static_cast<double>(x.size());
}

// loo's gpdfit(x, wip = TRUE, min_grid_pts = 30, sort_x = FALSE) on ascending x (n ≥ 1, x ≥ 0,
// max > 0). loo's k is minus Zhang & Stephens' k, and theta = −k/σ is their b.
ParetoFit gpdfit(const std::vector<double>& x) {
  const auto n = static_cast<int64_t>(x.size());
  const double nd = static_cast<double>(n);
  const int64_t m = 30 + static_cast<int64_t>(std::floor(std::sqrt(nd)));
  const double prior = 3.0;
  // R's x[floor(N / 4 + 0.5)], 1-based: the first quartile sets the grid's spread.
  // Ties at the cutoff (importance ratios equal up to rounding, as for a guide that is exact)
  // can make it 0, and the grid 1/0: take the first positive value at or above it instead.
  size_t q = static_cast<size_t>(std::floor(nd / 4.0 + 0.5)) - 1;
  while (q + 1 < x.size() && x[q] <= 0) ++q;
  const double xstar = x[q];
  const double xmax = x.back();

  // The grid lies below 1/max(x) (the term added is negative), so 1 − theta·x > 0 throughout.
  std::vector<double> theta(static_cast<size_t>(m)), ll(static_cast<size_t>(m));
  double ll_max = -kInf;
  bool ll_nan = false;
  for (int64_t j = 0; j < m; ++j) {
    const double jj = static_cast<double>(j + 1);
    const double t = 1.0 / xmax + (1.0 - std::sqrt(static_cast<double>(m) / (jj - 0.5))) / prior / xstar;
    // Profile log likelihood of theta (loo's lx, times n).
    const double kk = mean_log1p_scaled(-t, x);
    const double l = nd * (std::log(-t / kk) - kk - 1.0);
    theta[static_cast<size_t>(j)] = t;
    ll[static_cast<size_t>(j)] = l;
    if (std::isnan(l)) ll_nan = true;
    else ll_max = std::max(ll_max, l);
  }
  // Posterior-mean theta with weights ∝ exp(ll) (log-sum-exp for range). A NaN anywhere makes
  // R's logSumExp NaN, and then k NaN → +inf below.
  double theta_hat = kNaN;
  if (!ll_nan && std::isfinite(ll_max)) {
    double z = 0.0;
    for (double l : ll) z += std::exp(l - ll_max);
    const double lse = ll_max + std::log(z);
    theta_hat = 0.0;
    for (size_t j = 0; j < ll.size(); ++j) theta_hat += theta[j] * std::exp(ll[j] - lse);
  }

  double k = mean_log1p_scaled(-theta_hat, x);
  const double sigma = -k / theta_hat;
  // Weakly informative prior: as if 10 more tail points had said k = 0.5; steadies small M.
  const double a = 10.0;
  k = k * nd / (nd + a) + a * 0.5 / (nd + a);
  if (std::isnan(k)) k = kInf;
  return {k, sigma, n};
}

}  // namespace

ParetoFit psis_khat(const std::vector<double>& log_weights) {
  std::vector<double> lw;
  lw.reserve(log_weights.size());
  bool pos_inf = false;
  for (double v : log_weights) {
    if (std::isnan(v)) return {kNaN, kNaN, 0};
    if (v == kInf) pos_inf = true;
    else if (v != -kInf) lw.push_back(v);
  }
  if (pos_inf) return {kInf, kNaN, 0};

  const auto S = static_cast<int64_t>(lw.size());
  const double Sd = static_cast<double>(S);
  const auto M = static_cast<int64_t>(std::ceil(std::min(0.2 * Sd, 3.0 * std::sqrt(Sd))));
  // loo's enough_tail_samples(): fewer than 5 points cannot pin a two-parameter fit.
  if (M < 5) return {kInf, kNaN, M};

  // Only the top M + 1 need ordering: select the cutoff, then sort the tail above it.
  const auto cut = lw.begin() + (S - M - 1);
  std::nth_element(lw.begin(), cut, lw.end());
  std::sort(cut + 1, lw.end());
  const double lw_max = lw.back();
  const double cutoff = *cut - lw_max;

  const double tail_min = lw[static_cast<size_t>(S - M)] - lw_max;
  const double tail_max = 0.0;
  if (std::abs(tail_max - tail_min) < std::numeric_limits<double>::epsilon() / 100.0)
    return {0.0, 0.0, M};

  std::vector<double> x(static_cast<size_t>(M));
  const double exp_cutoff = std::exp(cutoff);
  for (int64_t i = 0; i < M; ++i)
    x[static_cast<size_t>(i)] = std::exp(lw[static_cast<size_t>(S - M + i)] - lw_max) - exp_cutoff;
  return gpdfit(x);
}

}  // namespace vmc
