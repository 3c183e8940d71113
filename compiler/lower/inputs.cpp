// The IR's run-time inputs: params (and their bijections onto their supports), data, sizes,
// minibatch indices and noise.
#include "lower/lowerer.hpp"
#include "support/check.hpp"

namespace vmc::lower {

const ir::Node* data_input(Lowerer& l, const sema::Variable& v, bool as_int, const ast::Plate* batch,
                           Span at) {
  std::string key = v.name + (as_int ? "#int" : "") + (batch ? "#batch" : "");
  if (auto it = l.data_nodes.find(key); it != l.data_nodes.end()) return it->second;
  // One data array is either the minibatch's rows or the whole array, never both.
  const std::string suffix = batch ? "" : "#batch";
  VMC_ASSERT(!l.data_nodes.count(v.name + suffix) && !l.data_nodes.count(v.name + "#int" + suffix),
             "data '" + v.name + "' used both per datapoint and whole after sema");
  ir::Shape shape;
  for (std::size_t k = 0; k < v.type.shape.size(); ++k) {
    if (k == 0 && batch) shape.push_back(l.plate_extent(*batch));
    else shape.push_back(l.extent(v.type.shape[k], at));
  }
  const ir::Node* n = ir::input(l.g, v.name, ir::InputKind::Data, shape,
                                as_int ? ir::DType::Int : ir::DType::Real);
  l.data_nodes[key] = n;
  l.out.data.push_back({v.name, n, batch ? batch->dim.name : ""});
  return n;
}

const ir::Node* size_input(Lowerer& l, const std::string& name) {
  return ir::input(l.g, name, ir::InputKind::Size, {});
}

const ir::Node* minibatch_index(Lowerer& l, const ast::Plate& plate) {
  std::string name = "index." + plate.dim.name;
  std::string key = name + "#int#batch";
  if (auto it = l.data_nodes.find(key); it != l.data_nodes.end()) return it->second;
  const ir::Node* n = ir::input(l.g, name, ir::InputKind::Data, {l.plate_extent(plate)}, ir::DType::Int);
  l.data_nodes[key] = n;
  l.out.data.push_back({name, n, plate.dim.name});
  return n;
}

const ir::Node* noise_input(Lowerer& l, const std::string& latent, ir::InputKind kind,
                            const ir::Shape& shape) {
  // The generative pass draws from other distributions than the guide: its own inputs; so do
  // the generated block's draws.
  std::string name = (l.quantifying ? "gq." : l.generative ? "gen." : "eps.") + latent;
  const ir::Node* n = ir::input(l.g, name, kind, shape);
  // The reconstruction pass draws data with the same inputs as the generative one.
  if (l.reconstructing) return n;
  (l.quantifying ? l.out.generated_noise : l.generative ? l.out.model_noise : l.out.noise).push_back({latent, n});
  return n;
}

void Lowerer::declare_params() {
  for (const sema::Variable& v : model.params) {
    ParamInput p;
    p.name = v.name;
    p.variable = &v;
    for (const sema::Extent& e : v.type.shape) {
      ir::Extent x = extent(e, v.decl->span);
      VMC_ASSERT(x.is_constant(), "param '" + v.name + "' with a run-time extent after sema");
      p.shape.push_back(x);
    }
    const sema::Constraint& c = v.type.constraint;
    const ir::Node* u = ir::input(g, v.name, ir::InputKind::Param, p.shape);
    const ir::Node* value = u;
    if (c.cholesky) {
      // The strict lower triangle as it stands, the diagonal through exp: positive.
      p.transform = Transform::Cholesky;
      const ir::Node* d = ir::diag(u);
      value = ir::add(ir::sub(ir::tril(u), ir::diag_matrix(d)), ir::diag_matrix(ir::exp(d)));
    } else if (c.lower && c.upper) {
      p.transform = Transform::Interval;
      p.lower = *c.lower;
      p.upper = *c.upper;
      value = ir::add(ir::mul(ir::unary(ir::Op::Sigmoid, u), p.upper - p.lower), p.lower);
    } else if (c.lower) {
      p.transform = Transform::Lower;
      p.lower = *c.lower;
      value = ir::add(ir::exp(u), p.lower);
    } else if (c.upper) {
      p.transform = Transform::Upper;
      p.upper = *c.upper;
      value = ir::sub(ir::constant_like(u, p.upper), ir::exp(u));
    }
    p.node = u;
    params[v.name] = Value{value};
    out.params.push_back(p);
  }
}

}  // namespace vmc::lower
