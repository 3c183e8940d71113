// The scalar special functions generated code calls back into and the reference interpreter
// uses as its definition of each op (compiler/ir/special.hpp wraps these, and sema's constant
// folding goes through the interpreter's scalar values), so compiled and interpreted models and
// folded constants agree to the last bit. Boost.Math computes them; this file only fixes what
// they return outside their domain: NaN or an infinity, never an exception.
#include "vmc/abi.h"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/negative_binomial.hpp>
#include <boost/math/distributions/poisson.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <boost/math/special_functions/bessel.hpp>
#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/trigamma.hpp>

#include <cmath>
#include <limits>
#include <numbers>

namespace {

namespace policies = boost::math::policies;
// Errors become values (the IR has no exceptions), and doubles stay doubles (Boost would
// otherwise compute in long double, several times slower for the same double result).
using Policy = policies::policy<policies::domain_error<policies::ignore_error>,
                                policies::pole_error<policies::ignore_error>,
                                policies::overflow_error<policies::ignore_error>,
                                policies::evaluation_error<policies::ignore_error>,
                                policies::promote_double<false>>;
// A discrete distribution's quantile is the smallest k whose CDF reaches u.
using QuantilePolicy = policies::policy<policies::domain_error<policies::ignore_error>,
                                        policies::pole_error<policies::ignore_error>,
                                        policies::overflow_error<policies::ignore_error>,
                                        policies::evaluation_error<policies::ignore_error>,
                                        policies::promote_double<false>,
                                        policies::discrete_quantile<policies::integer_round_up>>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// 0, −1, −2, ...: the poles of Γ and its derivatives.
bool pole(double x) { return x <= 0 && std::floor(x) == x; }


// Σ_{k ≤ 5} (−1)^k a_k(nu) / x^k for nu = 0 and 1.
double bessel_series(int nu, double x) {
  static const double c0[] = {1, 1.0 / 8, 9.0 / 128, 225.0 / 3072, 11025.0 / 98304, 893025.0 / 3932160};
  static const double c1[] = {1, -3.0 / 8, -15.0 / 128, -315.0 / 3072, -14175.0 / 98304, -1091475.0 / 3932160};
  const double* c = nu == 0 ? c0 : c1;
  double r = 1 / x, sum = 0;
  for (int k = 5; k >= 0; --k) sum = sum * r + c[k];
  return sum;
}
}  // namespace

extern "C" {

// log |Γ(x)|: +∞ at the poles, as std::lgamma.
double vmc_lgamma(double x) {
  if (std::isnan(x)) return x;
  if (pole(x) || std::isinf(x)) return kInf;
  return boost::math::lgamma(x, Policy());
}

// ψ(x): NaN at the poles (its sign there depends on the side of approach).
double vmc_digamma(double x) {
  if (std::isnan(x) || pole(x) || x == -kInf) return kNaN;
  if (x == kInf) return kInf;
  return boost::math::digamma(x, Policy());
}

// ψ₁(x): +∞ at the poles, where both sides tend to it.
double vmc_trigamma(double x) {
  if (std::isnan(x)) return x;
  if (pole(x)) return kInf;
  return boost::math::trigamma(x, Policy());
}

// Φ⁻¹(p) = −√2 erfc⁻¹(2p): through erfc⁻¹, not erf⁻¹(2p − 1), so that the lower tail keeps its
// relative accuracy (2p − 1 rounds to −1 for p below 1e-17).
double vmc_ndtri(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return kNaN;
  if (p == 0) return -kInf;
  if (p == 1) return kInf;
  return -std::sqrt(2.0) * boost::math::erfc_inv(2 * p, Policy());
}

// log Φ(x), the standard normal's log CDF, with its relative accuracy in both tails: log1p of
// the upper tail for large x, log of erfc in the middle, and for x < −20 (where erfc nears
// underflow) the asymptotic series log Φ(x) = −x²/2 − log(−x) − ½ log 2π + log(1 − 1/x² + 3/x⁴
// − ...), whose terms to 1/x¹² leave an error below 1e-14 there.
double vmc_log_ndtr(double x) {
  if (std::isnan(x)) return x;
  if (x == kInf) return 0;
  if (x == -kInf) return -kInf;
  if (x > 5) return std::log1p(-0.5 * boost::math::erfc(x / std::sqrt(2.0), Policy()));
  if (x > -20) return std::log(0.5 * boost::math::erfc(-x / std::sqrt(2.0), Policy()));
  const double r = 1 / (x * x);
  const double series = 1 + r * (-1 + r * (3 + r * (-15 + r * (105 + r * (-945 + r * 10395)))));
  return -0.5 * x * x - std::log(-x) - 0.5 * std::log(2 * std::numbers::pi) + std::log(series);
}


// The smallest k with P(X ≤ k) ≥ u for X ~ Poisson(rate): a draw from uniform noise u, by
// inversion. Below rate 30 by summing the mass from 0 (about rate steps, exact to rounding);
// above, Boost's quantile (a root search on the regularised gamma function).
double vmc_poisson_quantile(double u, double rate) {
  if (std::isnan(u) || std::isnan(rate) || u < 0 || u > 1 || rate < 0) return kNaN;
  if (rate == 0 || u == 0) return 0;
  if (u == 1 || rate == kInf) return kInf;
  if (rate < 30) {
    double mass = std::exp(-rate), cdf = mass;
    double k = 0;
    // Past k = 200 the mass left is below 1e-100 for every rate < 30: u is then 1 to rounding.
    while (cdf < u && k < 200) {
      k += 1;
      mass *= rate / k;
      cdf += mass;
    }
    return k;
  }
  return boost::math::quantile(boost::math::poisson_distribution<double, QuantilePolicy>(rate), u);
}

// The smallest k with P(X ≤ k) ≥ u for X ~ Binomial(n, p), by inversion: from 0 with the mass's
// recurrence while n < 50, Boost's quantile above.
double vmc_binomial_quantile(double u, double n, double p) {
  if (std::isnan(u) || std::isnan(n) || std::isnan(p) || u < 0 || u > 1 || n < 0 || p < 0 || p > 1 ||
      std::floor(n) != n || std::isinf(n)) {
    return kNaN;
  }
  if (n == 0 || p == 0 || u == 0) return 0;
  if (p == 1 || u == 1) return n;
  if (n < 50) {
    double mass = std::exp(n * std::log1p(-p)), cdf = mass, ratio = p / (1 - p);
    double k = 0;
    while (cdf < u && k < n) {
      mass *= (n - k) / (k + 1) * ratio;
      k += 1;
      cdf += mass;
    }
    return k;
  }
  return boost::math::quantile(boost::math::binomial_distribution<double, QuantilePolicy>(n, p), u);
}

// The smallest k with P(X ≤ k) ≥ u for X ~ NegBinomial2(mu, phi) (mean mu, variance mu + mu²/phi:
// phi successes' failures at success probability phi / (mu + phi)), by inversion: from 0 with the
// mass's recurrence for up to 2000 terms (every mean below about 1000 at u < 1 − 1e-12), Boost's
// quantile past them.
double vmc_neg_binomial_2_quantile(double u, double mu, double phi) {
  if (std::isnan(u) || std::isnan(mu) || std::isnan(phi) || u < 0 || u > 1 || mu < 0 || !(phi > 0)) return kNaN;
  if (mu == 0 || u == 0) return 0;
  if (u == 1 || mu == kInf) return kInf;
  const double q = mu / (mu + phi);  // the failure probability
  double mass = std::exp(phi * std::log1p(-q)), cdf = mass, k = 0;
  while (cdf < u && k < 2000) {
    mass *= (k + phi) / (k + 1) * q;
    k += 1;
    cdf += mass;
  }
  if (cdf >= u) return k;
  return boost::math::quantile(boost::math::negative_binomial_distribution<double, QuantilePolicy>(phi, 1 - q), u);
}

// The quantile of Student's t with nu degrees of freedom at u: a draw from uniform noise u.
double vmc_student_t_quantile(double u, double nu) {
  if (std::isnan(u) || std::isnan(nu) || u < 0 || u > 1 || !(nu > 0)) return kNaN;
  if (u == 0) return -kInf;
  if (u == 1) return kInf;
  return boost::math::quantile(boost::math::students_t_distribution<double, Policy>(nu), u);
}

// log I_0(x) and I_1(x) / I_0(x), the modified Bessel functions of the first kind (von_mises's
// normaliser and its derivative in kappa). Boost's I_0 overflows past x ≈ 700; from x = 500 the
// asymptotic series I_nu(x) ~ e^x / sqrt(2 pi x) Σ_k (−1)^k a_k(nu) / x^k, to k = 5, is exact to
// double precision (the next term is below 4e-17). log I_0 is even in x, the ratio odd.

double vmc_log_bessel_i0(double x) {
  if (std::isnan(x)) return kNaN;
  x = std::abs(x);
  if (x == kInf) return kInf;
  if (x < 500) return std::log(boost::math::cyl_bessel_i(0, x, Policy()));
  return x - 0.5 * std::log(2 * M_PI * x) + std::log(bessel_series(0, x));
}

double vmc_bessel_i1_over_i0(double x) {
  if (std::isnan(x)) return kNaN;
  double a = std::abs(x), s = x < 0 ? -1 : 1;
  if (a == kInf) return s;
  if (a < 500) return s * boost::math::cyl_bessel_i(1, a, Policy()) / boost::math::cyl_bessel_i(0, a, Policy());
  return s * bessel_series(1, a) / bessel_series(0, a);
}

// The quantile of Gamma(shape, 1) at u (a draw from uniform noise; divide by the rate), and of
// Beta(a, b): Boost's inverses of the regularised incomplete gamma and beta functions.
double vmc_gamma_quantile(double u, double shape) {
  if (std::isnan(u) || std::isnan(shape) || u < 0 || u > 1 || !(shape > 0)) return kNaN;
  if (u == 0) return 0;
  if (u == 1) return kInf;
  return boost::math::gamma_p_inv(shape, u, Policy());
}

double vmc_beta_quantile(double u, double a, double b) {
  if (std::isnan(u) || std::isnan(a) || std::isnan(b) || u < 0 || u > 1 || !(a > 0) || !(b > 0)) return kNaN;
  if (u == 0) return 0;
  if (u == 1) return 1;
  return boost::math::ibeta_inv(a, b, u, Policy());
}

// log P(T ≤ t) for Student's t with nu degrees of freedom: Boost's CDF, whose lower tail is
// computed directly (no 1 − x cancellation), so the log is accurate far into it.
double vmc_student_t_log_cdf(double t, double nu) {
  if (std::isnan(t) || std::isnan(nu) || !(nu > 0)) return kNaN;
  if (t == -kInf) return -kInf;
  if (t == kInf) return 0;
  return std::log(boost::math::cdf(boost::math::students_t_distribution<double, Policy>(nu), t));
}

// ∂/∂nu of vmc_student_t_log_cdf, which has no closed form: Richardson's extrapolation of central
// differences (error O(h⁴) and rounding ~1e-12 relative at h = 1e-3 nu, far below f32's and
// the 1e-6 of the finite-difference tests).
double vmc_student_t_log_cdf_dnu(double t, double nu) {
  if (std::isnan(t) || std::isnan(nu) || !(nu > 0)) return kNaN;
  if (std::isinf(t)) return 0;
  const double h = 1e-3 * nu;
  auto central = [&](double step) {
    return (vmc_student_t_log_cdf(t, nu + step) - vmc_student_t_log_cdf(t, nu - step)) / (2 * step);
  };
  return (4 * central(h / 2) - central(h)) / 3;
}

}  // extern "C"
