#include "sema/distributions.hpp"

#include <algorithm>

namespace vmc::sema {
namespace {

using enum Support;
using enum Reparam;

const DistParam kInt{"n", ArgKind::Int};

std::vector<Distribution> make_table() {
  return {
      {"normal", {{"mu"}, {"sigma"}}, Real, Yes, {"normal"}},
      {"lognormal", {{"mu"}, {"sigma"}}, Positive, Yes, {"lognormal"}},
      {"laplace", {{"mu"}, {"b"}}, Real, Yes, {"laplace"}},
      {"logistic", {{"mu"}, {"s"}}, Real, Yes, {}},
      {"cauchy", {{"mu"}, {"sigma"}}, Real, Yes, {}},
      {"student_t", {{"nu"}, {"mu"}, {"sigma"}}, Real, No, {}},
      {"exponential", {{"rate"}}, Positive, Yes, {"exponential", "gamma"}},
      {"gamma", {{"shape"}, {"rate"}}, Positive, Later, {"gamma"}},
      {"beta", {{"a"}, {"b"}}, UnitInterval, Later, {"beta"}},
      // KL(uniform || uniform) is finite only when the guide's interval lies inside the
      // prior's; sema guarantees that by requiring the prior's support to cover the latent's.
      {"uniform", {{"lo", ArgKind::Constant}, {"hi", ArgKind::Constant}}, Interval, Yes,
       {"uniform"}},
      {"half_normal", {{"sigma"}}, Positive, Yes, {}},
      {"mvnormal_cholesky", {{"mu"}, {"L"}}, RealVector, Yes, {"normal", "mvnormal_cholesky"},
       ShapeRule::MvNormal},
      {"bernoulli", {{"p"}}, Binary, No, {}, ShapeRule::Broadcast, true},
      {"bernoulli_logit", {{"logit"}}, Binary, No, {}, ShapeRule::Broadcast, true},
      {"poisson", {{"rate"}}, Count, No, {}},
      {"poisson_log", {{"log_rate"}}, Count, No, {}},
      {"binomial_logit", {kInt, {"logit"}}, BoundedCount, No, {}},
      {"categorical_logit", {{"logits"}}, Categorical, No, {}, ShapeRule::Categorical},
  };
}

}  // namespace

bool Distribution::discrete() const {
  return support == Binary || support == Count || support == BoundedCount ||
         support == Categorical;
}

bool Distribution::has_closed_form_kl_with(std::string_view prior) const {
  return std::find(kl_with.begin(), kl_with.end(), prior) != kl_with.end();
}

std::string Distribution::param_list() const {
  std::string out;
  for (const DistParam& p : params) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

const std::vector<Distribution>& distributions() {
  static const std::vector<Distribution> table = make_table();
  return table;
}

const Distribution* find_distribution(std::string_view name) {
  for (const Distribution& d : distributions()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::vector<std::string> distribution_names() {
  std::vector<std::string> names;
  for (const Distribution& d : distributions()) names.emplace_back(d.name);
  return names;
}

std::string to_string(Support s) {
  switch (s) {
    case Real: return "real";
    case Positive: return "(0, inf)";
    case UnitInterval: return "(0, 1)";
    case Interval: return "(lo, hi)";
    case RealVector: return "real vectors";
    case Binary: return "{0, 1}";
    case Count: return "{0, 1, ...}";
    case BoundedCount: return "{0, ..., n}";
    case Categorical: return "{0, ..., K-1}";
  }
  return "?";
}

}  // namespace vmc::sema
