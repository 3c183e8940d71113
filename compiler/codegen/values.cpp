// The value of a node at an index: loaded from its buffer, or computed in place from its
// operands — which is how chains of elementwise ops and views fuse into one loop.
#include <cmath>
#include <limits>

#include "codegen/emitter.hpp"
#include "support/check.hpp"

namespace vmc::codegen {

using ir::Op;

llvm::Value* Emitter::real(double v) { return llvm::ConstantFP::get(t_, v); }

llvm::Value* Emitter::value(const ir::Node* n, const Index& idx) {
  if (!s_->stored(n)) return compute(n, idx);
  llvm::Type* type = n->dtype() == ir::DType::Int ? i64_ : t_;
  return b_.CreateLoad(type, element(n, idx));
}

bool Emitter::flat(const ir::Node* n, const ir::Shape& shape) const {
  if (n->shape() != shape || n->dtype() != ir::DType::Real) return false;
  if (s_->stored(n) || n->op() == Op::Const) return true;
  if (!ir::is_elementwise(n->op())) return false;
  for (const ir::Node* a : n->args()) {
    if (!flat(a, shape)) return false;
  }
  return true;
}

llvm::Value* Emitter::value_flat(const ir::Node* n, llvm::Value* i) {
  if (!s_->stored(n)) return compute_flat(n, i);
  return b_.CreateLoad(t_, b_.CreateGEP(t_, buffer(n), i));
}

llvm::Value* Emitter::compute_flat(const ir::Node* n, llvm::Value* i) {
  switch (ir::info(n->op()).category) {
    case ir::Category::Unary: return unary(n->op(), value_flat(n->arg(0), i));
    case ir::Category::Binary: return binary(n->op(), value_flat(n->arg(0), i), value_flat(n->arg(1), i));
    case ir::Category::Select: {
      llvm::Value* c = b_.CreateFCmpUNE(value_flat(n->arg(0), i), real(0));
      return b_.CreateSelect(c, value_flat(n->arg(1), i), value_flat(n->arg(2), i));
    }
    default: break;
  }
  VMC_ASSERT(n->op() == Op::Const, std::string("no flat form for ") + ir::info(n->op()).spelling);
  return real(n->attrs().value);
}

llvm::Value* Emitter::compute(const ir::Node* n, const Index& idx) {
  const ir::Attrs& at = n->attrs();
  switch (ir::info(n->op()).category) {
    case ir::Category::Unary:
      return unary(n->op(), value(n->arg(0), idx));
    case ir::Category::Binary:
      return binary(n->op(), value(n->arg(0), idx), value(n->arg(1), idx));
    case ir::Category::Select: {
      llvm::Value* c = b_.CreateFCmpUNE(value(n->arg(0), idx), real(0));
      return b_.CreateSelect(c, value(n->arg(1), idx), value(n->arg(2), idx));
    }
    default:
      break;
  }
  switch (n->op()) {
    case Op::Const:
      return real(at.value);
    case Op::Iota:
      return b_.CreateUIToFP(idx[static_cast<std::size_t>(at.axis)], t_);
    case Op::Broadcast: {
      Index inner;
      for (std::size_t d = 0; d < idx.size(); ++d) {
        if (!(at.axes >> d & 1u)) inner.push_back(idx[d]);
      }
      return value(n->arg(0), inner);
    }
    case Op::Transpose:
      return value(n->arg(0), {idx[1], idx[0]});
    case Op::Reshape: {
      // Same elements in row-major order: through the linear index.
      const ir::Node* x = n->arg(0);
      llvm::Value* lin = linear(idx, n->shape());
      if (s_->stored(x)) {
        llvm::Type* type = x->dtype() == ir::DType::Int ? i64_ : t_;
        return b_.CreateLoad(type, b_.CreateGEP(type, buffer(x), lin));
      }
      Index inner(x->rank());
      for (std::size_t d = x->rank(); d-- > 0;) {
        llvm::Value* e = extent(x->shape()[d]);
        inner[d] = d == 0 ? lin : b_.CreateURem(lin, e);
        if (d > 0) lin = b_.CreateUDiv(lin, e);
      }
      return value(x, inner);
    }
    case Op::Slice: {
      Index inner = idx;
      auto axis = static_cast<std::size_t>(at.axis);
      inner[axis] = b_.CreateAdd(inner[axis], b_.getInt64(at.begin));
      return value(n->arg(0), inner);
    }
    case Op::Gather: {
      const ir::Node* indices = n->arg(1);
      Index outer(idx.begin(), idx.begin() + static_cast<long>(indices->rank()));
      Index inner{value(indices, outer)};
      inner.insert(inner.end(), idx.begin() + static_cast<long>(indices->rank()), idx.end());
      return value(n->arg(0), inner);
    }
    case Op::Tril:
      return b_.CreateSelect(b_.CreateICmpULE(idx[1], idx[0]), value(n->arg(0), idx), real(0));
    case Op::Diag:
      return value(n->arg(0), {idx[0], idx[0]});
    case Op::DiagMatrix:
      return b_.CreateSelect(b_.CreateICmpEQ(idx[0], idx[1]), value(n->arg(0), {idx[0]}), real(0));
    case Op::Outer:
      return b_.CreateFMul(value(n->arg(0), {idx[0]}), value(n->arg(1), {idx[1]}));
    default:
      break;
  }
  VMC_ASSERT(false, std::string("no inline form for ") + ir::info(n->op()).spelling);
}

llvm::Value* Emitter::call_double(const char* name, llvm::Value* x) {
  llvm::Type* f64 = b_.getDoubleTy();
  llvm::Function* f = declare(name, llvm::FunctionType::get(f64, {f64}, false));
  llvm::Value* arg = t_ == f64 ? x : b_.CreateFPExt(x, f64);
  llvm::Value* r = b_.CreateCall(f, {arg});
  return t_ == f64 ? r : b_.CreateFPTrunc(r, t_);
}

llvm::Value* Emitter::call_libm(const char* name, llvm::Value* x) {
  std::string symbol = precision_ == Precision::F32 ? std::string(name) + "f" : name;
  llvm::Function* f = declare(symbol.c_str(), llvm::FunctionType::get(t_, {t_}, false));
  return b_.CreateCall(f, {x});
}

// log1p through log, so it vectorises (log has a vector routine, log1p has none): with
// u = 1 + x rounded, log(u) − ((u − 1) − x)/u corrects the rounding of u to first order,
// which makes it accurate to a few ulp for every x > −1 (Goldberg's classic trick).
llvm::Value* Emitter::log1p(llvm::Value* x) {
  llvm::Value* u = b_.CreateFAdd(real(1), x);
  llvm::Value* log_u = b_.CreateUnaryIntrinsic(llvm::Intrinsic::log, u);
  llvm::Value* correction = b_.CreateFDiv(b_.CreateFSub(b_.CreateFSub(u, real(1)), x), u);
  llvm::Value* general = b_.CreateFSub(log_u, correction);
  // At u = 0 (x = −1) and u = ∞ the correction is 0/0 or ∞ − ∞: log(u) is already −∞ or ∞.
  llvm::Value* infinite = b_.CreateFCmpOEQ(b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, log_u),
                                           real(std::numeric_limits<double>::infinity()));
  general = b_.CreateSelect(infinite, log_u, general);
  return b_.CreateSelect(b_.CreateFCmpOEQ(u, real(1)), x, general);
}

// tanh through exp, so it vectorises: sign(x)·(1 − e^−2|x|)/(1 + e^−2|x|), and the odd Taylor
// polynomial near 0 where that form would cancel: below |x| = 0.03 the polynomial's first
// omitted term is under 1e-17 relative; above it the exp form loses under 4e-15 relative.
llvm::Value* Emitter::tanh(llvm::Value* x) {
  llvm::Value* a = b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value* t = b_.CreateUnaryIntrinsic(llvm::Intrinsic::exp, b_.CreateFMul(a, real(-2)));
  llvm::Value* far = b_.CreateFDiv(b_.CreateFSub(real(1), t), b_.CreateFAdd(real(1), t));
  far = b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, far, x);
  llvm::Value* x2 = b_.CreateFMul(x, x);
  // x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835
  llvm::Value* p = real(62.0 / 2835);
  for (double c : {-17.0 / 315, 2.0 / 15, -1.0 / 3, 1.0}) p = b_.CreateFAdd(b_.CreateFMul(p, x2), real(c));
  llvm::Value* near = b_.CreateFMul(p, x);
  return b_.CreateSelect(b_.CreateFCmpOLT(a, real(0.03)), near, far);
}

llvm::Value* Emitter::unary(Op op, llvm::Value* x) {
  auto intrinsic = [&](llvm::Intrinsic::ID id, llvm::Value* v) {
    return b_.CreateUnaryIntrinsic(id, v);
  };
  switch (op) {
    case Op::Neg: return b_.CreateFNeg(x);
    case Op::Exp: return intrinsic(llvm::Intrinsic::exp, x);
    case Op::Log: return intrinsic(llvm::Intrinsic::log, x);
    case Op::Log1p: return log1p(x);
    case Op::Expm1: return call_libm("expm1", x);
    case Op::Sqrt: return intrinsic(llvm::Intrinsic::sqrt, x);
    case Op::Square: return b_.CreateFMul(x, x);
    case Op::Abs: return intrinsic(llvm::Intrinsic::fabs, x);
    case Op::Tanh: return tanh(x);
    case Op::Tan: return call_libm("tan", x);
    case Op::Sigmoid:  // 1 / (1 + e^−x): exact limits 0 and 1, no NaN
      return b_.CreateFDiv(real(1), b_.CreateFAdd(real(1), intrinsic(llvm::Intrinsic::exp, b_.CreateFNeg(x))));
    case Op::Softplus: {  // max(x, 0) + log1p(e^−|x|)
      llvm::Value* tail = log1p(intrinsic(llvm::Intrinsic::exp, b_.CreateFNeg(intrinsic(llvm::Intrinsic::fabs, x))));
      return b_.CreateFAdd(binary(Op::Max, x, real(0)), tail);
    }
    case Op::LogSigmoid: return b_.CreateFNeg(unary(Op::Softplus, b_.CreateFNeg(x)));
    case Op::Relu: return b_.CreateSelect(b_.CreateFCmpOGT(x, real(0)), x, real(0));
    case Op::Step: return b_.CreateSelect(b_.CreateFCmpOGT(x, real(0)), real(1), real(0));
    case Op::Sign:
      return b_.CreateSelect(b_.CreateFCmpOGT(x, real(0)), real(1),
                             b_.CreateSelect(b_.CreateFCmpOLT(x, real(0)), real(-1), real(0)));
    case Op::Lgamma: return call_double("vmc_lgamma", x);
    case Op::Digamma: return call_double("vmc_digamma", x);
    case Op::Trigamma: return call_double("vmc_trigamma", x);
    case Op::Ndtri: return call_double("vmc_ndtri", x);
    case Op::StopGradient: return x;
    default: break;
  }
  VMC_ASSERT(false, std::string("not a unary op: ") + ir::info(op).spelling);
}

llvm::Value* Emitter::binary(Op op, llvm::Value* a, llvm::Value* c) {
  switch (op) {
    case Op::Add: return b_.CreateFAdd(a, c);
    case Op::Sub: return b_.CreateFSub(a, c);
    case Op::Mul: return b_.CreateFMul(a, c);
    case Op::Div: return b_.CreateFDiv(a, c);
    case Op::Pow: return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, a, c);
    // As std::min and std::max: the first operand unless the second is strictly beyond it.
    case Op::Min: return b_.CreateSelect(b_.CreateFCmpOLT(c, a), c, a);
    case Op::Max: return b_.CreateSelect(b_.CreateFCmpOLT(a, c), c, a);
    case Op::Greater: return b_.CreateSelect(b_.CreateFCmpOGT(a, c), real(1), real(0));
    case Op::Equal: return b_.CreateSelect(b_.CreateFCmpOEQ(a, c), real(1), real(0));
    default: break;
  }
  VMC_ASSERT(false, std::string("not a binary op: ") + ir::info(op).spelling);
}

}  // namespace vmc::codegen
