// The importance-weighted bound and the automatic guides.
#include <algorithm>
#include <cmath>

#include "lower/lowerer.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Op;

const ast::Plate* find_plate(const std::vector<ast::StmtPtr>& body, const std::string& dim) {
  for (const ast::StmtPtr& s : body) {
    if (const auto* p = s->as<ast::Plate>()) {
      if (p->subsample && p->dim.name == dim) return p;
      if (const ast::Plate* inner = find_plate(p->body, dim)) return inner;
    }
  }
  return nullptr;
}

bool any_subsampled(const std::vector<ast::StmtPtr>& body) {
  for (const ast::StmtPtr& s : body) {
    if (const auto* p = s->as<ast::Plate>()) {
      if (p->subsample || any_subsampled(p->body)) return true;
    }
  }
  return false;
}

// The model's and the guide's subsampled plates over one dim are one minibatch.
bool same_batch(const ast::Plate* a, const ast::Plate* b) {
  return a == b || (a->subsample && b->subsample && a->dim.name == b->dim.name);
}

bool in_batch(const Value& v, const ast::Plate* batch) {
  return std::any_of(v.plates.begin(), v.plates.end(),
                     [&](const ast::Plate* p) { return same_batch(p, batch); });
}

// Σ over every axis of a term but the one of `keep`: a [M] vector of per-datapoint sums.
const ir::Node* per_datapoint(const Value& v, const ast::Plate* keep) {
  const ir::Node* n = v.node;
  for (std::size_t k = v.plates.size(); k-- > 0;) {
    if (!same_batch(v.plates[k], keep)) n = ir::sum(n, static_cast<int>(k));
  }
  return n;
}

// Which latents a sample's terms draw: every latent local to one subsampled plate (`local` set),
// or every latent global.
struct Locality {
  const ast::Plate* local = nullptr;
  bool all_local = true, all_global = true;
};

Locality locality(const std::vector<Term>& first) {
  const ast::Plate* local = nullptr;
  bool all_local = true, all_global = true;
  for (const Term& t : first) {
    if (!t.guide) continue;
    // Local: drawn in one subsampled plate, or in plain plates nested inside it.
    bool nested_plain = std::none_of(t.value.plates.begin() + (t.value.plates.empty() ? 0 : 1),
                                     t.value.plates.end(), [](auto* p) { return p->subsample; });
    if (!t.value.plates.empty() && t.value.plates[0]->subsample && nested_plain &&
        (!local || same_batch(local, t.value.plates[0]))) {
      local = t.value.plates[0];
      all_global = false;
    } else if (t.value.plates.empty()) {
      all_local = false;
    } else {
      all_local = all_global = false;
    }
  }
  return {local, all_local, all_global};
}

}  // namespace

const ir::Node* row_log_weight(const std::vector<Term>& terms) {
  Locality where = locality(terms);
  if (!where.all_local || !where.local) return nullptr;
  const ir::Node* w = nullptr;
  for (const Term& t : terms) {
    if (!in_batch(t.value, where.local)) continue;
    const ir::Node* x = per_datapoint(t.value, where.local);
    w = !w ? (t.guide ? ir::neg(x) : x) : (t.guide ? ir::sub(w, x) : ir::add(w, x));
  }
  return w;
}

// One sample of an importance-weighted bound. Its log-weight w (per datapoint when every latent
// is local to the subsampled plate, else one over the whole data) is the log_weights kernel's
// output; the objective is Σ c ⊙ w, N/M-scaled, plus the terms outside the weights (params'
// priors, target += outside the plate) divided by K, where c is the input the runtime sets to
// the sample's softmax weight over its K samples (abi.h, vmc_model_info::samples). Summed over
// the K samples, its gradients are the bound's: ∇ log (1/K) Σ_k e^{w_k} = Σ_k softmax_k(w) ∇w_k.
const ir::Node* importance_weighted(Lowerer& l, const std::vector<Term>& terms) {
  // Every latent local to one subsampled plate, or every latent global with no subsampling.
  auto [local, all_local, all_global] = locality(terms);
  bool subsampled = any_subsampled(l.model.model_block->statements);
  VMC_ASSERT((all_local && local) || (all_global && !subsampled),
             "an importance-weighted bound over mixed latents after sema");
  const double k = static_cast<double>(l.out.samples);
  if (all_local && local) {
    const ir::Node* w = row_log_weight(terms);
    const ir::Node* c = ir::input(l.g, "iw.weight", ir::InputKind::Weight, w->shape());
    l.out.row_log_weights.push_back({"log_weight", w});
    l.out.importance_weight = c;
    const ir::Node* bound = total(l, Value{ir::mul(c, w), {local}});
    for (const Term& t : terms) {  // outside the weights: params' priors, target +=
      if (in_batch(t.value, local)) continue;
      const ir::Node* x = ir::div(total(l, t.value), ir::constant(l.g, k));
      bound = t.guide ? ir::sub(bound, x) : ir::add(bound, x);
    }
    return bound;
  }
  const ir::Node* w = ir::constant(l.g, 0);
  for (const Term& t : terms) {
    const ir::Node* x = total(l, t.value);
    w = t.guide ? ir::sub(w, x) : ir::add(w, x);
  }
  const ir::Node* c = ir::input(l.g, "iw.weight", ir::InputKind::Weight, {});
  l.out.row_log_weights.push_back({"log_weight", w});
  l.out.importance_weight = c;
  return ir::mul(c, w);
}

void Lowerer::auto_guide() {
  bool joint = model.auto_guide && model.auto_guide->joint;  // one normal over all elements
  const dist::Distribution* normal = dist::find("normal");
  const dist::Distribution* mvnormal = dist::find("mvnormal_cholesky");
  for (const sema::Variable& v : model.latents) {
    Span at = v.decl->span;
    const ast::Plate* plate = v.local ? find_plate(model.model_block->statements, v.plate_dim) : nullptr;
    VMC_ASSERT(!(joint && v.local), "a joint automatic guide on a local latent after sema");
    ir::Shape full;
    for (const sema::Extent& e : v.type.shape) full.push_back(extent(e, at));
    ir::Shape flat{ir::Extent::constant(ir::constant_elements(full))};
    ir::Shape param_shape = joint ? flat : full;
    auto declare = [&](const std::string& name, const ir::Shape& shape, Transform tr) {
      const ir::Node* u = ir::input(g, name, ir::InputKind::Param, shape);
      ParamInput p;
      p.name = name;
      p.shape = shape;
      p.transform = tr;
      p.node = u;
      out.params.push_back(p);
      return u;
    };
    const ir::Node* loc = declare(v.name + ".loc", param_shape, Transform::Identity);
    Args args;
    const dist::Distribution* family = normal;
    std::vector<const ast::Plate*> plates;
    if (joint) {
      ir::Shape square{flat[0], flat[0]};
      const ir::Node* raw = declare(v.name + ".chol", square, Transform::Cholesky);
      const ir::Node* d = ir::diag(raw);
      args = {loc, ir::add(ir::sub(ir::tril(raw), ir::diag_matrix(d)), ir::diag_matrix(ir::exp(d)))};
      family = mvnormal;
    } else {
      const ir::Node* log_scale = declare(v.name + ".scale", param_shape, Transform::Lower);
      args = {loc, ir::exp(log_scale)};
      if (plate) {
        const ir::Node* idx = minibatch_index(*this, *plate);
        for (const ir::Node*& a : args) a = ir::gather(a, idx);
        plates = {plate};
      }
    }
    ir::Shape draw_shape = args[0]->shape();
    const ir::Node* eps = noise_input(*this, v.name, ir::InputKind::Noise, draw_shape);
    const ir::Node* u = dist::sample(*family, args, eps);
    // z = T(u) onto the latent's support, with log |T'(u)| for log q(z).
    const sema::Constraint& c = v.type.constraint;
    const ir::Node* z = u;
    const ir::Node* log_jacobian = nullptr;
    if (c.has_expression()) {
      // Bounds computed at each draw, from data and the latents drawn before this one.
      auto bound = [&](const ast::Expr* e, std::optional<double> constant) -> const ir::Node* {
        if (e) return ir::broadcast_to(expr(*e).node, u->shape());
        return constant ? ir::constant(g, *constant, u->shape()) : nullptr;
      };
      const ir::Node* lo = bound(c.lower_expr, c.lower);
      const ir::Node* hi = bound(c.upper_expr, c.upper);
      if (lo && hi) {
        const ir::Node* width = ir::sub(hi, lo);
        z = ir::add(ir::mul(ir::unary(Op::Sigmoid, u), width), lo);
        log_jacobian = ir::add(ir::add(ir::unary(Op::LogSigmoid, u), ir::unary(Op::LogSigmoid, ir::neg(u))),
                               ir::log(width));
      } else if (lo) {
        z = ir::add(ir::exp(u), lo);
        log_jacobian = u;
      } else {
        z = ir::sub(hi, ir::exp(u));
        log_jacobian = u;
      }
    } else if (c.lower && c.upper) {
      z = ir::add(ir::mul(ir::unary(Op::Sigmoid, u), *c.upper - *c.lower), *c.lower);
      log_jacobian = ir::add(ir::add(ir::unary(Op::LogSigmoid, u), ir::unary(Op::LogSigmoid, ir::neg(u))),
                             std::log(*c.upper - *c.lower));
    } else if (c.lower) {
      z = ir::add(ir::exp(u), *c.lower);
      log_jacobian = u;
    } else if (c.upper) {
      z = ir::sub(ir::constant_like(u, *c.upper), ir::exp(u));
      log_jacobian = u;
    }
    Args q_args = args;
    if (options.estimator->path_derivative) {
      for (const ir::Node*& a : q_args) a = ir::unary(Op::StopGradient, a);
    }
    const ir::Node* lq = options.estimator->path_derivative ? dist::log_density(*family, u, q_args)
                                                            : dist::log_density_of_draw(*family, q_args, eps, u);
    Value logq = reduce_copy(Op::Sum, Value{lq, plates});
    if (log_jacobian) {
      Value lj = reduce_copy(Op::Sum, Value{log_jacobian, plates});
      logq = Value{ir::sub(logq.node, lj.node), plates};
    }
    if (joint) z = ir::reshape(z, full);
    terms.push_back({logq, v.name, true});
    bool closed_form_possible = !log_jacobian && (!joint || full.size() == 1);
    draws[v.name] = Draw{Value{z, plates}, closed_form_possible ? family : nullptr, args};
  }
}

}  // namespace vmc::lower
