// Internal to dist/: what the registry's entries are built with (registry_*.cpp), and the
// entries themselves. registry.cpp lists them.
#pragma once

#include <cmath>
#include <concepts>
#include <numbers>
#include <utility>

#include "dist/distribution.hpp"
#include "dist/kl.hpp"
#include "dist/math.hpp"

namespace vmc::dist::entries {

using namespace detail;
using ir::InputKind;
using ir::Node;
using enum Support;

// An entry's parts, each Required: an entry that leaves one out does not build (a distribution
// without some part says so with that part's none()).
template <class T>
struct Required {
  template <class U>
    requires std::convertible_to<U, T>
  Required(U&& v) : value(std::forward<U>(v)) {}  // NOLINT: implicit on purpose
  T value;
};

using Params = std::vector<Param>;
using KlPartners = std::vector<KlPartner>;

struct Parts {
  Required<std::string_view> name;
  Required<Params> params;
  Required<Support> support;
  Required<ShapeRule> shape;
  Required<LogDensity> log_density;
  Required<Sampler> sampler;
  Required<Moments> moments;
  Required<InitDraw> init;
  Required<KlPartners> kl;
  Required<bool> accepts_real_data;
  Required<Tails> tails;
};

inline Distribution entry(Parts p) {
  return {p.name.value,  p.params.value,  p.support.value, p.shape.value, p.log_density.value,
          p.sampler.value, p.moments.value, p.init.value,  p.kl.value,    p.accepts_real_data.value,
          p.tails.value};
}

constexpr double kPi = std::numbers::pi;
inline const double kLog2Pi = std::log(2 * kPi);
constexpr InputKind kNormal = InputKind::Noise;
constexpr InputKind kUniform = InputKind::Uniform;

inline V normal_lpdf(V x, V mu, V sigma) {
  V z = (x - mu) / sigma;
  return -0.5 * kLog2Pi - log(sigma) - 0.5 * square(z);
}

inline double uniform01(Rng& rng) { return std::uniform_real_distribution<double>(0, 1)(rng); }

inline const Node* first(const Args& a) { return a[0]; }
inline const Node* second(const Args& a) { return a[1]; }
inline const Node* inverse_first(const Args& a) { return 1.0 / V(a[0]); }

// registry_continuous.cpp
Distribution normal();
Distribution lognormal();
Distribution laplace();
Distribution logistic();
Distribution cauchy();
Distribution student_t();
Distribution exponential();
Distribution gamma();
Distribution beta();
Distribution uniform();
Distribution half_normal();
Distribution weibull();
Distribution half_cauchy();
Distribution half_student_t();
Distribution inv_gamma();
// registry_discrete.cpp (and the multivariate ones)
Distribution mvnormal_cholesky();
Distribution dirichlet();
Distribution multi_normal();
Distribution ordered_logistic();
Distribution lkj_corr_cholesky();
Distribution von_mises();
Distribution bernoulli();
Distribution bernoulli_logit();
Distribution poisson();
Distribution poisson_log();
Distribution binomial_logit();
Distribution binomial();
Distribution neg_binomial_2();
Distribution neg_binomial_2_log();
Distribution categorical_logit();

}  // namespace vmc::dist::entries
