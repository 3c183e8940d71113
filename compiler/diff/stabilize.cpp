#include "diff/stabilize.hpp"

#include "ir/builder.hpp"
#include "ir/rewriter.hpp"

namespace vmc::diff {
namespace {

using namespace vmc::ir;

// Whether every element of n is ≥ 0 (or NaN) for any values of the inputs: a structural proof.
bool nonnegative(const Node* n) {
  switch (n->op()) {
    case Op::Const: return n->attrs().value >= 0;
    case Op::Exp:
    case Op::Square:
    case Op::Sqrt:
    case Op::Abs:
    case Op::Softplus:
    case Op::Sigmoid:
    case Op::Relu:
      return true;
    case Op::Mul:
    case Op::Div:
    case Op::Add:
      return nonnegative(n->arg(0)) && nonnegative(n->arg(1));
    case Op::Pow: return nonnegative(n->arg(0));
    case Op::Broadcast:
    case Op::Transpose:
    case Op::Reshape:
    case Op::Slice:
      return nonnegative(n->arg(0));
    default: return false;
  }
}

bool holds_exp(const Node* n) {
  if (n->op() == Op::Exp) return true;
  if (n->op() == Op::Mul) return holds_exp(n->arg(0)) || holds_exp(n->arg(1));
  if (n->op() == Op::Broadcast) return holds_exp(n->arg(0));
  return false;
}

// sqrt(x), with every exp in x's product of non-negative factors halved and taken out of it.
const Node* root(const Node* x) {
  if (x->op() == Op::Exp) return exp(mul(x->arg(0), 0.5));
  if (x->op() == Op::Broadcast && holds_exp(x->arg(0))) return broadcast(root(x->arg(0)), x->shape(), x->attrs().axes);
  if (x->op() == Op::Mul && holds_exp(x) && nonnegative(x->arg(0)) && nonnegative(x->arg(1))) {
    return mul(root(x->arg(0)), root(x->arg(1)));
  }
  return unary(Op::Sqrt, x);
}

class Stabilizer : public Rewriter {
 protected:
  const Node* rewrite(const Node& n, const std::vector<const Node*>& args) override {
    if (n.op() == Op::Sqrt && holds_exp(args[0])) return root(args[0]);
    bool same = true;
    for (std::size_t k = 0; k < args.size(); ++k) same = same && args[k] == n.arg(k);
    if (same) return &n;
    return n.graph().make(n.op(), args, n.attrs(), n.shape());
  }
};

}  // namespace

std::vector<const Node*> stabilize(const std::vector<const Node*>& roots) { return Stabilizer().run(roots); }

}  // namespace vmc::diff
