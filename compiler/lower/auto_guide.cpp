// The automatic guides (sema/auto_guide.hpp): a normal in each latent's unconstrained space,
// mapped onto its support. meanfield: an independent normal per element (per datapoint for a
// local latent). fullrank: one multivariate normal over every global latent's elements at once
// (as Stan ADVI's fullrank), its params `guide.loc` [D] and `guide.chol` [D, D], where the D
// elements are the global latents' in declaration order, each in C order; local latents keep a
// normal per datapoint and element.
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

struct Mapped {
  const ir::Node* z;
  const ir::Node* log_jacobian;  // log |T'(u)| per element, or nullptr (the identity)
};

}  // namespace

const ir::Node* Lowerer::declare_guide_param(const std::string& name, const ir::Shape& shape, Transform tr) {
  const ir::Node* u = ir::input(g, name, ir::InputKind::Param, shape);
  ParamInput p;
  p.name = name;
  p.shape = shape;
  p.transform = tr;
  p.node = u;
  out.params.push_back(p);
  return u;
}

// z = T(u) onto latent v's support, with log |T'(u)| for log q(z). Bounds given by expressions
// are computed at each draw, from data and the latents drawn before this one.
static Mapped to_support(Lowerer& l, const sema::Variable& v, const ir::Node* u) {
  const sema::Constraint& c = v.type.constraint;
  auto interval = [&](const ir::Node* lo, const ir::Node* width, const ir::Node* log_width) {
    const ir::Node* z = ir::add(ir::mul(ir::unary(Op::Sigmoid, u), width), lo);
    const ir::Node* lj =
        ir::add(ir::add(ir::unary(Op::LogSigmoid, u), ir::unary(Op::LogSigmoid, ir::neg(u))), log_width);
    return Mapped{z, lj};
  };
  if (c.has_expression()) {
    auto bound = [&](const ast::Expr* e, std::optional<double> constant) -> const ir::Node* {
      if (e) return ir::broadcast_to(l.expr(*e).node, u->shape());
      return constant ? ir::constant(l.g, *constant, u->shape()) : nullptr;
    };
    const ir::Node* lo = bound(c.lower_expr, c.lower);
    const ir::Node* hi = bound(c.upper_expr, c.upper);
    if (lo && hi) {
      const ir::Node* width = ir::sub(hi, lo);
      return interval(lo, width, ir::log(width));
    }
    if (lo) return {ir::add(ir::exp(u), lo), u};
    return {ir::sub(hi, ir::exp(u)), u};
  }
  if (c.lower && c.upper) {
    const ir::Node* lo = ir::constant_like(u, *c.lower);
    return interval(lo, ir::constant_like(u, *c.upper - *c.lower), ir::constant_like(u, std::log(*c.upper - *c.lower)));
  }
  if (c.lower) return {ir::add(ir::exp(u), *c.lower), u};
  if (c.upper) return {ir::sub(ir::constant_like(u, *c.upper), ir::exp(u)), u};
  return {u, nullptr};
}

void Lowerer::auto_guide() {
  const bool joint = model.auto_guide && model.auto_guide->joint;
  const dist::Distribution* normal = dist::find("normal");
  const dist::Distribution* mvnormal = dist::find("mvnormal_cholesky");
  const bool path_derivative = options.estimator->path_derivative;
  auto shape_of = [&](const sema::Variable& v) {
    ir::Shape full;
    for (const sema::Extent& e : v.type.shape) full.push_back(extent(e, v.decl->span));
    return full;
  };
  // log q of a draw u from `family` with `args` (from its noise eps).
  auto log_q = [&](const dist::Distribution& family, const Args& args, const ir::Node* eps, const ir::Node* u) {
    Args q_args = args;
    if (!path_derivative) return dist::log_density_of_draw(family, q_args, eps, u);
    for (const ir::Node*& a : q_args) a = ir::unary(Op::StopGradient, a);
    return dist::log_density(family, u, q_args);
  };

  // fullrank: one draw u [D] of every global latent's unconstrained elements.
  std::vector<const sema::Variable*> block;
  if (joint) {
    for (const sema::Variable& v : model.latents) {
      if (!v.local) block.push_back(&v);
    }
  }
  const ir::Node* joint_u = nullptr;
  const ir::Node* joint_logq = nullptr;
  Args joint_args;
  if (!block.empty()) {
    std::int64_t d = 0;
    for (const sema::Variable* v : block) d += ir::constant_elements(shape_of(*v));
    ir::Shape flat{ir::Extent::constant(d)};
    const ir::Node* loc = declare_guide_param("guide.loc", flat, Transform::Identity);
    const ir::Node* raw = declare_guide_param("guide.chol", {flat[0], flat[0]}, Transform::Cholesky);
    const ir::Node* diag = ir::diag(raw);
    joint_args = {loc, ir::add(ir::sub(ir::tril(raw), ir::diag_matrix(diag)), ir::diag_matrix(ir::exp(diag)))};
    const ir::Node* eps = noise_input(*this, "guide", ir::InputKind::Noise, flat);
    joint_u = dist::sample(*mvnormal, joint_args, eps);
    joint_logq = log_q(*mvnormal, joint_args, eps, joint_u);
  }

  std::int64_t offset = 0;
  const ir::Node* block_jacobian = nullptr;
  for (const sema::Variable& v : model.latents) {
    const ir::Shape full = shape_of(v);
    if (joint && !v.local) {
      std::int64_t n = ir::constant_elements(full);
      const ir::Node* u = ir::reshape(ir::slice(joint_u, 0, offset, offset + n), full);
      offset += n;
      Mapped m = to_support(*this, v, u);
      if (m.log_jacobian) {
        const ir::Node* lj = ir::sum(m.log_jacobian);
        block_jacobian = block_jacobian ? ir::add(block_jacobian, lj) : lj;
      }
      // The joint normal's KL against the prior is closed-form only for one unconstrained
      // vector latent (a normal over exactly its elements).
      bool closed_form = block.size() == 1 && !m.log_jacobian && full.size() == 1;
      draws[v.name] = Draw{Value{m.z, {}}, closed_form ? mvnormal : nullptr, joint_args};
      continue;
    }
    const ast::Plate* plate = v.local ? find_plate(model.model_block->statements, v.plate_dim) : nullptr;
    const ir::Node* loc = declare_guide_param(v.name + ".loc", full, Transform::Identity);
    const ir::Node* log_scale = declare_guide_param(v.name + ".scale", full, Transform::Lower);
    Args args{loc, ir::exp(log_scale)};
    std::vector<const ast::Plate*> plates;
    if (plate) {
      const ir::Node* idx = minibatch_index(*this, *plate);
      for (const ir::Node*& a : args) a = ir::gather(a, idx);
      plates = {plate};
    }
    const ir::Node* eps = noise_input(*this, v.name, ir::InputKind::Noise, args[0]->shape());
    const ir::Node* u = dist::sample(*normal, args, eps);
    Mapped m = to_support(*this, v, u);
    Value logq = reduce_copy(Op::Sum, Value{log_q(*normal, args, eps, u), plates});
    if (m.log_jacobian) {
      Value lj = reduce_copy(Op::Sum, Value{m.log_jacobian, plates});
      logq = Value{ir::sub(logq.node, lj.node), plates};
    }
    terms.push_back({logq, v.name, true});
    draws[v.name] = Draw{Value{m.z, plates}, m.log_jacobian ? nullptr : normal, args};
  }
  if (joint_logq) {
    const ir::Node* logq = block_jacobian ? ir::sub(joint_logq, block_jacobian) : joint_logq;
    terms.push_back({Value{logq, {}}, block.size() == 1 ? block[0]->name : "", true});
  }
}

}  // namespace vmc::lower
