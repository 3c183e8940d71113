// The automatic guides (sema/auto_guide.hpp): a normal in each latent's unconstrained space,
// mapped onto its support. meanfield: an independent normal per element (per datapoint for a
// local latent). fullrank: one multivariate normal over every global latent's elements at once
// (as Stan ADVI's fullrank): its location each latent's NAME.loc, its covariance's Cholesky
// factor `guide.chol` [D, D] over the D elements of the global latents in declaration order, each
// in C order; local latents keep a
// normal per datapoint and element. lowrank:R: the same joint normal with a covariance diagonal
// plus rank R (NAME.loc, guide.scale, guide.factor). A global latent's guide is in a fixed frame (frozen params
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
// Stan's cholesky_corr_constrain from u [..., K(K − 1)/2]: canonical partial correlations
// z = tanh(u), row i of L from them (L_i0 = z, L_ij = z sqrt(1 − Σ_{j'<j} L_ij'²), L_ii what is
// left of the unit length), element by element on [..., 1] slices (K is a compile-time extent);
// log |dL/du| = Σ log(1 − z²) + Σ_{i, 1 ≤ j < i} ½ log(1 − Σ_{j'<j} L_ij'²).
static Mapped correlation_factor(Lowerer& l, const ir::Node* u, std::int64_t k) {
  const int last = static_cast<int>(u->rank()) - 1;
  const ir::Node* z = ir::unary(Op::Tanh, u);
  const ir::Node* log_jacobian = ir::sum(ir::unary(Op::Log1p, ir::neg(ir::square(z))), last);  // [...]
  ir::Shape one = u->shape();
  one.back() = ir::Extent::constant(1);
  const ir::Node* zero = ir::constant(l.g, 0.0, one);
  std::vector<const ir::Node*> rows;
  std::int64_t next = 0;
  for (std::int64_t i = 0; i < k; ++i) {
    std::vector<const ir::Node*> row;
    const ir::Node* sum_sqs = nullptr;
    for (std::int64_t j = 0; j < i; ++j) {
      const ir::Node* zij = ir::slice(z, last, next, next + 1);
      ++next;
      const ir::Node* x = zij;
      if (j > 0) {
        const ir::Node* left = ir::sub(ir::constant(l.g, 1.0, one), sum_sqs);
        log_jacobian = ir::add(log_jacobian, ir::mul(ir::sum(ir::log(left), last), 0.5));
        x = ir::mul(zij, ir::unary(Op::Sqrt, left));
      }
      row.push_back(x);
      sum_sqs = sum_sqs ? ir::add(sum_sqs, ir::square(x)) : ir::square(x);
    }
    row.push_back(i == 0 ? ir::constant(l.g, 1.0, one) : ir::unary(Op::Sqrt, ir::sub(ir::constant(l.g, 1.0, one), sum_sqs)));
    for (std::int64_t j = i + 1; j < k; ++j) row.push_back(zero);
    const ir::Node* joined = row[0];
    for (std::size_t j = 1; j < row.size(); ++j) joined = ir::concat(joined, row[j], last);
    ir::Shape as_row = u->shape();
    as_row.back() = ir::Extent::constant(1);
    as_row.push_back(ir::Extent::constant(k));
    rows.push_back(ir::reshape(joined, as_row));  // [..., 1, K]
  }
  const ir::Node* m = rows[0];
  for (std::size_t i = 1; i < rows.size(); ++i) m = ir::concat(m, rows[i], last);
  return {m, log_jacobian};
}

static Mapped to_support(Lowerer& l, const sema::Variable& v, const ir::Node* u) {
  const sema::Constraint& c = v.type.constraint;
  if (c.cholesky_corr) return correlation_factor(l, u, v.type.shape.back().constant_value().value_or(0));
  if (c.simplex) {
    // Stan's stick-breaking from K − 1 reals: z_k = sigmoid(u_k − log(K − 1 − k)) of the stick
    // left, s_k = Π_{j<k} (1 − z_j); x_k = s_k z_k, and x_{K−1} the stick left at the end. In
    // logs: log s is the exclusive cumulative sum of log(1 − z) (a product with the strict lower
    // triangle of ones), and log |dx/du| = Σ_k log z_k + log(1 − z_k) + log s_k.
    const int last = static_cast<int>(u->rank()) - 1;
    const ir::Extent k1 = u->shape()[static_cast<std::size_t>(last)];
    ir::Attrs along;
    along.axis = last;
    const ir::Node* iota = l.g.make(Op::Iota, {}, along, u->shape());
    // log(K − 1 − k) from the iota: log(k1 − k).
    const ir::Node* offset = ir::log(ir::sub(ir::constant_like(u, static_cast<double>(k1.size)), iota));
    const ir::Node* y = ir::sub(u, offset);
    const ir::Node* log_z = ir::unary(Op::LogSigmoid, y);
    const ir::Node* log_1mz = ir::unary(Op::LogSigmoid, ir::neg(y));
    const ir::Node* ones = ir::constant(l.g, 1.0, ir::Shape{k1, k1});
    const ir::Node* strict = ir::sub(ir::tril(ones), ir::diag_matrix(ir::constant(l.g, 1.0, ir::Shape{k1})));
    const ir::Node* log_stick = last == 0 ? ir::matmul(strict, log_1mz) : ir::matmul(log_1mz, strict, false, true);
    const ir::Node* head = ir::exp(ir::add(log_stick, log_z));
    ir::Shape tail_shape = u->shape();
    tail_shape[static_cast<std::size_t>(last)] = ir::Extent::constant(1);
    const ir::Node* tail = ir::exp(ir::reshape(ir::sum(log_1mz, last), tail_shape));
    return {ir::concat(head, tail, last), ir::add(ir::add(log_z, log_1mz), log_stick)};
  }
  if (c.is_ordered()) {
    // The increments: u_0 then e^u_k (ordered), or e^u_k throughout (positive_ordered); z is their
    // cumulative sum along the vector (the last axis, a product with the triangle of ones) and
    // log |dz/du| the sum of the exponentiated u_k.
    const int last = static_cast<int>(u->rank()) - 1;
    const ir::Extent k = u->shape()[static_cast<std::size_t>(last)];
    const ir::Node* exponentiated = ir::constant_like(u, 1);
    if (c.ordered) {
      ir::Attrs along;
      along.axis = last;
      const ir::Node* iota = l.g.make(Op::Iota, {}, along, u->shape());
      exponentiated = ir::binary(Op::Greater, iota, ir::constant_like(u, 0));
    }
    const ir::Node* step = ir::select(exponentiated, ir::exp(u), u);
    const ir::Node* ones = ir::tril(ir::constant(l.g, 1.0, ir::Shape{k, k}));
    const ir::Node* z = last == 0 ? ir::matmul(ones, step) : ir::matmul(step, ones, false, true);
    return {z, ir::mul(exponentiated, u)};
  }
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

namespace {

// One element of a [R, R] matrix, as a scalar.
const ir::Node* element(const ir::Node* m, int i, int j) {
  return ir::reshape(ir::slice(ir::slice(m, 0, i, i + 1), 1, j, j + 1), {});
}

struct LowRank {
  const ir::Node* u;      // the draw [D]
  const ir::Node* log_q;  // log q(u)
};

// lowrank:R over D elements: v = loc + d ⊙ (ε₁ + G ε₂) (ε₁ [D], ε₂ [R]), a normal with
// covariance Σ = diag(d) (I + G Gᵀ) diag(d): diagonal plus rank R, its factor G relative to the
// diagonal so that it stays well conditioned as d shrinks; in the frame u = center + e^unit ⊙ v.
// Its log density by the matrix determinant lemma and Woodbury's identity, with
// K = I_R + Gᵀ G = L Lᵀ and w̃ = (v − loc) / d:
//   log det Σ = 2 Σ log d + 2 Σ log L_ii,    wᵀ Σ⁻¹ w = ‖w̃‖² − ‖L⁻¹ Gᵀ w̃‖².
// L is K's Cholesky factor written out element by element (R ≤ kMaxRank: R³/6 scalar steps),
// so that its gradient is derived as every other op's.
LowRank low_rank(Lowerer& l, const ir::Node* loc, std::int64_t d, int r, bool path_derivative) {
  ir::Shape flat{ir::Extent::constant(d)}, rank{ir::Extent::constant(r)};
  const ir::Node* log_d = l.declare_guide_param("guide.scale", flat, Transform::Lower);
  const ir::Node* G = l.declare_guide_param("guide.factor", {flat[0], rank[0]}, Transform::Identity);
  const ir::Node* center = l.declare_guide_param("guide.center", flat, Transform::Identity, true);
  const ir::Node* unit = l.declare_guide_param("guide.unit", flat, Transform::Identity, true);
  const ir::Node* eps = noise_input(l, "guide", ir::InputKind::Noise, flat);
  const ir::Node* eps_r = noise_input(l, "guide.factor", ir::InputKind::Noise, rank);
  const ir::Node* v = ir::add(loc, ir::mul(ir::exp(log_d), ir::add(eps, ir::matmul(G, eps_r))));
  const ir::Node* u = ir::add(center, ir::mul(ir::exp(unit), v));
  // The density's params: stopped for the path-derivative estimator (w̃ then from u).
  const ir::Node *loc_q = loc, *log_d_q = log_d, *G_q = G;
  if (path_derivative) {
    loc_q = ir::unary(Op::StopGradient, loc);
    log_d_q = ir::unary(Op::StopGradient, log_d);
    G_q = ir::unary(Op::StopGradient, G);
  }
  const ir::Node* w = path_derivative
                          ? ir::mul(ir::sub(ir::mul(ir::sub(u, center), ir::exp(ir::neg(unit))), loc_q), ir::exp(ir::neg(log_d_q)))
                          : ir::add(eps, ir::matmul(G, eps_r));  // w̃ = ε₁ + G ε₂
  const ir::Node* K = ir::add(ir::matmul(G_q, G_q, true), ir::diag_matrix(ir::constant(l.g, 1.0, rank)));
  const ir::Node* b = ir::matmul(G_q, w, true);  // Gᵀ w̃, [R]
  std::vector<std::vector<const ir::Node*>> L(static_cast<std::size_t>(r), std::vector<const ir::Node*>(static_cast<std::size_t>(r)));
  const ir::Node* log_det_l = nullptr;
  const ir::Node* zz = nullptr;
  std::vector<const ir::Node*> z(static_cast<std::size_t>(r));
  for (int j = 0; j < r; ++j) {
    const ir::Node* s = element(K, j, j);
    for (int k = 0; k < j; ++k) s = ir::sub(s, ir::square(L[j][k]));
    L[j][j] = ir::unary(Op::Sqrt, s);
    for (int i = j + 1; i < r; ++i) {
      const ir::Node* t = element(K, i, j);
      for (int k = 0; k < j; ++k) t = ir::sub(t, ir::mul(L[i][k], L[j][k]));
      L[i][j] = ir::div(t, L[j][j]);
    }
    const ir::Node* lj = ir::log(L[j][j]);
    log_det_l = log_det_l ? ir::add(log_det_l, lj) : lj;
    // Forward substitution: z_j = (b_j − Σ_k L_jk z_k) / L_jj.
    const ir::Node* bj = ir::reshape(ir::slice(b, 0, j, j + 1), {});
    for (int k = 0; k < j; ++k) bj = ir::sub(bj, ir::mul(L[j][k], z[k]));
    z[j] = ir::div(bj, L[j][j]);
    zz = zz ? ir::add(zz, ir::square(z[j])) : ir::square(z[j]);
  }
  const double half_log_2pi = 0.5 * std::log(2 * M_PI);
  const ir::Node* quad = ir::sub(ir::sum(ir::square(w)), zz);
  const ir::Node* log_det_half = ir::add(ir::sum(log_d_q), log_det_l);  // ½ log det Σ
  const ir::Node* log_q_v = ir::sub(ir::sub(ir::constant(l.g, -half_log_2pi * static_cast<double>(d)), log_det_half),
                                    ir::mul(quad, 0.5));
  return {u, ir::sub(log_q_v, ir::sum(unit))};
}

}  // namespace

void Lowerer::auto_guide() {
  const bool joint = model.auto_guide && model.auto_guide->joint;
  const dist::Distribution* normal = dist::find("normal");
  const dist::Distribution* mvnormal = dist::find("mvnormal_cholesky");
  const bool path_derivative = options.estimator->path_derivative;
  // The shape of a latent's unconstrained values: its own, but K − 1 reals for a simplex[K].
  auto shape_of = [&](const sema::Variable& v) {
    ir::Shape full;
    for (const sema::Extent& e : v.type.shape) full.push_back(extent(e, v.decl->span));
    if (v.type.constraint.simplex) full.back() = ir::Extent::constant(full.back().size - 1);
    if (v.type.constraint.cholesky_corr) {  // [..., K, K] from K(K - 1)/2 reals
      const std::int64_t k = full.back().size;
      full.pop_back();
      full.back() = ir::Extent::constant(k * (k - 1) / 2);
    }
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
  // The joint location: each global latent's own NAME.loc (as meanfield's), flattened and
  // concatenated in declaration order; the covariance's params are the block's (guide.*).
  std::int64_t d = 0;
  const ir::Node* joint_loc = nullptr;
  for (const sema::Variable* v : block) {
    const ir::Shape full = shape_of(*v);
    std::int64_t n = ir::constant_elements(full);
    const ir::Node* own = ir::reshape(declare_guide_param(v->name + ".loc", full, Transform::Identity),
                                      {ir::Extent::constant(n)});
    joint_loc = joint_loc ? ir::concat(joint_loc, own, 0) : own;
    d += n;
  }
  if (!block.empty() && model.auto_guide->ranked) {
    LowRank q = low_rank(*this, joint_loc, d, model.auto_guide_rank, path_derivative);
    joint_u = q.u;
    joint_logq = q.log_q;
  } else if (!block.empty()) {
    ir::Shape flat{ir::Extent::constant(d)}, square{flat[0], flat[0]};
    // u = center + C (loc + L ε): the trained loc and L in the frame of a fixed center and
    // lower-triangular C (the Laplace start's mode and covariance factor), so that the
    // optimizer's steps are in units of the posterior's scales.
    const ir::Node* loc = joint_loc;
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
      bool closed_form = block.size() == 1 && !m.log_jacobian && full.size() == 1 && !model.auto_guide->ranked;
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
