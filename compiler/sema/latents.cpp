// Latents: each has exactly one `~` in the model and one in the guide; both agree on whether it
// is local (indexed by a subsampled plate) or global; the prior's support covers the latent's,
// and the guide family is reparameterizable with exactly the latent's support. Records each
// latent's prior, guide family and whether their KL has a closed form.
#include <cmath>
#include <limits>
#include <set>

#include "sema/analyzer.hpp"

namespace vmc::sema {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Interval {
  double lo = -kInf;
  double hi = kInf;
  bool operator==(const Interval&) const = default;
};

// A latent's support per element; a Cholesky factor's elements range over the reals.
Interval latent_interval(const Constraint& c) {
  if (c.positive_ordered) return Interval{0, kInf};
  if (c.simplex) return Interval{0, 1};
  if (c.cholesky_corr) return Interval{-1, 1};
  return Interval{c.lower.value_or(-kInf), c.upper.value_or(kInf)};
}

// Where a continuous distribution puts its mass, per element; nullopt for an interval whose
// bounds are not known.
std::optional<Interval> dist_interval(const Distribution& d,
                                      std::optional<std::pair<double, double>> bounds) {
  if (d.support == Support::Interval) {
    if (!bounds) return std::nullopt;
    return Interval{bounds->first, bounds->second};
  }
  dist::Bounds b = dist::bounds(d.support);
  return Interval{b.lower.value_or(-kInf), b.upper.value_or(kInf)};
}

std::string interval_text(const Interval& i) {
  if (i == Interval{}) return "real";
  auto bound = [](double x) { return std::isinf(x) ? std::string(x < 0 ? "-inf" : "inf") : format_number(x); };
  std::string out = "(";
  return out + bound(i.lo) + ", " + bound(i.hi) + ")";
}

// The latent's declared type without its shape: `real<lower=0>`.
std::string support_type(const Type& t) { return "real" + to_string(t.constraint); }

// The guide families with exactly this support, for the message of a mismatch.
std::string families_for(const Interval& want, const Constraint& c) {
  if (c.cholesky) return "; no guide family has the support of a Cholesky factor yet";
  if (c.is_vector_map()) {
    return std::string("; no guide family has the support of ") +
           (c.simplex ? "a simplex" : c.cholesky_corr ? "a correlation matrix's Cholesky factor" : "an ordered vector") +
           " yet: leave out the guide block and use --guide meanfield, fullrank or lowrank:R";
  }
  if (std::isfinite(want.lo) && std::isfinite(want.hi))
    return "; use uniform(" + format_number(want.lo) + ", " + format_number(want.hi) + ")";
  std::vector<std::string> names;
  for (const Distribution& d : dist::distributions()) {
    std::optional<Interval> i = dist_interval(d, std::nullopt);
    if (d.reparam() == Reparam::Yes && !d.discrete() && i && *i == want) names.emplace_back(d.name);
  }
  if (names.empty()) return "; no guide family has that support";
  return "; use " + join(names, " or ");
}

const Type& latent_type(const Analyzer& a, const std::string& latent) {
  return a.globals.at(latent).type;
}

void check_required_guide(Analyzer& a) {
  if (a.model->latents.empty() || a.model->guide_block || a.model->auto_guide) return;
  const ast::Block* latents = a.blocks.at(ast::BlockKind::Latent);
  std::string choices;
  for (const std::string& n : auto_guide_names()) choices += (choices.empty() ? "" : "|") + n;
  a.report.error(latents->keyword_span, "model '" + a.model->name + "' has latents but no guide "
                                        "block; add a guide block, or fit with --guide " + choices);
}

std::string locality(const std::string& plate_dim) {
  return plate_dim.empty() ? "global" : "local to the subsampled plate over " + plate_dim;
}

void check_local_reads(Analyzer& a) {
  for (const LatentRead& read : a.latent_reads) {
    auto site = a.model_sites.find(read.latent);
    if (site == a.model_sites.end() || !site->second.classified || site->second.plate_dim.empty())
      continue;
    const std::string& dim = site->second.plate_dim;
    const ast::Plate* p = read.leading_plate;
    if (p && p->subsample && p->dim.name == dim) continue;
    a.report.error(read.span, "local latent '" + read.latent + "' exists only for the minibatch; "
                              "read it inside a subsampled plate over " + dim +
                              ", indexed by that plate's index",
                   {{site->second.stmt->lhs->span, "'" + read.latent + "' is local here"}});
  }
}

}  // namespace

void check_prior_support(Analyzer& a, const ast::Sample& s, const Distribution& prior,
                         const std::string& latent, std::optional<std::pair<double, double>> bounds) {
  const Type& t = latent_type(a, latent);
  if (t.constraint.has_expression()) {
    a.report.warning(s.dist.callee.span, "prior '" + std::string(prior.name) + "' on latent '" + latent +
                                             "' is not normalised over its bounds, which depend on other values (as "
                                             "in Stan): the prior is proportional to it there");
    return;
  }
  std::optional<Interval> p = dist_interval(prior, bounds);
  Interval z = latent_interval(t.constraint);
  if (p && p->lo <= z.lo && z.hi <= p->hi) {
    // Bounds inside the prior's support: lowering normalises it over them (the truncated
    // density, dist::log_mass_within) when the family has a CDF here.
    if (dist::cuts_support(prior, t.constraint.lower, t.constraint.upper) && !prior.tails.log_cdf) {
      std::string with;
      for (const Distribution& d : dist::distributions()) {
        if (d.tails.log_cdf) with += std::string(with.empty() ? "" : ", ") + std::string(d.name);
      }
      a.report.warning(s.dist.callee.span, "prior '" + std::string(prior.name) + "' on latent '" + latent + "' (" +
                                               support_type(t) + ") is not normalised over the latent's bounds: vmc has no CDF for '" +
                                               std::string(prior.name) + "', so the bound is off by log P(" + latent +
                                               " within them) under the prior (these priors are normalised: " + with + ")");
    }
    return;
  }
  if (!p) return;
  a.report.error(s.dist.callee.span, "prior '" + std::string(prior.name) + "' has support " +
                                         interval_text(*p) + " but latent '" + latent + "' is " +
                                         support_type(t) + "; constrain '" + latent +
                                         "' to the prior's support");
}

void check_guide_family(Analyzer& a, const ast::Sample& s, const Distribution& family,
                        const std::string& latent, std::optional<std::pair<double, double>> bounds) {
  Span at = s.dist.callee.span;
  const std::string name(family.name);
  if (family.reparam() == Reparam::Later) {
    a.report.error(at, "'" + name + "' cannot be a guide family yet: it needs implicit "
                                    "reparameterization, which is not supported");
    return;
  }
  if (family.reparam() == Reparam::No) {
    a.report.error(at, "'" + name + "' cannot be a guide family: it is not reparameterizable");
    return;
  }
  const Type& t = latent_type(a, latent);
  std::optional<Interval> f = dist_interval(family, bounds);
  Interval z = latent_interval(t.constraint);
  if (!f || (*f == z && !t.constraint.cholesky && !t.constraint.is_vector_map())) return;
  a.report.error(at, "guide family '" + name + "' has support " + interval_text(*f) +
                         " but latent '" + latent + "' is " + support_type(t) +
                         families_for(z, t.constraint));
}

// The latents a `target +=` of the model block reads directly (`target += normal_lpdf(z | 0, 1)`):
// Stan's way of giving a prior, so such a latent without a '~' gets no note that its prior is flat.
std::set<std::string> target_latents(const Model& m) {
  std::set<std::string> out;
  if (!m.model_block) return out;
  std::vector<const std::vector<ast::StmtPtr>*> blocks{&m.model_block->statements};
  while (!blocks.empty()) {
    const std::vector<ast::StmtPtr>& stmts = *blocks.back();
    blocks.pop_back();
    for (const ast::StmtPtr& s : stmts) {
      if (const auto* p = s->as<ast::Plate>()) blocks.push_back(&p->body);
      if (const auto* f = s->as<ast::For>()) blocks.push_back(&f->body);
      const auto* t = s->as<ast::TargetIncrement>();
      if (!t) continue;
      ast::for_each_expr(*t->value, [&](const ast::Expr& e) {
        auto ref = m.names.find(&e);
        if (ref != m.names.end() && ref->second.kind == NameKind::Latent) out.insert(ref->second.variable->name);
        return true;
      });
    }
  }
  return out;
}

void check_latents(Analyzer& a) {
  check_required_guide(a);
  const Model& m = *a.model;
  const std::set<std::string> given_by_target = target_latents(m);
  for (Variable& v : a.model->latents) {
    auto prior = a.model_sites.find(v.name);
    auto guide = a.guide_sites.find(v.name);
    if (m.guide_block && guide == a.guide_sites.end()) {
      a.report.error(v.decl->name.span, "latent '" + v.name + "' has no '~' in the guide block");
    }
    if (guide != a.guide_sites.end()) {
      v.guide_family = guide->second.dist;
    } else if (m.auto_guide && v.type.constraint.empty() &&
               (!m.auto_guide->joint || (prior != a.model_sites.end() && !prior->second.plate_dim.empty()))) {
      // A mean-field guide on an unconstrained latent is a normal (a joint one's local latents
      // have one too); on a constrained one it is a transformed normal, which has no
      // closed-form KL in the table.
      v.guide_family = dist::find("normal");
    }
    auto partial = a.partial_priors.find(v.name);
    if (partial != a.partial_priors.end()) {
      v.prior_on_elements = true;
      if (prior != a.model_sites.end()) {
        a.report.error(partial->second.front()->lhs->span,
                       "latent '" + v.name + "' has a '~' on all of it and on its elements: give its prior one way",
                       {{prior->second.stmt->lhs->span, "the '~' on all of '" + v.name + "' is here"}});
      }
      if (prior == a.model_sites.end())
        a.report.note(partial->second.front()->lhs->span,
                    "latent '" + v.name + "' has its prior given on its elements: any element without a '~' has a "
                    "flat (improper) prior");
      continue;  // its prior is terms on its elements: global, no closed-form KL
    }
    if (m.model_block && prior == a.model_sites.end()) {
      // No prior: a flat (improper) one on the latent's support, as in Stan. Per datapoint of a
      // subsampled plate it would be one improper factor per row: a local latent needs its '~'.
      bool local = guide != a.guide_sites.end() && !guide->second.plate_dim.empty();
      if (local) {
        a.report.error(v.decl->name.span, "local latent '" + v.name +
                                              "' has no '~' in the model block: a flat prior is for global latents; "
                                              "give it a prior in the plate over " + guide->second.plate_dim);
      } else if (!given_by_target.count(v.name)) {
        a.report.note(v.decl->name.span, "latent '" + v.name + "' has no '~' in the model block: its prior is "
                                         "flat (improper) on its support, so the bound is on log p(data) up to "
                                         "that prior's infinite constant");
      }
      continue;
    }
    v.local = !prior->second.plate_dim.empty();
    v.plate_dim = prior->second.plate_dim;
    v.prior = prior->second.dist;
    if (guide != a.guide_sites.end()) {
      bool classified = prior->second.classified && guide->second.classified;
      if (classified && guide->second.plate_dim != v.plate_dim) {
        a.report.error(guide->second.stmt->lhs->span,
                       "latent '" + v.name + "' is " + locality(v.plate_dim) + " in the model, but " +
                           locality(guide->second.plate_dim) + " in the guide",
                       {{prior->second.stmt->lhs->span, "the model samples '" + v.name + "' here"}});
      }
    }
    v.closed_form_kl = v.prior && v.guide_family && v.guide_family->kl_with(v.prior->name);
  }
  check_local_reads(a);
}

}  // namespace vmc::sema
