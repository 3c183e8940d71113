#include "diff/adjoints.hpp"

#include "ir/builder.hpp"
#include "ir/elementwise.hpp"
#include "support/check.hpp"

namespace vmc::diff {
namespace {

using namespace vmc::ir;
using C = Contributions;

const Node* arg(const Node& n, int i) { return n.arg(i); }
const Node* self(const Node& n) { return &n; }

// Sums g over the axes that broadcasting `x` to g's shape added.
const Node* unbroadcast(const Node* g, const Node* x, std::uint32_t new_axes) {
  for (int d = static_cast<int>(g->rank()) - 1; d >= 0; --d) {
    if (new_axes >> d & 1u) g = sum(g, d);
  }
  VMC_ASSERT(g->shape() == x->shape(), "unbroadcast left the wrong shape");
  return g;
}

// A reduction's adjoint, spread back over the reduced axis (or every axis).
const Node* spread(const Node* g, const Node& reduced) {
  const Node* x = reduced.arg(0);
  int axis = reduced.attrs().axis;
  if (axis < 0) return broadcast(g, x->shape());
  return broadcast(g, x->shape(), 1u << axis);
}

// --- leaves: nothing flows further ---
C adjoint_Input(const Node&, const Node*) { return {}; }
C adjoint_Const(const Node&, const Node*) { return {}; }
C adjoint_Iota(const Node&, const Node*) { return {}; }

// (The elementwise ops' rules are theirs, in ir/elementwise.hpp.)

// --- structure ---
C adjoint_Broadcast(const Node& n, const Node* g) {
  return {unbroadcast(g, arg(n, 0), n.attrs().axes)};
}
C adjoint_Transpose(const Node&, const Node* g) { return {transpose(g)}; }
C adjoint_Reshape(const Node& n, const Node* g) { return {reshape(g, arg(n, 0)->shape())}; }
C adjoint_Slice(const Node& n, const Node* g) {
  // Zeros before and after the slice, along its axis.
  const Node* x = arg(n, 0);
  int axis = n.attrs().axis;
  Shape before = x->shape(), after = x->shape();
  before[axis] = Extent::constant(n.attrs().begin);
  after[axis] = Extent::constant(x->shape()[axis].size - n.attrs().end);
  const Node* out = g;
  if (before[axis].size > 0) out = concat(constant(g->graph(), 0, before), out, axis);
  if (after[axis].size > 0) out = concat(out, constant(g->graph(), 0, after), axis);
  return {out};
}
C adjoint_Concat(const Node& n, const Node* g) {
  int axis = n.attrs().axis;
  std::int64_t split = arg(n, 0)->shape()[axis].size;
  std::int64_t total = n.shape()[axis].size;
  return {slice(g, axis, 0, split), slice(g, axis, split, total)};
}
C adjoint_Gather(const Node& n, const Node* g) {
  return {scatter_add(g, arg(n, 1), arg(n, 0)->shape()), nullptr};
}
C adjoint_ScatterAdd(const Node& n, const Node* g) { return {gather(g, arg(n, 1)), nullptr}; }
// The row taken gets g; the others nothing (a compare against the row numbers: O(table) per
// take, where a loop reads one element of a table of params or draws per iteration).
C adjoint_Take(const Node& n, const Node* g) {
  const Node* x = arg(n, 0);
  Attrs along;
  along.axis = n.attrs().axis;
  const Node* iota = x->graph().make(Op::Iota, {}, along, x->shape());
  const Node* hit = binary(Op::Equal, iota, broadcast(arg(n, 1), x->shape()));
  return {select(hit, broadcast(g, x->shape(), 1u << n.attrs().axis), constant_like(x, 0)), nullptr};
}
// Each real operand's adjoint is one loop_grad (the loop run forwards, then backwards through
// its vjp); the bounds and int operands get none.
C adjoint_Loop(const Node& n, const Node* g) {
  C out(n.args().size(), nullptr);
  std::vector<const Node*> args(n.args().begin(), n.args().end());
  args.push_back(g);
  for (std::size_t k = 2; k < n.args().size(); ++k) {
    if (arg(n, static_cast<int>(k))->dtype() != DType::Real) continue;
    Attrs a;
    a.loop = n.attrs().loop;
    a.axis = static_cast<int>(k);
    out[k] = n.graph().make(Op::LoopGrad, args, a);
  }
  return out;
}
C adjoint_LoopGrad(const Node&, const Node*) {
  VMC_ASSERT(false, "a loop's adjoint is not differentiated again");
}
C adjoint_Tril(const Node&, const Node* g) { return {tril(g)}; }
C adjoint_Diag(const Node&, const Node* g) { return {diag_matrix(g)}; }
C adjoint_DiagMatrix(const Node&, const Node* g) { return {diag(g)}; }

// --- reductions ---
C adjoint_Sum(const Node& n, const Node* g) { return {spread(g, n)}; }
C adjoint_Mean(const Node& n, const Node* g) {
  // g / count, spread: the count from a sum of ones, so a run-time extent needs no size input.
  const Node* x = arg(n, 0);
  const Node* count = reduce(Op::Sum, constant_like(x, 1), n.attrs().axis);
  return {spread(div(g, count), n)};
}
// Tied extremes share the adjoint equally (as JAX and TensorFlow do): giving each all of it
// would make max over k copies of x have gradient k, not 1.
C extreme(const Node& n, const Node* g) {
  const Node* at_extreme = binary(Op::Equal, arg(n, 0), spread(self(n), n));
  const Node* ties = reduce(Op::Sum, at_extreme, n.attrs().axis);
  return {mul(spread(div(g, ties), n), at_extreme)};
}
C adjoint_ReduceMax(const Node& n, const Node* g) { return extreme(n, g); }
C adjoint_ReduceMin(const Node& n, const Node* g) { return extreme(n, g); }
C adjoint_LogSumExp(const Node& n, const Node* g) {
  const Node* softmax = exp(sub(arg(n, 0), spread(self(n), n)));
  return {mul(spread(g, n), softmax)};
}

// --- linear algebra ---
C adjoint_MatMul(const Node& n, const Node* g) {
  const Node* a = arg(n, 0);
  const Node* b = arg(n, 1);
  bool ta = n.attrs().transpose_a, tb = n.attrs().transpose_b;
  if (a->rank() == 1 && b->rank() == 1) return {mul(g, b), mul(g, a)};  // a dot product
  if (b->rank() == 1) {  // op(A) b: dA = g bᵀ, db = op(A)ᵀ g
    return {ta ? outer(b, g) : outer(g, b), matmul(a, g, !ta)};
  }
  if (a->rank() == 1) {  // aᵀ op(B): da = op(B) g, dB = a gᵀ
    return {matmul(b, g, tb), tb ? outer(g, a) : outer(a, g)};
  }
  // C = op(A) op(B): dA = G op(B)ᵀ (or its transpose), dB = op(A)ᵀ G (or its transpose).
  const Node* da = ta ? matmul(b, g, tb, true) : matmul(g, b, false, !tb);
  const Node* db = tb ? matmul(g, a, true, ta) : matmul(a, g, !ta, false);
  return {da, db};
}
C adjoint_Outer(const Node& n, const Node* g) {
  return {matmul(g, arg(n, 1)), matmul(g, arg(n, 0), true)};
}
C adjoint_TriSolve(const Node& n, const Node* g) {
  // x = L⁻¹ b (or L⁻ᵀ b): db = L⁻ᵀ g (or L⁻¹ g); dL = −db xᵀ (or −x dbᵀ), lower triangle.
  const Node* lower = arg(n, 0);
  bool t = n.attrs().transpose_a;
  const Node* db = tri_solve(lower, g, !t);
  const Node* x = self(n);
  auto product = [](const Node* u, const Node* v) {
    return u->rank() == 1 ? outer(u, v) : matmul(u, v, false, true);
  };
  const Node* dl = t ? product(x, db) : product(db, x);
  return {neg(tril(dl)), db};
}

C adjoint_Cholesky(const Node& n, const Node* g) {
  // L = chol(A) from A's lower triangle (Murray 2016, "Differentiation of the Cholesky
  // decomposition"): with P = Φ(Lᵀ tril(Ḡ)), Φ the lower triangle with its diagonal halved, and
  // S = L⁻ᵀ P L⁻¹, a symmetric perturbation dA moves the output by ⟨S, dA⟩. Only the lower
  // triangle of A is read, so each of its elements below the diagonal carries S_ij + S_ji, the
  // diagonal S_ii, the upper triangle 0. A symmetric A built from the same values in both
  // triangles gets the same total either way.
  const Node* l = self(n);
  const Node* lg = matmul(l, tril(g), true);
  const Node* p = sub(tril(lg), mul(diag_matrix(diag(lg)), 0.5));
  const Node* m = tri_solve(l, p, true);                        // L⁻ᵀ P
  const Node* s = transpose(tri_solve(l, transpose(m), true));  // (L⁻ᵀ Mᵀ)ᵀ = M L⁻¹
  return {sub(tril(add(s, transpose(s))), diag_matrix(diag(s)))};
}

// The table from ops.def: an elementwise op's rule is Elementwise<op>::adjoint, any other op's
// its adjoint_NAME above, so an op without one does not build.
template <Op op>
constexpr AdjointRule elementwise_rule() {
  if constexpr (is_elementwise(op)) return &Elementwise<op>::adjoint;
  else return nullptr;
}

#define VMC_RULE_Leaf(name) &adjoint_##name
#define VMC_RULE_Unary(name) elementwise_rule<Op::name>()
#define VMC_RULE_Binary(name) elementwise_rule<Op::name>()
#define VMC_RULE_Select(name) elementwise_rule<Op::name>()
#define VMC_RULE_Structure(name) &adjoint_##name
#define VMC_RULE_Reduce(name) &adjoint_##name
#define VMC_RULE_Linalg(name) &adjoint_##name
constexpr AdjointRule kRules[] = {
#define VMC_OP(name, spelling, arity, category, ...) VMC_RULE_##category(name),
#include "ir/ops.def"
#undef VMC_OP
};

}  // namespace

const AdjointRule& adjoint_rule(ir::Op op) { return kRules[static_cast<int>(op)]; }

}  // namespace vmc::diff
