#include "ir/special.hpp"

#include "vmc/abi.h"

#include <algorithm>
#include <cmath>

namespace vmc::ir::special {

double softplus(double x) {
  // For large x, log1p(exp(-|x|)) underflows gracefully and max(x, 0) carries the value.
  return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
}

double log_sigmoid(double x) { return -softplus(-x); }

double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  double e = std::exp(x);
  return e / (1 + e);
}

double lgamma(double x) { return vmc_lgamma(x); }
double digamma(double x) { return vmc_digamma(x); }
double trigamma(double x) { return vmc_trigamma(x); }
double ndtri(double p) { return vmc_ndtri(p); }
double poisson_quantile(double u, double rate) { return vmc_poisson_quantile(u, rate); }
double binomial_quantile(double u, double n, double p) { return vmc_binomial_quantile(u, n, p); }
double neg_binomial_2_quantile(double u, double mu, double phi) { return vmc_neg_binomial_2_quantile(u, mu, phi); }
double student_t_quantile(double u, double nu) { return vmc_student_t_quantile(u, nu); }
double student_t_log_cdf(double t, double nu) { return vmc_student_t_log_cdf(t, nu); }
double gamma_quantile(double u, double shape) { return vmc_gamma_quantile(u, shape); }
double log_bessel_i0(double x) { return vmc_log_bessel_i0(x); }
double bessel_i1_over_i0(double x) { return vmc_bessel_i1_over_i0(x); }
double beta_quantile(double u, double a, double b) { return vmc_beta_quantile(u, a, b); }
double student_t_log_cdf_dnu(double t, double nu) { return vmc_student_t_log_cdf_dnu(t, nu); }
double log_ndtr(double x) { return vmc_log_ndtr(x); }

}  // namespace vmc::ir::special
