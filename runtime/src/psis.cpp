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

namespace {

double log_sum_exp(const std::vector<double>& v) {
  double m = -kInf;
  for (double x : v) m = std::max(m, x);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}

// The GPD's quantile function.
double qgpd(double p, double k, double sigma) {
  if (std::abs(k) < 1e-12) return -sigma * std::log1p(-p);
  return sigma / k * (std::pow(1 - p, -k) - 1);
}

}  // namespace

ParetoFit psis_smooth(std::vector<double>& lw) {
  ParetoFit fit = psis_khat(lw);
  const auto S = static_cast<int64_t>(lw.size());
  const int64_t M = fit.tail_length;
  double lw_max = -kInf;
  for (double v : lw) lw_max = std::max(lw_max, v);
  if (std::isfinite(fit.k) && std::isfinite(fit.sigma) && M >= 5 && M < S && std::isfinite(lw_max)) {
    // The order of the draws by weight: the tail is the last M.
    std::vector<int64_t> order(static_cast<size_t>(S));
    for (int64_t i = 0; i < S; ++i) order[static_cast<size_t>(i)] = i;
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return lw[static_cast<size_t>(a)] < lw[static_cast<size_t>(b)]; });
    const double exp_cutoff = std::exp(lw[static_cast<size_t>(order[static_cast<size_t>(S - M - 1)])] - lw_max);
    for (int64_t z = 1; z <= M; ++z) {
      double p = (static_cast<double>(z) - 0.5) / static_cast<double>(M);
      double v = std::log(exp_cutoff + qgpd(p, fit.k, fit.sigma));
      lw[static_cast<size_t>(order[static_cast<size_t>(S - M - 1 + z)])] = std::min(v, 0.0) + lw_max;
    }
  }
  double total = log_sum_exp(lw);
  for (double& v : lw) v -= total;
  return fit;
}

Loo psis_loo(const std::vector<double>& log_lik, const std::vector<double>& log_ratio, std::int64_t S, std::int64_t N) {
  Loo out;
  out.elpd.resize(static_cast<size_t>(N));
  out.khat.resize(static_cast<size_t>(N));
  out.lppd.resize(static_cast<size_t>(N));
  // The posterior's weights of the draws (for lppd), smoothed too.
  std::vector<double> post = log_ratio;
  out.khat_ratio = psis_smooth(post).k;
  std::vector<double> lw(static_cast<size_t>(S)), terms(static_cast<size_t>(S));
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t s = 0; s < S; ++s) lw[static_cast<size_t>(s)] = log_ratio[static_cast<size_t>(s)] - log_lik[static_cast<size_t>(s * N + i)];
    out.khat[static_cast<size_t>(i)] = psis_smooth(lw).k;
    for (int64_t s = 0; s < S; ++s) terms[static_cast<size_t>(s)] = lw[static_cast<size_t>(s)] + log_lik[static_cast<size_t>(s * N + i)];
    out.elpd[static_cast<size_t>(i)] = log_sum_exp(terms);
    for (int64_t s = 0; s < S; ++s) terms[static_cast<size_t>(s)] = post[static_cast<size_t>(s)] + log_lik[static_cast<size_t>(s * N + i)];
    out.lppd[static_cast<size_t>(i)] = log_sum_exp(terms);
  }
  auto sum_and_se = [&](const std::vector<double>& v, double& sum, double& se) {
    sum = 0;
    for (double x : v) sum += x;
    double mean = sum / static_cast<double>(N), var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    se = N > 1 ? std::sqrt(static_cast<double>(N) * var / static_cast<double>(N - 1)) : 0;
  };
  sum_and_se(out.elpd, out.elpd_loo, out.se);
  std::vector<double> p(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) p[static_cast<size_t>(i)] = out.lppd[static_cast<size_t>(i)] - out.elpd[static_cast<size_t>(i)];
  sum_and_se(p, out.p_loo, out.p_loo_se);
  out.looic = -2 * out.elpd_loo;
  out.looic_se = 2 * out.se;
  return out;
}

}  // namespace vmc
