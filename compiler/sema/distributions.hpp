// The distribution table (LANGUAGE.md "Distributions"): one entry per distribution drives its
// name, parameters, argument kinds, support, use as a guide family, closed-form KL partners and
// shape rule. Later stages add their own fields (log density, sampler) to the same entry.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vmc::sema {

// Where a distribution puts its mass.
enum class Support {
  Real,          // the real line (per element)
  Positive,      // (0, inf)
  UnitInterval,  // (0, 1)
  Interval,      // (lo, hi), the constant bounds given as its arguments
  RealVector,    // R^K: one joint draw per vector
  Binary,        // {0, 1}
  Count,         // {0, 1, ...}
  BoundedCount,  // {0, ..., n}
  Categorical,   // {0, ..., K-1}
};

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
  Broadcast,     // each argument a scalar or exactly the left side's shape
  MvNormal,      // left side real[K]; mu a scalar or real[K]; L real[K, K]
  Categorical,   // left side a scalar per copy; logits real[K]
};

struct DistParam {
  std::string_view name;
  ArgKind kind = ArgKind::Real;
};

struct Distribution {
  std::string_view name;
  std::vector<DistParam> params;
  Support support;
  Reparam reparam;
  // Priors p with a closed-form KL(this || p) when this distribution is the guide family.
  std::vector<std::string_view> kl_with;
  ShapeRule shape = ShapeRule::Broadcast;
  // bernoulli*: real data in [0, 1] is accepted (the cross-entropy of PyTorch's VAE example).
  bool accepts_real_data = false;

  std::size_t arity() const { return params.size(); }
  bool discrete() const;
  bool has_closed_form_kl_with(std::string_view prior) const;
  // "mu, sigma"
  std::string param_list() const;
};

// Every distribution, in the order of LANGUAGE.md's table.
const std::vector<Distribution>& distributions();
// The entry named `name`, or nullptr.
const Distribution* find_distribution(std::string_view name);
std::vector<std::string> distribution_names();

// "real", "(0, inf)", "{0, 1}", ...
std::string to_string(Support s);

}  // namespace vmc::sema
