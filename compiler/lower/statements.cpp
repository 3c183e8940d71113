// Statements → terms of the objective; the guide's `~` statements → reparameterized draws.
#include "lower/lowerer.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Op;

// The plates a `~`'s left side is indexed by (its leading plate-index subscripts).
std::vector<const ast::Plate*> lhs_plates(const Lowerer& l, const ast::Expr& lhs) {
  std::vector<const ast::Plate*> out;
  const auto* ix = lhs.as<ast::Index>();
  if (!ix) return out;
  for (const ast::Subscript& s : ix->subscripts) {
    const auto* n = s.is_slice ? nullptr : s.lo->as<ast::Name>();
    if (!n) break;
    const ast::Plate* found = nullptr;
    for (const ast::Plate* p : l.plates) {
      if (p->index.name == n->name) found = p;
    }
    if (!found) break;
    out.push_back(found);
  }
  return out;
}

const std::string& lhs_name(const ast::Expr& lhs) {
  const ast::Expr* base = &lhs;
  if (const auto* ix = lhs.as<ast::Index>()) base = ix->base.get();
  const auto* n = base->as<ast::Name>();
  VMC_ASSERT(n, "the left side of '~' is not a name after sema");
  return n->name;
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
    const std::string& name = lhs_name(*s_.lhs);
    if (block_ == ast::BlockKind::Guide) return draw(family, name, args);
    if (l_.generative) return generate(family, name, args);

    Value x = site_->role == sema::Role::Latent ? latent(name) : l_.expr(*s_.lhs);
    std::vector<const ast::Plate*> plates = x.plates;
    for (const Value& a : args) plates = l_.union_plates(plates, a.plates);
    x = l_.align(x, plates, x.copy_shape());
    Args aligned = align_args(family, args, plates, x.copy_shape());
    if (l_.failed) return;  // an argument it cannot lower: no density to build
    Value logp = l_.reduce_copy(Op::Sum, Value{dist::log_density(family, x.node, aligned), plates});
    std::string latent_name = site_->role == sema::Role::Latent ? name : "";
    l_.terms.push_back({logp, latent_name, false});
    if (!latent_name.empty()) l_.priors[latent_name] = Draw{x, &family, aligned};
  }

 private:
  Value latent(const std::string& name) {
    auto it = l_.draws.find(name);
    VMC_ASSERT(it != l_.draws.end(), "latent '" + name + "' was not drawn by the guide");
    return l_.rebind(it->second.value);
  }

  // Arguments at the shapes densities.hpp asks for.
  Args align_args(const dist::Distribution& family, const std::vector<Value>& args,
                  const std::vector<const ast::Plate*>& plates, const ir::Shape& copy) {
    Args out;
    for (std::size_t k = 0; k < args.size(); ++k) {
      const Value& a = args[k];
      if (family.shape == dist::ShapeRule::MvNormal && k == 1) {
        if (!a.plates.empty()) l_.fail(s_.dist_span, "a per-datapoint Cholesky factor is not supported yet");
        out.push_back(a.node);
      } else if (family.shape == dist::ShapeRule::Categorical) {
        out.push_back(l_.align(a, plates, a.copy_shape()).node);
      } else {
        out.push_back(l_.align(a, plates, copy).node);
      }
    }
    return out;
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
    if (site_->role == sema::Role::Latent && l_.reconstructing) {
      // Reconstruction: the latent is what the guide drew for the data (its first sample).
      l_.draws[name] = l_.guide_draws.at(name);
      return;
    }
    Site at = site(family, name, args);
    if (l_.failed) return;
    if (!family.sampler.fn) {
      l_.fail(s_.dist_span, "sample_model cannot draw from '" + std::string(family.name) + "' yet");
      return;
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

  void draw(const dist::Distribution& family, const std::string& latent, const std::vector<Value>& args) {
    Site at = site(family, latent, args);
    if (l_.failed) return;
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
    Value logq = l_.reduce_copy(Op::Sum, Value{dist::log_density(family, z.node, q_args), plates});
    l_.terms.push_back({logq, latent, true});
    l_.draws[latent] = Draw{z, &family, aligned};
  }

  Lowerer& l_;
  const ast::Sample& s_;
  ast::BlockKind block_;
  const sema::SampleSite* site_;
};

}  // namespace

void Lowerer::statements(const std::vector<ast::StmtPtr>& body, ast::BlockKind block) {
  lets.emplace_back();
  for (const ast::StmtPtr& s : body) {
    // After an error the rest of the block is not lowered: its values may depend on what failed.
    if (failed) break;
    if (const auto* plate = s->as<ast::Plate>()) {
      plates.push_back(plate);
      statements(plate->body, block);
      plates.pop_back();
      continue;
    }
    std::size_t reported = diags.error_count();
    try {
      if (const auto* let = s->as<ast::Let>()) {
        lets.back()[let->name.name] = expr(*let->value);
      } else if (const auto* t = s->as<ast::TargetIncrement>()) {
        terms.push_back({reduce_copy(Op::Sum, expr(*t->value)), "", false});
      } else if (const auto* smp = s->as<ast::Sample>()) {
        SampleLowering(*this, *smp, block).run();
      }
    } catch (const InternalError&) {
      // A broken invariant past an error this statement has reported is that error's
      // consequence (the value it stands for is a placeholder): the diagnostic stands.
      if (diags.error_count() == reported) throw;
    }
  }
  lets.pop_back();
}

}  // namespace vmc::lower
