// Each op's code, in tables generated from ir/ops.def: an elementwise op's is its
// Elementwise<op>::code (ir/elementwise.hpp) written against the Llvm backend below; every
// other op has a specialisation here, at<op> when it is computed in place where it is used,
// store<op> when it has a buffer of its own (schedule.hpp's inlinable). An op without its code
// does not build.
#include "codegen/emitter.hpp"
#include "ir/elementwise.hpp"
#include "support/check.hpp"

namespace vmc::codegen {

using ir::Op;

// --- elementwise ops: their operands' values (last to first), then their code ------------------

template <Op op>
llvm::Value* Emitter::elementwise_at(const ir::Node* n, const Index& idx) {
  Llvm b(*this);
  constexpr ir::Category c = ir::info(op).category;
  if constexpr (c == ir::Category::Unary) {
    return ir::Elementwise<op>::code(b, value(n->arg(0), idx));
  } else if constexpr (c == ir::Category::Binary) {
    llvm::Value* y = value(n->arg(1), idx);
    return ir::Elementwise<op>::code(b, value(n->arg(0), idx), y);
  } else {
    llvm::Value* z = value(n->arg(2), idx);
    llvm::Value* y = value(n->arg(1), idx);
    return ir::Elementwise<op>::code(b, value(n->arg(0), idx), y, z);
  }
}

template <Op op>
llvm::Value* Emitter::elementwise_flat(const ir::Node* n, llvm::Value* i) {
  Llvm b(*this);
  constexpr ir::Category c = ir::info(op).category;
  if constexpr (c == ir::Category::Unary) {
    return ir::Elementwise<op>::code(b, value_flat(n->arg(0), i));
  } else if constexpr (c == ir::Category::Binary) {
    llvm::Value* y = value_flat(n->arg(1), i);
    return ir::Elementwise<op>::code(b, value_flat(n->arg(0), i), y);
  } else {
    llvm::Value* z = value_flat(n->arg(2), i);
    llvm::Value* y = value_flat(n->arg(1), i);
    return ir::Elementwise<op>::code(b, value_flat(n->arg(0), i), y, z);
  }
}

// --- leaves ------------------------------------------------------------------------------------

template <>
llvm::Value* Emitter::at<Op::Input>(const ir::Node* n, const Index& idx) {
  llvm::Type* type = n->dtype() == ir::DType::Int ? i64_ : t_;
  return b_.CreateLoad(type, element(n, idx));
}

template <>
llvm::Value* Emitter::at<Op::Const>(const ir::Node* n, const Index&) {
  return real(n->attrs().value);
}

template <>
llvm::Value* Emitter::at<Op::Iota>(const ir::Node* n, const Index& idx) {
  return b_.CreateUIToFP(idx[static_cast<std::size_t>(n->attrs().axis)], t_);
}

// --- views and other structure computed in place -------------------------------------------------

template <>
llvm::Value* Emitter::at<Op::Broadcast>(const ir::Node* n, const Index& idx) {
  Index inner;
  for (std::size_t d = 0; d < idx.size(); ++d) {
    if (!(n->attrs().axes >> d & 1u)) inner.push_back(idx[d]);
  }
  return value(n->arg(0), inner);
}

template <>
llvm::Value* Emitter::at<Op::Transpose>(const ir::Node* n, const Index& idx) {
  return value(n->arg(0), {idx[1], idx[0]});
}

template <>
llvm::Value* Emitter::at<Op::Reshape>(const ir::Node* n, const Index& idx) {
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

template <>
llvm::Value* Emitter::at<Op::Slice>(const ir::Node* n, const Index& idx) {
  Index inner = idx;
  auto axis = static_cast<std::size_t>(n->attrs().axis);
  inner[axis] = b_.CreateAdd(inner[axis], b_.getInt64(n->attrs().begin));
  return value(n->arg(0), inner);
}

template <>
llvm::Value* Emitter::at<Op::Gather>(const ir::Node* n, const Index& idx) {
  const ir::Node* indices = n->arg(1);
  Index outer(idx.begin(), idx.begin() + static_cast<long>(indices->rank()));
  Index inner{value(indices, outer)};
  inner.insert(inner.end(), idx.begin() + static_cast<long>(indices->rank()), idx.end());
  return value(n->arg(0), inner);
}

template <>
llvm::Value* Emitter::at<Op::Take>(const ir::Node* n, const Index& idx) {
  // The row, rounded and clamped into the table: a loop index's expression that sema could not
  // bound reads an edge row, never outside.
  const ir::Node* x = n->arg(0);
  auto axis = static_cast<std::size_t>(n->attrs().axis);
  llvm::Value* i = b_.CreateFPToSI(value(n->arg(1), {}), i64_);
  llvm::Value* last = b_.CreateSub(extent(x->shape()[axis]), b_.getInt64(1));
  i = b_.CreateSelect(b_.CreateICmpSLT(i, b_.getInt64(0)), b_.getInt64(0), i);
  i = b_.CreateSelect(b_.CreateICmpSGT(i, last), last, i);
  Index inner = idx;
  inner.insert(inner.begin() + static_cast<long>(axis), i);
  return value(x, inner);
}

template <>
llvm::Value* Emitter::at<Op::Tril>(const ir::Node* n, const Index& idx) {
  llvm::Value* x = value(n->arg(0), idx);
  return b_.CreateSelect(b_.CreateICmpULE(idx[1], idx[0]), x, real(0));
}

template <>
llvm::Value* Emitter::at<Op::Diag>(const ir::Node* n, const Index& idx) {
  return value(n->arg(0), {idx[0], idx[0]});
}

template <>
llvm::Value* Emitter::at<Op::DiagMatrix>(const ir::Node* n, const Index& idx) {
  llvm::Value* x = value(n->arg(0), {idx[0]});
  return b_.CreateSelect(b_.CreateICmpEQ(idx[0], idx[1]), x, real(0));
}

template <>
llvm::Value* Emitter::at<Op::Outer>(const ir::Node* n, const Index& idx) {
  llvm::Value* v = value(n->arg(1), {idx[1]});
  return b_.CreateFMul(value(n->arg(0), {idx[0]}), v);
}

// --- ops with a buffer of their own (ops.cpp) ----------------------------------------------------

template <>
void Emitter::store<Op::Concat>(const ir::Node* n) { concat(n); }
template <>
void Emitter::store<Op::ScatterAdd>(const ir::Node* n) { scatter_add(n); }
template <>
void Emitter::store<Op::Sum>(const ir::Node* n) { reduction(n, {Reduction::Fold::Add}); }
template <>
void Emitter::store<Op::Mean>(const ir::Node* n) {
  reduction(n, {Reduction::Fold::Add, Reduction::Finish::DivideByCount});
}
template <>
void Emitter::store<Op::ReduceMax>(const ir::Node* n) { reduction(n, {Reduction::Fold::Max}); }
template <>
void Emitter::store<Op::ReduceMin>(const ir::Node* n) { reduction(n, {Reduction::Fold::Min}); }
template <>
void Emitter::store<Op::LogSumExp>(const ir::Node* n) {
  reduction(n, {Reduction::Fold::Max, Reduction::Finish::LogSumExp});
}
template <>
void Emitter::store<Op::MatMul>(const ir::Node* n) { matmul(n); }
template <>
void Emitter::store<Op::TriSolve>(const ir::Node* n) { tri_solve(n); }
template <>
void Emitter::store<Op::Cholesky>(const ir::Node* n) { cholesky(n); }
template <>
void Emitter::store<Op::Loop>(const ir::Node* n) { loop(n); }
template <>
void Emitter::store<Op::LoopGrad>(const ir::Node* n) { loop(n); }

// --- the tables ----------------------------------------------------------------------------------

// Which of each op's code the tables hold.
struct OpCode {
  using At = llvm::Value* (Emitter::*)(const ir::Node*, const Index&);
  using Flat = llvm::Value* (Emitter::*)(const ir::Node*, llvm::Value*);
  using Store = void (Emitter::*)(const ir::Node*);

  template <Op op>
  static constexpr At at() {
    if constexpr (ir::is_elementwise(op)) return &Emitter::elementwise_at<op>;
    else if constexpr (inlinable(op)) return &Emitter::at<op>;
    else return nullptr;
  }
  template <Op op>
  static constexpr Flat flat() {
    if constexpr (ir::is_elementwise(op)) return &Emitter::elementwise_flat<op>;
    else return nullptr;
  }
  template <Op op>
  static constexpr Store store() {
    if constexpr (inlinable(op)) return nullptr;
    else return &Emitter::store<op>;
  }
};

// The tables, generated from ops.def.
constexpr OpCode::At kAt[] = {
#define VMC_OP(name, ...) OpCode::at<Op::name>(),
#include "ir/ops.def"
#undef VMC_OP
};
constexpr OpCode::Flat kFlat[] = {
#define VMC_OP(name, ...) OpCode::flat<Op::name>(),
#include "ir/ops.def"
#undef VMC_OP
};
constexpr OpCode::Store kStore[] = {
#define VMC_OP(name, ...) OpCode::store<Op::name>(),
#include "ir/ops.def"
#undef VMC_OP
};

llvm::Value* Emitter::compute(const ir::Node* n, const Index& idx) {
  OpCode::At f = kAt[static_cast<int>(n->op())];
  VMC_ASSERT(f, std::string("no inline form for ") + ir::info(n->op()).spelling);
  return (this->*f)(n, idx);
}

llvm::Value* Emitter::compute_flat(const ir::Node* n, llvm::Value* i) {
  if (n->op() == Op::Const) return real(n->attrs().value);
  OpCode::Flat f = kFlat[static_cast<int>(n->op())];
  VMC_ASSERT(f, std::string("no flat form for ") + ir::info(n->op()).spelling);
  return (this->*f)(n, i);
}

void Emitter::compute_stored(const ir::Node* n) {
  if (OpCode::Store f = kStore[static_cast<int>(n->op())]) return (this->*f)(n);
  store_inline(n);
}

}  // namespace vmc::codegen
