#include "ir/builder.hpp"

#include "ir/loop.hpp"

#include "support/check.hpp"

namespace vmc::ir {

const Node* constant(Graph& g, double value, Shape shape) {
  Attrs at;
  at.value = value;
  return g.make(Op::Const, {}, at, std::move(shape));
}

const Node* input(Graph& g, const std::string& name, InputKind kind, Shape shape, DType dtype) {
  Attrs at;
  at.name = name;
  at.input = kind;
  return g.make(Op::Input, {}, at, std::move(shape), dtype);
}

const Node* constant_like(const Node* like, double value) {
  return constant(like->graph(), value, like->shape());
}

const Node* unary(Op op, const Node* x) {
  VMC_ASSERT(info(op).category == Category::Unary, "not a unary op");
  return x->graph().make(op, {x});
}

const Node* binary(Op op, const Node* a, const Node* b) {
  VMC_ASSERT(info(op).category == Category::Binary, "not a binary op");
  if (a->shape() != b->shape()) {
    if (a->is_scalar()) a = broadcast(a, b->shape());
    else if (b->is_scalar()) b = broadcast(b, a->shape());
  }
  return a->graph().make(op, {a, b});
}

const Node* add(const Node* a, double b) { return add(a, constant(a->graph(), b)); }
const Node* mul(const Node* a, double b) { return mul(a, constant(a->graph(), b)); }

const Node* select(const Node* cond, const Node* a, const Node* b) {
  return cond->graph().make(Op::Select, {cond, a, b});
}

const Node* broadcast(const Node* x, Shape shape, std::uint32_t new_axes) {
  if (new_axes == 0) return x;
  // A broadcast constant is just the constant at the new shape.
  if (x->op() == Op::Const) return constant(x->graph(), x->attrs().value, std::move(shape));
  Attrs at;
  at.axes = new_axes;
  return x->graph().make(Op::Broadcast, {x}, at, std::move(shape));
}

const Node* broadcast(const Node* x, Shape shape) {
  VMC_ASSERT(shape.size() >= x->rank(), "broadcast to a lower rank");
  std::uint32_t leading = (1u << (shape.size() - x->rank())) - 1;
  return broadcast(x, std::move(shape), leading);
}

const Node* broadcast_to(const Node* x, const Shape& shape) {
  if (x->shape() == shape) return x;
  VMC_ASSERT(x->is_scalar(), "only a scalar broadcasts implicitly");
  return broadcast(x, shape);
}

const Node* transpose(const Node* x) { return x->graph().make(Op::Transpose, {x}); }

const Node* reshape(const Node* x, Shape shape) {
  if (x->shape() == shape) return x;
  return x->graph().make(Op::Reshape, {x}, {}, std::move(shape));
}

const Node* slice(const Node* x, int axis, std::int64_t begin, std::int64_t end) {
  Attrs at;
  at.axis = axis;
  at.begin = begin;
  at.end = end;
  return x->graph().make(Op::Slice, {x}, at);
}

const Node* concat(const Node* a, const Node* b, int axis) {
  Attrs at;
  at.axis = axis;
  return a->graph().make(Op::Concat, {a, b}, at);
}

const Node* gather(const Node* table, const Node* indices) {
  return table->graph().make(Op::Gather, {table, indices});
}

const Node* scatter_add(const Node* rows, const Node* indices, Shape table_shape) {
  return rows->graph().make(Op::ScatterAdd, {rows, indices}, {}, std::move(table_shape));
}

const Node* reduce(Op op, const Node* x, int axis) {
  VMC_ASSERT(info(op).category == Category::Reduce, "not a reduction");
  if (axis < 0 && x->is_scalar()) return x;
  Attrs at;
  at.axis = axis;
  return x->graph().make(op, {x}, at);
}

const Node* matmul(const Node* a, const Node* b, bool transpose_a, bool transpose_b) {
  Attrs at;
  at.transpose_a = transpose_a && a->rank() == 2;
  at.transpose_b = transpose_b && b->rank() == 2;
  return a->graph().make(Op::MatMul, {a, b}, at);
}

const Node* outer(const Node* u, const Node* v) { return u->graph().make(Op::Outer, {u, v}); }

const Node* tri_solve(const Node* lower, const Node* b, bool transpose) {
  Attrs at;
  at.transpose_a = transpose;
  return lower->graph().make(Op::TriSolve, {lower, b}, at);
}

const Node* cholesky(const Node* a) { return a->graph().make(Op::Cholesky, {a}); }

const Node* tril(const Node* x) { return x->graph().make(Op::Tril, {x}); }
const Node* diag(const Node* x) { return x->graph().make(Op::Diag, {x}); }
const Node* diag_matrix(const Node* v) { return v->graph().make(Op::DiagMatrix, {v}); }

std::int64_t constant_elements(const Shape& s) {
  std::int64_t n = 1;
  for (const Extent& e : s) {
    VMC_ASSERT(e.is_constant(), "run-time extent where a constant one is needed");
    n *= e.size;
  }
  return n;
}

const Node* take(const Node* x, const Node* i, int axis) {
  Attrs a;
  a.axis = axis;
  return x->graph().make(Op::Take, {x, i}, a);
}

const Node* loop(const Node* begin, const Node* end, const Node* c0, const std::vector<const Node*>& invariants,
                 std::shared_ptr<const LoopBody> body) {
  std::vector<const Node*> args{begin, end, c0};
  args.insert(args.end(), invariants.begin(), invariants.end());
  Attrs a;
  a.loop = std::move(body);
  return c0->graph().make(Op::Loop, std::move(args), std::move(a));
}

}  // namespace vmc::ir
