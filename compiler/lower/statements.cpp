// Statements → terms of the objective; the guide's `~` statements → reparameterized draws.
#include "lower/lowerer.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Op;

// The plates a `~`'s left side is indexed by (its leading plate-index subscripts, as sema
// resolved them).
std::vector<const ast::Plate*> lhs_plates(const Lowerer& l, const ast::Expr& lhs) {
  std::vector<const ast::Plate*> out;
  const auto* ix = lhs.as<ast::Index>();
  if (!ix) return out;
  for (const ast::Subscript& s : ix->subscripts) {
    if (s.is_slice || !s.lo->as<ast::Name>()) break;
    const sema::NameRef& ref = l.model.name_of(*s.lo);
    if (ref.kind != sema::NameKind::PlateIndex) break;
    out.push_back(ref.plate);
  }
  return out;
}

// Arguments at the shapes densities.hpp asks for.
Args align_args(Lowerer& l, const dist::Distribution& family, const std::vector<Value>& args,
                const std::vector<const ast::Plate*>& plates, const ir::Shape& copy) {
  Args out;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const Value& a = args[k];
    if (family.shape == dist::ShapeRule::MvNormal && k == 1) {
      VMC_ASSERT(a.plates.empty(), "a per-datapoint Cholesky factor after sema");
      out.push_back(a.node);
    } else if (family.shape == dist::ShapeRule::CorrCholesky) {
      VMC_ASSERT(a.plates.empty(), "a per-datapoint lkj argument after sema");
      out.push_back(a.node);
    } else if (family.shape == dist::ShapeRule::Categorical || (family.shape == dist::ShapeRule::Ordinal && k == 1)) {
      out.push_back(l.align(a, plates, a.copy_shape()).node);
    } else {
      out.push_back(l.align(a, plates, copy).node);
    }
  }
  return out;
}

class SampleLowering {
 public:
  SampleLowering(Lowerer& l, const ast::Sample& s, ast::BlockKind block)
      : l_(l), s_(s), block_(block), site_(l.model.site_of(s)) {
    VMC_ASSERT(site_ && site_->dist, "a '~' without a resolved distribution after sema");
  }

  void run() {
    const dist::Distribution& family = *site_->dist;
    std::vector<Value> args;
    for (const ast::ExprPtr& a : s_.dist.args) args.push_back(l_.expr(*a));
    const std::string& name = site_->variable;
    if (block_ == ast::BlockKind::Generated) return quantity(family, name, args);
    if (!l_.generative && l_.loop_indices.empty()) check_supports(family, args);
    if (block_ == ast::BlockKind::Guide) return draw(family, name, args);
    if (l_.generative) return generate(family, name, args);

    // A latent's whole prior is on its draw; elements of it (`z[t] ~`) and data are expressions.
    Value x = site_->role == sema::Role::Latent && site_->whole ? latent(name) : l_.expr(*s_.lhs);
    std::vector<const ast::Plate*> plates = x.plates;
    for (const Value& a : args) plates = l_.union_plates(plates, a.plates);
    x = l_.align(x, plates, x.copy_shape());
    Args aligned = align_args(family, args, plates, x.copy_shape());
    const ir::Node* lp = dist::log_density(family, x.node, aligned);
    // A prior on a latent declared with bounds inside its support is the truncated density,
    // normalised over them (sema warns where the family has no CDF); no closed-form KL then.
    bool truncated = false;
    if (site_->role == sema::Role::Latent && site_->whole) {
      const sema::Constraint& c = l_.model.find_variable(name)->type.constraint;
      // Bounds that depend on other values: not normalised over them (as in Stan; sema warns).
      if (!c.has_expression() && dist::cuts_support(family, c.lower, c.upper) && family.tails.log_cdf) {
        lp = ir::sub(lp, dist::log_mass_within(family, aligned, x.node, c.lower, c.upper));
        truncated = true;
      }
    }
    if (site_->role == sema::Role::Data && block_ == ast::BlockKind::Model) {
      if (l_.loop_indices.empty()) l_.add_log_lik(Value{lp, plates}, s_.lhs->span);
      else l_.no_log_lik("a '~' on data inside a loop has no per-datapoint term");
    }
    Value logp = l_.reduce_copy(Op::Sum, Value{lp, plates});
    std::string latent_name = site_->role == sema::Role::Latent && site_->whole ? name : "";
    l_.terms.push_back({logp, latent_name, false});
    if (!latent_name.empty()) l_.priors[latent_name] = Draw{x, truncated ? nullptr : &family, aligned};
  }

 private:
  // Each argument whose support is (0, inf) or (0, 1) and that is not a constant, for the
  // support kernel (lower.hpp, SupportCheck).
  void check_supports(const dist::Distribution& family, const std::vector<Value>& args) {
    for (std::size_t k = 0; k < args.size() && k < family.params.size(); ++k) {
      dist::Support support = family.params[k].support;
      if (support != dist::Support::Positive && support != dist::Support::UnitInterval) continue;
      if (args[k].node->op() == Op::Const) continue;
      SupportCheck c;
      c.arg = s_.dist.args[k]->span;
      c.statement = Span{s_.lhs->span.file, s_.lhs->span.begin, s_.dist_span.end};
      c.family = std::string(family.name);
      c.param = std::string(family.params[k].name);
      c.support = support;
      c.guide = block_ == ast::BlockKind::Guide;
      if (s_.dist.args[k]->as<ast::Name>()) c.bare_param = l_.model.name_of(*s_.dist.args[k]).kind == sema::NameKind::Param;
      l_.out.support_values.push_back({"check." + std::to_string(l_.out.support_checks.size()), args[k].node});
      l_.out.support_checks.push_back(std::move(c));
    }
  }

  Value latent(const std::string& name) {
    auto it = l_.draws.find(name);
    VMC_ASSERT(it != l_.draws.end(), "latent '" + name + "' was not drawn by the guide");
    return l_.rebind(it->second.value);
  }

  Args align_args(const dist::Distribution& family, const std::vector<Value>& args,
                  const std::vector<const ast::Plate*>& plates, const ir::Shape& copy) {
    return lower::align_args(l_, family, args, plates, copy);
  }

  // The plates and per-copy shape of the variable on the left of `~`, and the draw's shape.
  struct Site {
    std::vector<const ast::Plate*> plates;
    ir::Shape copy, shape;
    Args args;
  };
  Site site(const dist::Distribution& family, const std::string& name, const std::vector<Value>& args) {
    const sema::Variable* v = l_.model.find_variable(name);
    VMC_ASSERT(v, "unknown variable after sema");
    Site out;
    out.plates = lhs_plates(l_, *s_.lhs);
    std::size_t skip = out.plates.size();
    for (const Value& a : args) out.plates = l_.union_plates(out.plates, a.plates);
    for (std::size_t k = skip; k < v->type.shape.size(); ++k) {
      out.copy.push_back(l_.extent(v->type.shape[k], s_.lhs->span));
    }
    out.args = align_args(family, args, out.plates, out.copy);
    for (const ast::Plate* p : out.plates) out.shape.push_back(l_.plate_extent(*p));
    out.shape.insert(out.shape.end(), out.copy.begin(), out.copy.end());
    return out;
  }

  // The generative pass (sample_model): latents from their priors, data from the likelihood,
  // with each data array's mean beside its draw (what pictures of a decoder show).
  void generate(const dist::Distribution& family, const std::string& name, const std::vector<Value>& args) {
    if (site_->role == sema::Role::Param) return;  // params are given
    if (site_->role == sema::Role::Latent && !site_->whole) {
      if (l_.reconstructing) {  // the guide's draw stands for it
        l_.draws[name] = l_.guide_draws.at(name);
        return;
      }
      l_.unavailable("sample_model cannot draw latent '" + name + "' from a prior given on its elements yet");
      return;
    }
    if (site_->role == sema::Role::Data && !site_->whole) {
      if (l_.reconstructing) return;  // data is given
      const Span& at = s_.lhs->span;
      l_.unavailable("sample_model cannot draw data from a '~' on an expression of it ('" +
                     std::string(at.file->text().substr(at.begin, at.end - at.begin)) + " ~ ...') yet");
      return;
    }
    if (site_->role == sema::Role::Latent && l_.reconstructing) {
      // Reconstruction: the latent is what the guide drew for the data (its first sample).
      l_.draws[name] = l_.guide_draws.at(name);
      return;
    }
    Site at = site(family, name, args);
    if (!family.sampler.fn) {
      l_.unavailable("sample_model cannot draw from '" + std::string(family.name) + "' yet");
      return;
    }
    if (site_->role == sema::Role::Latent) {
      const sema::Constraint& c = l_.model.find_variable(name)->type.constraint;
      if (c.has_expression()) {
        l_.unavailable("sample_model cannot draw latent '" + name + "' from its prior '" + std::string(family.name) +
                       "' within bounds that depend on other values yet");
        return;
      }
      if (c.is_ordered()) {
        l_.unavailable("sample_model cannot draw the ordered latent '" + name + "' from its prior '" +
                       std::string(family.name) + "' restricted to increasing vectors yet");
        return;
      }
      if (c.cholesky_corr) {
        l_.unavailable("sample_model cannot draw the correlation matrix's Cholesky factor '" + name + "' from its prior '" +
                       std::string(family.name) + "' yet");
        return;
      }
      if (c.simplex && family.support != dist::Support::Simplex) {
        l_.unavailable("sample_model cannot draw the simplex latent '" + name + "' from its prior '" +
                       std::string(family.name) + "' restricted to the simplex yet");
        return;
      }
      if (dist::cuts_support(family, c.lower, c.upper)) {
        l_.unavailable("sample_model cannot draw latent '" + name + "' from its prior '" + std::string(family.name) +
                       "' truncated to the latent's bounds yet");
        return;
      }
    }
    Value z{dist::sample(family, at.args, noise_input(l_, name, family.sampler.noise, at.shape)), at.plates};
    const ir::Node* mean_node = dist::mean(family, at.args);
    if (site_->role == sema::Role::Latent) {
      l_.draws[name] = Draw{z, &family, at.args};
      return;
    }
    l_.generated[name] = z;
    std::vector<ir::Output>& outputs = l_.reconstructing ? l_.out.reconstructions : l_.out.model_draws;
    outputs.push_back({name, z.node});
    if (mean_node) outputs.push_back({"mean." + name, mean_node});
  }

  // `NAME ~ dist(ARGS)` in the generated block: a new quantity of the shape its arguments give
  // (sema::check_generated_draw), drawn forwards.
  void quantity(const dist::Distribution& family, const std::string& name, const std::vector<Value>& args) {
    ir::Shape copy;
    if (family.shape == dist::ShapeRule::MvNormal) {
      copy = args[0].copy_rank() == 1 ? args[0].copy_shape() : ir::Shape{args[1].copy_shape()[0]};
    } else if (family.shape == dist::ShapeRule::Broadcast || family.shape == dist::ShapeRule::Vector) {
      for (const Value& a : args) {
        if (!a.copy_scalar()) {
          copy = a.copy_shape();
          break;
        }
      }
    }
    Args aligned = align_args(family, args, {}, copy);
    Value z{dist::sample(family, aligned, noise_input(l_, name, family.sampler.noise, copy))};
    l_.quantities[&s_] = z;
  }

  void draw(const dist::Distribution& family, const std::string& latent, const std::vector<Value>& args) {
    Site at = site(family, latent, args);
    std::vector<const ast::Plate*>& plates = at.plates;
    Args& aligned = at.args;
    const ir::Node* eps = noise_input(l_, latent, family.sampler.noise, at.shape);
    Value z{dist::sample(family, aligned, eps), plates};
    // The path-derivative estimator: the score term goes, so log q sees the guide's parameters as
    // constants.
    Args q_args = aligned;
    if (l_.options.estimator->path_derivative) {
      for (const ir::Node*& a : q_args) a = ir::unary(Op::StopGradient, a);
    }
    // From the noise where the family says how (a full-rank normal: no solve back from z); the
    // path-derivative estimator needs log q as a function of z, so it keeps the density at z.
    const ir::Node* lq = l_.options.estimator->path_derivative
                             ? dist::log_density(family, z.node, q_args)
                             : dist::log_density_of_draw(family, q_args, eps, z.node);
    Value logq = l_.reduce_copy(Op::Sum, Value{lq, plates});
    l_.terms.push_back({logq, latent, true});
    l_.draws[latent] = Draw{z, &family, aligned};
  }

  Lowerer& l_;
  const ast::Sample& s_;
  ast::BlockKind block_;
  const sema::SampleSite* site_;
};

}  // namespace

Value Lowerer::density(const dist::Distribution& d, dist::DensityKind kind, Value x, const std::vector<Value>& args) {
  std::vector<const ast::Plate*> over = x.plates;
  for (const Value& a : args) over = union_plates(over, a.plates);
  x = align(x, over, x.copy_shape());
  Args aligned = align_args(*this, d, args, over, x.copy_shape());
  const ir::Node* lp = nullptr;
  switch (kind) {
    case dist::DensityKind::Lpdf:
    case dist::DensityKind::Lpmf: lp = dist::log_density(d, x.node, aligned); break;
    case dist::DensityKind::Lcdf: lp = d.tails.log_cdf(x.node, aligned); break;
    case dist::DensityKind::Lccdf: lp = d.tails.log_ccdf(x.node, aligned); break;
  }
  VMC_ASSERT(lp, "a density function without its part after sema");
  if (lp->shape() != x.node->shape()) lp = ir::broadcast(lp, x.node->shape());
  return reduce_copy(Op::Sum, Value{lp, over});
}

void Lowerer::statements(const std::vector<ast::StmtPtr>& body, ast::BlockKind block) {
  for (const ast::StmtPtr& s : body) {
    // The generative pass stops where it cannot draw: what follows may read what it did not draw.
    if (failed) break;
    if (const auto* plate = s->as<ast::Plate>()) {
      plates.push_back(plate);
      statements(plate->body, block);
      plates.pop_back();
      continue;
    }
    if (const auto* let = s->as<ast::Let>()) {
      Value v = expr(*let->value);
      // A var in a plate holds a value per copy (sema types it so), whatever its first value.
      lets[let] = let->is_var ? align(v, union_plates(v.plates, plates), v.copy_shape()) : v;
    } else if (const auto* as = s->as<ast::Assign>()) {
      auto var = model.assigned.find(as);
      VMC_ASSERT(var != model.assigned.end(), "an assignment without its var after sema");
      Value& current = lets.at(var->second);
      Value v = expr(*as->value);
      if (as->subscripts.empty()) {
        current = align(v, current.plates, current.copy_shape());
      } else {
        // The elements at the indices get the value; the others keep theirs (a select over the
        // var: O(its size) per assignment).
        const std::size_t batch = current.plates.size(), k = as->subscripts.size();
        const ir::Shape& shape = current.node->shape();
        const ir::Node* mask = nullptr;
        std::uint32_t axes = 0;
        for (std::size_t j = 0; j < k; ++j) {
          ir::Attrs along;
          along.axis = static_cast<int>(batch + j);
          const ir::Node* iota = g.make(Op::Iota, {}, along, shape);
          const ir::Node* at = ir::binary(Op::Equal, iota, ir::broadcast(expr(*as->subscripts[j].lo).node, shape));
          mask = mask ? ir::mul(mask, at) : at;
          axes |= 1u << (batch + j);
        }
        ir::Shape rest(shape.begin() + static_cast<long>(batch + k), shape.end());
        v = align(v, current.plates, rest);
        current.node = ir::select(mask, ir::broadcast(v.node, shape, axes), current.node);
      }
    } else if (const auto* f = s->as<ast::For>()) {
      loop(*f, block);
    } else if (const auto* t = s->as<ast::TargetIncrement>()) {
      if (block == ast::BlockKind::Model) no_log_lik("a 'target +=' is not a per-datapoint term");
      terms.push_back({reduce_copy(Op::Sum, expr(*t->value)), "", false});
    } else if (const auto* smp = s->as<ast::Sample>()) {
      SampleLowering(*this, *smp, block).run();
    }
  }
}

void Lowerer::add_log_lik(const Value& lp, Span) {
  const ir::Node* n = lp.node;
  if (n->shape().empty()) return no_log_lik("a '~' on scalar data has no datapoint axis");
  if (log_lik && !(log_lik->shape()[0] == n->shape()[0])) {
    return no_log_lik("the data's '~' terms run over different leading axes");
  }
  for (std::size_t k = n->shape().size(); k-- > 1;) n = ir::sum(n, static_cast<int>(k));
  log_lik = log_lik ? ir::add(log_lik, n) : n;
}

}  // namespace vmc::lower
