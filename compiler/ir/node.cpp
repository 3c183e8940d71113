#include "ir/node.hpp"

#include <functional>

#include "ir/loop.hpp"
#include "support/check.hpp"

namespace vmc::ir {
namespace {

void hash_combine(std::size_t& seed, std::size_t v) {
  seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

std::size_t hash_node(const Node& n) {
  std::size_t h = static_cast<std::size_t>(n.op());
  hash_combine(h, static_cast<std::size_t>(n.dtype()));
  for (const Extent& e : n.shape()) {
    hash_combine(h, std::hash<std::int64_t>()(e.size));
    hash_combine(h, std::hash<std::int32_t>()(e.symbol));
  }
  for (const Node* a : n.args()) hash_combine(h, std::hash<const Node*>()(a));
  const Attrs& at = n.attrs();
  hash_combine(h, std::hash<double>()(at.value));
  hash_combine(h, std::hash<std::string>()(at.name));
  hash_combine(h, static_cast<std::size_t>(at.input));
  hash_combine(h, std::hash<int>()(at.axis));
  hash_combine(h, std::hash<std::int64_t>()(at.begin));
  hash_combine(h, std::hash<std::int64_t>()(at.end));
  hash_combine(h, (at.transpose_a ? 1 : 0) | (at.transpose_b ? 2 : 0));
  hash_combine(h, std::hash<std::uint32_t>()(at.axes));
  hash_combine(h, std::hash<const void*>()(at.loop.get()));
  return h;
}

std::string show(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i].is_constant() ? std::to_string(s[i].size) : "$" + std::to_string(s[i].symbol);
  }
  return out + "]";
}

void expect(bool ok, Op op, const std::string& what) {
  VMC_ASSERT(ok, std::string("ill-formed ") + info(op).spelling + ": " + what);
}

// What a shape rule sees: the operands, the attributes, and the shape given to make().
struct ShapeQuery {
  Op op;
  std::span<const Node* const> args;
  const Attrs& at;
  const Shape& given;
  const Node& x() const { return *args[0]; }
};

// The rules of the categories whose ops all shape alike.
Shape leaf_shape(const ShapeQuery& q) {
  if (q.op == Op::Iota) {
    expect(q.at.axis >= 0 && static_cast<std::size_t>(q.at.axis) < q.given.size(), q.op, "axis out of range");
  }
  return q.given;
}

Shape elementwise_shape(const ShapeQuery& q) {
  for (const Node* a : q.args) {
    expect(a->shape() == q.args[0]->shape(), q.op,
           "operand shapes differ: " + show(q.args[0]->shape()) + " and " + show(a->shape()));
  }
  return q.args[0]->shape();
}

Shape reduce_shape(const ShapeQuery& q) {
  if (q.at.axis < 0) return {};
  expect(static_cast<std::size_t>(q.at.axis) < q.x().rank(), q.op, "axis out of range");
  Shape s = q.x().shape();
  s.erase(s.begin() + q.at.axis);
  return s;
}

// A structure or linear-algebra op's own rule: one specialisation per op (below), so such an op
// without one does not build.
template <Op op>
Shape own_shape(const ShapeQuery& q) = delete;

template <>
Shape own_shape<Op::Broadcast>(const ShapeQuery& q) {
  // The output axes not marked new are x's axes, in order.
  const Node& x = q.x();
  std::size_t next = 0;
  for (std::size_t d = 0; d < q.given.size(); ++d) {
    if (q.at.axes >> d & 1u) continue;
    expect(next < x.rank() && q.given[d] == x.shape()[next], q.op,
           "operand " + show(x.shape()) + " does not embed in " + show(q.given));
    ++next;
  }
  expect(next == x.rank() && q.given.size() < 32, q.op, "operand axes left over");
  return q.given;
}

template <>
Shape own_shape<Op::Transpose>(const ShapeQuery& q) {
  expect(q.x().rank() == 2, q.op, "operand must be a matrix");
  return {q.x().shape()[1], q.x().shape()[0]};
}

template <>
Shape own_shape<Op::Reshape>(const ShapeQuery& q) {
  std::int64_t from = 1, to = 1;
  bool constant = true;
  for (const Extent& e : q.x().shape()) constant &= e.is_constant(), from *= e.size;
  for (const Extent& e : q.given) constant &= e.is_constant(), to *= e.size;
  expect(!constant || from == to, q.op, show(q.x().shape()) + " cannot become " + show(q.given));
  return q.given;
}

template <>
Shape own_shape<Op::Slice>(const ShapeQuery& q) {
  const Node& x = q.x();
  expect(q.at.axis >= 0 && static_cast<std::size_t>(q.at.axis) < x.rank(), q.op, "axis out of range");
  const Extent& e = x.shape()[q.at.axis];
  expect(e.is_constant() && 0 <= q.at.begin && q.at.begin <= q.at.end && q.at.end <= e.size, q.op,
         "bounds out of range");
  Shape s = x.shape();
  s[q.at.axis] = Extent::constant(q.at.end - q.at.begin);
  return s;
}

template <>
Shape own_shape<Op::Concat>(const ShapeQuery& q) {
  const Node& x = q.x();
  const Node& y = *q.args[1];
  expect(q.at.axis >= 0 && static_cast<std::size_t>(q.at.axis) < x.rank() && x.rank() == y.rank(), q.op,
         "axis out of range");
  Shape s = x.shape();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (static_cast<int>(i) == q.at.axis) continue;
    expect(s[i] == y.shape()[i], q.op, "extents differ off the axis");
  }
  expect(s[q.at.axis].is_constant() && y.shape()[q.at.axis].is_constant(), q.op,
         "run-time extents cannot be concatenated");
  s[q.at.axis] = Extent::constant(s[q.at.axis].size + y.shape()[q.at.axis].size);
  return s;
}

template <>
Shape own_shape<Op::Gather>(const ShapeQuery& q) {
  const Node& x = q.x();
  const Node& idx = *q.args[1];
  expect(idx.dtype() == DType::Int && idx.rank() <= 1 && x.rank() >= 1, q.op, "needs a table and int indices");
  Shape s = idx.shape();
  s.insert(s.end(), x.shape().begin() + 1, x.shape().end());
  return s;
}

template <>
Shape own_shape<Op::Take>(const ShapeQuery& q) {
  const Node& x = q.x();
  const Node& i = *q.args[1];
  expect(i.is_scalar() && i.dtype() == DType::Real, q.op, "needs a real scalar index");
  expect(q.at.axis >= 0 && static_cast<std::size_t>(q.at.axis) < x.rank(), q.op, "axis out of range");
  Shape s = x.shape();
  s.erase(s.begin() + q.at.axis);
  return s;
}

template <>
Shape own_shape<Op::Loop>(const ShapeQuery& q) {
  expect(q.args.size() >= 3 && q.at.loop && q.args[0]->is_scalar() && q.args[1]->is_scalar(), q.op,
         "needs bounds, a state and a body");
  expect(q.at.loop->invariants.size() == q.args.size() - 3, q.op, "one operand per invariant of the body");
  return q.args[2]->shape();
}

template <>
Shape own_shape<Op::LoopGrad>(const ShapeQuery& q) {
  expect(q.args.size() >= 4 && q.at.loop && q.at.loop->invariants.size() == q.args.size() - 4, q.op,
         "needs a loop's operands and the adjoint of its state");
  expect(q.at.axis >= 2 && static_cast<std::size_t>(q.at.axis) < q.args.size() - 1, q.op, "adjoins no operand");
  expect(q.args.back()->shape() == q.args[2]->shape(), q.op, "the adjoint has not the state's shape");
  return q.args[static_cast<std::size_t>(q.at.axis)]->shape();
}

template <>
Shape own_shape<Op::ScatterAdd>(const ShapeQuery& q) {
  // args: src (indices' shape ++ the table's row shape), indices; `given`: the table's.
  const Node& idx = *q.args[1];
  expect(idx.dtype() == DType::Int && idx.rank() <= 1 && !q.given.empty(), q.op,
         "needs rows, int indices and the table's shape");
  Shape rows = idx.shape();
  rows.insert(rows.end(), q.given.begin() + 1, q.given.end());
  expect(q.x().shape() == rows, q.op, "rows " + show(q.x().shape()) + " do not fit " + show(q.given));
  return q.given;
}

Shape square_matrix(const ShapeQuery& q) {
  const Node& x = q.x();
  expect(x.rank() == 2 && x.shape()[0] == x.shape()[1], q.op, "operand must be a square matrix");
  return x.shape();
}

template <>
Shape own_shape<Op::Tril>(const ShapeQuery& q) {
  return square_matrix(q);
}

template <>
Shape own_shape<Op::Diag>(const ShapeQuery& q) {
  return {square_matrix(q)[0]};
}

template <>
Shape own_shape<Op::DiagMatrix>(const ShapeQuery& q) {
  expect(q.x().rank() == 1, q.op, "operand must be a vector");
  return {q.x().shape()[0], q.x().shape()[0]};
}

template <>
Shape own_shape<Op::MatMul>(const ShapeQuery& q) {
  const Node& a = q.x();
  const Node& b = *q.args[1];
  expect(a.rank() >= 1 && a.rank() <= 2 && b.rank() >= 1 && b.rank() <= 2, q.op,
         "operands must be vectors or matrices");
  // Logical shapes after the optional transposes; a vector is used as it stands.
  Shape sa = a.shape(), sb = b.shape();
  if (a.rank() == 2 && q.at.transpose_a) std::swap(sa[0], sa[1]);
  if (b.rank() == 2 && q.at.transpose_b) std::swap(sb[0], sb[1]);
  expect(sa.back() == sb.front(), q.op, "inner extents differ: " + show(sa) + " and " + show(sb));
  Shape out;
  if (sa.size() == 2) out.push_back(sa[0]);
  if (sb.size() == 2) out.push_back(sb[1]);
  return out;
}

template <>
Shape own_shape<Op::Outer>(const ShapeQuery& q) {
  expect(q.args[0]->rank() == 1 && q.args[1]->rank() == 1, q.op, "operands must be vectors");
  return {q.args[0]->shape()[0], q.args[1]->shape()[0]};
}

template <>
Shape own_shape<Op::TriSolve>(const ShapeQuery& q) {
  // L is [k, k], b is [k] or [k, n].
  const Node& l = q.x();
  const Node& b = *q.args[1];
  expect(l.rank() == 2 && l.shape()[0] == l.shape()[1], q.op, "L must be square");
  expect(b.rank() >= 1 && b.shape()[0] == l.shape()[0], q.op, "b's rows must match L");
  return b.shape();
}

template <>
Shape own_shape<Op::Cholesky>(const ShapeQuery& q) {
  const Node& a = q.x();
  expect(a.rank() == 2 && a.shape()[0] == a.shape()[1], q.op, "A must be square");
  return a.shape();
}

template <Op op>
Shape shape_rule(const ShapeQuery& q) {
  constexpr Category c = info(op).category;
  if constexpr (c == Category::Leaf) return leaf_shape(q);
  else if constexpr (is_elementwise(c)) return elementwise_shape(q);
  else if constexpr (c == Category::Reduce) return reduce_shape(q);
  else return own_shape<op>(q);
}

using ShapeRule = Shape (*)(const ShapeQuery&);
constexpr ShapeRule kShapeRules[] = {
#define VMC_OP(name, ...) &shape_rule<Op::name>,
#include "ir/ops.def"
#undef VMC_OP
};

}  // namespace

const char* to_string(InputKind kind) {
  switch (kind) {
    case InputKind::Param: return "param";
    case InputKind::Data: return "data";
    case InputKind::Noise: return "noise";
    case InputKind::Uniform: return "uniform";
    case InputKind::Size: return "size";
    case InputKind::Weight: return "weight";
  }
  return "?";
}

bool NodeEq::operator()(const Node* a, const Node* b) const {
  return a->op_ == b->op_ && a->dtype_ == b->dtype_ && a->shape_ == b->shape_ &&
         a->args_ == b->args_ && a->attrs_ == b->attrs_;
}

Shape infer_shape(Op op, std::span<const Node* const> args, const Attrs& at, const Shape& given) {
  expect(info(op).arity < 0 || static_cast<int>(args.size()) == info(op).arity, op, "wrong number of operands");
  return kShapeRules[static_cast<int>(op)](ShapeQuery{op, args, at, given});
}

std::int32_t Graph::symbol(const std::string& name) {
  for (std::size_t i = 0; i < symbols_.size(); ++i) {
    if (symbols_[i] == name) return static_cast<std::int32_t>(i);
  }
  symbols_.push_back(name);
  return static_cast<std::int32_t>(symbols_.size() - 1);
}

const Node* Graph::make(Op op, std::vector<const Node*> args, Attrs attrs, Shape shape,
                        DType dtype) {
  for (const Node* a : args) VMC_ASSERT(a && &a->graph() == this, "operand from another graph");
  Node n;
  n.op_ = op;
  n.shape_ = infer_shape(op, args, attrs, shape);
  n.dtype_ = op == Op::Input ? dtype : op == Op::Gather || op == Op::Take ? args[0]->dtype() : DType::Real;
  n.args_ = std::move(args);
  n.attrs_ = std::move(attrs);
  n.graph_ = this;
  n.hash_ = hash_node(n);
  auto found = table_.find(&n);
  if (found != table_.end()) return *found;
  n.id_ = static_cast<std::uint32_t>(nodes_.size());
  nodes_.push_back(std::move(n));
  const Node* stored = &nodes_.back();
  table_.insert(stored);
  return stored;
}

}  // namespace vmc::ir
