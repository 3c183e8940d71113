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
  if (const auto* name = e.as<ast::Name>()) {
    if (!l.fn_args.empty() && l.fn_args.back().count(name->name)) return std::nullopt;
    const sema::Dim* d = l.model.find_dim(name->name);
    if (d && d->value) return *d->value;
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

  Value lower(const ast::Expr& e, const ast::Name& n) {
    if (!l_.fn_args.empty()) {
      auto it = l_.fn_args.back().find(n.name);
      if (it != l_.fn_args.back().end()) return it->second;
    } else {
      for (auto scope = l_.lets.rbegin(); scope != l_.lets.rend(); ++scope) {
        auto it = scope->find(n.name);
        if (it != scope->end()) return it->second;
      }
    }
    if (n.name == "pi") return {ir::constant(g_, M_PI)};
    if (const sema::Dim* d = l_.model.find_dim(n.name)) {
      if (d->value && !l_.runtime_dims.count(d->name)) return {ir::constant(g_, static_cast<double>(*d->value))};
      return {size_input(l_, d->name)};
    }
    if (auto it = l_.params.find(n.name); it != l_.params.end()) return it->second;
    if (auto it = l_.draws.find(n.name); it != l_.draws.end()) {
      const Value& v = it->second.value;
      // Drawn per copy of plain plates: their batch axes are its whole leading extents.
      bool whole = std::none_of(v.plates.begin(), v.plates.end(), [](auto* p) { return p->subsample; });
      if (whole) return Value{v.node};
      l_.fail(e.span, "a local latent is used here without its plate index");
      return v;
    }
    if (auto it = l_.generated.find(n.name); it != l_.generated.end()) return it->second;
    const sema::Variable* v = l_.model.find_variable(n.name);
    if (v && v->role == sema::Role::Data) return {data_input(l_, *v, false, nullptr, e.span)};
    if (v && v->role == sema::Role::Latent) {
      l_.fail(e.span, "latent '" + n.name + "' is used before the guide draws it");
      return {ir::constant(g_, 0)};
    }
    VMC_ASSERT(false, "unresolved name '" + n.name + "' after sema");
  }

  Value lower(const ast::Expr&, const ast::Unary& u) {
    Value v = lower(*u.operand);
    return {ir::neg(v.node), v.plates, v.row};
  }

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
    l_.fail(e.span, "this product needs a different matrix per datapoint, which vmc cannot lower "
                    "yet; products of a shared matrix with per-datapoint vectors are supported");
    return {ir::constant(g_, 0)};
  }

  Value lower(const ast::Expr&, const ast::Call& c) {
    const std::string& name = c.callee.name;
    std::vector<Value> args;
    for (const ast::ExprPtr& a : c.args) args.push_back(lower(*a));
    if (const sema::Builtin* b = sema::find_builtin(name)) return builtin(*b->op(int(args.size())), args);
    auto fn = l_.model.functions.find(name);
    VMC_ASSERT(fn != l_.model.functions.end(), "unknown function '" + name + "' after sema");
    std::map<std::string, Value> bound;
    for (std::size_t i = 0; i < args.size(); ++i) bound[fn->second->params[i].name] = args[i];
    l_.fn_args.push_back(std::move(bound));
    Value result = lower(*fn->second->body);
    l_.fn_args.pop_back();
    return result;
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
    if (!v.plates.empty()) {
      l_.fail(e.span, "transposing a per-datapoint matrix is not supported yet");
      return v;
    }
    return {ir::transpose(v.node)};
  }

  const ast::Plate* plate_index(const ast::Expr& e) const {
    const auto* n = e.as<ast::Name>();
    if (!n || !l_.fn_args.empty()) return nullptr;
    for (auto it = l_.plates.rbegin(); it != l_.plates.rend(); ++it) {
      if ((*it)->index.name == n->name) return *it;
    }
    return nullptr;
  }

  // The first subscript of a data, param or latent name by a plate index gets the batch
  // directly: the minibatch's rows of data, the guide's per-datapoint draws of a latent.
  std::optional<Value> batched_variable(const ast::Expr& base, const ast::Plate& plate, Span at) {
    const auto* n = base.as<ast::Name>();
    if (!n || !l_.fn_args.empty()) return std::nullopt;
    for (const auto& scope : l_.lets) {
      if (scope.count(n->name)) return std::nullopt;
    }
    if (auto it = l_.draws.find(n->name); it != l_.draws.end()) {
      if (!it->second.value.plates.empty()) return l_.rebind(it->second.value);
      return std::nullopt;
    }
    if (auto it = l_.generated.find(n->name); it != l_.generated.end()) return l_.rebind(it->second);
    const sema::Variable* v = l_.model.find_variable(n->name);
    if (v && v->role == sema::Role::Data && plate.subsample) {
      return Value{data_input(l_, *v, false, &plate, at), {&plate}};
    }
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
        if (!s || s->is_slice || plate_index(*s->lo) != v.plates[first]) {
          l_.fail(e.span, "a latent drawn inside nested plates is read one copy at a time: index "
                          "it by the index of each of those plates, in order");
          return v;
        }
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
        if (!shape[axis].is_constant() || lo < 0 || hi < 0) {
          l_.fail(s.span, "slice bounds must be constants on an extent known at compile time");
          return v;
        }
        v.node = ir::slice(v.node, static_cast<int>(axis), lo, hi);
        ++axis;
        continue;
      }
      if (const ast::Plate* p = plate_index(*s.lo)) {
        if (axis != v.plates.size()) {
          l_.fail(s.span, "a plate index must come before other subscripts");
          return v;
        }
        if (p->subsample) {
          if (axis != 0) {
            l_.fail(s.span, "a subsampled plate's index must be the first subscript here");
            return v;
          }
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
      // A gather by int data.
      Value idx = int_index(*s.lo);
      if (axis != 0 || v.node->rank() == 0) {
        l_.fail(s.span, "gathers by int data are supported on the first subscript of a value shared by all datapoints");
        return v;
      }
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
    const auto* n = base ? base->as<ast::Name>() : nullptr;
    const sema::Variable* v = n ? l_.model.find_variable(n->name) : nullptr;
    if (!v || v->role != sema::Role::Data) {
      l_.fail(e.span, "an index must be an int constant, a plate index or int data (optionally indexed by a plate)");
      return {ir::input(g_, "?", ir::InputKind::Data, {}, ir::DType::Int)};
    }
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
