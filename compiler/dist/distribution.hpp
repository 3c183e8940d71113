// The distribution registry (LANGUAGE.md "Distributions"): one entry per distribution, in
// registry.cpp, holding every part of it — its name; its parameters and their supports; the
// support of its value and its shape rule; its log density; its sampler and whether that makes it
// a guide family (and how it is reparameterized); its moments; how it draws a param's `init`;
// and its closed-form KL partners. Sema (names, arity, supports, guide families), lowering
// (densities, samplers, KL), the synthetic data of `vmc diagnose` and `vmc help distributions`
// all read the same entry.
//
// Each part is a type without a default, so an entry that leaves one out does not build; a
// distribution without some part says so with that part's `none(...)`.
//
// Shapes, for the IR parts: for elementwise distributions (ShapeRule::Broadcast) the caller
// passes the value and every argument at the same shape (it broadcasts scalars) and gets the
// elementwise log density back at that shape. For mvnormal_cholesky the value and mu are
// [B..., K] (B... batch axes, possibly none) and L is [K, K]; the log density is [B...]. For
// categorical_logit the value is [B...] (int labels, as reals) and the logits [B..., K]; the
// log density is [B...]. Densities are fully normalised (constants included).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ir/node.hpp"

namespace vmc::dist {

// Where a distribution puts its mass (its value's support), or what an argument may be.
enum class Support {
  Real,          // the real line (per element)
  Positive,      // (0, inf)
  UnitInterval,  // (0, 1)
  Interval,      // (lo, hi), the constant bounds given as its arguments
  RealVector,    // R^K: one joint draw per vector
  Simplex,       // vectors of K positive elements summing to 1
  CorrCholesky,  // Cholesky factors of correlation matrices (rows of unit length)
  Binary,        // {0, 1}
  Count,         // {0, 1, ...}
  BoundedCount,  // {0, ..., n}
  Categorical,   // {0, ..., K-1}
  Cholesky,      // a lower-triangular matrix with a positive diagonal (an argument's only)
};
// "real", "(0, inf)", "{0, 1}", ...
std::string to_string(Support s);
bool discrete(Support s);
// The bounds of a support's values, where it has them: (0, inf) has lower 0, {0, 1} lower 0 and
// upper 1. Interval's are its arguments, so it has none here.
struct Bounds {
  std::optional<double> lower, upper;
};
Bounds bounds(Support s);
// When `value` (data; int data when `is_int`) lies outside `s`: the support as a data error
// names it ("(0, inf)", "integers >= 0", ...). Real data in [0, 1] is in Binary's support (the
// relaxation the VAE papers use).
std::optional<std::string> outside(Support s, double value, bool is_int);

// Whether a distribution can be a guide family: its draws must be reparameterizable.
enum class Reparam {
  Yes,
  No,
  Later,  // needs implicit reparameterization gradients, not implemented yet
};

enum class ArgKind {
  Real,      // real or int values
  Int,       // int values only
  Constant,  // a compile-time constant (uniform's bounds)
};

// How argument shapes relate to the left side of `~`.
enum class ShapeRule {
  Broadcast,    // each argument a scalar or exactly the left side's shape
  MvNormal,     // left side real[K]; mu a scalar or real[K]; L real[K, K]
  Categorical,  // left side a scalar per copy; logits real[K]
  Vector,       // left side real[K] per copy, each argument a scalar or real[K]; one density per vector
  Ordinal,      // left side an int scalar per copy; eta a scalar per copy; cutpoints real[K - 1]
  CorrCholesky, // left side real[K, K], one for all datapoints; each argument a scalar
};

struct Param {
  std::string_view name;
  Support support = Support::Real;
  ArgKind kind = ArgKind::Real;
};

using Args = std::vector<const ir::Node*>;
using Rng = std::mt19937_64;

// The log density of x under the distribution with `args` (shapes above).
struct LogDensity {
  const ir::Node* (*fn)(const ir::Node* x, const Args& args);
};

// A draw z = g(ε, args) from noise ε of the draw's shape (standard normal or uniform(0, 1)).
// Reparameterized: the draw's gradient is the pathwise one, so the distribution can be a guide
// family; forward only: sample_model can draw it (bernoulli's u < p), but no gradient flows.
struct Sampler {
  using Fn = const ir::Node* (*)(const Args& args, const ir::Node* noise);
  Reparam reparam;
  ir::InputKind noise = ir::InputKind::Noise;
  Fn fn = nullptr;
  std::string_view how;  // for the docs: "mu + sigma * eps", "inverse CDF of u", ...
  // The log density of the draw g(ε, args) computed from ε itself, where solving back from the
  // draw would lose it to rounding (mvnormal_cholesky: Σ log N(ε) − log|det L|, not a triangular
  // solve of L ε, whose rounding error an optimiser climbs without bound). nullptr: the log
  // density at the draw is as good.
  using AtDraw = const ir::Node* (*)(const Args& args, const ir::Node* noise);
  AtDraw log_density_at_draw = nullptr;

  static Sampler reparameterized(ir::InputKind noise, Fn fn, std::string_view how, AtDraw at_draw = nullptr) {
    return {Reparam::Yes, noise, fn, how, at_draw};
  }
  static Sampler forward_only(ir::InputKind noise, Fn fn, std::string_view how) {
    return {Reparam::No, noise, fn, how, nullptr};
  }
  // No sampler yet: as a guide it needs implicit reparameterization gradients.
  // A forward draw (generated quantities, sample_model), but as a guide it needs implicit
  // reparameterization gradients.
  static Sampler forward_later(ir::InputKind noise, Fn fn, std::string_view how) {
    return {Reparam::Later, noise, fn, how, nullptr};
  }
  static Sampler later() { return {Reparam::Later, ir::InputKind::Noise, nullptr, "", nullptr}; }
  static Sampler none() { return {Reparam::No, ir::InputKind::Noise, nullptr, "", nullptr}; }
};

// The mean and standard deviation elementwise (mvnormal_cholesky: per component), for the
// pictures of a decoder's means and for tests; none where undefined (cauchy).
struct Moments {
  using Fn = const ir::Node* (*)(const Args& args);
  Fn mean = nullptr;
  Fn sd = nullptr;
  static Moments none() { return {nullptr, nullptr}; }
};

// A draw on doubles from constant arguments: `init DIST(ARGS)` draws each element of a param in
// unconstrained space with it. none(): the distribution cannot draw an init (discrete or
// multivariate ones).
struct InitDraw {
  double (*fn)(const std::vector<double>& args, Rng& rng);
  static InitDraw none() { return {nullptr}; }
};

// KL(this ‖ prior) in closed form when this distribution is the guide family, elementwise (for
// mvnormal_cholesky guides: per vector, [B...]); q's and p's args shaped as for the log density.
struct KlPartner {
  std::string_view prior;
  const ir::Node* (*fn)(const Args& q, const Args& p);
};

// log P(X ≤ x) and log P(X > x) elementwise: a prior on a latent declared with bounds inside the
// distribution's support is normalised over them (the truncated density, LANGUAGE.md: densities
// are normalised). none(): no CDF here; sema then warns that such a prior is not normalised.
struct Tails {
  using Fn = const ir::Node* (*)(const ir::Node* x, const Args& args);
  Fn log_cdf = nullptr;
  Fn log_ccdf = nullptr;
  static Tails none() { return {nullptr, nullptr}; }
};

struct Distribution {
  std::string_view name;
  std::vector<Param> params;
  Support support;
  ShapeRule shape;
  LogDensity log_density;
  Sampler sampler;
  Moments moments;
  InitDraw init;
  std::vector<KlPartner> kl;
  // bernoulli*: real data in [0, 1] is accepted (the cross-entropy of PyTorch's VAE example).
  bool accepts_real_data;
  Tails tails;

  std::size_t arity() const { return params.size(); }
  bool discrete() const { return dist::discrete(support); }
  Reparam reparam() const { return sampler.reparam; }
  const KlPartner* kl_with(std::string_view prior) const;
  // "mu, sigma"
  std::string param_list() const;
};

// Every distribution, in the order of LANGUAGE.md's table.
const std::vector<Distribution>& distributions();
// The entry named `name`, or nullptr.
// The entry named `name` (or by one of its other names, aliases()), or nullptr.
const Distribution* find(std::string_view name);
// Other names of entries, (alias, entry's name): Stan's names where ours differ.
const std::vector<std::pair<std::string_view, std::string_view>>& aliases();
std::vector<std::string> names();
// What follows "unknown distribution 'NAME'": vmc's spelling of a name from Stan, else the
// nearest names, and where the whole list is.
std::string unknown_name_hint(std::string_view name);

// Stan's density functions of every distribution, for `target +=`: `normal_lpdf(y | mu, sigma)`
// (`_lpmf` for a discrete one), `normal_lcdf(y | ...)`, `normal_lccdf(y | ...)`; each sums over
// the elements of its value.
enum class DensityKind { Lpdf, Lpmf, Lcdf, Lccdf };
struct DensityFunction {
  DensityKind kind;
  std::string_view suffix;          // "_lpdf", ...
  std::string distribution;         // the name before the suffix (maybe not a distribution)
  const Distribution* dist = nullptr;  // its entry, or nullptr
};
// A name ending in a density suffix, or nullopt (then it is no density function).
std::optional<DensityFunction> density_function(std::string_view name);
// The suffix of the log density function of `d`: "_lpmf" when it is discrete, else "_lpdf".
std::string_view density_suffix(const Distribution& d);

// --- the IR parts, with their shapes checked (distribution.cpp) ---
const ir::Node* log_density(const Distribution& d, const ir::Node* x, const Args& args);
// z = g(ε, args); only for a distribution with a sampler.
const ir::Node* sample(const Distribution& d, const Args& args, const ir::Node* noise);
// The log density of sample(d, args, noise) at that draw: from the noise where the sampler says
// how (Sampler::log_density_at_draw), else log_density at the draw.
const ir::Node* log_density_of_draw(const Distribution& d, const Args& args, const ir::Node* noise,
                                    const ir::Node* draw);
// KL(q(q_args) ‖ p(p_args)) in closed form; nullptr when the pair has none.
const ir::Node* kl_divergence(const Distribution& q, const Args& q_args, const Distribution& p,
                              const Args& p_args);
// log P(lower < X < upper) under the distribution with `args`, at the shape of `like`, for a latent
// declared with bounds that cut its support (either bound may be absent); nullptr when none cut
// it. Needs the distribution's tails (truncation_needs_tails says whether it has them).
const ir::Node* log_mass_within(const Distribution& d, const Args& args, const ir::Node* like,
                                std::optional<double> lower, std::optional<double> upper);
// Whether declared bounds cut the distribution's support (its density must then be renormalised).
bool cuts_support(const Distribution& d, std::optional<double> lower, std::optional<double> upper);

// nullptr where undefined.
const ir::Node* mean(const Distribution& d, const Args& args);
const ir::Node* stddev(const Distribution& d, const Args& args);

// The table `vmc help distributions` prints (and docs/distributions.md holds), one row each.
std::string reference_table();

}  // namespace vmc::dist
