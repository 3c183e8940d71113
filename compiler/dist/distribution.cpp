// The registry's queries and the IR parts with their shapes checked; the entries are in
// registry.cpp.
#include "dist/distribution.hpp"

#include <algorithm>
#include <cmath>

#include "ir/builder.hpp"
#include "support/check.hpp"
#include "support/suggest.hpp"

namespace vmc::dist {

std::string to_string(Support s) {
  switch (s) {
    case Support::Real: return "real";
    case Support::Positive: return "(0, inf)";
    case Support::UnitInterval: return "(0, 1)";
    case Support::Interval: return "(lo, hi)";
    case Support::RealVector: return "real vectors";
    case Support::Simplex: return "simplexes";
    case Support::CorrCholesky: return "Cholesky factors of correlation matrices";
    case Support::Binary: return "{0, 1}";
    case Support::Count: return "{0, 1, ...}";
    case Support::BoundedCount: return "{0, ..., n}";
    case Support::Categorical: return "{0, ..., K-1}";
    case Support::Cholesky: return "cholesky factors";
  }
  return "?";
}

bool discrete(Support s) {
  return s == Support::Binary || s == Support::Count || s == Support::BoundedCount || s == Support::Categorical;
}

Bounds bounds(Support s) {
  switch (s) {
    case Support::Positive:
    case Support::Count:
    case Support::BoundedCount:
    case Support::Categorical:
      return {0.0, std::nullopt};
    case Support::UnitInterval:
    case Support::Binary:
    case Support::Simplex:
      return {0.0, 1.0};
    case Support::CorrCholesky:
      return {-1.0, 1.0};
    case Support::Real:
    case Support::Interval:
    case Support::RealVector:
    case Support::Cholesky:
      return {};
  }
  return {};
}

std::optional<std::string> outside(Support s, double v, bool is_int) {
  switch (s) {
    case Support::Binary:
      if (is_int ? (v != 0 && v != 1) : (v < 0 || v > 1)) return is_int ? "{0, 1}" : "[0, 1]";
      return std::nullopt;
    case Support::Positive:
      if (!(v > 0)) return "(0, inf)";
      return std::nullopt;
    case Support::UnitInterval:
    case Support::Simplex:  // per element; the sums are the density's to take
      if (!(v > 0 && v < 1)) return "(0, 1)";
      return std::nullopt;
    case Support::CorrCholesky:  // per element; the rows' lengths are the density's to take
      if (!(v >= -1 && v <= 1)) return "[-1, 1]";
      return std::nullopt;
    case Support::Count:
    case Support::BoundedCount:
    case Support::Categorical:
      if (v < 0 || v != std::trunc(v)) return "integers >= 0";
      return std::nullopt;
    case Support::Real:
    case Support::Interval:  // its bounds are arguments: checked where they are known
    case Support::RealVector:
    case Support::Cholesky:
      return std::nullopt;
  }
  return std::nullopt;
}

const KlPartner* Distribution::kl_with(std::string_view prior) const {
  for (const KlPartner& k : kl) {
    if (k.prior == prior) return &k;
  }
  return nullptr;
}

std::string Distribution::param_list() const {
  std::string out;
  for (const Param& p : params) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

const std::vector<std::pair<std::string_view, std::string_view>>& aliases() {
  static const std::vector<std::pair<std::string_view, std::string_view>> table = {
      {"multi_normal_cholesky", "mvnormal_cholesky"},  // Stan's name
  };
  return table;
}

const Distribution* find(std::string_view name) {
  for (const auto& [alias, of] : aliases()) {
    if (name == alias) name = of;
  }
  for (const Distribution& d : distributions()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const Distribution& d : distributions()) out.emplace_back(d.name);
  return out;
}

std::string unknown_name_hint(std::string_view name) {
  // Names users bring from elsewhere whose vmc entry is spelt otherwise (spelling distance would
  // point mvnormal at half_normal).
  static const std::pair<std::string_view, std::string_view> known[] = {
      {"mvnormal", "mvnormal_cholesky(mu, L), or multi_normal(mu, Sigma) with the covariance"},
  };
  for (const auto& [other, ours] : known) {
    if (name == other) return "; vmc's is " + std::string(ours) + " (vmc help distributions lists them all)";
  }
  std::string close = did_you_mean(name, names());
  if (!close.empty()) return close + " (vmc help distributions lists them all)";
  // No near spelling: those that share a word of the name (neg_binomial_2_log: binomial_logit,
  // poisson_log), the likeliest stand-ins.
  auto words = [](std::string_view n) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= n.size()) {
      std::size_t end = std::min(n.find('_', at), n.size());
      if (end - at >= 3) out.emplace_back(n.substr(at, end - at));
      at = end + 1;
    }
    return out;
  };
  std::vector<std::string> wanted = words(name), near;
  for (const Distribution& d : distributions()) {
    for (const std::string& w : words(d.name)) {
      bool shared = std::any_of(wanted.begin(), wanted.end(), [&](const std::string& x) {
        return w == x || (x.size() >= 4 && w.rfind(x, 0) == 0);  // "log" in "logit": not; "binomial" in "binomial"
      });
      if (shared) {
        near.push_back("'" + std::string(d.name) + "'");
        break;
      }
    }
  }
  if (near.empty()) return " (vmc help distributions lists them all)";
  return "; vmc has " + join(near, " and ") + " of its kind (vmc help distributions lists them all)";
}

std::optional<DensityFunction> density_function(std::string_view name) {
  static constexpr std::pair<std::string_view, DensityKind> kSuffixes[] = {
      {"_lpdf", DensityKind::Lpdf}, {"_lpmf", DensityKind::Lpmf},
      {"_lcdf", DensityKind::Lcdf}, {"_lccdf", DensityKind::Lccdf}};
  for (const auto& [suffix, kind] : kSuffixes) {
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
    std::string base(name.substr(0, name.size() - suffix.size()));
    return DensityFunction{kind, suffix, base, find(base)};
  }
  return std::nullopt;
}

std::string_view density_suffix(const Distribution& d) { return d.discrete() ? "_lpmf" : "_lpdf"; }

namespace {

void expect_args(const Distribution& d, const Args& args) {
  VMC_ASSERT(args.size() == d.arity(), std::string(d.name) + " takes " + std::to_string(d.arity()) + " arguments");
  for (const ir::Node* a : args) VMC_ASSERT(a != nullptr, "missing argument");
}

// Elementwise results at x's shape even when every argument is a scalar (uniform ignores x).
const ir::Node* at_shape_of(const ir::Node* value, const ir::Node* x) {
  if (value->shape() == x->shape() || !value->is_scalar()) return value;
  return ir::broadcast(value, x->shape());
}

}  // namespace

const ir::Node* log_density(const Distribution& d, const ir::Node* x, const Args& args) {
  expect_args(d, args);
  const ir::Node* lp = d.log_density.fn(x, args);
  return d.shape == ShapeRule::Broadcast ? at_shape_of(lp, x) : lp;
}

const ir::Node* log_density_of_draw(const Distribution& d, const Args& args, const ir::Node* noise,
                                    const ir::Node* draw) {
  expect_args(d, args);
  if (!d.sampler.log_density_at_draw) return log_density(d, draw, args);
  const ir::Node* lp = d.sampler.log_density_at_draw(args, noise);
  return d.shape == ShapeRule::Broadcast ? at_shape_of(lp, draw) : lp;
}

const ir::Node* sample(const Distribution& d, const Args& args, const ir::Node* noise) {
  expect_args(d, args);
  VMC_ASSERT(d.sampler.fn, std::string(d.name) + " has no sampler");
  const ir::Node* z = d.sampler.fn(args, noise);
  return d.shape == ShapeRule::Broadcast ? at_shape_of(z, noise) : z;
}

const ir::Node* kl_divergence(const Distribution& q, const Args& q_args, const Distribution& p, const Args& p_args) {
  const KlPartner* k = q.kl_with(p.name);
  if (!k) return nullptr;
  expect_args(q, q_args);
  expect_args(p, p_args);
  return k->fn(q_args, p_args);
}

bool cuts_support(const Distribution& d, std::optional<double> lower, std::optional<double> upper) {
  // Scalar supports with fixed bounds (an interval's are its arguments; a vector's are joint).
  if (d.support != Support::Real && d.support != Support::Positive && d.support != Support::UnitInterval) return false;
  Bounds s = bounds(d.support);
  return (lower && (!s.lower || *lower > *s.lower)) || (upper && (!s.upper || *upper < *s.upper));
}

const ir::Node* log_mass_within(const Distribution& d, const Args& args, const ir::Node* like,
                                std::optional<double> lower, std::optional<double> upper) {
  if (!cuts_support(d, lower, upper)) return nullptr;
  Bounds s = bounds(d.support);
  const bool cut_lower = lower && (!s.lower || *lower > *s.lower);
  const bool cut_upper = upper && (!s.upper || *upper < *s.upper);
  VMC_ASSERT(d.tails.log_cdf && d.tails.log_ccdf, "a truncated " + std::string(d.name) + " without its tails");
  if (cut_lower && !cut_upper) return d.tails.log_ccdf(ir::constant_like(like, *lower), args);
  if (cut_upper && !cut_lower) return d.tails.log_cdf(ir::constant_like(like, *upper), args);
  // log(F(b) − F(a)) = log F(b) + log1p(−e^{log F(a) − log F(b)}).
  const ir::Node* b = d.tails.log_cdf(ir::constant_like(like, *upper), args);
  const ir::Node* a = d.tails.log_cdf(ir::constant_like(like, *lower), args);
  return ir::add(b, ir::unary(ir::Op::Log1p, ir::neg(ir::exp(ir::sub(a, b)))));
}

const ir::Node* mean(const Distribution& d, const Args& args) {
  expect_args(d, args);
  return d.moments.mean ? d.moments.mean(args) : nullptr;
}

const ir::Node* stddev(const Distribution& d, const Args& args) {
  expect_args(d, args);
  return d.moments.sd ? d.moments.sd(args) : nullptr;
}

std::string reference_table() {
  std::string out =
      "Distributions (LANGUAGE.md \"Distributions\"). Every density is fully normalised and vectorised:\n"
      "a scalar argument broadcasts to the left side's shape, the others must have its shape.\n\n"
      "| name | parameters | support | as a guide family | drawn forwards | closed-form KL with |\n"
      "|---|---|---|---|---|---|\n";
  std::string truncated;
  for (const Distribution& d : distributions()) {
    if (d.tails.log_cdf) truncated += (truncated.empty() ? "" : ", ") + std::string(d.name);
  }
  for (const Distribution& d : distributions()) {
    std::string params;
    for (const Param& p : d.params) {
      if (!params.empty()) params += ", ";
      params += std::string(p.name) + " " + (p.kind == ArgKind::Int ? "int " : "") + to_string(p.support);
      if (p.kind == ArgKind::Constant) params += " (constant)";
    }
    std::string guide;
    switch (d.sampler.reparam) {
      case Reparam::Yes: guide = "yes: " + std::string(d.sampler.how); break;
      case Reparam::Later: guide = "later (implicit reparameterization)"; break;
      case Reparam::No: guide = "no"; break;
    }
    std::string kl;
    for (const KlPartner& k : d.kl) kl += (kl.empty() ? "" : ", ") + std::string(k.prior);
    std::string support = to_string(d.support);
    if (d.accepts_real_data) support += " (or real data in [0, 1]: the cross-entropy)";
    std::string forwards = !d.sampler.fn ? "not yet" : d.sampler.reparam == Reparam::Yes ? "yes" : "yes: " + std::string(d.sampler.how);
    out += "| " + std::string(d.name) + " | " + params + " | " + support + " | " + guide + " | " + forwards +
           " | " + (kl.empty() ? "-" : kl) + " |\n";
  }
  out += "\nA prior on a latent declared with bounds inside the prior's support (`s : real<lower=0>; s ~\n"
         "normal(0, 1)`) is the truncated density, normalised over the bounds, so the bound stays a bound\n"
         "on log p(data): for " + truncated + ". Another family cut by a latent's bounds is not\n"
         "normalised over them, and `vmc check` warns. A truncated prior has no closed-form KL (L^B samples it).\n"
         "\nOther names: " + [] {
           std::string s;
           for (const auto& [alias, of] : aliases()) s += (s.empty() ? "" : ", ") + ("`" + std::string(alias) + "` is `" + std::string(of) + "`");
           return s;
         }() + " (Stan's names; their density functions too).\n"
         "\n*Drawn forwards*: the family can be sampled given its arguments: in the `generated` block\n"
         "(`y_rep ~ poisson(rate);`), by `vmc sample --from model` and `--from predictive`, and as a prior\n"
         "that `--from model` draws. A discrete family draws by inversion of uniform noise (no gradient).\n"
         "\nA global latent with no `~` in the model has a flat (improper) prior on its support, as in Stan\n"
         "(`vmc check` notes it): the bound then leaves out that prior's infinite constant, and `vmc sample\n"
         "--from model` cannot draw it. A local latent needs its `~` in its plate.\n";
  return out;
}

}  // namespace vmc::dist
