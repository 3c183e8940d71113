// The Pareto-smoothed importance sampling diagnostic k̂ (Vehtari, Simpson, Gelman, Yao & Gabry,
// "Pareto smoothed importance sampling", 2015/2024). For a variational guide q, the log weights
// are log p(z, x) − log q(z) over S draws z ~ q; k̂ estimates how heavy the right tail of the
// importance ratios is (Yao, Vehtari, Simpson & Gelman, "Yes, but did it work?", ICML 2018):
// k̂ < 0.5 the guide is good, 0.5 ≤ k̂ < 0.7 usable, k̂ ≥ 0.7 the ratios have (nearly) no finite
// variance and expectations under q are unreliable.
//
// The fit follows the loo R package (psis.R / gpdfit.R, loo 2.4–2.6; posterior::ps_tail is the
// same computation) so that numbers can be compared with it:
//   M       = ceil(min(0.2·S, 3·sqrt(S)))          (tail length, r_eff = 1: draws are i.i.d.)
//   lw      = log_weights − max(log_weights)       (so exp never overflows)
//   tail    = the M largest lw, cutoff = the (M+1)-th largest
//   x       = exp(tail) − exp(cutoff)              (exceedances over the cutoff)
//   (k, σ)  = gpdfit(x, wip = TRUE, min_grid_pts = 30): Zhang & Stephens (2009)'s profile
//             likelihood average over m = 30 + floor(sqrt(M)) grid points, then the weakly
//             informative prior k = (M·k + 10·0.5) / (M + 10).
// Cost: O(S) selection + O(M log M) sort + O(m·M) for the fit.
//
// Non-finite and degenerate inputs (loo either warns or has no such case; our choices):
//   * any NaN                          → k = NaN: a bad draw is a bug upstream, not a tail.
//   * any +inf                         → k = +inf: one ratio carries all the mass.
//   * −inf entries                     → dropped (zero-weight draws, p = 0 where q > 0); S is the
//                                         count of finite entries, so M uses that count. (loo
//                                         keeps them in S; with no −inf the two agree.)
//   * M < 5 (S ≤ 20 finite entries)    → k = +inf, as loo: too short a tail to say anything.
//   * all M tail values equal          → k = 0 (loo warns and returns +inf). Equal top ratios mean
//                                         a bounded ratio, e.g. q = p: no heavy tail at all.
// sigma is the GPD scale of the exceedances (NaN when no fit was made, 0 for an equal tail);
// tail_length is M (as computed, even when it is too short to fit; 0 for NaN / +inf input).
#ifndef VMC_PSIS_HPP
#define VMC_PSIS_HPP

#include <cstdint>
#include <vector>

namespace vmc {

struct ParetoFit {
  double k;
  double sigma;
  int64_t tail_length;
};

// k̂ of the importance ratios exp(log_weights) (unnormalized; any additive constant is fine).
ParetoFit psis_khat(const std::vector<double>& log_weights);

// Pareto-smoothed log weights, as loo's psis(): the M largest (M as above) replaced by the
// fitted GPD's quantiles at (z - 1/2) / M, z = 1..M, above the cutoff, and every weight truncated
// at the largest raw one; then normalised (log Σ exp = 0). Returns the fit (k̂); with no usable
// fit (k̂ NaN or inf, too short a tail) the weights are only normalised.
ParetoFit psis_smooth(std::vector<double>& log_weights);

// PSIS-LOO (Vehtari, Gelman & Gabry 2017) from S draws of a proposal: `log_lik` [S × N]
// (draw-major) the log-likelihood of each datapoint at each draw, `log_ratio` [S] the log
// importance ratio of each draw to the posterior (0 for posterior draws; log p(x, z) − log q(z)
// for draws of a variational guide q, as Magnusson et al. 2019). Per datapoint i the ratios
// log_ratio_s − log_lik_si are smoothed, and elpd_i = log Σ_s w_si p(y_i | z_s).
struct Loo {
  std::vector<double> elpd;      // per datapoint
  std::vector<double> khat;      // per datapoint
  std::vector<double> lppd;      // per datapoint: log of the posterior mean of p(y_i | z)
  double elpd_loo = 0, se = 0;   // Σ elpd_i and its standard error √(N var(elpd_i))
  double p_loo = 0, p_loo_se = 0;  // Σ (lppd_i − elpd_i)
  double looic = 0, looic_se = 0;  // −2 elpd_loo
  double khat_ratio = 0;         // k̂ of the draws' own ratios (the proposal against the posterior)
};
Loo psis_loo(const std::vector<double>& log_lik, const std::vector<double>& log_ratio, std::int64_t draws,
             std::int64_t datapoints);

}  // namespace vmc

#endif  // VMC_PSIS_HPP
