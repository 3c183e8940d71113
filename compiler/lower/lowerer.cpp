// The lowering driver: run-time dims, plates as batch axes, and the objective of each estimator.
#include "lower/lowerer.hpp"

#include <algorithm>
#include <cmath>

#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Op;

void collect_plates(const std::vector<ast::StmtPtr>& body, std::vector<const ast::Plate*>& out) {
  for (const ast::StmtPtr& s : body) {
    if (const auto* p = s->as<ast::Plate>()) {
      out.push_back(p);
      collect_plates(p->body, out);
    }
  }
}

void add_dims(const sema::Extent& e, std::set<std::string>& out) {
  for (const auto& [monomial, coefficient] : e.terms()) out.insert(monomial.begin(), monomial.end());
}

}  // namespace

Lowerer::Lowerer(const sema::Model& m, const Options& o) : model(m), options(o), g(*out.function.graph) {
  // A dim is a run-time size unless a shape needs it at compile time: every extent of a param,
  // of a global latent, and every extent but the leading one of data and local latents.
  std::set<std::string> compile_time;
  for (const sema::Variable& v : model.params) {
    for (const sema::Extent& e : v.type.shape) add_dims(e, compile_time);
  }
  for (const std::vector<sema::Variable>* list : {&model.data, &model.latents}) {
    for (const sema::Variable& v : *list) {
      bool leading_free = v.role == sema::Role::Data || v.local;
      for (std::size_t k = leading_free ? 1 : 0; k < v.type.shape.size(); ++k) {
        add_dims(v.type.shape[k], compile_time);
      }
    }
  }
  // An automatic guide has a loc and a scale per datapoint of a local latent.
  if (model.auto_guide) {
    for (const sema::Variable& v : model.latents) {
      for (const sema::Extent& e : v.type.shape) add_dims(e, compile_time);
    }
  }
  // A dim with a value is a constant: sema has substituted it into every declared extent, so a
  // plate over it must have the same constant extent as the values it indexes.
  for (const sema::Dim& dim : model.dims) {
    if (!compile_time.count(dim.name) && !dim.value) runtime_dims.insert(dim.name);
  }
  // One minibatch size per subsampled dim: "M" when there is one, "M_dim" when several.
  std::vector<const ast::Plate*> all;
  for (const ast::Block* b : {model.model_block, model.guide_block}) {
    if (b) collect_plates(b->statements, all);
  }
  for (const ast::Plate* q : all) {
    if (q->subsample) subsampled_dims.insert(q->dim.name);
  }
}

void Lowerer::unavailable(const std::string& reason) {
  VMC_ASSERT(generative, "lowering reports no user error (sema checks what it needs): " + reason);
  if (out.sample_model_problem.empty()) out.sample_model_problem = reason;
  failed = true;
}

const Draw& Lowerer::drawn(const std::string& name) {
  if (auto it = draws.find(name); it != draws.end()) return it->second;
  VMC_ASSERT(generative, "latent '" + name + "' read before the guide draws it after sema");
  if (!reconstructing) {
    unavailable("sample_model cannot draw latent '" + name + "' from its prior: the model reads it before its '~'");
  }
  // Reconstructing, the guide's draw is the latent's value; otherwise it only keeps the pass's
  // shapes whole until the pass is dropped.
  return draws[name] = guide_draws.at(name);
}

ir::Extent Lowerer::dim_extent(const std::string& dim, Span at) {
  if (runtime_dims.count(dim)) return ir::Extent::runtime(g.symbol(dim));
  const sema::Dim* d = model.find_dim(dim);
  VMC_ASSERT(d && d->value, "dim '" + dim + "' needed at compile time without a value after sema");
  return ir::Extent::constant(*d->value);
}

ir::Extent Lowerer::extent(const sema::Extent& e, Span at) {
  if (auto c = e.constant_value()) return ir::Extent::constant(*c);
  // A bare dim (coefficient 1, degree 1).
  if (e.terms().size() == 1) {
    const auto& [monomial, coefficient] = *e.terms().begin();
    if (coefficient == 1 && monomial.size() == 1) return dim_extent(monomial[0], at);
  }
  VMC_ASSERT(false, "the extent " + e.to_string() + " without values for its dims after sema");
}

ir::Extent Lowerer::plate_extent(const ast::Plate& p) {
  if (!p.subsample) return dim_extent(p.dim.name, p.dim.span);
  std::string name = subsampled_dims.size() <= 1 ? "M" : "M_" + p.dim.name;
  out.sizes[name] = p.dim.name;
  out.sizes[p.dim.name] = p.dim.name;
  return ir::Extent::runtime(g.symbol(name));
}

std::vector<const ast::Plate*> Lowerer::union_plates(const std::vector<const ast::Plate*>& a,
                                                     const std::vector<const ast::Plate*>& b) const {
  std::vector<const ast::Plate*> out = a;
  for (const ast::Plate* p : b) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  auto depth = [&](const ast::Plate* p) {
    auto it = std::find(plates.begin(), plates.end(), p);
    return it - plates.begin();
  };
  std::stable_sort(out.begin(), out.end(), [&](auto* x, auto* y) { return depth(x) < depth(y); });
  return out;
}

Value Lowerer::align(const Value& v, const std::vector<const ast::Plate*>& to, const ir::Shape& copy) {
  ir::Shape target;
  std::uint32_t fresh = 0;
  std::size_t j = 0;
  for (std::size_t d = 0; d < to.size(); ++d) {
    target.push_back(plate_extent(*to[d]));
    if (j < v.plates.size() && v.plates[j] == to[d]) ++j;
    else fresh |= 1u << d;
  }
  VMC_ASSERT(j == v.plates.size(), "a value's plates are not among the target's");
  ir::Shape own = v.copy_shape();
  if (own.empty() && !copy.empty()) {
    for (std::size_t k = 0; k < copy.size(); ++k) fresh |= 1u << (to.size() + k);
    own = copy;
  }
  target.insert(target.end(), own.begin(), own.end());
  return Value{fresh ? ir::broadcast(v.node, target, fresh) : v.node, to, v.row};
}

Value Lowerer::rebind(const Value& v) const {
  Value out = v;
  for (const ast::Plate*& p : out.plates) {
    if (std::find(plates.begin(), plates.end(), p) != plates.end()) continue;
    for (const ast::Plate* q : plates) {
      if (q->dim.name == p->dim.name && q->subsample == p->subsample) {
        p = q;
        break;
      }
    }
  }
  return out;
}

Value Lowerer::reduce_copy(ir::Op op, const Value& v) {
  const ir::Node* n = v.node;
  for (std::size_t k = v.copy_rank(); k-- > 0;) n = ir::reduce(op, n, static_cast<int>(v.plates.size() + k));
  return Value{n, v.plates};
}

const ir::Node* total(Lowerer& l, const Value& v) {
  const ir::Node* t = ir::sum(v.node);
  for (const ast::Plate* p : v.plates) {
    if (!p->subsample) continue;
    ir::Extent m = l.plate_extent(*p);
    const ir::Node* scale = ir::div(size_input(l, p->dim.name), size_input(l, l.g.symbol_name(m.symbol)));
    t = ir::mul(scale, t);
  }
  return t;
}

bool Lowerer::has_closed_form_kl(const std::string& latent) const {
  auto p = priors.find(latent);  // none: a flat prior
  if (p == priors.end()) return false;
  const Draw& q = draws.at(latent);
  return q.family && p->second.family && q.family->kl_with(p->second.family->name);
}

const ir::Node* Lowerer::objective() {
  bool closed_form = options.estimator->closed_form_kl;
  const ir::Node* sum = ir::constant(g, 0);
  for (const Term& t : terms) {
    bool replaced = closed_form && !t.latent.empty() && has_closed_form_kl(t.latent);
    if (replaced) continue;
    const ir::Node* x = total(*this, t.value);
    sum = t.guide ? ir::sub(sum, x) : ir::add(sum, x);
  }
  if (!closed_form) return sum;
  for (const sema::Variable& v : model.latents) {
    const ir::Node* kl = nullptr;
    const Draw& q = draws.at(v.name);
    if (has_closed_form_kl(v.name)) {
      const Draw& p = priors.at(v.name);
      kl = dist::kl_divergence(*q.family, q.args, *p.family, p.args);
    }
    if (!kl) {
      out.sampled_kl.push_back(v.name);
      continue;
    }
    Value per_copy = reduce_copy(Op::Sum, Value{kl, q.value.plates});
    sum = ir::sub(sum, total(*this, per_copy));
  }
  return sum;
}

Lowered Lowerer::run() {
  declare_params();
  // One sample is lowered whatever --samples is: the runtime calls the kernels once per sample
  // (vmc_model_info::samples), so that the code's size and compile time do not grow with it.
  out.samples = std::max(1, options.samples);
  if (model.guide_block) statements(model.guide_block->statements, ast::BlockKind::Guide);
  else auto_guide();
  for (const sema::Variable& v : model.latents) out.guide_draws.push_back({v.name, draws.at(v.name).value.node});
  guide_draws = draws;
  statements(model.model_block->statements, ast::BlockKind::Model);
  if (log_lik && log_lik_problem.empty()) out.log_lik.push_back({"log_lik", log_lik});
  else out.log_lik_problem = log_lik_problem.empty() ? "the model has no '~' on data" : log_lik_problem;
  const ir::Node* elbo = options.estimator->importance_weighted ? importance_weighted(*this, terms) : objective();
  out.function.outputs.push_back({"elbo", elbo});
  out.objective = elbo;
  if (options.estimator->importance_weighted) {
    for (const sema::Variable& v : model.latents) out.rows_additive &= v.local;
  } else if (const ir::Node* w = row_log_weight(terms)) {
    out.row_log_weights.push_back({"log_weight", w});
  }
  const std::vector<Term>& sample_terms = terms;
  out.row_free_part = subsampled_dims.size() != 1 ||
                      std::any_of(sample_terms.begin(), sample_terms.end(), [](const Term& t) {
                        return t.value.plates.empty() || !t.value.plates.front()->subsample;
                      });
  for (const sema::Variable& v : model.latents) out.row_free_part |= !v.local;
  generate_model(false);
  generate_model(true);
  if (model.generated_block) generated_quantities();
  return std::move(out);
}

void Lowerer::generated_quantities() {
  generative = quantifying = true;
  draws = guide_draws;
  generated.clear();
  statements(model.generated_block->statements, ast::BlockKind::Generated);
  for (const sema::Variable& v : model.latents) {
    if (!v.local) out.generated.push_back({v.name, guide_draws.at(v.name).value.node});
  }
  for (const sema::GeneratedQuantity& q : model.generated) {
    const Value& v = q.draw ? quantities.at(q.draw) : lets.at(q.let);
    VMC_ASSERT(v.plates.empty(), "a generated quantity with plates after sema");
    out.generated.push_back({q.name, v.node});
  }
  generative = quantifying = false;
}

void Lowerer::generate_model(bool reconstruct) {
  generative = true;
  reconstructing = reconstruct;
  generated.clear();
  draws.clear();
  priors.clear();
  terms.clear();
  // A latent with a flat prior: reconstructions take the guide's draw, as for the others (they
  // take it at their '~'); the model cannot be run forwards from an improper prior.
  for (const sema::Variable& v : model.latents) {
    if (v.prior) continue;
    if (reconstruct) draws[v.name] = guide_draws.at(v.name);
    else if (v.prior_on_elements) unavailable("sample_model cannot draw latent '" + v.name + "' from a prior given on its elements yet");
    else unavailable("sample_model cannot draw latent '" + v.name + "' from its flat (improper) prior");
  }
  statements(model.model_block->statements, ast::BlockKind::Model);
  if (failed) {
    if (reconstruct) {
      out.reconstructions.clear();
    } else {
      out.model_draws.clear();
      out.model_noise.clear();
    }
  }
  failed = false;
  generative = false;
  reconstructing = false;
}

Lowered lower_model(const sema::Model& model, const Options& options) { return Lowerer(model, options).run(); }

}  // namespace vmc::lower
