// Scalar special functions with the numerically stable forms the IR's ops promise. The
// interpreter (and constant folding, in sema and the simplifier) uses them as its definition of
// each op; compiled code calls the same runtime functions (abi.h) for the gamma family.
#pragma once

namespace vmc::ir::special {

double softplus(double x);     // log(1 + e^x) without overflow
double log_sigmoid(double x);  // -softplus(-x)
double sigmoid(double x);
double lgamma(double x);       // log |Γ(x)|
double digamma(double x);
double trigamma(double x);
double ndtri(double p);        // the standard normal's inverse CDF
double log_ndtr(double x);     // log of the standard normal's CDF, accurate in both tails
double poisson_quantile(double u, double rate);            // smallest k with CDF(k) >= u
double binomial_quantile(double u, double n, double p);    // the same for Binomial(n, p)
double neg_binomial_2_quantile(double u, double mu, double phi);  // ... for NegBinomial2(mu, phi)
double student_t_quantile(double u, double nu);  // Student's t inverse CDF
double student_t_log_cdf(double t, double nu);      // log P(T_nu <= t)
double gamma_quantile(double u, double shape);       // Gamma(shape, 1)'s inverse CDF
double log_bessel_i0(double x);                      // log I_0(x)
double bessel_i1_over_i0(double x);                  // I_1(x) / I_0(x)
double beta_quantile(double u, double a, double b);  // Beta(a, b)'s inverse CDF
double student_t_log_cdf_dnu(double t, double nu);  // its derivative in nu

}  // namespace vmc::ir::special
