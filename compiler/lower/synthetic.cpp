#include "lower/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "support/check.hpp"

namespace vmc::lower {
namespace {

// The smallest leading extent of the tables an int input indexes, so synthetic indices stay in
// range even where the data's declaration gives no upper bound.
std::int64_t index_limit(const Lowered& l, const ir::Node* input, const ir::Bindings& b) {
  std::int64_t limit = std::numeric_limits<std::int64_t>::max();
  for (const ir::Node* n : l.function.schedule()) {
    if ((n->op() == ir::Op::Gather || n->op() == ir::Op::ScatterAdd) && n->arg(1) == input) {
      const ir::Shape& table = n->op() == ir::Op::Gather ? n->arg(0)->shape() : n->shape();
      limit = std::min(limit, ir::concrete_shape({table[0]}, input->graph(), b)[0]);
    }
  }
  return limit;
}

// One unconstrained element of a param, drawn from its declared init.
double declared_init(const ParamInput& p, std::mt19937_64& rng) {
  std::normal_distribution<double> small(0, 0.01);
  if (p.frozen) return 0;  // the identity frame
  if (!p.variable) return p.transform == Transform::Lower ? 0 : small(rng);  // automatic guide: scale 1
  const sema::ParamInit& init = p.variable->init;
  if (init.kind == sema::ParamInit::Kind::Constant) {
    double v = init.value;
    switch (p.transform) {
      case Transform::Lower: return std::log(v - p.lower);
      case Transform::Upper: return std::log(p.upper - v);
      case Transform::Interval: {
        double u = (v - p.lower) / (p.upper - p.lower);
        return std::log(u / (1 - u));
      }
      default: return v;
    }
  }
  if (init.kind == sema::ParamInit::Kind::Default) return small(rng);
  // Sema accepts an init distribution only when its registry entry can draw one.
  VMC_ASSERT(init.dist && init.dist->init.fn, "an init distribution that cannot draw after sema");
  return init.dist->init.fn(init.args, rng);
}

}  // namespace

std::map<std::string, std::vector<double>> initial_params(const Lowered& l, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::map<std::string, std::vector<double>> out;
  for (const ParamInput& p : l.params) {
    std::int64_t count = 1;
    for (const ir::Extent& e : p.shape) {
      VMC_ASSERT(e.is_constant(), "param '" + p.name + "' has a run-time extent");
      count *= e.size;
    }
    std::vector<double>& v = out[p.name];
    v.resize(static_cast<std::size_t>(count));
    for (double& x : v) x = declared_init(p, rng);
  }
  return out;
}

ir::Bindings synthetic_bindings(const Lowered& l, const sema::Model& model, const SyntheticOptions& o) {
  ir::Bindings b;
  std::mt19937_64 rng(o.seed);
  const ir::Graph& g = *l.function.graph;
  // Sizes: a dim's own extent from its value (or `rows`), a minibatch's from `batch`.
  for (std::size_t s = 0; s < g.symbol_count(); ++s) {
    const std::string& name = g.symbol_name(static_cast<std::int32_t>(s));
    auto dim_of = l.sizes.find(name);
    std::string dim = dim_of != l.sizes.end() ? dim_of->second : name;
    const sema::Dim* d = model.find_dim(dim);
    std::int64_t full = d && d->value ? *d->value : o.rows;
    b.sizes[name] = dim != name ? std::min(o.batch, full) : full;
  }
  for (const auto& [symbol, dim] : l.sizes) {
    if (!b.sizes.count(dim)) {
      const sema::Dim* d = model.find_dim(dim);
      b.sizes[dim] = d && d->value ? *d->value : o.rows;
    }
  }
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<double> normal(0, 1);
  auto fill = [&](const ir::Node* n, auto draw) {
    ir::Tensor t{ir::concrete_shape(n->shape(), g, b), {}};
    t.values.resize(static_cast<std::size_t>(t.size()));
    for (double& v : t.values) v = draw();
    b.inputs[n->attrs().name] = std::move(t);
  };
  for (const ParamInput& p : l.params) {
    if (o.init_radius > 0) fill(p.node, [&] { return o.init_radius * (2 * unit(rng) - 1); });
    else fill(p.node, [&] { return declared_init(p, rng); });
  }
  std::vector<NoiseInput> noise = l.noise;
  noise.insert(noise.end(), l.model_noise.begin(), l.model_noise.end());
  noise.insert(noise.end(), l.generated_noise.begin(), l.generated_noise.end());
  for (const NoiseInput& n : noise) {
    if (n.node->attrs().input == ir::InputKind::Uniform) fill(n.node, [&] { return unit(rng); });
    else fill(n.node, [&] { return normal(rng); });
  }
  // An importance-weighted bound's softmax weight of the sample (the runtime's, abi.h).
  if (l.importance_weight) fill(l.importance_weight, [&] { return unit(rng); });
  for (const DataInput& d : l.data) {
    if (b.inputs.count(d.name)) continue;  // an int and a real view of one array share values
    if (d.name.rfind("index.", 0) == 0) {
      // The minibatch: distinct rows of the full data, in random order.
      std::vector<double> rows(static_cast<std::size_t>(b.sizes.at(d.batch_dim)));
      std::iota(rows.begin(), rows.end(), 0.0);
      std::shuffle(rows.begin(), rows.end(), rng);
      rows.resize(static_cast<std::size_t>(ir::concrete_shape(d.node->shape(), g, b)[0]));
      b.inputs[d.name] = ir::Tensor{{static_cast<std::int64_t>(rows.size())}, rows};
      continue;
    }
    const sema::Variable* v = model.find_variable(d.name);
    VMC_ASSERT(v, "data input '" + d.name + "' without a declaration");
    // On the declared bounds, narrowed to the support of every likelihood the data has, so
    // that a beta's data lies in (0, 1) even when it is declared plain `real`.
    sema::Constraint c = v->type.constraint;
    for (const sema::SampleSite& site : model.samples) {
      if (site.role != sema::Role::Data || site.variable != d.name || !site.dist) continue;
      dist::Bounds s = dist::bounds(site.dist->support);
      if (s.lower) c.lower = std::max(c.lower.value_or(*s.lower), *s.lower);
      if (s.upper) c.upper = std::min(c.upper.value_or(*s.upper), *s.upper);
    }
    bool is_int = v->type.is_int();
    double lo = c.lower.value_or(is_int ? 0 : -2), hi = c.upper.value_or(is_int ? 3 : 2);
    for (const DataInput& other : l.data) {
      if (other.name == d.name && other.node->dtype() == ir::DType::Int) {
        hi = std::min(hi, static_cast<double>(index_limit(l, other.node, b) - 1));
      }
    }
    fill(d.node, [&] {
      if (is_int) return std::floor(lo + unit(rng) * (hi - lo + 1));
      if (c.lower && !c.upper) return lo + std::exp(normal(rng));
      if (c.upper && !c.lower) return hi - std::exp(normal(rng));
      return c.lower ? lo + (hi - lo) * unit(rng) : normal(rng);
    });
  }
  for (const ir::Node* n : l.function.inputs()) {
    if (n->attrs().input != ir::InputKind::Size) continue;
    const std::string& name = n->attrs().name;
    if (!b.sizes.count(name)) {
      const sema::Dim* d = model.find_dim(name);
      b.sizes[name] = d && d->value ? *d->value : o.rows;
    }
    b.inputs[name] = ir::Tensor::scalar(static_cast<double>(b.sizes.at(name)));
  }
  return b;
}

}  // namespace vmc::lower
