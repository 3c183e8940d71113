#include "diff/simplify.hpp"

#include <unordered_map>

#include "ir/builder.hpp"
#include "ir/function.hpp"
#include "ir/rewriter.hpp"
#include "ir/scalar.hpp"

namespace vmc::diff {
namespace {

using namespace vmc::ir;

bool is_const(const Node* n) { return n->op() == Op::Const; }
bool is(const Node* n, double v) { return n->is_const(v); }
bool commutative(Op op) { return op == Op::Add || op == Op::Mul || op == Op::Min || op == Op::Max; }

// Builds nodes through the rules below. Every rule returns a node built by `make`, so the
// results of a rewrite are simplified too; each rule makes its operands smaller or moves work
// inside a broadcast, so rewriting terminates.
class Simplifier : public ir::Rewriter {
 protected:
  const Node* rewrite(const Node& n, const std::vector<const Node*>& args) override {
    if (args.empty()) return &n;
    return make(n.op(), args, n.attrs(), n.shape());
  }

 private:
  const Node* make(Op op, std::vector<const Node*> args, const Attrs& at, const Shape& shape) {
    Category c = info(op).category;
    if (c == Category::Unary) return unary_rules(op, args[0]);
    if (c == Category::Binary) return binary_rules(op, args[0], args[1]);
    Graph& g = args[0]->graph();
    switch (op) {
      case Op::Select:
        if (is_const(args[0])) return args[0]->attrs().value != 0 ? args[1] : args[2];
        if (args[1] == args[2]) return args[1];
        break;
      case Op::Broadcast:
        if (is_const(args[0])) return constant(g, args[0]->attrs().value, shape);
        if (args[0]->op() == Op::Broadcast) return merged_broadcast(args[0], at.axes, shape);
        break;
      case Op::Transpose:
        if (args[0]->op() == Op::Transpose) return args[0]->arg(0);
        if (is_const(args[0])) return constant(g, args[0]->attrs().value, shape);
        break;
      case Op::Reshape:
        if (args[0]->shape() == shape) return args[0];
        if (is_const(args[0])) return constant(g, args[0]->attrs().value, shape);
        break;
      case Op::MatMul: return matmul_rules(args[0], args[1], at);
      case Op::Sum: return sum_rules(args[0], at.axis, shape);
      default: break;
    }
    return g.make(op, std::move(args), at, shape);
  }

  const Node* unary_rules(Op op, const Node* x) {
    Graph& g = x->graph();
    if (op == Op::StopGradient) return x;  // differentiation is done: only its value remains
    if (is_const(x)) return constant(g, unary_value(op, x->attrs().value), x->shape());
    // Elementwise work on a broadcast value is done once, before broadcasting.
    if (x->op() == Op::Broadcast) {
      return make(Op::Broadcast, {unary_rules(op, x->arg(0))}, x->attrs(), x->shape());
    }
    Op inner = x->op();
    switch (op) {
      case Op::Neg:
        if (inner == Op::Neg) return x->arg(0);
        if (inner == Op::Sub) return binary_rules(Op::Sub, x->arg(1), x->arg(0));
        break;
      case Op::Log:
        if (inner == Op::Exp) return x->arg(0);
        if (inner == Op::Sigmoid) return unary_rules(Op::LogSigmoid, x->arg(0));
        break;
      case Op::Log1p:
        if (inner == Op::Exp) return unary_rules(Op::Softplus, x->arg(0));
        break;
      case Op::Exp:
        if (inner == Op::Log) return x->arg(0);
        break;
      case Op::Square:
        // exp(a)² = exp(2a): with a = 0.5 b this is exp(b), the Gaussian's σ² from log σ².
        if (inner == Op::Exp) return unary_rules(Op::Exp, binary_rules(Op::Mul, constant(g, 2), x->arg(0)));
        if (inner == Op::Sqrt) return x->arg(0);
        if (inner == Op::Neg) return unary_rules(Op::Square, x->arg(0));
        break;
      default:
        break;
    }
    return g.make(op, {x});
  }

  const Node* binary_rules(Op op, const Node* a, const Node* b) {
    Graph& g = a->graph();
    if (is_const(a) && is_const(b)) {
      const Shape& shape = a->is_scalar() ? b->shape() : a->shape();
      return constant(g, binary_value(op, a->attrs().value, b->attrs().value), shape);
    }
    // A scalar operand is broadcast by the builder; simplify with the scalar in hand.
    if (a->shape() != b->shape()) {
      if (a->is_scalar()) a = make(Op::Broadcast, {a}, leading_axes(b), b->shape());
      else b = make(Op::Broadcast, {b}, leading_axes(a), a->shape());
    }
    if (commutative(op) && is_const(b) && !is_const(a)) std::swap(a, b);  // constants first
    switch (op) {
      case Op::Add:
        if (is(a, 0)) return b;
        if (b->op() == Op::Neg) return binary_rules(Op::Sub, a, b->arg(0));
        if (a->op() == Op::Neg) return binary_rules(Op::Sub, b, a->arg(0));
        break;
      case Op::Sub:
        if (is(b, 0)) return a;
        if (is(a, 0)) return unary_rules(Op::Neg, b);
        if (a == b) return constant_like(a, 0);
        if (b->op() == Op::Neg) return binary_rules(Op::Add, a, b->arg(0));
        // (x + y) − x = y: the reparameterized draw minus its mean is the scaled noise.
        if (a->op() == Op::Add && a->arg(0) == b) return a->arg(1);
        if (a->op() == Op::Add && a->arg(1) == b) return a->arg(0);
        break;
      case Op::Mul:
        if (is(a, 1)) return b;
        if (is(a, 0)) return a;
        if (is(a, -1)) return unary_rules(Op::Neg, b);
        if (b->op() == Op::Neg) return unary_rules(Op::Neg, binary_rules(Op::Mul, a, b->arg(0)));
        if (a->op() == Op::Neg) return unary_rules(Op::Neg, binary_rules(Op::Mul, a->arg(0), b));
        // c1 · (c2 · x) = (c1 c2) · x
        if (is_const(a) && b->op() == Op::Mul && is_const(b->arg(0))) {
          return binary_rules(Op::Mul, binary_rules(Op::Mul, a, b->arg(0)), b->arg(1));
        }
        break;
      case Op::Div:
        if (is(b, 1)) return a;
        if (is(a, 0)) return a;
        // (x · y) / x = y: σ ε / σ is the noise ε itself.
        if (a->op() == Op::Mul && a->arg(0) == b) return a->arg(1);
        if (a->op() == Op::Mul && a->arg(1) == b) return a->arg(0);
        break;
      case Op::Pow:
        if (is(b, 1)) return a;
        if (is(b, 2)) return unary_rules(Op::Square, a);
        if (is(b, 0.5)) return unary_rules(Op::Sqrt, a);
        break;
      default:
        break;
    }
    // Elementwise work on two broadcasts of the same kind is done before broadcasting.
    if (a->op() == Op::Broadcast && b->op() == Op::Broadcast && a->attrs() == b->attrs() &&
        a->arg(0)->shape() == b->arg(0)->shape()) {
      return make(Op::Broadcast, {binary_rules(op, a->arg(0), b->arg(0))}, a->attrs(), a->shape());
    }
    return g.make(op, {a, b});
  }

  static Attrs leading_axes(const Node* like) {
    Attrs at;
    at.axes = like->rank() == 0 ? 0 : (1u << like->rank()) - 1;
    return at;
  }

  // broadcast(broadcast(x)) is one broadcast: the outer's kept axes are the inner's output.
  const Node* merged_broadcast(const Node* inner, std::uint32_t outer_axes, const Shape& shape) {
    std::uint32_t inner_axes = inner->attrs().axes, merged = outer_axes;
    int k = 0;  // the inner output's axis that the next kept outer axis is
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (outer_axes >> d & 1u) continue;
      if (inner_axes >> k & 1u) merged |= 1u << d;
      ++k;
    }
    Attrs at;
    at.axes = merged;
    return inner->graph().make(Op::Broadcast, {inner->arg(0)}, at, shape);
  }

  const Node* matmul_rules(const Node* a, const Node* b, Attrs at) {
    // A transposed operand of a product is the product with the transpose flag flipped.
    if (a->op() == Op::Transpose) {
      a = a->arg(0);
      at.transpose_a = !at.transpose_a;
    }
    if (b->op() == Op::Transpose) {
      b = b->arg(0);
      at.transpose_b = !at.transpose_b;
    }
    const Node* product = a->graph().make(Op::MatMul, {a, b}, at);
    if (is(a, 0) || is(b, 0)) return constant(a->graph(), 0, product->shape());
    return product;
  }

  const Node* sum_rules(const Node* x, int axis, const Shape& shape) {
    Graph& g = x->graph();
    Attrs at;
    at.axis = axis;
    if (is(x, 0)) return constant(g, 0, shape);
    // Σ over all of a partial sum is the sum over all: one reduction instead of two.
    if (axis < 0 && x->op() == Op::Sum) return sum_rules(x->arg(0), -1, shape);
    // Σ over all of c · x = c · Σ x, for a scalar c broadcast: scale factors such as N/M.
    if (axis < 0 && x->op() == Op::Mul && x->arg(0)->op() == Op::Broadcast &&
        x->arg(0)->arg(0)->is_scalar()) {
      return binary_rules(Op::Mul, x->arg(0)->arg(0), sum_rules(x->arg(1), axis, shape));
    }
    return g.make(Op::Sum, {x}, at);
  }
};

}  // namespace

std::vector<const ir::Node*> simplify(const std::vector<const ir::Node*>& roots) {
  return Simplifier().run(roots);
}

std::size_t count_nodes(const std::vector<const ir::Node*>& roots) {
  return ir::topological_order(roots).size();
}

}  // namespace vmc::diff
