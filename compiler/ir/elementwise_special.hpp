// The elementwise ops of ops.def that are special functions (the gamma family, Bessel, the
// normal's CDF and inverse) or the forward samplers' inverse CDFs and the Student-t CDF: their
// Elementwise<op> specialisations, as described in elementwise.hpp (included from its end, so
// every basic op's code is there to build on). Their values and code call the runtime's double
// functions (abi.h, through ir/special.hpp).
#pragma once

#include <numbers>

#include "ir/elementwise.hpp"

namespace vmc::ir {

// --- one operand -------------------------------------------------------------------------------

template <>
struct Elementwise<Op::Lgamma> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::lgamma(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_lgamma", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::Digamma, n.arg(0)))}; }
};

// log I_0(x): its derivative is R = I_1/I_0, whose own is 1 − R/x − R² (R/x → 1/2 at 0).
template <>
struct Elementwise<Op::LogBesselI0> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::log_bessel_i0(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_log_bessel_i0", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::BesselI1OverI0, n.arg(0)))}; }
};

template <>
struct Elementwise<Op::BesselI1OverI0> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::bessel_i1_over_i0(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_bessel_i1_over_i0", x); }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* x = n.arg(0);
    const Node* at_zero = binary(Op::Equal, x, constant_like(x, 0));
    const Node* r_over_x = select(at_zero, constant_like(x, 0.5), div(&n, x));
    return {mul(g, sub(sub(constant_like(x, 1), r_over_x), square(&n)))};
  }
};

template <>
struct Elementwise<Op::Digamma> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::digamma(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_digamma", x); }
  static Contributions adjoint(const Node& n, const Node* g) { return {mul(g, unary(Op::Trigamma, n.arg(0)))}; }
};

template <>
struct Elementwise<Op::Trigamma> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::trigamma(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_trigamma", x); }
  static Contributions adjoint(const Node&, const Node*) {
    VMC_ASSERT(false, "trigamma is not differentiated: objectives need at most digamma's derivative");
  }
};

template <>
struct Elementwise<Op::Ndtri> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::ndtri(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_ndtri", x); }
  // d/dp Φ⁻¹(p) = 1 / φ(Φ⁻¹(p)) = √(2π) exp(x²/2)
  static Contributions adjoint(const Node& n, const Node* g) {
    return {mul(g, mul(exp(mul(square(&n), 0.5)), std::sqrt(2 * std::numbers::pi)))};
  }
};

template <>
struct Elementwise<Op::LogNdtr> {
  static constexpr bool cheap = false;
  static double value(double x) { return special::log_ndtr(x); }
  template <class B>
  static auto code(B& b, typename B::V x) { return b.runtime("vmc_log_ndtr", x); }
  // d/dx log Φ(x) = φ(x) / Φ(x) = exp(−x²/2 − ½ log 2π − log Φ(x)): no division by a Φ that
  // underflows in the lower tail.
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* x = n.arg(0);
    return {mul(g, exp(sub(mul(square(x), -0.5), add(&n, 0.5 * std::log(2 * std::numbers::pi)))))};
  }
};

// --- two operands ------------------------------------------------------------------------------

// A draw by inversion of uniform noise: piecewise constant in every operand, so no gradient.
template <>
struct Elementwise<Op::PoissonQuantile> {
  static constexpr bool cheap = false;
  static double value(double u, double rate) { return special::poisson_quantile(u, rate); }
  template <class B>
  static auto code(B& b, typename B::V u, typename B::V rate) { return b.runtime("vmc_poisson_quantile", u, rate); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

// Student's t inverse CDF: a forward draw (no gradient flows through it: its derivative in nu has
// no closed form).
template <>
struct Elementwise<Op::StudentTQuantile> {
  static constexpr bool cheap = false;
  static double value(double u, double nu) { return special::student_t_quantile(u, nu); }
  template <class B>
  static auto code(B& b, typename B::V u, typename B::V nu) { return b.runtime("vmc_student_t_quantile", u, nu); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

// Gamma(shape, 1)'s inverse CDF: a forward draw (no gradient flows through it: a guide needs
// implicit reparameterization, which is not built).
template <>
struct Elementwise<Op::GammaQuantile> {
  static constexpr bool cheap = false;
  static double value(double u, double shape) { return special::gamma_quantile(u, shape); }
  template <class B>
  static auto code(B& b, typename B::V u, typename B::V shape) { return b.runtime("vmc_gamma_quantile", u, shape); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

// log P(T_nu ≤ t) (student_t_lcdf, its tails on truncated priors). ∂/∂t is the density over the
// CDF, e^(log pdf(t) − y); ∂/∂nu has no closed form: StudentTLogCdfDnu, which has no gradient of
// its own (a second derivative in nu is never needed: the objective's gradient is first order).
template <>
struct Elementwise<Op::StudentTLogCdf> {
  static constexpr bool cheap = false;
  static double value(double t, double nu) { return special::student_t_log_cdf(t, nu); }
  template <class B>
  static auto code(B& b, typename B::V t, typename B::V nu) { return b.runtime("vmc_student_t_log_cdf", t, nu); }
  static Contributions adjoint(const Node& n, const Node* g) {
    const Node* t = n.arg(0);
    const Node* nu = n.arg(1);
    const Node* half_nu1 = mul(add(nu, 1.0), 0.5);
    const Node* log_pdf =
        sub(sub(unary(Op::Lgamma, half_nu1), unary(Op::Lgamma, mul(nu, 0.5))),
            add(mul(log(mul(nu, std::numbers::pi)), 0.5), mul(half_nu1, unary(Op::Log1p, div(square(t), nu)))));
    return {mul(g, exp(sub(log_pdf, &n))), mul(g, binary(Op::StudentTLogCdfDnu, t, nu))};
  }
};

template <>
struct Elementwise<Op::StudentTLogCdfDnu> {
  static constexpr bool cheap = false;
  static double value(double t, double nu) { return special::student_t_log_cdf_dnu(t, nu); }
  template <class B>
  static auto code(B& b, typename B::V t, typename B::V nu) { return b.runtime("vmc_student_t_log_cdf_dnu", t, nu); }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

// --- three operands ----------------------------------------------------------------------------

// Beta(a, b)'s inverse CDF: a forward draw, as GammaQuantile.
template <>
struct Elementwise<Op::BetaQuantile> {
  static constexpr bool cheap = false;
  static double value(double u, double a, double b) { return special::beta_quantile(u, a, b); }
  template <class B>
  static auto code(B& b, typename B::V u, typename B::V p, typename B::V q) {
    return b.runtime("vmc_beta_quantile", u, p, q);
  }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

template <>
struct Elementwise<Op::BinomialQuantile> {
  static constexpr bool cheap = false;
  static double value(double u, double n, double p) { return special::binomial_quantile(u, n, p); }
  template <class B>
  static auto code(B& b, typename B::V u, typename B::V n, typename B::V p) {
    return b.runtime("vmc_binomial_quantile", u, n, p);
  }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

template <>
struct Elementwise<Op::NegBinomial2Quantile> {
  static constexpr bool cheap = false;
  static double value(double u, double mu, double phi) { return special::neg_binomial_2_quantile(u, mu, phi); }
  template <class B>
  static auto code(B& b, typename B::V u, typename B::V mu, typename B::V phi) {
    return b.runtime("vmc_neg_binomial_2_quantile", u, mu, phi);
  }
  static Contributions adjoint(const Node&, const Node*) { return {}; }
};

}  // namespace vmc::ir
