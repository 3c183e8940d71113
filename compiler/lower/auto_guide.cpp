// The automatic guides (sema/auto_guide.hpp): a normal in each latent's unconstrained space,
// mapped onto its support. meanfield: an independent normal per element (per datapoint for a
// local latent). fullrank: one multivariate normal over every global latent's elements at once
// (as Stan ADVI's fullrank), its params `guide.loc` [D] and `guide.chol` [D, D], where the D
// elements are the global latents' in declaration order, each in C order; local latents keep a
// normal per datapoint and element. A global latent's guide is in a fixed frame (frozen params
// NAME.center and NAME.unit, or guide.center and guide.unit) that vmc fit sets from a Laplace
// approximation before training: the identity frame otherwise.
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

const ir::Node* Lowerer::declare_guide_param(const std::string& name, const ir::Shape& shape, Transform tr,
                                             bool frozen) {
  const ir::Node* u = ir::input(g, name, ir::InputKind::Param, shape);
  ParamInput p;
  p.name = name;
  p.shape = shape;
  p.transform = tr;
  p.node = u;
  p.frozen = frozen;
  out.params.push_back(p);
  return frozen ? ir::unary(Op::StopGradient, u) : u;
}

namespace {

// A lower-triangular matrix from its unconstrained params: the strict lower triangle as it is,
// exp of the diagonal.
const ir::Node* cholesky_value(const ir::Node* raw) {
  const ir::Node* d = ir::diag(raw);
  return ir::add(ir::sub(ir::tril(raw), ir::diag_matrix(d)), ir::diag_matrix(ir::exp(d)));
}

}  // namespace

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
    ir::Shape flat{ir::Extent::constant(d)}, square{flat[0], flat[0]};
    // u = center + C (loc + L ε): the trained loc and L in the frame of a fixed center and
    // lower-triangular C (the Laplace start's mode and covariance factor), so that the
    // optimizer's steps are in units of the posterior's scales.
    const ir::Node* loc = declare_guide_param("guide.loc", flat, Transform::Identity);
    const ir::Node* L = cholesky_value(declare_guide_param("guide.chol", square, Transform::Cholesky));
    const ir::Node* center = declare_guide_param("guide.center", flat, Transform::Identity, true);
    const ir::Node* unit_raw = declare_guide_param("guide.unit", square, Transform::Cholesky, true);
    const ir::Node* C = cholesky_value(unit_raw);
    const ir::Node* eps = noise_input(*this, "guide", ir::InputKind::Noise, flat);
    const ir::Node* v = dist::sample(*mvnormal, {loc, L}, eps);
    joint_u = ir::add(center, ir::matmul(C, v));
    // log q(u) = log q(v) − log |det C|.
    const ir::Node* log_det_c = ir::sum(ir::diag(unit_raw));
    const ir::Node* lq_v = path_derivative
                               ? log_q(*mvnormal, {loc, L}, eps, ir::tri_solve(C, ir::sub(joint_u, center)))
                               : log_q(*mvnormal, {loc, L}, eps, v);
    joint_logq = ir::sub(lq_v, log_det_c);
    joint_args = {ir::add(center, ir::matmul(C, loc)), ir::matmul(C, L)};  // for a closed-form KL only
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
    if (!v.local) {
      // A global latent's loc and scale are relative to a fixed center and unit (the Laplace
      // start's mode and sd): u = center + e^unit (loc + e^scale ε).
      const ir::Node* center = declare_guide_param(v.name + ".center", full, Transform::Identity, true);
      const ir::Node* unit = declare_guide_param(v.name + ".unit", full, Transform::Identity, true);
      args = {ir::add(center, ir::mul(ir::exp(unit), loc)), ir::exp(ir::add(unit, log_scale))};
    }
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
