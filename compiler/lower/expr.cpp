// Expressions → IR values (batched over the plates they vary in).
#include <algorithm>
#include <cmath>

#include "lower/lowerer.hpp"
#include "sema/builtins.hpp"
#include "support/check.hpp"

namespace vmc::lower {
namespace {

using ir::Op;

// The value of an integer constant expression (literals and dims with values), if it is one.
std::optional<std::int64_t> constant_int(const Lowerer& l, const ast::Expr& e) {
  if (const auto* n = e.as<ast::Number>()) {
    if (n->is_integer) return static_cast<std::int64_t>(n->value);
    return std::nullopt;
  }
  if (e.as<ast::Name>()) {
    const sema::NameRef& ref = l.model.name_of(e);
    if (ref.kind == sema::NameKind::Dim && ref.dim->value) return *ref.dim->value;
    return std::nullopt;
  }
  if (const auto* u = e.as<ast::Unary>()) {
    auto v = constant_int(l, *u->operand);
    return v ? std::optional<std::int64_t>(-*v) : std::nullopt;
  }
  if (const auto* b = e.as<ast::Binary>()) {
    auto x = constant_int(l, *b->lhs), y = constant_int(l, *b->rhs);
    if (!x || !y) return std::nullopt;
    switch (b->op) {
      case ast::BinaryOp::Add: return *x + *y;
      case ast::BinaryOp::Sub: return *x - *y;
      case ast::BinaryOp::Mul: return *x * *y;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

class ExprLowering {
 public:
  explicit ExprLowering(Lowerer& l) : l_(l), g_(l.g) {}

  Value lower(const ast::Expr& e) {
    return std::visit([&](const auto& node) { return lower(e, node); }, e.node);
  }

 private:
  Value lower(const ast::Expr&, const ast::Number& n) { return {ir::constant(g_, n.value)}; }

  // What sema resolved the name to (sema::NameRef).
  Value lower(const ast::Expr& e, const ast::Name&) {
    const sema::NameRef& ref = l_.model.name_of(e);
    switch (ref.kind) {
      case sema::NameKind::Pi: return {ir::constant(g_, M_PI)};
      case sema::NameKind::FnParam: return l_.fn_args.back().at(ref.fn_param);
      case sema::NameKind::Let: return l_.lets.at(ref.let);
      case sema::NameKind::Dim:
        if (ref.dim->value && !l_.runtime_dims.count(ref.dim->name))
          return {ir::constant(g_, static_cast<double>(*ref.dim->value))};
        return {size_input(l_, ref.dim->name)};
      case sema::NameKind::Param: return l_.params.at(ref.variable->name);
      case sema::NameKind::Latent: {
        const Value& v = l_.drawn(ref.variable->name).value;
        // Drawn per copy of plain plates: their batch axes are its whole leading extents.
        bool whole = std::none_of(v.plates.begin(), v.plates.end(), [](auto* p) { return p->subsample; });
        VMC_ASSERT(whole, "a local latent read without its plate index after sema");
        return Value{v.node};
      }
      case sema::NameKind::Data:
        // The generative pass reads the data it drew earlier in the model.
        if (auto it = l_.generated.find(ref.variable->name); it != l_.generated.end()) return it->second;
        return {data_input(l_, *ref.variable, false, nullptr, e.span)};
      case sema::NameKind::LoopIndex: return l_.loop_indices.at(ref.loop);
      case sema::NameKind::Generated: return l_.quantities.at(ref.draw);
      case sema::NameKind::PlateIndex: break;
    }
    VMC_ASSERT(false, "a plate index outside a subscript after sema");
  }

  Value lower(const ast::Expr&, const ast::Unary& u) {
    Value v = lower(*u.operand);
    return {ir::neg(v.node), v.plates, v.row};
  }

  Value complement(const Value& v) { return {ir::sub(ir::constant_like(v.node, 1), v.node), v.plates, v.row}; }

  Value elementwise(Op op, const Value& a, const Value& b) {
    auto plates = l_.union_plates(a.plates, b.plates);
    ir::Shape copy = a.copy_scalar() ? b.copy_shape() : a.copy_shape();
    Value x = l_.align(a, plates, copy), y = l_.align(b, plates, copy);
    return {ir::binary(op, x.node, y.node), plates, a.row || b.row};
  }

  Value lower(const ast::Expr& e, const ast::Binary& b) {
    Value x = lower(*b.lhs), y = lower(*b.rhs);
    switch (b.op) {
      case ast::BinaryOp::Add: return elementwise(Op::Add, x, y);
      case ast::BinaryOp::Sub: return elementwise(Op::Sub, x, y);
      case ast::BinaryOp::ElemMul: return elementwise(Op::Mul, x, y);
      case ast::BinaryOp::ElemDiv:
      case ast::BinaryOp::Div: return elementwise(Op::Div, x, y);
      case ast::BinaryOp::Pow: return elementwise(Op::Pow, x, y);
      // Comparisons as 0/1 (piecewise constant: no gradient): a > b, b > a, a == b, and their
      // complements.
      case ast::BinaryOp::Greater: return elementwise(Op::Greater, x, y);
      case ast::BinaryOp::Less: return elementwise(Op::Greater, y, x);
      case ast::BinaryOp::Equal: return elementwise(Op::Equal, x, y);
      case ast::BinaryOp::LessEqual: return complement(elementwise(Op::Greater, x, y));
      case ast::BinaryOp::GreaterEqual: return complement(elementwise(Op::Greater, y, x));
      case ast::BinaryOp::NotEqual: return complement(elementwise(Op::Equal, x, y));
      case ast::BinaryOp::Mul: return product(e, x, y);
    }
    VMC_ASSERT(false, "unknown binary operator");
  }

  // The linear-algebra product, per copy.
  Value product(const ast::Expr& e, const Value& a, const Value& b) {
    if (a.copy_scalar() || b.copy_scalar()) return elementwise(Op::Mul, a, b);
    auto plates = l_.union_plates(a.plates, b.plates);
    std::size_t ra = a.copy_rank(), rb = b.copy_rank();
    bool a_row = ra == 1 && a.row, b_row = rb == 1 && b.row;
    if (ra == 1 && rb == 1 && a_row && !b_row) {  // u' * v: a dot product per copy
      Value x = l_.align(a, plates, a.copy_shape()), y = l_.align(b, plates, b.copy_shape());
      return l_.reduce_copy(Op::Sum, {ir::mul(x.node, y.node), plates});
    }
    if (ra == 1 && rb == 1) {  // u * v': an outer product per copy
      Value x = l_.align(a, plates, a.copy_shape()), y = l_.align(b, plates, b.copy_shape());
      if (plates.empty()) return {ir::outer(x.node, y.node)};
      ir::Shape shape = x.node->shape();
      shape.push_back(y.node->shape().back());
      std::uint32_t last = 1u << (shape.size() - 1), before = 1u << (shape.size() - 2);
      return {ir::mul(ir::broadcast(x.node, shape, last), ir::broadcast(y.node, shape, before)), plates};
    }
    if (plates.empty()) return {ir::matmul(a.node, b.node), {}, a_row};
    // A batched vector against an unbatched matrix: one product over the whole batch.
    if (plates.size() == 1 && ra == 2 && a.plates.empty() && rb == 1 && !b_row) {
      return {ir::matmul(b.node, a.node, false, true), b.plates};  // (W v_i)_i = V Wᵀ
    }
    if (plates.size() == 1 && rb == 2 && b.plates.empty() && ra == 1 && a_row) {
      return {ir::matmul(a.node, b.node), a.plates, true};  // (u_i' B)_i = U B
    }
    VMC_ASSERT(false, "a product needing a matrix per datapoint after sema");
  }

  Value lower(const ast::Expr& e, const ast::Call& c) {
    const std::string& name = c.callee.name;
    std::vector<Value> args;
    for (const ast::ExprPtr& a : c.args) args.push_back(lower(*a));
    if (std::optional<dist::DensityFunction> f = dist::density_function(name); f && f->dist) {
      Value x = args.front();
      args.erase(args.begin());
      return l_.density(*f->dist, f->kind, x, args);
    }
    if (const sema::Builtin* b = sema::find_builtin(name)) {
      if (b->rule == sema::BuiltinRule::Structure) return structure(e, *b, args);
      if (b->rule != sema::BuiltinRule::Op) return composite(*b, args);
      return builtin(*b->op(int(args.size())), args);
    }
    auto fn = l_.model.functions.find(name);
    VMC_ASSERT(fn != l_.model.functions.end(), "unknown function '" + name + "' after sema");
    // The memo lives for one outermost call: the context a body's other names lower in (the
    // block, the sample, the enclosing plates) is the same throughout it.
    if (l_.fn_args.empty()) l_.fn_calls.clear();
    decltype(l_.fn_calls)::key_type key{fn->second, {}};
    for (const Value& a : args) key.second.emplace_back(a.node, a.plates, a.row);
    if (auto hit = l_.fn_calls.find(key); hit != l_.fn_calls.end()) return hit->second;
    l_.fn_args.push_back(std::move(args));  // the fn's parameters, by position
    Value result = lower(*fn->second->body);
    l_.fn_args.pop_back();
    l_.fn_calls.emplace(std::move(key), result);
    return result;
  }

  // The builtins that build or reshape arrays (sema::StructureBuiltin), per copy: the copy's
  // axes follow the plates' batch axes.
  Value structure(const ast::Expr& e, const sema::Builtin& b, const std::vector<Value>& args) {
    std::vector<const ast::Plate*> plates;
    for (const Value& a : args) plates = l_.union_plates(plates, a.plates);
    const int axis = static_cast<int>(plates.size());  // the copy's first axis
    switch (b.structure) {
      case sema::StructureBuiltin::RepVector:
        return l_.align(args[0], plates, ir::Shape{l_.extent(l_.model.rep_lengths.at(&e), e.span)});
      case sema::StructureBuiltin::AppendRow: {
        auto as_vector = [&](const Value& v) {
          if (!v.copy_scalar()) return l_.align(v, plates, v.copy_shape()).node;
          return l_.align(v, plates, ir::Shape{ir::Extent::constant(1)}).node;
        };
        return {ir::concat(as_vector(args[0]), as_vector(args[1]), axis), plates};
      }
      case sema::StructureBuiltin::DiagMatrix:
        return {ir::diag_matrix(args[0].node)};
      case sema::StructureBuiltin::RowsDotProduct: {
        Value p = elementwise(Op::Mul, args[0], args[1]);
        return {ir::sum(p.node, static_cast<int>(p.node->rank()) - 1), p.plates};
      }
      case sema::StructureBuiltin::CumulativeSum: {
        // Σ_{j ≤ k} v_j as a product with the lower triangle of ones: O(K²), one product per batch.
        const Value& v = args[0];
        ir::Extent k = v.copy_shape()[0];
        const ir::Node* ones = ir::tril(ir::constant(g_, 1.0, ir::Shape{k, k}));
        if (v.plates.empty()) return {ir::matmul(ones, v.node)};
        return {ir::matmul(v.node, ones, false, true), v.plates};
      }
      case sema::StructureBuiltin::DotSelf:
        return l_.reduce_copy(Op::Sum, {ir::square(args[0].node), args[0].plates});
      case sema::StructureBuiltin::CholeskyDecompose:
        return {ir::cholesky(args[0].node)};
      case sema::StructureBuiltin::GpExpQuadCov: {
        // alpha² exp(−d²_ij / (2 rho²)), d²_ij the squared distance of points i and j: the
        // differences of every pair of elements (of rows, summed over the columns).
        const ir::Node* x = args[0].node;
        ir::Extent n = x->shape()[0];
        const ir::Node* d2;
        if (x->rank() == 1) {
          ir::Shape s{n, n};
          d2 = ir::square(ir::sub(ir::broadcast(x, s, 1u << 1), ir::broadcast(x, s, 1u << 0)));
        } else {
          ir::Shape s{n, n, x->shape()[1]};
          d2 = ir::sum(ir::square(ir::sub(ir::broadcast(x, s, 1u << 1), ir::broadcast(x, s, 1u << 0))), 2);
        }
        const ir::Node* alpha2 = ir::square(args[1].node);
        const ir::Node* scale = ir::div(ir::constant(g_, -0.5), ir::square(args[2].node));
        return {ir::mul(ir::broadcast_to(alpha2, d2->shape()), ir::exp(ir::mul(d2, ir::broadcast_to(scale, d2->shape()))))};
      }
    }
    VMC_ASSERT(false, "a structure builtin without its lowering");
  }

  // A builtin composed of ops (sema/builtins.hpp): elementwise on its arguments aligned to one
  // shape, or along each copy's vector with that vector's log_sum_exp beside it.
  Value composite(const sema::Builtin& b, const std::vector<Value>& args) {
    if (b.rule == sema::BuiltinRule::AlongVector) {
      const Value& v = args[0];
      Value lse = l_.align(l_.reduce_copy(Op::LogSumExp, v), v.plates, v.copy_shape());
      return {b.expand({v.node, lse.node}), v.plates, v.row};
    }
    std::vector<const ast::Plate*> plates;
    ir::Shape copy;
    bool row = false;
    for (const Value& a : args) {
      plates = l_.union_plates(plates, a.plates);
      if (!a.copy_scalar()) copy = a.copy_shape();
      row = row || a.row;
    }
    std::vector<const ir::Node*> nodes;
    for (const Value& a : args) nodes.push_back(l_.align(a, plates, copy).node);
    return {b.expand(nodes), plates, row};
  }

  // A builtin is its op (sema/builtins.hpp), per copy: elementwise on each, a reduction over
  // each copy's axes, dot(u, v) = u' v as Σ u .* v.
  Value builtin(Op op, const std::vector<Value>& args) {
    switch (ir::info(op).category) {
      case ir::Category::Unary: return {ir::unary(op, args[0].node), args[0].plates, args[0].row};
      case ir::Category::Binary: return elementwise(op, args[0], args[1]);
      case ir::Category::Reduce: return l_.reduce_copy(op, args[0]);
      case ir::Category::Linalg: return l_.reduce_copy(Op::Sum, elementwise(Op::Mul, args[0], args[1]));
      case ir::Category::Leaf:
      case ir::Category::Select:
      case ir::Category::Structure:
        break;
    }
    VMC_ASSERT(false, std::string("builtin of op ") + ir::info(op).spelling + " after sema");
  }

  Value lower(const ast::Expr& e, const ast::Transpose& t) {
    Value v = lower(*t.operand);
    if (v.copy_rank() == 1) return {v.node, v.plates, !v.row};
    if (v.copy_rank() == 0) return v;
    VMC_ASSERT(v.plates.empty(), "a per-datapoint matrix transposed after sema");
    return {ir::transpose(v.node)};
  }

  const ast::Plate* plate_index(const ast::Expr& e) const {
    if (!e.as<ast::Name>()) return nullptr;
    const sema::NameRef& ref = l_.model.name_of(e);
    return ref.kind == sema::NameKind::PlateIndex ? ref.plate : nullptr;
  }

  // The first subscript of a data, param or latent name by a plate index gets the batch
  // directly: the minibatch's rows of data, the guide's per-datapoint draws of a latent.
  std::optional<Value> batched_variable(const ast::Expr& base, const ast::Plate& plate, Span at) {
    if (!base.as<ast::Name>()) return std::nullopt;
    const sema::NameRef& ref = l_.model.name_of(base);
    if (ref.kind == sema::NameKind::Latent) {
      const Value& drawn = l_.drawn(ref.variable->name).value;
      if (!drawn.plates.empty()) return l_.rebind(drawn);
      return std::nullopt;
    }
    if (ref.kind != sema::NameKind::Data) return std::nullopt;
    if (auto it = l_.generated.find(ref.variable->name); it != l_.generated.end()) return l_.rebind(it->second);
    if (plate.subsample) return Value{data_input(l_, *ref.variable, false, &plate, at), {&plate}};
    return std::nullopt;
  }

  Value lower(const ast::Expr& e, const ast::Index& ix) {
    std::size_t first = 0;
    Value v;
    const ast::Plate* p0 = ix.subscripts[0].is_slice ? nullptr : plate_index(*ix.subscripts[0].lo);
    std::optional<Value> direct = p0 ? batched_variable(*ix.base, *p0, e.span) : std::nullopt;
    if (direct) {
      v = *direct;
      // A latent drawn inside nested plates has one value per copy of all of them: its
      // subscripts are those plates' indices, in order, and they select the copy.
      for (first = 0; first < v.plates.size(); ++first) {
        const ast::Subscript* s = first < ix.subscripts.size() ? &ix.subscripts[first] : nullptr;
        VMC_ASSERT(s && !s->is_slice && plate_index(*s->lo) == v.plates[first],
                   "a latent drawn inside nested plates read other than one copy at a time after sema");
      }
    } else {
      v = lower(*ix.base);
    }
    std::size_t axis = v.plates.size();  // the next per-copy axis to subscript
    for (std::size_t k = first; k < ix.subscripts.size(); ++k) {
      const ast::Subscript& s = ix.subscripts[k];
      ir::Shape shape = v.node->shape();
      if (s.is_slice) {
        std::int64_t lo = s.lo ? constant_int(l_, *s.lo).value_or(-1) : 0;
        std::int64_t hi = s.hi ? constant_int(l_, *s.hi).value_or(-1) : shape[axis].size;
        VMC_ASSERT(shape[axis].is_constant() && lo >= 0 && hi >= 0,
                   "a slice with bounds or an extent unknown at compile time after sema");
        v.node = ir::slice(v.node, static_cast<int>(axis), lo, hi);
        ++axis;
        continue;
      }
      if (const ast::Plate* p = plate_index(*s.lo)) {
        VMC_ASSERT(axis == v.plates.size(), "a plate index after other subscripts after sema");
        if (p->subsample) {
          VMC_ASSERT(axis == 0, "a subsampled plate's index not the first subscript after sema");
          v.node = ir::gather(v.node, minibatch_index(l_, *p));
        }
        v.plates.push_back(p);
        ++axis;
        continue;
      }
      if (auto c = constant_int(l_, *s.lo)) {
        v.node = ir::slice(v.node, static_cast<int>(axis), *c, *c + 1);
        shape = v.node->shape();
        shape.erase(shape.begin() + static_cast<long>(axis));
        v.node = ir::reshape(v.node, shape);
        continue;
      }
      // One element at an int expression of loop indices, read at run time.
      if (l_.model.dynamic_indices.count(s.lo.get())) {
        Value i = lower(*s.lo);
        VMC_ASSERT(i.plates.empty() && i.node->is_scalar(), "a loop index's expression varying over plates after sema");
        v.node = ir::take(v.node, i.node, static_cast<int>(axis));
        continue;
      }
      // A gather by int data.
      Value idx = int_index(*s.lo);
      VMC_ASSERT(axis == 0 && v.node->rank() > 0, "a gather off a shared value's first subscript after sema");
      v = Value{ir::gather(v.node, idx.node), idx.plates, v.row};
      axis = v.plates.size() + idx.copy_rank();
    }
    return v;
  }

  // An int data index (`g` or `g[i]`), as an Int-typed IR value.
  Value int_index(const ast::Expr& e) {
    const ast::Expr* base = &e;
    const ast::Plate* plate = nullptr;
    if (const auto* ix = e.as<ast::Index>()) {
      if (ix->subscripts.size() == 1 && !ix->subscripts[0].is_slice) plate = plate_index(*ix->subscripts[0].lo);
      if (!plate) base = nullptr;
      else base = ix->base.get();
    }
    const sema::NameRef* ref = base && base->as<ast::Name>() ? &l_.model.name_of(*base) : nullptr;
    VMC_ASSERT(ref && ref->kind == sema::NameKind::Data, "an index other than int data after sema");
    const sema::Variable* v = ref->variable;
    if (!plate) return {data_input(l_, *v, true, nullptr, e.span)};
    if (plate->subsample) return {data_input(l_, *v, true, plate, e.span), {plate}};
    return {data_input(l_, *v, true, nullptr, e.span), {plate}};
  }

  Lowerer& l_;
  ir::Graph& g_;
};

}  // namespace

Value Lowerer::expr(const ast::Expr& e) { return ExprLowering(*this).lower(e); }

}  // namespace vmc::lower
